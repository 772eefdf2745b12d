# Shared by every stage: the config's cross-reference check, wildcard constraints (one
# per path component, limited to the names the config defines), the GPUs of training,
# and the input functions and target lists that join config and rules.
# Config lookups are tested functions of bayling_pipeline.workflow.queries (Q), and of
# .evaluation_queries (EQ: test sets and scores) and .synthesis_queries (SQ).
# Parse time only reads the config: no heavy imports, no globbing of results.
import os
import re
import shlex
import sys

# The package of pure logic lives beside the rules. Make it importable here, and in every
# job without requiring an install (local, SLURM or conda env): `script:` adapters get
# their own folder on sys.path from Snakemake, shell jobs get it through PYTHONPATH.
# Shell jobs run `python -m ...` (and `accelerate`) of the interpreter that runs Snakemake,
# whatever the caller's PATH (`.venv/bin/snakemake` from a fresh shell); a rule's conda env,
# once activated (CONDA_PREFIX), keeps its own.
PACKAGE_ROOT = os.path.join(workflow.basedir, "workflow_scripts")
PYTHON_BIN = os.path.dirname(sys.executable)
sys.path.insert(0, PACKAGE_ROOT)
shell.prefix(
    f"set -euo pipefail; export PYTHONPATH={shlex.quote(PACKAGE_ROOT)}"
    "${{PYTHONPATH:+:$PYTHONPATH}}; "  # braces doubled: the prefix is formatted too
    f'[ -n "${{{{CONDA_PREFIX:-}}}}" ] || export PATH={shlex.quote(PYTHON_BIN)}:"$PATH"; '
)

# (the Snakefile has validated the config: bayling_pipeline.workflow.validation)
from bayling_pipeline.workflow import evaluation_queries as EQ
from bayling_pipeline.workflow import local_files
from bayling_pipeline.workflow import queries as Q
from bayling_pipeline.workflow import synthesis_queries as SQ


def one_of(names):
    """A wildcard constraint matching exactly the given names."""
    return "|".join(re.escape(name) for name in sorted(names)) or "(?!)"


EVAL_SYSTEMS = config["evaluation"]["systems"]
COMET = config["scoring"]["comet"]
DECODING = config["decoding"]
DIALOGUE_SETS = config["evaluation"]["dialogue_sets"]
# {test set: directions} decoded and scored once per system (evaluation.pool_directions),
# and those of them fetched in one job (the others are cut from a corpus, by direction)
POOLED_TESTSETS = EQ.pooled_testsets(config)
POOLED_FETCHES = {
    t: p for t, p in POOLED_TESTSETS.items() if t in Q.downloaded_testsets(config)
}
POOLED_SYSTEMS = EQ.pooled_systems(config) if POOLED_TESTSETS else []
# The index of a pooled job: one file standing in the DAG for its per-direction outputs,
# so that Snakemake resolves one input rather than hundreds (bayling_pipeline.io.write_index)
POOLED_INDEX = {
    "fetch": "results/download/testsets/{testset}/pooled.json",
    "decode": "results/decode/{system}/{testset}/pooled.json",
    "score": "results/score/{system}/{testset}/pooled.json",
    "comet": "results/score/{system}/{testset}/comet-{comet}.pooled.json",
    "significance": "results/score/significance/{testset}/pooled.json",
}
# where the download_flores200_spm job stages spBLEU's model (sacreBLEU's own file name)
FLORES200_SPM = "resources/sacrebleu/models/flores200sacrebleuspm"


wildcard_constraints:
    corpus=one_of(config["corpora"]),
    split="train|dev|test",
    testset=one_of(config["testsets"]),
    pair=one_of({p for t in config["testsets"].values() for p in t["directions"]}),
    model=one_of(config["models"]),
    dataset=one_of(config["datasets"]),
    run=one_of(config["finetune"]),
    system=one_of(
        set(config["models"])
        | set(config["finetune"])
        | set(config["published"])
        | set(config["variants"])
    ),
    metric=one_of(config["scoring"]["metrics"]),
    comet=one_of([COMET["name"]] if COMET else []),
    published=one_of(config["download"]["published"]),


