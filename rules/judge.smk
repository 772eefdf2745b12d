# Stage judge: BayLing-80 judged pairwise (docs/judging.md). Two systems' answers to the
# dialogue sets (the decode stage's dialogues.jsonl, or published answers) are reviewed by
# a judge model behind an OpenAI-compatible endpoint, in both orders; the released GPT-4
# reviews enter as published judgments. Config: judging (off while it has no pairings).
# Every job here is a local rule: fetching and the judge's API need the network, which
# compute nodes lack (and the judge is I/O-bound: a cluster job would only wait).
from bayling_pipeline.judge import plan as J
from bayling_pipeline.judge.prompts import PROMPT_ID

JUDGING = J.section(config)
JUDGE = J.judge_name(config)
JUDGED = {name for pairing in J.pairings(config) for name in pairing}


def judging_targets():
    """The judging report and figures; nothing while judging has no pairings."""
    return rules.judge_report.output if J.enabled(config) else []


def judging_reviews(suffix):
    """Every reviews file (or its meta) the report reads."""
    return [
        f"results/judge/{source}/{system}/{opponent}/{setting}.{suffix}"
        for source, system, opponent, setting in J.review_jobs(config)
    ]


def judging_figures():
    battles, radars = J.plot_names(config)
    return [f"results/report/judging/{stem}.png" for stem in battles + radars]


def judging_answers(name, lang):
    """A system's answers to the dialogue set of ``lang``: decoded or published."""
    return J.answers_path(
        config,
        name,
        lang,
        rules.decode_dialogues.output.answers,
        rules.judge_published_answers.output.answers,
    )


def judging_names(w):
    """Who is judged and by whom, as the tables print them."""
    source = w.get("judge", J.PUBLISHED)
    _, lang = J.parse_setting(w.setting)
    return {
        "source": source,
        "judge_label": J.judge_label(config, source, w.contestant, w.opponent),
        "system": w.contestant,
        "system_label": J.label(config, w.contestant),
        "opponent": w.opponent,
        "opponent_label": J.label(config, w.opponent),
        "dialogue_set": JUDGING["dialogue_sets"][lang],
    }


def released_answer_inputs(w):
    """The published answers of either side, compared with the answers the released
    reviews quote."""
    _, lang = J.parse_setting(w.setting)
    sides = {"system": w.contestant, "opponent": w.opponent}
    return {
        side: judging_answers(name, lang)
        for side, name in sides.items()
        if name in JUDGING["published_answers"]
    }


def released_reviews_spec(w):
    return J.pairing_spec(config, w.contestant, w.opponent)["published_reviews"]


def judge_inputs(w):
    """The dialogue set (questions, categories) and both systems' answers."""
    _, lang = J.parse_setting(w.setting)
    dialogue_set = JUDGING["dialogue_sets"][lang]
    return {
        "dialogues": Q.dialogue_file(
            config, dialogue_set, rules.download_dialogues.output[0]
        ),
        "system": judging_answers(w.contestant, lang),
        "opponent": judging_answers(w.opponent, lang),
    }


def judge_cache(w):
    return f"resources/judge-cache/{w.judge}.sqlite"


def judge_spec(w):
    return J.judge_spec(config)


wildcard_constraints:
    contestant=one_of({system for system, _ in J.pairings(config)}),
    opponent=one_of({opponent for _, opponent in J.pairings(config)}),
    setting=one_of(J.settings(config)),


rule judge_published_answers:
    output:
        answers="resources/judging/answers/{answers}/{lang}.jsonl",
        manifest="resources/judging/answers/{answers}/{lang}.manifest.json",
    log:
        "logs/judge/answers/{answers}/{lang}.log",
    wildcard_constraints:
        answers=one_of(JUDGING["published_answers"]),
        lang=one_of(JUDGING["dialogue_sets"]),
    localrule: True
    conda:
        "../envs/data.yaml"
    params:
        spec=lookup(dpath="judging/published_answers/{answers}", within=config),
    script:
        "../workflow_scripts/judge_published_answers.py"


rule judge_published_reviews:
    input:
        unpack(released_answer_inputs),
    output:
        reviews="results/judge/published/{contestant}/{opponent}/{setting}.reviews.jsonl",
        meta="results/judge/published/{contestant}/{opponent}/{setting}.meta.json",
    log:
        "logs/judge/published/{contestant}/{opponent}/{setting}.log",
    localrule: True
    conda:
        "../envs/data.yaml"
    params:
        spec=released_reviews_spec,
        names=judging_names,
    script:
        "../workflow_scripts/judge_published_reviews.py"


rule judge_pairwise:
    input:
        unpack(judge_inputs),
    output:
        reviews="results/judge/{judge}/{contestant}/{opponent}/{setting}.reviews.jsonl",
        meta="results/judge/{judge}/{contestant}/{opponent}/{setting}.meta.json",
    log:
        "logs/judge/{judge}/{contestant}/{opponent}/{setting}.log",
    benchmark:
        "results/benchmarks/judge/{judge}/{contestant}/{opponent}/{setting}.tsv"
    wildcard_constraints:
        judge=one_of([JUDGE] if JUDGE else []),
    # the judge's API is on the network: the login node, never a compute node
    localrule: True
    conda:
        "../envs/data.yaml"
    params:
        # the key is not here: the judge reads it from the environment variable api_key_env
        spec=judge_spec,
        prompt=PROMPT_ID,
        names=judging_names,
        max_items=JUDGING["max_items"],
        both_orders=J.both_orders(config),
        cache=judge_cache,
    script:
        "../workflow_scripts/judge_pairwise.py"


rule judge_report:
    input:
        reviews=judging_reviews("reviews.jsonl"),
        metas=judging_reviews("meta.json"),
    output:
        tsv=report(
            "results/report/judging.tsv",
            category="Judging",
            caption="../report/judging_tsv.rst",
        ),
        markdown=report(
            "results/report/judging.md",
            category="Judging",
            caption="../report/judging_md.rst",
        ),
        latex=report(
            "results/report/judging.tex",
            category="Judging",
            caption="../report/judging_tex.rst",
        ),
        plots=report(
            judging_figures(),
            category="Judging",
            caption="../report/judging_plot.rst",
        ),
    log:
        "logs/judge/report.log",
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/judge_report.py"


rule judge:
    input:
        judging_targets(),
