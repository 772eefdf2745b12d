# Stage 1, download: every corpus through one source interface, then deterministic
# train/dev/test splits by source string, then line-aligned test sets per direction: cut
# from a corpus's test split, or fetched from their real source (WMT, Flores), and the
# papers' published system outputs. Only the local rules here touch the network
# (pinned, verified, resumable: bayling_pipeline.download.fetch); compute jobs read local files.
# The adapters read config["download"] (cache, lock, mirrors, offline, timeouts) themselves:
# how a file is fetched is not a param, so a new mirror or timeout reruns nothing.

FETCHED_TESTSETS = Q.downloaded_testsets(config)
CUT_TESTSETS = [name for name in config["testsets"] if name not in FETCHED_TESTSETS]


rule download_corpus:
    input:
        local=local_corpus_files,
    output:
        corpus="resources/corpora/{corpus}/multiway.jsonl",
        manifest="resources/corpora/{corpus}/manifest.json",
    log:
        "logs/download/corpora/{corpus}.log",
    localrule: True
    conda:
        "../envs/data.yaml"
    params:
        source=lookup(dpath="corpora/{corpus}/source", within=config),
        options=lookup(dpath="corpora/{corpus}/options", within=config),
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
        split=lookup(dpath="corpora/{corpus}/split", within=config),
    script:
        "../workflow_scripts/download_split.py"


rule download_testset:
    input:
        test=corpus_test_split,
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
        max_segments=lookup(dpath="testsets/{testset}/max_segments", within=config),
        min_source_words=lookup(
            dpath="testsets/{testset}/min_source_words", within=config
        ),
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
        testset=one_of(set(FETCHED_TESTSETS) - set(POOLED_FETCHES)),
    # network (or the pre-staged cache) only here, on the login node
    localrule: True
    conda:
        "../envs/data.yaml"
    params:
        # with the test set's max_segments, when set (keep the first N segments)
        spec=testset_fetch_spec,
    script:
        "../workflow_scripts/download_fetch_testset.py"


# evaluation.pool_directions: every direction of a fetched test set in one job (the same
# files as download_fetch_testset's; the archive is downloaded once, into the cache)
for _testset, _pairs in POOLED_FETCHES.items():
    _folder = f"results/download/testsets/{_testset}"

    rule:
        name:
            f"download_fetch_{EQ.rule_suffix(_testset)}"
        output:
            # the index first: Snakemake matches a requested file against the outputs in
            # order, and the index is what the next jobs ask for (BayLing 2: 3,242 outputs)
            index=POOLED_INDEX["fetch"].format(testset=_testset),
            sources=[f"{_folder}/{p}.source.txt" for p in _pairs],
            references=[f"{_folder}/{p}.reference.txt" for p in _pairs],
            folders=[directory(f"{_folder}/{p}.references") for p in _pairs],
            manifests=[f"{_folder}/{p}.manifest.json" for p in _pairs],
        log:
            f"logs/download/testsets/{_testset}/pooled.log",
        # network (or the pre-staged cache) only here, on the login node
        localrule: True
        conda:
            "../envs/data.yaml"
        params:
            pairs=_pairs,
            spec=EQ.testset_fetch_spec(config, _testset),
        script:
            "../workflow_scripts/download_fetch_testset.py"


rule download_published:
    input:
        source=published_source,
        testset_manifest=published_testset_manifest,
    output:
        hypotheses="resources/published/{published}/{testset}/{pair}.hyp.txt",
        manifest="resources/published/{published}/{testset}/{pair}.manifest.json",
    log:
        "logs/download/published/{published}/{testset}/{pair}.log",
    localrule: True
    conda:
        "../envs/data.yaml"
    params:
        spec=lookup(dpath="download/published/{published}", within=config),
    script:
        "../workflow_scripts/download_published.py"


rule download_dialogues:
    # multi-turn dialogue sets (BayLing-80) named by URL in evaluation.dialogue_sets
    output:
        "resources/dialogues/{dialogue_set}.jsonl",
    log:
        "logs/download/dialogues/{dialogue_set}.log",
    wildcard_constraints:
        dialogue_set=one_of(Q.downloaded_dialogue_sets(config)),
    localrule: True
    conda:
        "../envs/data.yaml"
    params:
        spec=lookup(dpath="evaluation/dialogue_sets/{dialogue_set}", within=config),
    script:
        "../workflow_scripts/download_dialogues.py"


rule download_instructions:
    # instruction data by URL for the general family (datasets.<name>.general.files)
    output:
        records="resources/instructions/{instructions}.jsonl",
        manifest="resources/instructions/{instructions}.manifest.json",
    log:
        "logs/download/instructions/{instructions}.log",
    wildcard_constraints:
        instructions=one_of(config["download"]["instructions"]),
    localrule: True
    conda:
        "../envs/data.yaml"
    params:
        spec=lookup(dpath="download/instructions/{instructions}", within=config),
    script:
        "../workflow_scripts/download_instructions.py"


rule download_flores200_spm:
    # sacreBLEU's SentencePiece model for spBLEU (tokenizer flores200), which it would
    # otherwise download on first use: staged where scoring jobs point sacreBLEU
    output:
        model=FLORES200_SPM,
        manifest="resources/sacrebleu/flores200sacrebleuspm.manifest.json",
    log:
        "logs/download/sacrebleu/flores200sacrebleuspm.log",
    localrule: True
    conda:
        "../envs/score.yaml"
    params:
        spec=config["scoring"]["flores200_spm"],
    script:
        "../workflow_scripts/download_flores200_spm.py"


rule download:
    input:
        testset_targets(),
        published_targets(),
        dialogue_download_targets(),
        flores200_spm_targets(),
        # what a compute node reads and cannot fetch: corpora, models, the COMET model
        expand(rules.download_corpus.output.corpus, corpus=config["corpora"]),
        expand("resources/models/{model}", model=config["models"]),
        expand(
            "resources/comet/{comet}/checkpoints/model.ckpt",
            comet=[COMET["name"]] if COMET else [],
        ),
        expand(
            rules.download_instructions.output.records,
            instructions=config["download"]["instructions"],
        ),
        stage_downloads,
