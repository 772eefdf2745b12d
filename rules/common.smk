# Shared by every stage: the config's cross-reference check, wildcard constraints (one
# per path component, limited to the names the config defines) and target lists.
# Parse time only reads the config: no heavy imports, no globbing of results.
import os
import re
import shlex
import sys

# The package of pure logic lives beside the rules. Make it importable here, and in every
# job without requiring an install (local, SLURM or conda env): `script:` adapters get
# their own folder on sys.path from Snakemake, shell jobs get it through PYTHONPATH.
PACKAGE_ROOT = os.path.join(workflow.basedir, "workflow_scripts")
sys.path.insert(0, PACKAGE_ROOT)
shell.prefix(
    f"set -euo pipefail; export PYTHONPATH={shlex.quote(PACKAGE_ROOT)}"
    "${{PYTHONPATH:+:$PYTHONPATH}}; "  # braces doubled: the prefix is formatted too
)

from bayling_pipeline.workflow.checks import (
    base_model_of,
    check_config,
    comet_revision,
    downloaded_testsets,
    published_directions,
    published_path,
    system_directions,
    system_kind,
)

check_config(config)


def one_of(names):
    """A wildcard constraint matching exactly the given names."""
    return "|".join(re.escape(name) for name in sorted(names)) or "(?!)"


EVAL_TESTSETS = config["evaluation"]["testsets"]
EVAL_SYSTEMS = config["evaluation"]["systems"]
COMET = config["scoring"]["comet"]
BASELINE = config["scoring"]["significance"]["baseline"]


wildcard_constraints:
    corpus=one_of(config["corpora"]),
    split="train|dev|test",
    testset=one_of(config["testsets"]),
    pair=one_of({p for t in config["testsets"].values() for p in t["directions"]}),
    model=one_of(config["models"]),
    dataset=one_of(config["datasets"]),
    run=one_of(config["finetune"]),
    system=one_of(
        set(config["models"]) | set(config["finetune"]) | set(config["published"])
    ),
    metric=one_of(config["scoring"]["metrics"]),
    comet=one_of([COMET["name"]] if COMET else []),
    published=one_of(config["download"]["published"]),


def needs(stage):
    """Threads and resources of a compute stage, from config["compute"]."""
    return config["compute"][stage]


def escalating(stage, key):
    """A resource of a compute stage that grows with each retry: attempt n asks n times the
    configured amount, so a job killed for time or memory comes back with more of it."""
    return lambda wildcards, attempt: needs(stage)[key] * attempt


def testset_directions(testset):
    return config["testsets"][testset]["directions"]


def per_direction(pattern, **fixed):
    """`pattern` for every evaluated (testset, direction)."""
    return [
        pattern.format(testset=testset, pair=pair, **fixed)
        for testset in EVAL_TESTSETS
        for pair in testset_directions(testset)
    ]


def per_system_direction(pattern, **fixed):
    """`pattern` for every evaluated (system, testset, direction); a published system only
    where it has outputs."""
    return [
        pattern.format(system=system, testset=testset, pair=pair, **fixed)
        for system in EVAL_SYSTEMS
        for testset in EVAL_TESTSETS
        for pair in system_directions(config, system, testset)
    ]


# Input functions and target lists of the stages (called lazily, after all rules exist).


def corpus_split(split):
    """Input function: the given split of the dataset's corpus."""
    return lambda w: rules.download_split.output[split].format(
        corpus=config["datasets"][w.dataset]["corpus"]
    )


def model_inputs(system):
    """The system's model (for a fine-tuning run: base + adapter, or a standalone model,
    see finetuned_model_inputs)."""
    if system_kind(config, system) == "finetuned":
        return finetuned_model_inputs(system)
    return {
        "model": rules.finetune_prepare_base.output[0].format(
            model=base_model_of(config, system)
        )
    }


def decode_inputs(w):
    """The system's model and the source (a whole direction, which a shard job reads its
    part of)."""
    return {
        **model_inputs(w.system),
        "source": rules.download_testset.output.source.format(
            testset=w.testset, pair=w.pair
        ),
    }


def reference_inputs(testset, pair):
    """The primary reference, plus the folder of all references when scoring uses them."""
    inputs = {
        "reference": rules.download_testset.output.reference.format(
            testset=testset, pair=pair
        )
    }
    if config["scoring"]["references"] == "all" and testset in FETCHED_TESTSETS:
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


def significance_inputs(w):
    """Every evaluated system's hypotheses for one (testset, direction), baseline first,
    and the references."""
    systems = significance_systems(w.testset, w.pair)
    return {
        "hypotheses": [
            rules.decode_translate.output.hypotheses.format(
                system=s, testset=w.testset, pair=w.pair
            )
            for s in systems
        ],
        **reference_inputs(w.testset, w.pair),
    }


