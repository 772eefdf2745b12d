# Stage 5, score: sacreBLEU metrics (language-aware BLEU tokenization, spBLEU with the staged
# Flores-200 SentencePiece model, signature kept) for every hypothesis file, and COMET when a
# COMET model is configured (a GPU job on clusters).
# With evaluation.pool_directions the per-direction rules score only published systems;
# the pooled rules at the end score every other system once per test set.

# the systems (and test sets) whose scores the per-direction rules make
PER_DIRECTION_SCORED = (
    dict(system=one_of(config["published"])) if POOLED_TESTSETS else {}
)
PER_DIRECTION_SIGNIFICANCE = dict(testset="(?!)") if POOLED_TESTSETS else {}


rule score_sacrebleu:
    input:
        unpack(score_inputs),
        spm=flores200_spm_input,
    output:
        "results/score/{system}/{testset}/{pair}/{metric}.json",
    log:
        "logs/score/{system}/{testset}/{pair}/{metric}.log",
    wildcard_constraints:
        **PER_DIRECTION_SCORED,
    conda:
        "../envs/score.yaml"
    params:
        kind=system_kind,
        label=system_label,
        bleu_tokenize=config["scoring"]["bleu_tokenize"],
        references=config["scoring"]["references"],
    script:
        "../workflow_scripts/score_sacrebleu.py"


rule score_comet_stage_model:
    input:
        # a local checkpoint: editing it stages it again
        Q.comet_local_files(COMET),
    output:
        "resources/comet/{comet}/checkpoints/model.ckpt",
    log:
        "logs/score/comet/{comet}.stage.log",
    # fetching from the hub happens here, on the login node; scoring jobs run offline
    localrule: True
    conda:
        "../envs/score.yaml"
    params:
        model=COMET["model"] if COMET else None,
        revision=Q.comet_revision(COMET) if COMET else None,
        sha256=COMET["sha256"] if COMET else None,
        encoder_revision=COMET["encoder_revision"] if COMET else None,
    script:
        "../workflow_scripts/score_comet_stage_model.py"


rule score_comet:
    input:
        unpack(score_inputs),
        checkpoint=rules.score_comet_stage_model.output[0],
    output:
        score="results/score/{system}/{testset}/{pair}/comet-{comet}.json",
        segments="results/score/{system}/{testset}/{pair}/comet-{comet}.segments.tsv",
    log:
        "logs/score/{system}/{testset}/{pair}/comet-{comet}.log",
    wildcard_constraints:
        **PER_DIRECTION_SCORED,
    conda:
        "../envs/score.yaml"
    resources:
        gpu=0,  # the CPU unless the profile gives the rule a GPU
    params:
        kind=system_kind,
        label=system_label,
        batch_size=COMET["batch_size"] if COMET else None,
        model_label=COMET["model"] if COMET else None,
        revision=(Q.comet_revision(COMET) or "") if COMET else None,
        # segment scores shared across jobs and runs (bayling_pipeline.score.comet_cache)
        cache=(COMET["cache"] or "") if COMET else None,
    shell:
        "HF_HUB_OFFLINE=1 python -m bayling_pipeline.score --metric comet"
        " --checkpoint {input.checkpoint:q} --model-label {params.model_label:q}"
        " --source {input.source:q} --hypothesis {input.hypotheses:q}"
        " --reference {input.reference:q} --pair {wildcards.pair:q}"
        " --system {params.label:q} --kind {params.kind:q} --testset {wildcards.testset:q}"
        " --revision={params.revision:q} --cache={params.cache:q}"
        " --batch-size {params.batch_size} --gpus {resources.gpu}"
        " --output {output.score:q} > {log:q} 2>&1"


rule score_significance:
    input:
        unpack(significance_inputs),
        spm=flores200_spm_input,
    output:
        "results/score/significance/{testset}/{pair}/{metric}.json",
    log:
        "logs/score/significance/{testset}/{pair}/{metric}.log",
    wildcard_constraints:
        **PER_DIRECTION_SIGNIFICANCE,
    conda:
        "../envs/score.yaml"
    params:
        systems=significance_systems,
        bleu_tokenize=config["scoring"]["bleu_tokenize"],
        settings=config["scoring"]["significance"],
    script:
        "../workflow_scripts/score_significance.py"


