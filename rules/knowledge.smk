# Knowledge and understanding benchmarks, a stage of their own (docs/knowledge-benchmarks.md):
# suites of items (AGIEval subjects, XCOPA or Belebele languages) fetched like test sets;
# every evaluated system answers a suite in one job (one model load for all its subsets; a
# GPU job on clusters): by generating and extracting the answer (AGIEval as BayLing 1 ran
# it) or by ranking the options' log-likelihoods (as lm-evaluation-harness does); released
# answers enter as published systems; accuracy with a bootstrap interval per subset, and a
# table of its own in the report. Off (no job) while config["knowledge"]["suites"] is empty.
from bayling_pipeline.knowledge import queries as KQ

KNOWLEDGE_ANSWERING = KQ.answering_systems(config)
KNOWLEDGE_PUBLISHED = KQ.published_systems(config)
KNOWLEDGE_SUITE = one_of(KQ.evaluated_suites(config))
# what the rules look up by wildcard: a suite's task, protocol and files; an answering
# system's model files (as the decode stage loads them) and generation options
KNOWLEDGE_SUITES = {
    suite: {
        "task": spec["task"],
        "protocol": KQ.protocol(config, suite),
        "files": KQ.suite_files(config, suite),
        "local": KQ.local_inputs(KQ.suite_files(config, suite)),
        "max_items": spec["max_items"],
    }
    for suite, spec in KQ.suites(config).items()
}
KNOWLEDGE_MODELS = {system: model_inputs(system) for system in KNOWLEDGE_ANSWERING}
KNOWLEDGE_SYSTEMS = {
    system: {
        "kind": Q.system_kind(config, system),
        "label": Q.system_label(config, system),
        "options": KQ.generate_options(config, Q.chat_format_of(config, system)),
    }
    for system in KNOWLEDGE_ANSWERING
} | {
    system: {
        "kind": "published",
        "label": KQ.label(config, system),
        "files": KQ.published_files(config, system),
        "local": KQ.local_inputs(KQ.published_files(config, system)),
    }
    for system in KNOWLEDGE_PUBLISHED
}


rule knowledge_fetch_items:
    input:
        # local files are inputs (editing one reruns the stage); URLs are fetched here
        lookup(dpath="{suite}/local", within=KNOWLEDGE_SUITES),
    output:
        questions="results/knowledge/items/{suite}.jsonl",
        manifest="results/knowledge/items/{suite}.manifest.json",
    log:
        "logs/knowledge/items/{suite}.log",
    wildcard_constraints:
        suite=KNOWLEDGE_SUITE,
    # network (or the pre-staged cache) only here, on the login node
    localrule: True
    conda:
        "../envs/data.yaml"
    params:
        task=lookup(dpath="{suite}/task", within=KNOWLEDGE_SUITES),
        files=lookup(dpath="{suite}/files", within=KNOWLEDGE_SUITES),
        max_items=lookup(dpath="{suite}/max_items", within=KNOWLEDGE_SUITES),
    script:
        "../workflow_scripts/knowledge_fetch_items.py"


rule knowledge_fetch_published:
    input:
        # the items the released answers must cover, in order
        questions=rules.knowledge_fetch_items.output.questions,
        local=lookup(dpath="{system}/local", within=KNOWLEDGE_SYSTEMS),
    output:
        answers="results/knowledge/answers/{system}/{suite}.jsonl",
        meta="results/knowledge/answers/{system}/{suite}.meta.json",
    log:
        "logs/knowledge/answers/{system}/{suite}.log",
    wildcard_constraints:
        suite=KNOWLEDGE_SUITE,
        # a published system's answers exist already: they are checked and copied
        system=one_of(KNOWLEDGE_PUBLISHED),
    localrule: True
    conda:
        "../envs/data.yaml"
    params:
        files=lookup(dpath="{system}/files", within=KNOWLEDGE_SYSTEMS),
    script:
        "../workflow_scripts/knowledge_fetch_published.py"


