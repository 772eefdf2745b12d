# Stage 4, decode: every evaluated system translates every test-set direction, in
# length-sorted batches (a GPU job on clusters), and answers the dialogue sets turn by turn.
# Changing config["decoding"] reruns this stage and the ones after it, never the training.
# With decoding.shards > 1 each direction is decoded by that many decode_shard jobs, and
# decode_translate merges them into the same files, so scoring does not change.
# A system variant (config["variants"]) decodes with its system's weights and its own
# settings, into results/decode/<variant>/.

MODEL_SYSTEMS = one_of(
    set(config["models"]) | set(config["finetune"]) | set(config["variants"])
)
# evaluation.pool_directions: the pooled rules below translate every direction of a test
# set in one job per system, and the per-direction rules take no model system
PER_DIRECTION_SYSTEMS = "(?!)" if POOLED_TESTSETS else MODEL_SYSTEMS


# decoding.backend ctranslate2: a model or run's weights (a LoRA adapter merged in) in
# CTranslate2's format, once per weight type, checked against the source and cached by
# content (bayling_pipeline.decode.convert); every system decoding with them reads it.
rule decode_convert:
    input:
        unpack(convert_inputs),
    output:
        directory("resources/ctranslate2/{weights}/{quantization}"),
    log:
        "logs/decode/ctranslate2/{weights}.{quantization}.log",
    benchmark:
        "results/benchmarks/decode/ctranslate2/{weights}.{quantization}.tsv"
    wildcard_constraints:
        weights=one_of(Q.ctranslate2_weights(config)),
        quantization="float32|bfloat16|float16|int8",
    conda:
        "../envs/train.yaml"
    params:
        adapter=adapter_of,
        cache="resources/ctranslate2/.cache",
        trust_remote_code=trust_remote_code_flag,
    shell:
        "HF_HUB_OFFLINE=1 python -m bayling_pipeline.decode.convert --model {input.model:q}"
        " --adapter={params.adapter:q} --quantization {wildcards.quantization}"
        " --cache-dir {params.cache:q} --threads {threads} {params.trust_remote_code}"
        " --output {output:q} > {log:q} 2>&1"


if DECODING["shards"] == 1:

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
            system=PER_DIRECTION_SYSTEMS,
        conda:
            "../envs/train.yaml"
        resources:
            gpu=0,  # the CPU unless the profile gives the rule a GPU
        params:
            options=translate_options,
            adapter=adapter_of,
            trust_remote_code=trust_remote_code_flag,
        shell:
            "HF_HUB_OFFLINE=1 python -m bayling_pipeline.decode --model {input.model:q}"
            " --adapter={params.adapter:q} --source {input.source:q} --pair {wildcards.pair:q}"
            " {params.options} --threads {threads} {params.trust_remote_code}"
            " --output {output.hypotheses:q} --meta {output.meta:q} > {log:q} 2>&1"