# --- compute needs: threads, memory and time come from the profile (profiles/default on
# this machine, profiles/slurm on a cluster); the config says only how many GPUs train


def finetune_gpus():
    """GPUs (data-parallel processes) of a fine-tuning job: part of the experiment."""
    return config["compute"]["finetune"]["gpus"]


# --- input functions and params of the rules


def local_corpus_files(w):
    """The files of a local_parallel corpus: editing one reruns the download."""
    return local_files.local_corpus_files(config, w.corpus)


def local_model_files(w):
    """A local model's folder (source local, or a delta given by path) and its files:
    editing one reruns the staging, and so training and decoding."""
    folder = local_files.local_model_dir(config, w.model)
    return local_files.folder_files(folder) if folder else []


def corpus_test_split(w):
    """The test split of the corpus a test set is cut from."""
    corpus = config["testsets"][w.testset]["corpus"]
    return rules.download_split.output.test.format(corpus=corpus)


def testset_fetch_spec(w):
    """How a downloaded test set is fetched: its download entry, with its max_segments
    when set (only then: older runs' fetch jobs stay as they were)."""
    return EQ.testset_fetch_spec(config, w.testset)


def published_source(w):
    """The source side of the fetched test set a published system translated."""
    testset = config["download"]["published"][w.published]["testset"]
    return rules.download_fetch_testset.output.source.format(
        testset=testset, pair=w.pair
    )


def published_testset_manifest(w):
    """The manifest of that test set: its whole length, which the output must have."""
    testset = config["download"]["published"][w.published]["testset"]
    return rules.download_fetch_testset.output.manifest.format(
        testset=testset, pair=w.pair
    )


def synthesis_corpus_inputs(w):
    """The corpus splits (and instruction file) that the plan and every shard stream."""
    corpus = config["datasets"][w.dataset]["corpus"]
    inputs = {
        "train": rules.download_split.output.train.format(corpus=corpus),
        "dev": rules.download_split.output.dev.format(corpus=corpus),
    }
    instructions = SQ.synthesis_instructions(config, w.dataset)
    return inputs | ({"instructions": instructions} if instructions else {})


def synthesis_shard_inputs(w):
    """Corpus inputs, every text no example may quote (the corpus test split, every
    configured test and dialogue set, extra contamination files) and a local teacher's
    model."""
    corpus = config["datasets"][w.dataset]["corpus"]
    forbidden = [rules.download_split.output.test.format(corpus=corpus)]
    testset_files = [
        rules.download_testset.output.source,
        rules.download_testset.output.reference,
    ]
    forbidden += SQ.contamination_files(
        config, w.dataset, testset_files, rules.download_dialogues.output[0]
    )
    inputs = {**synthesis_corpus_inputs(w), "forbidden": with_fetch_indexes(forbidden)}
    teacher_model = SQ.teacher_model_dir(config, w.dataset)
    return inputs | ({"teacher_model": teacher_model} if teacher_model else {})


def with_fetch_indexes(files):
    """``files`` with those of a pooled fetch replaced by its index, once (which lists its
    sources and references: bayling_pipeline.io.indexed_files reads them)."""
    folders = {
        f"results/download/testsets/{t}/": POOLED_INDEX["fetch"].format(testset=t)
        for t in POOLED_FETCHES
    }
    replaced = [
        next((index for folder, index in folders.items() if f.startswith(folder)), f)
        for f in files
    ]
    return list(dict.fromkeys(replaced))


def synthesis_recipe(w):
    return SQ.synthesis_recipe(config, w.dataset)


def synthesis_shard_options(w, input):
    """Command-line options for the optional inputs of a shard job."""
    return SQ.synthesis_shard_options(
        config,
        w.dataset,
        w.shard,
        input.get("instructions"),
        input.get("teacher_model"),
    )


def synthesis_shards(w):
    """Every shard directory of a dataset."""
    return [
        rules.synthesize_shard.output[0].format(dataset=w.dataset, shard=shard)
        for shard in range(config["datasets"][w.dataset]["shards"])
    ]


def base_model_dir(w):
    """The staged base model of a fine-tuning run."""
    model = config["finetune"][w.run]["base_model"]
    return rules.finetune_prepare_base.output[0].format(model=model)