rule score_significance_comet:
    input:
        scores=comet_segment_scores,
    output:
        "results/score/significance/{testset}/{pair}/comet-{comet}.json",
    log:
        "logs/score/significance/{testset}/{pair}/comet-{comet}.log",
    wildcard_constraints:
        **PER_DIRECTION_SIGNIFICANCE,
    conda:
        "../envs/score.yaml"
    params:
        systems=significance_systems,
        settings=config["scoring"]["significance"],
    script:
        "../workflow_scripts/score_significance.py"


# evaluation.pool_directions: per (system, test set) one sacreBLEU job (every metric, every
# direction) and one COMET job (one model load), and per test set one significance job,
# writing the files of the per-direction rules above (bayling_pipeline.score.directions).
for _testset, _pairs in POOLED_TESTSETS.items():
    _suffix = EQ.rule_suffix(_testset)
    _scores = f"results/score/{{system}}/{_testset}"
    _inputs = {
        "decoded": decoded_inputs("{system}", _testset, _pairs),
        "testset": pooled_testset_inputs(_testset, _pairs),
    }

    sized_like(f"score_pooled_{_suffix}", "score_sacrebleu")
    sized_like(f"score_comet_pooled_{_suffix}", "score_comet")
    sized_like(f"score_significance_pooled_{_suffix}", "score_significance")

    rule:
        name:
            f"score_pooled_{_suffix}"
        input:
            **_inputs,
            spm=flores200_spm_file(),
        output:
            # the index only, listing the per-direction files (params.scores): see
            # decode_pooled_<testset>
            index=POOLED_INDEX["score"].format(system="{system}", testset=_testset),
        log:
            f"logs/score/{{system}}/{_testset}/pooled.log",
        wildcard_constraints:
            system=one_of(POOLED_SYSTEMS),
        conda:
            "../envs/score.yaml"
        params:
            pairs=_pairs,
            scores=of_system(
                [
                    f"{_scores}/{p}/{m}.json"
                    for p in _pairs
                    for m in config["scoring"]["metrics"]
                ]
            ),
            files=pooled_decoded(_testset, _pairs),
            metrics=config["scoring"]["metrics"],
            testset=_testset,
            kind=system_kind,
            label=system_label,
            bleu_tokenize=config["scoring"]["bleu_tokenize"],
        script:
            "../workflow_scripts/score_pooled.py"

    if COMET:

        rule:
            name:
                f"score_comet_pooled_{_suffix}"
            input:
                **_inputs,
                checkpoint=rules.score_comet_stage_model.output[0].format(
                    comet=COMET["name"]
                ),
            output:
                index=POOLED_INDEX["comet"].format(
                    system="{system}", testset=_testset, comet=COMET["name"]
                ),
            log:
                f"logs/score/{{system}}/{_testset}/comet-pooled.log",
            wildcard_constraints:
                system=one_of(POOLED_SYSTEMS),
            conda:
                "../envs/score.yaml"
            resources:
                gpu=0,  # the CPU unless the profile gives the rule a GPU
            params:
                pairs=_pairs,
                scores=of_system(
                    [f"{_scores}/{p}/comet-{COMET['name']}.json" for p in _pairs]
                ),
                segments=of_system(
                    [
                        f"{_scores}/{p}/comet-{COMET['name']}.segments.tsv"
                        for p in _pairs
                    ]
                ),
                files=pooled_decoded(_testset, _pairs),
                testset=_testset,
                kind=system_kind,
                label=system_label,
                batch_size=COMET["batch_size"],
                model_label=COMET["model"],
                revision=Q.comet_revision(COMET) or "",
                cache=COMET["cache"] or "",
            script:
                "../workflow_scripts/score_comet_pooled.py"

    _plan = pooled_significance_plan(_testset)
    if _plan["systems"]:

        rule:
            name:
                f"score_significance_pooled_{_suffix}"
            input:
                _plan["inputs"],
                spm=flores200_spm_file(),
            output:
                index=POOLED_INDEX["significance"].format(testset=_testset),
            log:
                f"logs/score/significance/{_testset}/pooled.log",
            conda:
                "../envs/score.yaml"
            params:
                results=[
                    f"results/score/significance/{_testset}/{p}/{m}.json"
                    for p in _plan["systems"]
                    for m in significance_file_metrics()
                ],
                systems=_plan["systems"],
                files=_plan["files"],
                metrics=significance_metrics(),
                testset=_testset,
                bleu_tokenize=config["scoring"]["bleu_tokenize"],
                settings=config["scoring"]["significance"],
            script:
                "../workflow_scripts/score_significance_pooled.py"


rule score:
    input:
        score_targets(),
        significance_targets(),