else:

    rule decode_shard:
        input:
            unpack(decode_inputs),
        output:
            # each file is renamed into place when complete; a killed job leaves no shard
            # behind, only a partial file of finished batches that its retry resumes from
            hypotheses="results/decode/{system}/{testset}/{pair}.shards/{shard}.hyp.txt",
            meta="results/decode/{system}/{testset}/{pair}.shards/{shard}.meta.json",
        log:
            "logs/decode/{system}/{testset}/{pair}.shards/{shard}.log",
        benchmark:
            "results/benchmarks/decode/{system}/{testset}/{pair}.shards/{shard}.tsv"
        wildcard_constraints:
            system=PER_DIRECTION_SYSTEMS,
            shard=r"\d+",
        conda:
            "../envs/train.yaml"
        resources:
            gpu=0,  # the CPU unless the profile gives the rule a GPU
        params:
            options=translate_options,
            shards=DECODING["shards"],
            adapter=adapter_of,
            trust_remote_code=trust_remote_code_flag,
        shell:
            "HF_HUB_OFFLINE=1 python -m bayling_pipeline.decode --model {input.model:q}"
            " --adapter={params.adapter:q} --source {input.source:q} --pair {wildcards.pair:q}"
            " {params.options} --shard {wildcards.shard} --shards {params.shards}"
            " --threads {threads} {params.trust_remote_code}"
            " --output {output.hypotheses:q} --meta {output.meta:q} > {log:q} 2>&1"

    rule decode_translate:
        input:
            source=rules.download_testset.output.source,
            hypotheses=decode_shard_outputs("hypotheses"),
            metas=decode_shard_outputs("meta"),
        output:
            hypotheses="results/decode/{system}/{testset}/{pair}.hyp.txt",
            meta="results/decode/{system}/{testset}/{pair}.meta.json",
        log:
            "logs/decode/{system}/{testset}/{pair}.log",
        wildcard_constraints:
            system=PER_DIRECTION_SYSTEMS,
        # concatenating a few text files: not worth a cluster job
        localrule: True
        conda:
            "../envs/data.yaml"
        script:
            "../workflow_scripts/decode_merge.py"


# evaluation.pool_directions: one job per (system, test set) translates all its directions
# with one model load (bayling_pipeline.decode.pooled), into the same per-direction files;
# with decoding.shards > 1, N jobs each decode a part of the pooled segments, merged by
# decode_pooled_<testset>. A rule per test set; its one output is its index (pooled.json),
# listing the directions' files it writes: thousands of declared outputs (810 directions
# x 9 systems for BayLing 2) would cost Snakemake seconds in every dry run.
for _testset, _pairs in POOLED_TESTSETS.items():
    _suffix = EQ.rule_suffix(_testset)
    _hypotheses = [f"results/decode/{{system}}/{_testset}/{p}.hyp.txt" for p in _pairs]
    _metas = [f"results/decode/{{system}}/{_testset}/{p}.meta.json" for p in _pairs]
    _shards = f"results/decode/{{system}}/{_testset}/pooled.shards"
    _index = POOLED_INDEX["decode"].format(system="{system}", testset=_testset)
    # the job's files by direction, as patterns of {pair} (short command lines)
    _sources = pooled_pattern(rules.download_testset.output.source, _testset)

    sized_like(f"decode_pooled_shard_{_suffix}", "decode_shard")
    sized_like(f"decode_pooled_{_suffix}", "decode_translate")

    if DECODING["shards"] > 1:

        rule:
            name:
                f"decode_pooled_shard_{_suffix}"
            input:
                unpack(pooled_decoder_inputs),
                testset=pooled_testset_inputs(_testset, _pairs),
            output:
                # renamed into place when complete; a retry resumes from finished batches
                records=f"{_shards}/{{shard}}.jsonl",
                meta=f"{_shards}/{{shard}}.meta.json",
            log:
                f"logs/decode/{{system}}/{_testset}/pooled.shards/{{shard}}.log",
            benchmark:
                f"results/benchmarks/decode/{{system}}/{_testset}/pooled.shards/{{shard}}.tsv"
            wildcard_constraints:
                system=one_of(EQ.pooled_systems(config)),
                shard=r"\d+",
            conda:
                "../envs/train.yaml"
            resources:
                gpu=0,  # the CPU unless the profile gives the rule a GPU
            params:
                pairs=_pairs,
                sources=_sources,
                options=translate_options,
                shards=DECODING["shards"],
                adapter=adapter_of,
                cache=f"results/decode/{{system}}/{_testset}/.pooled-cache",
                trust_remote_code=trust_remote_code_flag,
            shell:
                "HF_HUB_OFFLINE=1 python -m bayling_pipeline.decode.pooled --model {input.model:q}"
                " --adapter={params.adapter:q} --pairs {params.pairs} --sources {params.sources:q}"
                " {params.options} --shard {wildcards.shard} --shards {params.shards}"
                " --cache-dir {params.cache:q} --threads {threads} {params.trust_remote_code}"
                " --shard-output {output.records:q} --shard-meta {output.meta:q}"
                " > {log:q} 2>&1"

        rule:
            name:
                f"decode_pooled_{_suffix}"
            input:
                records=pooled_shard_outputs(f"{_shards}/{{shard}}.jsonl"),
                metas=pooled_shard_outputs(f"{_shards}/{{shard}}.meta.json"),
            output:
                index=_index,
            log:
                f"logs/decode/{{system}}/{_testset}/pooled.log",
            wildcard_constraints:
                system=one_of(EQ.pooled_systems(config)),
            # splitting a few text files: not worth a cluster job
            localrule: True
            conda:
                "../envs/data.yaml"
            params:
                pairs=_pairs,
                hypotheses=of_system(_hypotheses),
                metas=of_system(_metas),
            script:
                "../workflow_scripts/decode_pooled_merge.py"

    else:

        rule:
            name:
                f"decode_pooled_{_suffix}"
            input:
                unpack(pooled_decoder_inputs),
                testset=pooled_testset_inputs(_testset, _pairs),
            output:
                index=_index,
            log:
                f"logs/decode/{{system}}/{_testset}/pooled.log",
            benchmark:
                f"results/benchmarks/decode/{{system}}/{_testset}/pooled.tsv"
            wildcard_constraints:
                system=one_of(EQ.pooled_systems(config)),
            conda:
                "../envs/train.yaml"
            resources:
                gpu=0,  # the CPU unless the profile gives the rule a GPU
            params:
                pairs=_pairs,
                sources=_sources,
                options=translate_options,
                adapter=adapter_of,
                cache=f"results/decode/{{system}}/{_testset}/.pooled-cache",
                trust_remote_code=trust_remote_code_flag,
                outputs=pooled_pattern(
                    rules.decode_translate.output.hypotheses, _testset
                ),
                metas=pooled_pattern(rules.decode_translate.output.meta, _testset),
            shell:
                "HF_HUB_OFFLINE=1 python -m bayling_pipeline.decode.pooled --model {input.model:q}"
                " --adapter={params.adapter:q} --pairs {params.pairs} --sources {params.sources:q}"
                " {params.options} --cache-dir {params.cache:q} --threads {threads}"
                " {params.trust_remote_code} --outputs {params.outputs:q}"
                " --metas {params.metas:q} --index {output.index:q} > {log:q} 2>&1"