def model_stage_spec(w):
    """A model's entry as its staging uses it: the decoding-only keys left out, so that
    a new chat format or system prompt restages (and retrains) nothing."""
    return Q.model_stage_spec(config, w.model)


def delta_base_dir(w):
    """For a model of source delta, the staged model its delta is added to; else none."""
    base = Q.delta_base(config, w.model)
    return rules.finetune_prepare_base.output[0].format(model=base) if base else []


def synthesized(split):
    """Input function: a split of the instructions a fine-tuning run trains on."""

    def path(w):
        dataset = config["finetune"][w.run]["dataset"]
        return rules.synthesize_instructions.output[split].format(dataset=dataset)

    return path


def finetune_accelerate_config():
    """The accelerate config of a multi-GPU training job (profiles/accelerate/<distributed>
    .yaml), or [] for one GPU or the CPU."""
    if finetune_gpus() <= 1:
        return []
    name = config["compute"]["finetune"]["distributed"] + ".yaml"
    return os.path.join(workflow.basedir, "profiles", "accelerate", name)


def finetune_launcher(w, input):
    """`python -m`, or `accelerate launch ... -m` with several GPUs."""
    return Q.finetune_launcher(finetune_gpus(), input.get("accelerate_config", ""))


def model_inputs(system):
    """The model a system decodes with: a base model, or for a fine-tuning run the trained
    model (method full), the merged model (merge: true), or base model + LoRA adapter;
    for a variant, those of its system (the same files: a variant is never retrained).
    """
    system = Q.weights_of(config, system)
    base = rules.finetune_prepare_base.output[0].format(
        model=Q.base_model_of(config, system)
    )
    if Q.system_kind(config, system) != "finetuned":
        return {"model": base}
    weights = Q.finetuned_weights(config, system)
    adapter = rules.finetune_lora.output.adapter.format(run=system)
    if weights == "full":
        return {"model": adapter}
    if weights == "merged":
        return {"model": rules.finetune_merge.output[0].format(run=system)}
    return {"model": base, "adapter": adapter}


def trust_remote_code_flag(w):
    """--trust-remote-code where the system's (or run's) base model entry allows it."""
    return Q.trust_remote_code_flag(
        config, w.get("system") or w.get("weights") or w.run
    )


def decoder_inputs(system):
    """The model a system decodes with (model_inputs), or with decoding.backend
    ctranslate2 its converted model (made by decode_convert, the adapter merged, quantized as
    its compute_type needs)."""
    converted = Q.ctranslate2_model(config, system)
    if converted is None:
        return model_inputs(system)
    weights, quantization = converted
    return {
        "model": rules.decode_convert.output[0].format(
            weights=weights, quantization=quantization
        )
    }


def convert_inputs(w):
    """What the decode_convert job converts: a model, or a run's weights (adapter and base)."""
    return model_inputs(w.weights)


def decode_inputs(w):
    """The system's model and the source (a whole direction, which a shard job reads its
    part of)."""
    source = rules.download_testset.output.source.format(testset=w.testset, pair=w.pair)
    return {**decoder_inputs(w.system), "source": source}


def sized_like(pooled, per_direction):
    """Give a pooled rule, named after its test set (decode_pooled_shard_flores200), the
    threads and resources that the profile (or --set-threads/--set-resources) sets for its
    per-direction counterpart (decode_shard), since a profile cannot name every test set.
    Called before the pooled one is defined, which is when Snakemake applies them."""
    settings = workflow.resource_settings
    for sizes in (
        settings._parsed_overwrite_resources,
        settings._parsed_overwrite_threads,
    ):
        if per_direction in sizes and pooled not in sizes:
            sizes[pooled] = sizes[per_direction]


def pooled_decoder_inputs(w):
    """The model of a pooled decoding job (its sources: pooled_testset_inputs)."""
    return decoder_inputs(w.system)


def pooled_testset_inputs(testset, pairs):
    """What stands for the sources and references of a test set's directions: the index of
    its pooled fetch, or (a test set cut from a corpus) the files themselves."""
    if testset in POOLED_FETCHES:
        return [POOLED_INDEX["fetch"].format(testset=testset)]
    return [
        path.format(testset=testset, pair=pair)
        for pair in pairs
        for path in (
            rules.download_testset.output.source,
            rules.download_testset.output.reference,
        )
    ]


