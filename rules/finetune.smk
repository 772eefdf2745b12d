# Stage 3, finetune: stage each base model once as a local safetensors checkpoint, write
# each run's recipe, then LoRA-tune on the synthesized instructions (a GPU job on clusters).


rule finetune_prepare_base:
    output:
        directory("resources/models/{model}"),
    log:
        "logs/finetune/models/{model}.log",
    # a hub model is fetched here, on the login node; compute jobs then run offline
    localrule: True
    conda:
        "../envs/train.yaml"
    params:
        spec=lambda w: config["models"][w.model],
    script:
        "../workflow_scripts/finetune_prepare_base.py"


rule finetune_write_recipe:
    output:
        "results/finetune/{run}/recipe.json",
    log:
        "logs/finetune/{run}.recipe.log",
    localrule: True
    conda:
        "../envs/data.yaml"
    params:
        # a params change reruns this rule, and through the file, the training
        recipe=lambda w: config["finetune"][w.run]["recipe"],
    script:
        "../workflow_scripts/write_json.py"


rule finetune_lora:
    input:
        base=lambda w: rules.finetune_prepare_base.output[0].format(
            model=config["finetune"][w.run]["base_model"]
        ),
        train=lambda w: rules.synthesize_instructions.output.train.format(
            dataset=config["finetune"][w.run]["dataset"]
        ),
        dev=lambda w: rules.synthesize_instructions.output.dev.format(
            dataset=config["finetune"][w.run]["dataset"]
        ),
        recipe=rules.finetune_write_recipe.output[0],
    output:
        adapter=directory("results/finetune/{run}/adapter"),
        record="results/finetune/{run}/training.json",
        loss="results/finetune/{run}/loss.tsv",
    log:
        "logs/finetune/{run}.log",
    benchmark:
        "results/benchmarks/finetune/{run}.tsv"
    conda:
        "../envs/train.yaml"
    threads: needs("finetune")["threads"]
    resources:
        gpu=needs("finetune")["gpus"],
        mem_mb=escalating("finetune", "mem_mb"),
        runtime=escalating("finetune", "runtime"),
    params:
        # not an output: Snakemake must not delete it when a job dies, so a retry resumes
        checkpoints="results/finetune/{run}/checkpoints",
    shell:
        "HF_HUB_OFFLINE=1 python -m bayling_pipeline.finetune --base-model {input.base:q}"
        " --train {input.train:q} --dev {input.dev:q} --recipe {input.recipe:q}"
        " --adapter {output.adapter:q} --record {output.record:q} --loss-curve {output.loss:q}"
        " --checkpoints {params.checkpoints:q} --threads {threads} > {log:q} 2>&1"


rule finetune:
    input:
        [
            rules.finetune_lora.output.record.format(run=run)
            for run in config["finetune"]
        ],
