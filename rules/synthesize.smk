# Stage 2, synthesize: BayLing-style instructions (single-turn translation, interactive
# multi-turn dialogues, BayLing-2 cross-lingual instructions) from a corpus's train split.


rule synthesize_instructions:
    input:
        train=corpus_split("train"),
        dev=corpus_split("dev"),
        # every test-split text is forbidden in the output (a contamination guard)
        test=corpus_split("test"),
    output:
        train="results/synthesize/{dataset}/train.jsonl",
        dev="results/synthesize/{dataset}/dev.jsonl",
        stats="results/synthesize/{dataset}/stats.json",
        samples="results/synthesize/{dataset}/samples.md",
    log:
        "logs/synthesize/{dataset}.log",
    benchmark:
        "results/benchmarks/synthesize/{dataset}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        recipe=lambda w: config["datasets"][w.dataset],
        corpus=lambda w: config["datasets"][w.dataset]["corpus"],
    script:
        "../workflow_scripts/synthesize_instructions.py"


rule synthesize:
    input:
        [
            rules.synthesize_instructions.output.train.format(dataset=run["dataset"])
            for run in config["finetune"].values()
        ],