def significance_systems(testset, pair):
    """The baseline, then every other system evaluated on (testset, pair)."""
    others = [
        s
        for s in EVAL_SYSTEMS
        if s != BASELINE and pair in system_directions(config, s, testset)
    ]
    return [BASELINE, *others]


def score_targets():
    """Every score file of the evaluation: sacreBLEU metrics, plus COMET when configured."""
    targets = [
        path
        for metric in config["scoring"]["metrics"]
        for path in per_system_direction(rules.score_sacrebleu.output[0], metric=metric)
    ]
    if COMET:
        targets += per_system_direction(
            rules.score_comet.output[0], comet=COMET["name"]
        )
    return targets


def significance_targets():
    """One paired bootstrap file per (testset, direction, metric) the baseline is scored
    on, when scoring.significance.baseline is set."""
    if BASELINE is None:
        return []
    directions = [
        (testset, pair)
        for testset in EVAL_TESTSETS
        for pair in system_directions(config, BASELINE, testset)
    ]
    targets = [
        rules.score_significance.output[0].format(testset=t, pair=p, metric=m)
        for m in config["scoring"]["metrics"]
        for t, p in directions
    ]
    if COMET:
        targets += [
            rules.score_significance_comet.output[0].format(
                testset=t, pair=p, comet=COMET["name"]
            )
            for t, p in directions
        ]
    return targets


def report_metrics():
    return list(config["scoring"]["metrics"]) + (["comet"] if COMET else [])


def published_targets():
    """Every published output the config lists, by (system, its test set, direction)."""
    return [
        rules.download_published.output.hypotheses.format(
            published=name, testset=spec["testset"], pair=pair
        )
        for name, spec in config["download"]["published"].items()
        for pair in published_directions(config, name)
    ]


# --- synthesize helpers


def synthesis_recipe(dataset):
    """A dataset's recipe as the synthesis code reads it (the corpus comes in as files)."""
    return {
        key: value
        for key, value in config["datasets"][dataset].items()
        if key != "corpus"
    }


def synthesis_corpus_inputs(w):
    """The corpus splits (and instruction file) that the plan and every shard stream."""
    dataset = config["datasets"][w.dataset]
    inputs = {
        "train": rules.download_split.output.train.format(corpus=dataset["corpus"]),
        "dev": rules.download_split.output.dev.format(corpus=dataset["corpus"]),
    }
    instructions = dataset["instruction_cross_lingual"]["instructions"]
    if instructions and dataset["mix"].get("instruction_cross_lingual"):
        inputs["instructions"] = instructions
    return inputs


def synthesis_shard_inputs(w):
    """Corpus inputs, every text no example may quote (the corpus test split, every
    configured test and dialogue set, extra contamination files) and a local teacher's
    model."""
    dataset = config["datasets"][w.dataset]
    forbidden = [rules.download_split.output.test.format(corpus=dataset["corpus"])]
    for testset, spec in config["testsets"].items():
        for pair in spec["directions"]:
            forbidden += [
                f"results/download/testsets/{testset}/{pair}.source.txt",
                f"results/download/testsets/{testset}/{pair}.reference.txt",
            ]
    for name, spec in config["evaluation"].get("dialogue_sets", {}).items():
        forbidden.append(
            spec.get("path")
            or rules.download_dialogues.output[0].format(dialogue_set=name)
        )
    forbidden += dataset["hygiene"]["contamination_files"]
    inputs = {**synthesis_corpus_inputs(w), "forbidden": forbidden}
    teacher = dataset["teacher"]
    if teacher and teacher["backend"] == "local":
        inputs["teacher_model"] = f"resources/models/{teacher['model']}"
    return inputs


def synthesis_optional_args(w, input):
    """Command-line options for the optional inputs of a shard job."""
    args = []
    if "instructions" in input.keys():
        args += ["--instructions", input.instructions]
    if config["datasets"][w.dataset]["teacher"]:
        args += [
            "--teacher-cache",
            f"resources/teacher-cache/{w.dataset}/shard-{w.shard}.sqlite",
        ]
    if "teacher_model" in input.keys():
        args += ["--teacher-model", input.teacher_model]
    return " ".join(shlex.quote(str(arg)) for arg in args)


def synthesis_shards(w):
    """Every shard directory of a dataset."""
    return [
        rules.synthesize_shard.output[0].format(dataset=w.dataset, shard=shard)
        for shard in range(config["datasets"][w.dataset]["shards"])
    ]


# --- finetune helpers


def finetune_accelerate_config():
    """The accelerate config of a multi-GPU training job (profiles/accelerate/<distributed>
    .yaml), or [] for one GPU or the CPU."""
    if needs("finetune")["gpus"] <= 1:
        return []
    name = needs("finetune")["distributed"] + ".yaml"
    return os.path.join(workflow.basedir, "profiles", "accelerate", name)


