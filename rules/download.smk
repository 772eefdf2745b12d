# Stage 1, download: every corpus through one source interface, then deterministic
# train/dev/test splits by source string, then line-aligned test sets per direction: cut
# from a corpus's test split, or fetched from their real source (WMT, Flores), and the
# papers' published system outputs. Only the local rules here touch the network
# (pinned, verified, resumable: bayling_pipeline.download.fetch); compute jobs read local files.
# The adapters read config["download"] (cache, lock, mirrors, offline, timeouts) themselves:
# how a file is fetched is not a param, so a new mirror or timeout reruns nothing.

FETCHED_TESTSETS = downloaded_testsets(config)
CUT_TESTSETS = [name for name in config["testsets"] if name not in FETCHED_TESTSETS]


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
    wildcard_constraints:
        testset=one_of(CUT_TESTSETS),
    conda:
        "../envs/data.yaml"
    params:
        max_segments=lambda w: config["testsets"][w.testset]["max_segments"],
        min_source_words=lambda w: config["testsets"][w.testset]["min_source_words"],
    script:
        "../workflow_scripts/download_testset.py"


rule download_fetch_testset:
    output:
        source="results/download/testsets/{testset}/{pair}.source.txt",
        reference="results/download/testsets/{testset}/{pair}.reference.txt",
        references=directory("results/download/testsets/{testset}/{pair}.references"),
        manifest="results/download/testsets/{testset}/{pair}.manifest.json",
    log:
        "logs/download/testsets/{testset}/{pair}.log",
    wildcard_constraints:
        testset=one_of(FETCHED_TESTSETS),
    # network (or the pre-staged cache) only here, on the login node
    localrule: True
    conda:
        "../envs/data.yaml"
    params:
        spec=lambda w: config["testsets"][w.testset]["download"],
    script:
        "../workflow_scripts/download_fetch_testset.py"


rule download_published:
    input:
        source=lambda w: rules.download_fetch_testset.output.source.format(
            testset=config["download"]["published"][w.published]["testset"],
            pair=w.pair,
        ),
    output:
        hypotheses="resources/published/{published}/{testset}/{pair}.hyp.txt",
        manifest="resources/published/{published}/{testset}/{pair}.manifest.json",
    log:
        "logs/download/published/{published}/{testset}/{pair}.log",
    localrule: True
    conda:
        "../envs/data.yaml"
    params:
        spec=lambda w: config["download"]["published"][w.published],
    script:
        "../workflow_scripts/download_published.py"


rule download_dialogues:
    # multi-turn dialogue sets (BayLing-80) named by URL in evaluation.dialogue_sets
    output:
        "resources/dialogues/{dialogue_set}.jsonl",
    log:
        "logs/download/dialogues/{dialogue_set}.log",
    wildcard_constraints:
        dialogue_set=one_of([n for n, s in DIALOGUE_SETS.items() if s.get("url")]),
    localrule: True
    conda:
        "../envs/data.yaml"
    params:
        spec=lambda w: DIALOGUE_SETS[w.dialogue_set],
    script:
        "../workflow_scripts/download_dialogues.py"


rule download:
    input:
        per_direction(rules.download_testset.output.source),
        per_direction(rules.download_testset.output.reference),
        published_targets(),
        [
            rules.download_dialogues.output[0].format(dialogue_set=name)
            for name, spec in DIALOGUE_SETS.items()
            if spec.get("url")
        ],
