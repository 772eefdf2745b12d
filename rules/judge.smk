# Stage judge: BayLing-80 judged pairwise (docs/judging.md). Two systems' answers to the
# dialogue sets (the decode stage's dialogues.jsonl, or published answers) are reviewed by
# a judge model behind an OpenAI-compatible endpoint, in both orders; the released GPT-4
# reviews enter as published judgments. Off (no job) while judging.pairings is empty.
# Every job here is a local rule: fetching and the judge's API need the network, which
# compute nodes lack (and a judge job only waits for answers: no cluster job is worth it).
from bayling_pipeline.judge import plan as J
from bayling_pipeline.judge.prompts import PROMPT_ID

JUDGING = J.section(config)
JUDGE = J.judge_name(config)
JUDGE_ANSWERS = "resources/judging/answers/{answers}/{lang}.jsonl"
# every review job by its wildcards: {source: {system: {opponent: {setting: {names,
# inputs}}}}}, the inputs being the decode stage's answers or published answers
JUDGE_JOBS = J.job_table(
    config,
    rules.decode_dialogues.output.answers,
    JUDGE_ANSWERS,
    {
        name: Q.dialogue_file(config, name, rules.download_dialogues.output[0])
        for name in DIALOGUE_SETS
    },
)
JUDGE_RELEASED = J.released_specs(config)
JUDGE_WILDCARDS = {
    "contestant": one_of({system for system, _ in J.pairings(config)}),
    "opponent": one_of({opponent for _, opponent in J.pairings(config)}),
    "setting": one_of(J.settings(config)),
}


rule judge_published_answers:
    output:
        answers=JUDGE_ANSWERS,
        manifest="resources/judging/answers/{answers}/{lang}.manifest.json",
    log:
        "logs/judge/answers/{answers}/{lang}.log",
    wildcard_constraints:
        answers=one_of(JUDGING["published_answers"]),
        lang=one_of(JUDGING["dialogue_sets"]),
    # network (or the pre-staged cache) only here, on the login node
    localrule: True
    conda:
        "../envs/data.yaml"
    params:
        spec=lookup(dpath="judging/published_answers/{answers}", within=config),
    script:
        "../workflow_scripts/judge_published_answers.py"


rule judge_published_reviews:
    input:
        unpack(
            lookup(
                dpath="published/{contestant}/{opponent}/{setting}/inputs",
                within=JUDGE_JOBS,
            )
        ),
    output:
        reviews="results/judge/published/{contestant}/{opponent}/{setting}.reviews.jsonl",
        meta="results/judge/published/{contestant}/{opponent}/{setting}.meta.json",
    log:
        "logs/judge/published/{contestant}/{opponent}/{setting}.log",
    wildcard_constraints:
        **JUDGE_WILDCARDS,
    # network (or the pre-staged cache) only here, on the login node
    localrule: True
    conda:
        "../envs/data.yaml"
    params:
        spec=lookup(dpath="{contestant}/{opponent}", within=JUDGE_RELEASED),
        names=lookup(
            dpath="published/{contestant}/{opponent}/{setting}/names",
            within=JUDGE_JOBS,
        ),
    script:
        "../workflow_scripts/judge_published_reviews.py"


rule judge_pairwise:
    input:
        unpack(
            lookup(
                dpath="{judge}/{contestant}/{opponent}/{setting}/inputs",
                within=JUDGE_JOBS,
            )
        ),
    output:
        reviews="results/judge/{judge}/{contestant}/{opponent}/{setting}.reviews.jsonl",
        meta="results/judge/{judge}/{contestant}/{opponent}/{setting}.meta.json",
    log:
        "logs/judge/{judge}/{contestant}/{opponent}/{setting}.log",
    benchmark:
        "results/benchmarks/judge/{judge}/{contestant}/{opponent}/{setting}.tsv"
    wildcard_constraints:
        **JUDGE_WILDCARDS,
        judge=one_of([JUDGE] if JUDGE else []),
    # the judge's API is on the network: the login node, never a compute node
    localrule: True
    conda:
        "../envs/data.yaml"
    resources:
        # requests_per_minute holds per job: `--resources judge_api=1` makes it the total
        judge_api=1,
    params:
        # no key here: the judge client reads it from the variable api_key_env names
        spec=J.judge_spec(config) if JUDGE else {},
        prompt=PROMPT_ID,
        names=lookup(
            dpath="{judge}/{contestant}/{opponent}/{setting}/names", within=JUDGE_JOBS
        ),
        max_items=JUDGING["max_items"],
        both_orders=J.both_orders(config),
        # one cache per judge, shared by its jobs (SQLite takes the turns)
        cache=f"resources/judge-cache/{JUDGE}.sqlite",
    script:
        "../workflow_scripts/judge_pairwise.py"


# every reviews file the report reads (and the metadata beside it)
JUDGE_REVIEWS = [
    rules.judge_pairwise.output.reviews.format(
        judge=source, contestant=system, opponent=opponent, setting=setting
    )
    for source, system, opponent, setting in J.review_jobs(config)
]

# fetched on the login node (the `download` target): published answers and reviews
JUDGE_DOWNLOADS = [
    rules.judge_published_answers.output.answers.format(answers=name, lang=lang)
    for name, lang in J.published_answer_jobs(config)
] + [path for path in JUDGE_REVIEWS if path.startswith("results/judge/published/")]


rule judge_report:
    input:
        reviews=JUDGE_REVIEWS,
        metas=[path.replace(".reviews.jsonl", ".meta.json") for path in JUDGE_REVIEWS],
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
            [
                f"results/report/judging/{stem}.png"
                for stems in J.plot_names(config)
                for stem in stems
            ],
            category="Judging",
            caption="../report/judging_plot.rst",
        ),
    log:
        "logs/judge/report.log",
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/judge_report.py"


# the stage's tables and charts (and so everything before them); none while it is off
JUDGE_TARGETS = list(rules.judge_report.output) if JUDGE_REVIEWS else []


rule judge:
    input:
        JUDGE_TARGETS,
