# Stage 2, synthesize: BayLing-style instructions (single-turn translation, interactive
# multi-turn dialogues, BayLing-2 cross-lingual instructions) from a corpus's train/dev
# splits, streamed: a plan (targets per family and unit), shards that run as parallel jobs,
# and a merge whose output does not depend on the number of shards.


rule synthesize_plan:
    input:
        unpack(synthesis_corpus_inputs),
        # the general family's files (the recipe names them; editing one reruns synthesis)
        general=lookup(
            dpath="datasets/{dataset}/general/files", within=config, default=[]
        ),
    output:
        "results/synthesize/{dataset}/plan.json",
    log:
        "logs/synthesize/{dataset}/plan.log",
    conda:
        "../envs/data.yaml"
    params:
        # a recipe change reruns the plan, and through it the shards and the merge
        recipe=synthesis_recipe,
    script:
        "../workflow_scripts/synthesize_plan.py"


rule synthesize_shard:
    input:
        unpack(synthesis_shard_inputs),
        plan=rules.synthesize_plan.output[0],
        general=rules.synthesize_plan.input.general,
    output:
        directory("results/synthesize/{dataset}/shards/{shard}"),
    log:
        "logs/synthesize/{dataset}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/synthesize/{dataset}/shard-{shard}.tsv"
    wildcard_constraints:
        shard=r"\d+",
    conda:
        "../envs/train.yaml"
    params:
        corpus=lookup(dpath="datasets/{dataset}/corpus", within=config),
        # the teacher cache (resources/teacher-cache/...) is not an output: its answers
        # survive a failed job (one SQLite writer per file)
        optional=synthesis_shard_options,
    shell:
        "HF_HUB_OFFLINE=1 python -m bayling_pipeline.synthesize shard --plan {input.plan:q}"
        " --shard {wildcards.shard} --train {input.train:q} --dev {input.dev:q}"
        " --corpus-name {params.corpus:q} --forbidden {input.forbidden:q}"
        " {params.optional} --threads {threads} --out {output:q} > {log:q} 2>&1"


rule synthesize_instructions:
    input:
        plan=rules.synthesize_plan.output[0],
        shards=synthesis_shards,
    output:
        train="results/synthesize/{dataset}/train.jsonl",
        dev="results/synthesize/{dataset}/dev.jsonl",
        stats="results/synthesize/{dataset}/stats.json",
        samples="results/synthesize/{dataset}/samples.md",
    log:
        "logs/synthesize/{dataset}/merge.log",
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/synthesize_merge.py"


rule synthesize:
    input:
        [
            rules.synthesize_instructions.output.train.format(dataset=run["dataset"])
            for run in config["finetune"].values()
        ],
