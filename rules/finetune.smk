# Stage 3, finetune: stage each base model once as a local safetensors checkpoint (a model
# released as a weight delta: its base model plus the delta, verified), write each run's
# recipe, then fine-tune on the synthesized instructions (LoRA, QLoRA or full; a GPU job
# on clusters, several GPUs of a node through accelerate), and merge the adapter into a
# standalone model for runs that set merge: true.


rule finetune_prepare_base:
    input:
        base=delta_base_dir,
        local=local_model_files,
    output:
        directory("resources/models/{model}"),
    log:
        "logs/finetune/models/{model}.log",
    # a hub model is fetched here, on the login node; compute jobs then run offline
    localrule: True
    conda:
        "../envs/train.yaml"
    params:
        # without how prompts are written (chat_format, system_prompt): not the weights
        spec=model_stage_spec,
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
        recipe=lookup(dpath="finetune/{run}/recipe", within=config),
    script:
        "../workflow_scripts/write_json.py"


rule finetune_lora:
    input:
        base=base_model_dir,
        train=synthesized("train"),
        dev=synthesized("dev"),
        recipe=rules.finetune_write_recipe.output[0],
        # with several GPUs: how accelerate shards the job (FSDP, ZeRO-3 or DDP)
        accelerate_config=finetune_accelerate_config(),
    output:
        # a LoRA adapter, or for method full the complete trained model
        adapter=directory("results/finetune/{run}/adapter"),
        record="results/finetune/{run}/training.json",
        loss="results/finetune/{run}/loss.tsv",
    log:
        "logs/finetune/{run}.log",
    benchmark:
        "results/benchmarks/finetune/{run}.tsv"
    conda:
        "../envs/train.yaml"
    resources:
        gpu=finetune_gpus(),
    params:
        # not an output: Snakemake must not delete it when a job dies, so a retry resumes
        checkpoints="results/finetune/{run}/checkpoints",
        launcher=finetune_launcher,
    shell:
        "HF_HUB_OFFLINE=1 {params.launcher} bayling_pipeline.finetune --base-model {input.base:q}"
        " --train {input.train:q} --dev {input.dev:q} --recipe {input.recipe:q}"
        " --adapter {output.adapter:q} --record {output.record:q} --loss-curve {output.loss:q}"
        " --checkpoints {params.checkpoints:q} --threads {threads} > {log:q} 2>&1"


rule finetune_merge:
    input:
        base=base_model_dir,
        adapter=rules.finetune_lora.output.adapter,
    output:
        directory("results/finetune/{run}/merged"),
    log:
        "logs/finetune/{run}.merge.log",
    benchmark:
        "results/benchmarks/finetune/{run}.merge.tsv"
    conda:
        "../envs/train.yaml"
    params:
        trust_remote_code=trust_remote_code_flag,
    shell:
        "HF_HUB_OFFLINE=1 python -m bayling_pipeline.finetune.merge_adapter --base-model {input.base:q}"
        " --adapter {input.adapter:q} --output {output:q} --threads {threads}"
        " {params.trust_remote_code} > {log:q} 2>&1"


rule finetune:
    input:
        finetune_targets(),