rule knowledge_answer:
    input:
        unpack(lookup(dpath="{system}", within=KNOWLEDGE_MODELS)),
        questions=rules.knowledge_fetch_items.output.questions,
    output:
        answers="results/knowledge/answers/{system}/{suite}.jsonl",
        meta="results/knowledge/answers/{system}/{suite}.meta.json",
    log:
        "logs/knowledge/answers/{system}/{suite}.log",
    benchmark:
        "results/benchmarks/knowledge/answers/{system}/{suite}.tsv"
    wildcard_constraints:
        suite=KNOWLEDGE_SUITE,
        system=one_of(KNOWLEDGE_ANSWERING),
    conda:
        "../envs/train.yaml"
    resources:
        gpu=0,  # the CPU unless the profile gives the rule a GPU
    params:
        task=lookup(dpath="{suite}/task", within=KNOWLEDGE_SUITES),
        options=lookup(dpath="{system}/options", within=KNOWLEDGE_SYSTEMS),
        adapter=adapter_of,
        trust_remote_code=trust_remote_code_flag,
    shell:
        "HF_HUB_OFFLINE=1 python -m bayling_pipeline.knowledge --task {params.task}"
        " --model {input.model:q} --adapter={params.adapter:q} --items {input.questions:q}"
        " {params.options} --threads {threads} {params.trust_remote_code}"
        " --output {output.answers:q} --meta {output.meta:q} > {log:q} 2>&1"


rule knowledge_score:
    input:
        answers="results/knowledge/answers/{system}/{suite}.jsonl",
        meta="results/knowledge/answers/{system}/{suite}.meta.json",
        questions=rules.knowledge_fetch_items.output.questions,
    output:
        "results/knowledge/scores/{system}/{suite}.json",
    log:
        "logs/knowledge/scores/{system}/{suite}.log",
    wildcard_constraints:
        suite=KNOWLEDGE_SUITE,
        system=one_of(set(KNOWLEDGE_ANSWERING) | set(KNOWLEDGE_PUBLISHED)),
    conda:
        "../envs/data.yaml"
    params:
        task=lookup(dpath="{suite}/task", within=KNOWLEDGE_SUITES),
        kind=lookup(dpath="{system}/kind", within=KNOWLEDGE_SYSTEMS),
        label=lookup(dpath="{system}/label", within=KNOWLEDGE_SYSTEMS),
        bootstrap=config["knowledge"]["bootstrap"],
        reading=config["knowledge"]["reading"],
    script:
        "../workflow_scripts/knowledge_score.py"


# one score file per (system, suite)
KNOWLEDGE_SCORES = [
    rules.knowledge_score.output[0].format(system=system, suite=suite)
    for system, suite in KQ.jobs(config)
]

# fetched on the login node (the `download` target): the items and the released answers
KNOWLEDGE_DOWNLOADS = [
    rules.knowledge_fetch_items.output.questions.format(suite=suite)
    for suite in KQ.evaluated_suites(config)
] + [
    rules.knowledge_fetch_published.output.answers.format(
        system=system, suite=spec["suite"]
    )
    for system, spec in KNOWLEDGE_PUBLISHED.items()
]


rule knowledge_report:
    input:
        scores=KNOWLEDGE_SCORES,
    output:
        tsv=report(
            "results/report/knowledge.tsv",
            category="Knowledge benchmarks",
            caption="../report/knowledge.rst",
        ),
        markdown=report(
            "results/report/knowledge.md",
            category="Knowledge benchmarks",
            caption="../report/knowledge.rst",
        ),
        latex=report(
            "results/report/knowledge.tex",
            category="Knowledge benchmarks",
            caption="../report/knowledge.rst",
        ),
    log:
        "logs/report/knowledge.log",
    conda:
        "../envs/data.yaml"
    params:
        layout=config["knowledge"]["layout"],
    script:
        "../workflow_scripts/knowledge_report.py"


# the stage's tables (and so everything before them); none while it is off
KNOWLEDGE_TARGETS = list(rules.knowledge_report.output) if KNOWLEDGE_SCORES else []


rule knowledge:
    input:
        KNOWLEDGE_TARGETS,