def finetune_launcher(w, input):
    """What starts a training job: `python -m`, or with several GPUs `accelerate launch`
    with one process per GPU (same module and arguments either way). Port 0: accelerate
    picks a free rendezvous port, so two jobs on one node do not both claim 29500."""
    gpus = needs("finetune")["gpus"]
    if gpus <= 1:
        return "python -m"
    return (
        f"accelerate launch --num_processes {gpus} --num_machines 1 --main_process_port 0"
        f" --config_file {shlex.quote(input.accelerate_config)} -m"
    )


def finetuned_model_inputs(run):
    """What decoding loads for a fine-tuning run: the trained model itself (method full),
    the merged model (merge: true), or base model + LoRA adapter."""
    spec = config["finetune"][run]
    weights = rules.finetune_lora.output.adapter.format(run=run)
    if spec["recipe"]["method"] == "full":
        return {"model": weights}
    if spec["merge"]:
        return {"model": rules.finetune_merge.output[0].format(run=run)}
    base = rules.finetune_prepare_base.output[0].format(model=spec["base_model"])
    return {"model": base, "adapter": weights}


def finetune_targets():
    """Every run's training record, and the merged model of runs that ask for one."""
    targets = [
        rules.finetune_lora.output.record.format(run=run) for run in config["finetune"]
    ]
    targets += [
        rules.finetune_merge.output[0].format(run=run)
        for run, spec in config["finetune"].items()
        if spec["merge"] and spec["recipe"]["method"] != "full"
    ]
    return targets


# --- decode helpers

from bayling_pipeline.decode.translate import check_settings as decoding_problems

DECODING = config["decoding"]
DIALOGUE_SETS = config["evaluation"]["dialogue_sets"]
# the options of `python -m bayling_pipeline.decode` that config["decoding"] sets
TRANSLATE_OPTIONS = (
    "template",
    "batch_size",
    "max_new_tokens",
    "num_beams",
    "temperature",
    "top_p",
    "seed",
    "postprocess",
    "chat_format",
    "backend",
)
DIALOGUE_OPTIONS = ("batch_size", "seed", "chat_format", "backend")


def check_decoding():
    """What the schema cannot say about decoding and dialogue sets; stops at parse time."""
    problems = decoding_problems(DECODING)
    problems += [
        f"{p} (decoding.dialogues)"
        for p in decoding_problems({**DECODING, **DECODING["dialogues"]})
    ]
    for name in set(DIALOGUE_SETS) & set(config["testsets"]):
        problems.append(f"evaluation.dialogue_sets.{name}: also the name of a test set")
    if problems:
        raise ValueError("config: " + "; ".join(dict.fromkeys(problems)))


check_decoding()


def chat_format_of(system):
    """The chat format a system's prompts are written in: decoding.chat_format, where
    `auto` means a fine-tuning run's training format and a base model's own template."""
    if DECODING["chat_format"] != "auto":
        return DECODING["chat_format"]
    if system_kind(config, system) == "finetuned":
        return config["finetune"][system]["recipe"].get("chat_format", "model")
    return "model"


def decode_options(dialogues=False):
    """Params function: the command-line options of a decoding job for config["decoding"]
    (multi-turn: with the decoding.dialogues overrides), sorted so they stay equal across
    runs."""

    def options(w):
        chosen = DIALOGUE_OPTIONS if dialogues else TRANSLATE_OPTIONS
        settings = {k: DECODING[k] for k in chosen}
        settings["chat_format"] = chat_format_of(w.system)
        if dialogues:
            settings |= DECODING["dialogues"]
        return " ".join(
            f"--{key.replace('_', '-')} {shlex.quote(str(value))}"
            for key, value in sorted(settings.items())
        )

    return options


def trust_remote_code_flag(w):
    """--trust-remote-code where the system's base model entry allows it."""
    trusted = config["models"][base_model_of(config, w.system)]["trust_remote_code"]
    return "--trust-remote-code" if trusted else ""


def decode_shard_outputs(key):
    """Input function of the merge: every shard's hypotheses (or meta), in shard order."""
    return lambda w: [
        rules.decode_shard.output[key].format(**w, shard=shard)
        for shard in range(DECODING["shards"])
    ]


def dialogue_systems():
    """Evaluated systems that can answer (published ones only have their outputs)."""
    return [s for s in EVAL_SYSTEMS if system_kind(config, s) != "published"]


def dialogue_inputs(w):
    """The system's model and the dialogue file (local path, or the downloaded copy)."""
    spec = DIALOGUE_SETS[w.dialogue_set]
    dialogues = spec.get("path") or rules.download_dialogues.output[0].format(**w)
    return {**model_inputs(w.system), "dialogues": dialogues}


def dialogue_targets():
    """Every (system, dialogue set) answer file."""
    return [
        rules.decode_dialogues.output.answers.format(system=s, dialogue_set=d)
        for s in dialogue_systems()
        for d in DIALOGUE_SETS
    ]
