# Stage 1, download: every corpus through one source interface, then deterministic
# train/dev/test splits by source string, then line-aligned test sets per direction.


rule download_corpus:
    output:
        corpus="resources/corpora/{corpus}/multiway.jsonl",
        manifest="resources/corpora/{corpus}/manifest.json",
    log:
        "logs/download/corpora/{corpus}.log",
    localrule: True
    conda:
        "../envs/data.yaml"
    params:
        source=lambda w: config["corpora"][w.corpus]["source"],
        options=lambda w: config["corpora"][w.corpus]["options"],
    script:
        "../workflow_scripts/download_corpus.py"


rule download_split:
    input:
        corpus=rules.download_corpus.output.corpus,
    output:
        train="results/download/corpora/{corpus}/train.jsonl",
        dev="results/download/corpora/{corpus}/dev.jsonl",
        test="results/download/corpora/{corpus}/test.jsonl",
        summary="results/download/corpora/{corpus}/split.json",
    log:
        "logs/download/corpora/{corpus}.split.log",
    conda:
        "../envs/data.yaml"
    params:
        split=lambda w: config["corpora"][w.corpus]["split"],
    script:
        "../workflow_scripts/download_split.py"


rule download_testset:
    input:
        test=lambda w: rules.download_split.output.test.format(
            corpus=config["testsets"][w.testset]["corpus"]
        ),
    output:
        source="results/download/testsets/{testset}/{pair}.source.txt",
        reference="results/download/testsets/{testset}/{pair}.reference.txt",
    log:
        "logs/download/testsets/{testset}/{pair}.log",
    conda:
        "../envs/data.yaml"
    params:
        max_segments=lambda w: config["testsets"][w.testset]["max_segments"],
        min_source_words=lambda w: config["testsets"][w.testset]["min_source_words"],
    script:
        "../workflow_scripts/download_testset.py"


rule download:
    input:
        per_direction(rules.download_testset.output.source),
        per_direction(rules.download_testset.output.reference),
