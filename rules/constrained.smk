# Lexically constrained translation, a stage of its own (docs/constrained-translation.md):
# constraint sets (src, reference, terms) fetched like test sets; every decoded system
# translates them with BayLing's constrained prompt in each instruction language (a GPU job
# on clusters, the decode stage's models and settings); published systems' outputs enter
# checked line by line against the set; BLEU, term hit rate and the share of sentences with
# every term per (system, set, instruction language, direction); a table of its own in the
# report. Off (no job) while config["constrained"]["sets"] is empty.
from bayling_pipeline.constrained import queries as CQ

CONSTRAINED_DECODED = CQ.decoded_systems(config)
CONSTRAINED_PUBLISHED = CQ.published_systems(config)
CONSTRAINED_WILDCARDS = {
    "cset": one_of(CQ.constraint_sets(config)),
    "instruction": one_of(CQ.INSTRUCTION_LANGUAGES),
    "pair": one_of(CQ.all_directions(config)),
}
# what the rules look up by the {system} wildcard: a decoded system's model files (as the
# decode stage loads them) and decoding options, and every system's kind and label
CONSTRAINED_MODELS = {system: model_inputs(system) for system in CONSTRAINED_DECODED}
CONSTRAINED_SYSTEMS = {
    system: {
        "kind": Q.system_kind(config, system),
        "label": system,
        "options": CQ.decode_options(config, Q.chat_format_of(config, system)),
    }
    for system in CONSTRAINED_DECODED
} | {
    system: {"kind": "published", "label": CQ.label(config, system)}
    for system in CONSTRAINED_PUBLISHED
}


rule constrained_fetch_set:
    input:
        # a local file is an input (editing it reruns the stage); a URL is fetched here
        lookup(
            dpath="constrained/sets/{cset}/files/{pair}/path",
            within=config,
            default=[],
        ),
    output:
        constraints="results/constrained/sets/{cset}/{pair}.jsonl",
        manifest="results/constrained/sets/{cset}/{pair}.manifest.json",
    log:
        "logs/constrained/sets/{cset}/{pair}.log",
    wildcard_constraints:
        cset=CONSTRAINED_WILDCARDS["cset"],
        pair=CONSTRAINED_WILDCARDS["pair"],
    # network (or the pre-staged cache) only here, on the login node
    localrule: True
    conda:
        "../envs/data.yaml"
    params:
        spec=lookup(dpath="constrained/sets/{cset}/files/{pair}", within=config),
        max_segments=lookup(dpath="constrained/sets/{cset}/max_segments", within=config),
    script:
        "../workflow_scripts/constrained_fetch_set.py"


rule constrained_fetch_published:
    input:
        # the constraint set the released file must match, line by line
        constraints=rules.constrained_fetch_set.output.constraints,
        manifest=rules.constrained_fetch_set.output.manifest,
        local=lookup(
            dpath="constrained/published/{system}/files/{pair}/{instruction}/path",
            within=config,
            default=[],
        ),
    output:
        outputs="results/constrained/decode/{system}/{cset}/{instruction}/{pair}.jsonl",
        meta="results/constrained/decode/{system}/{cset}/{instruction}/{pair}.meta.json",
    log:
        "logs/constrained/decode/{system}/{cset}/{instruction}/{pair}.log",
    wildcard_constraints:
        **CONSTRAINED_WILDCARDS,
        # a published system's outputs exist already: they are checked and copied
        system=one_of(CONSTRAINED_PUBLISHED),
    localrule: True
    conda:
        "../envs/data.yaml"
    params:
        spec=lookup(
            dpath="constrained/published/{system}/files/{pair}/{instruction}",
            within=config,
        ),
        label=lookup(dpath="{system}/label", within=CONSTRAINED_SYSTEMS),
    script:
        "../workflow_scripts/constrained_fetch_published.py"