def pooled_sources(testset, pairs):
    """The source files of a test set's directions, in the order of the pooled job."""
    return [
        rules.download_testset.output.source.format(testset=testset, pair=pair)
        for pair in pairs
    ]


def pooled_shard_outputs(pattern):
    """Input function of a pooled merge: every shard's file of ``pattern``, in shard order."""

    def paths(w):
        return [
            pattern.format(system=w.system, shard=shard)
            for shard in range(DECODING["shards"])
        ]

    return paths


def of_system(paths):
    """Params function: the files of ``paths`` (patterns of {system}) of a job's system."""

    def filled(w):
        return [path.format(system=w.system) for path in paths]

    return filled


def pooled_pattern(pattern, testset):
    """Params function: ``pattern`` of a job's system and test set, {pair} left in."""

    def filled(w):
        return pattern.format(system=w.system, testset=testset, pair="{pair}")

    return filled


def decoded_inputs(system, testset, pairs):
    """What stands for a system's translations of ``pairs``: the index of its pooled
    decoding job (a system pooled, or the pattern {system} of a pooled rule), or (a
    published system) the files themselves."""
    if system in POOLED_SYSTEMS or system == "{system}":
        return [POOLED_INDEX["decode"].format(system=system, testset=testset)]
    return [
        rules.decode_translate.output.hypotheses.format(
            system=system, testset=testset, pair=pair
        )
        for pair in pairs
    ]


def adapter_of(w, input):
    """The LoRA adapter a decoding job applies, or '' for a standalone model."""
    return input.get("adapter", "")


def translate_options(w):
    return Q.decode_options(config, w.system)


def dialogue_options(w):
    return Q.decode_options(config, w.system, dialogues=True)


def decode_shard_outputs(key):
    """Input function of the merge: every shard's hypotheses (or meta), in shard order."""

    def paths(w):
        return [
            rules.decode_shard.output[key].format(**w, shard=shard)
            for shard in range(DECODING["shards"])
        ]

    return paths


def dialogue_inputs(w):
    """The system's model and the dialogue file (local path, or the downloaded copy)."""
    dialogues = Q.dialogue_file(
        config, w.dialogue_set, rules.download_dialogues.output[0]
    )
    return {**decoder_inputs(w.system), "dialogues": dialogues}


def published_hypotheses(w):
    return Q.published_path(config, w.system, w.pair)


def system_kind(w):
    return Q.system_kind(config, w.system)


def fetched_max_segments(w):
    """A downloaded test set's max_segments (its outputs are cut alike), else None."""
    return EQ.fetched_max_segments(config, w.testset)


def reference_inputs(testset, pair):
    """The primary reference, plus the folder of all references when scoring uses them."""
    inputs = {
        "reference": rules.download_testset.output.reference.format(
            testset=testset, pair=pair
        )
    }
    fetched = testset in Q.downloaded_testsets(config)
    if config["scoring"]["references"] == "all" and fetched:
        inputs["references"] = rules.download_fetch_testset.output.references.format(
            testset=testset, pair=pair
        )
    return inputs


def score_inputs(w):
    return {
        "hypotheses": rules.decode_translate.output.hypotheses.format(**w),
        "meta": rules.decode_translate.output.meta.format(**w),
        "source": rules.download_testset.output.source.format(**w),
        **reference_inputs(w.testset, w.pair),
    }


def flores200_spm_input(w):
    """The staged SentencePiece model of spBLEU, for a score tokenized with it (else none)."""
    if EQ.needs_flores200_spm(config, w.metric, w.pair):
        return rules.download_flores200_spm.output.model
    return []


def flores200_spm_file():
    """The staged SentencePiece model, as one input of a pooled job when some evaluated
    score needs it (else none)."""
    return FLORES200_SPM if EQ.flores200_spm_used(config) else []


def flores200_spm_targets():
    """The staged SentencePiece model, when some evaluated score needs it."""
    return [FLORES200_SPM] if EQ.flores200_spm_used(config) else []


