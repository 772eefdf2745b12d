# Stage 4, decode: every evaluated system translates every test-set direction, in
# length-sorted batches (a GPU job on clusters). Changing config["decoding"] reruns this
# stage and the ones after it, never the training.


rule decode_translate:
    input:
        unpack(decode_inputs),
    output:
        hypotheses="results/decode/{system}/{testset}/{pair}.hyp.txt",
        meta="results/decode/{system}/{testset}/{pair}.meta.json",
    log:
        "logs/decode/{system}/{testset}/{pair}.log",
    benchmark:
        "results/benchmarks/decode/{system}/{testset}/{pair}.tsv"
    wildcard_constraints:
        system=one_of(set(config["models"]) | set(config["finetune"])),
    conda:
        "../envs/train.yaml"
    threads: needs("decode")["threads"]
    resources:
        gpu=needs("decode")["gpus"],
        mem_mb=escalating("decode", "mem_mb"),
        runtime=escalating("decode", "runtime"),
    params:
        settings=config["decoding"],
        adapter=lambda w, input: input.get("adapter", ""),
        trust_remote_code=lambda w: (
            "--trust-remote-code"
            if config["models"][base_model_of(config, w.system)]["trust_remote_code"]
            else ""
        ),
    shell:
        "HF_HUB_OFFLINE=1 python -m bayling_pipeline.decode --model {input.model:q}"
        " --adapter={params.adapter:q} --source {input.source:q} --pair {wildcards.pair:q}"
        " --template {params.settings[template]:q}"
        " --batch-size {params.settings[batch_size]}"
        " --max-new-tokens {params.settings[max_new_tokens]}"
        " --num-beams {params.settings[num_beams]} --threads {threads}"
        " {params.trust_remote_code} --output {output.hypotheses:q} --meta {output.meta:q}"
        " > {log:q} 2>&1"


rule decode_published:
    input:
        published=lambda w: published_path(config, w.system, w.pair),
        source=rules.download_testset.output.source,
    output:
        hypotheses="results/decode/{system}/{testset}/{pair}.hyp.txt",
        meta="results/decode/{system}/{testset}/{pair}.meta.json",
    log:
        "logs/decode/{system}/{testset}/{pair}.log",
    wildcard_constraints:
        # a published system's outputs exist already: they are copied and normalized
        system=one_of(config["published"]),
    conda:
        "../envs/data.yaml"
    params:
        label=lambda w: config["published"][w.system]["label"] or w.system,
    script:
        "../workflow_scripts/decode_published.py"


rule decode:
    input:
        per_system_direction(rules.decode_translate.output.hypotheses),