rule constrained_translate:
    input:
        unpack(lookup(dpath="{system}", within=CONSTRAINED_MODELS)),
        constraints=rules.constrained_fetch_set.output.constraints,
    output:
        outputs="results/constrained/decode/{system}/{cset}/{instruction}/{pair}.jsonl",
        meta="results/constrained/decode/{system}/{cset}/{instruction}/{pair}.meta.json",
    log:
        "logs/constrained/decode/{system}/{cset}/{instruction}/{pair}.log",
    benchmark:
        "results/benchmarks/constrained/decode/{system}/{cset}/{instruction}/{pair}.tsv"
    wildcard_constraints:
        **CONSTRAINED_WILDCARDS,
        system=one_of(CONSTRAINED_DECODED),
    conda:
        "../envs/train.yaml"
    resources:
        gpu=0,  # the CPU unless the profile gives the rule a GPU
    params:
        options=lookup(dpath="{system}/options", within=CONSTRAINED_SYSTEMS),
        adapter=adapter_of,
        trust_remote_code=trust_remote_code_flag,
    shell:
        "HF_HUB_OFFLINE=1 python -m bayling_pipeline.constrained --model {input.model:q}"
        " --adapter={params.adapter:q} --constraints {input.constraints:q}"
        " --pair {wildcards.pair:q} --instruction {wildcards.instruction:q}"
        " {params.options} --threads {threads} {params.trust_remote_code}"
        " --output {output.outputs:q} --meta {output.meta:q} > {log:q} 2>&1"


rule constrained_score:
    input:
        outputs="results/constrained/decode/{system}/{cset}/{instruction}/{pair}.jsonl",
        meta="results/constrained/decode/{system}/{cset}/{instruction}/{pair}.meta.json",
        constraints=rules.constrained_fetch_set.output.constraints,
    output:
        "results/constrained/score/{system}/{cset}/{instruction}/{pair}.json",
    log:
        "logs/constrained/score/{system}/{cset}/{instruction}/{pair}.log",
    wildcard_constraints:
        **CONSTRAINED_WILDCARDS,
        system=one_of(set(CONSTRAINED_DECODED) | set(CONSTRAINED_PUBLISHED)),
    conda:
        "../envs/score.yaml"
    params:
        kind=lookup(dpath="{system}/kind", within=CONSTRAINED_SYSTEMS),
        label=lookup(dpath="{system}/label", within=CONSTRAINED_SYSTEMS),
        bleu_tokenize=config["scoring"]["bleu_tokenize"],
    script:
        "../workflow_scripts/constrained_score.py"


# one score file per (system, set, instruction language, direction)
CONSTRAINED_SCORES = [
    rules.constrained_score.output[0].format(
        system=system, cset=cset, instruction=instruction, pair=pair
    )
    for system, cset, instruction, pair in CQ.jobs(config)
]

# fetched on the login node (the `download` target): the sets and the published outputs
CONSTRAINED_DOWNLOADS = [
    rules.constrained_fetch_set.output.constraints.format(cset=cset, pair=pair)
    for cset in CQ.constraint_sets(config)
    for pair in CQ.set_directions(config, cset)
] + [
    rules.constrained_fetch_published.output.outputs.format(
        system=system, cset=cset, instruction=instruction, pair=pair
    )
    for system, cset, instruction, pair in CQ.jobs(config)
    if system in CONSTRAINED_PUBLISHED
]


rule constrained_report:
    input:
        scores=CONSTRAINED_SCORES,
    output:
        tsv=report(
            "results/report/constrained.tsv",
            category="Constrained translation",
            caption="../report/constrained.rst",
        ),
        markdown=report(
            "results/report/constrained.md",
            category="Constrained translation",
            caption="../report/constrained.rst",
        ),
        latex=report(
            "results/report/constrained.tex",
            category="Constrained translation",
            caption="../report/constrained.rst",
        ),
    log:
        "logs/report/constrained.log",
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/constrained_report.py"


# the stage's tables (and so everything before them); none while it is off
CONSTRAINED_TARGETS = (
    list(rules.constrained_report.output) if CONSTRAINED_SCORES else []
)


rule constrained:
    input:
        CONSTRAINED_TARGETS,