def significance_keys(w):
    """The baseline, then every other system evaluated on the job's direction."""
    return Q.significance_systems(config, w.testset, w.pair)


def significance_systems(w):
    """The same systems by the names their scores are recorded under (a published
    system's label), so that the report joins intervals to scores."""
    return [Q.system_label(config, system) for system in significance_keys(w)]


def significance_inputs(w):
    """Every evaluated system's hypotheses for one (testset, direction), baseline first,
    and the references."""
    hypotheses = [
        rules.decode_translate.output.hypotheses.format(
            system=s, testset=w.testset, pair=w.pair
        )
        for s in significance_keys(w)
    ]
    return {"hypotheses": hypotheses, **reference_inputs(w.testset, w.pair)}


def pooled_decoded(testset, pairs):
    """Params of a pooled scoring job: a function of its system giving, by direction, its
    hypotheses, their metadata, the sources, primary references and, with
    scoring.references all, the folders of every reference (else None)."""

    def files(w):
        decoded = {"hypotheses": [], "metas": [], "sources": [], "references": []}
        folders = []
        for pair in pairs:
            names = {"system": w.system, "testset": testset, "pair": pair}
            decoded["hypotheses"].append(
                rules.decode_translate.output.hypotheses.format(**names)
            )
            decoded["metas"].append(rules.decode_translate.output.meta.format(**names))
            decoded["sources"].append(
                rules.download_testset.output.source.format(**names)
            )
            references = reference_inputs(testset, pair)
            decoded["references"].append(references["reference"])
            folders.append(references.get("references"))
        return decoded | {"references_folders": folders}

    return files


def significance_metrics():
    """The metrics of the paired bootstrap: the sacreBLEU ones, then COMET if configured."""
    return list(config["scoring"]["metrics"]) + (["comet"] if COMET else [])


def significance_file_metrics():
    """The same, as their files are named (comet-<name>.json)."""
    return [
        f"comet-{COMET['name']}" if m == "comet" else m for m in significance_metrics()
    ]


def pooled_significance_plan(testset):
    """The significance job of a pooled test set: {"systems": {direction: recorded names,
    baseline first}, "files": {direction: {"hypotheses", "comet" (segment scores),
    "reference", "references"}}, "inputs": every file}. No systems without a baseline.
    """
    plan = {"systems": {}, "files": {}, "inputs": []}
    for pair, keys in EQ.pooled_significance(config, testset).items():
        names = {"testset": testset, "pair": pair}
        references = reference_inputs(testset, pair)
        files = {
            "hypotheses": [
                rules.decode_translate.output.hypotheses.format(system=s, **names)
                for s in keys
            ],
            "comet": (
                [
                    rules.score_comet.output.segments.format(
                        system=s, comet=COMET["name"], **names
                    )
                    for s in keys
                ]
                if COMET
                else []
            ),
            "reference": references["reference"],
            "references": references.get("references"),
        }
        plan["systems"][pair] = [Q.system_label(config, s) for s in keys]
        plan["files"][pair] = files
        for index, system in enumerate(keys):
            plan["inputs"] += decoded_inputs(system, testset, [pair])
            if COMET and system in POOLED_SYSTEMS:
                plan["inputs"].append(
                    POOLED_INDEX["comet"].format(
                        system=system, testset=testset, comet=COMET["name"]
                    )
                )
            elif COMET:
                plan["inputs"].append(files["comet"][index])
        plan["inputs"] += pooled_testset_inputs(testset, [pair])
    plan["inputs"] = sorted(set(plan["inputs"]))
    return plan


def comet_segment_scores(w):
    """Every significance system's COMET segment scores for one direction."""
    return [
        rules.score_comet.output.segments.format(
            system=s, testset=w.testset, pair=w.pair, comet=w.comet
        )
        for s in significance_keys(w)
    ]


def system_label(w):
    """The name a system's outputs and scores are recorded under (a label, if it has one)."""
    return Q.system_label(config, w.system)


def report_reference_label():
    """The label of the system whose scores the report's shares divide by (or None)."""
    reference = config["report"]["reference_system"]
    return reference and Q.system_label(config, reference)
