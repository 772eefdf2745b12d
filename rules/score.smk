# Stage 5, score: sacreBLEU metrics (language-aware BLEU tokenization, signature kept) for
# every hypothesis file, and COMET when a COMET model is configured (a GPU job on clusters).


def score_inputs(w):
    return {
        "hypotheses": rules.decode_translate.output.hypotheses.format(**w),
        "meta": rules.decode_translate.output.meta.format(**w),
        "source": rules.download_testset.output.source.format(**w),
        "reference": rules.download_testset.output.reference.format(**w),
    }


rule score_sacrebleu:
    input:
        unpack(score_inputs),
    output:
        "results/score/{system}/{testset}/{pair}/{metric}.json",
    params:
        kind=lambda w: system_kind(config, w.system),
        bleu_tokenize=config["scoring"]["bleu_tokenize"],
    conda:
        "../envs/score.yaml"
    log:
        "logs/score/{system}/{testset}/{pair}/{metric}.log",
    script:
        "../workflow_scripts/score_sacrebleu.py"


rule score_comet_stage_model:
    output:
        "resources/comet/{comet}/checkpoints/model.ckpt",
    params:
        model=COMET["model"] if COMET else None,
    conda:
        "../envs/score.yaml"
    log:
        "logs/score/comet/{comet}.stage.log",
    # fetching from the hub happens here, on the login node; scoring jobs run offline
    localrule: True
    script:
        "../workflow_scripts/score_comet_stage_model.py"


rule score_comet:
    input:
        unpack(score_inputs),
        checkpoint=rules.score_comet_stage_model.output[0],
    output:
        "results/score/{system}/{testset}/{pair}/comet-{comet}.json",
    params:
        kind=lambda w: system_kind(config, w.system),
        batch_size=COMET["batch_size"] if COMET else None,
        model_label=COMET["model"] if COMET else None,
        gpus=needs("comet")["gpus"],
    threads: needs("comet")["threads"]
    resources:
        gpu=needs("comet")["gpus"],
        mem_mb=needs("comet")["mem_mb"],
        runtime=needs("comet")["runtime"],
    conda:
        "../envs/score.yaml"
    log:
        "logs/score/{system}/{testset}/{pair}/comet-{comet}.log",
    shell:
        "HF_HUB_OFFLINE=1 python -m bayling_pipeline.score --metric comet"
        " --checkpoint {input.checkpoint:q} --model-label {params.model_label:q}"
        " --source {input.source:q} --hypothesis {input.hypotheses:q}"
        " --reference {input.reference:q} --pair {wildcards.pair:q}"
        " --system {wildcards.system:q} --kind {params.kind:q} --testset {wildcards.testset:q}"
        " --batch-size {params.batch_size} --gpus {params.gpus}"
        " --output {output:q} > {log:q} 2>&1"


def score_targets():
    """Every score file of the evaluation: sacreBLEU metrics, plus COMET when configured."""
    targets = [
        path
        for metric in config["scoring"]["metrics"]
        for path in per_system_direction(rules.score_sacrebleu.output[0], metric=metric)
    ]
    if COMET:
        targets += per_system_direction(rules.score_comet.output[0], comet=COMET["name"])
    return targets


rule score:
    input:
        score_targets(),