rule decode_published:
    input:
        published=published_hypotheses,
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
        label=system_label,
        max_segments=fetched_max_segments,
    script:
        "../workflow_scripts/decode_published.py"


rule decode_dialogues:
    input:
        unpack(dialogue_inputs),
    output:
        answers="results/decode/{system}/{dialogue_set}/dialogues.jsonl",
        meta="results/decode/{system}/{dialogue_set}/dialogues.meta.json",
    log:
        "logs/decode/{system}/{dialogue_set}/dialogues.log",
    benchmark:
        "results/benchmarks/decode/{system}/{dialogue_set}/dialogues.tsv"
    wildcard_constraints:
        system=MODEL_SYSTEMS,
        dialogue_set=one_of(DIALOGUE_SETS),
    conda:
        "../envs/train.yaml"
    resources:
        gpu=0,  # the CPU unless the profile gives the rule a GPU
    params:
        options=dialogue_options,
        adapter=adapter_of,
        trust_remote_code=trust_remote_code_flag,
    shell:
        "HF_HUB_OFFLINE=1 python -m bayling_pipeline.decode.dialogues --model {input.model:q}"
        " --adapter={params.adapter:q} --dialogues {input.dialogues:q}"
        " {params.options} --threads {threads} {params.trust_remote_code}"
        " --output {output.answers:q} --meta {output.meta:q} > {log:q} 2>&1"


rule decode:
    input:
        decode_targets(),
        dialogue_targets(),
