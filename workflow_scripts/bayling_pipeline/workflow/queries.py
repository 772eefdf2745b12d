"""Config lookups the rules make at parse time: which systems, directions, files and options.

Every function takes the validated config (``config.yaml`` with schema defaults) and names,
and returns names, paths or command-line options; ``rules/common.smk`` and the rule files
call them, so that the rules read like data and this logic is tested without Snakemake
(``tests/workflow/test_queries.py``). Nothing here imports anything heavy.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from bayling_pipeline.decode.settings import (
    DIALOGUE_OPTIONS,
    TRANSLATE_OPTIONS,
    command_options,
    engine_options,
)

# --- systems and directions


def variant_of(config: dict, system: str) -> dict | None:
    """A system variant's entry (``variants.<name>``), or None for any other system."""
    return (config.get("variants") or {}).get(system)


def weights_of(config: dict, system: str) -> str:
    """The model or fine-tuning run whose weights a system decodes with: a variant's
    ``system`` (a variant is never trained, it reuses them), else the system itself."""
    variant = variant_of(config, system)
    return variant["system"] if variant else system


def system_kind(config: dict, system: str) -> str:
    """'base' for a model, 'finetuned' for a fine-tuning run, 'published' for outputs; a
    variant is of its system's kind."""
    system = weights_of(config, system)
    if system in config.get("finetune", {}):
        return "finetuned"
    if system in config.get("published", {}):
        return "published"
    if system in config["models"]:
        return "base"
    raise KeyError(system)


def system_label(config: dict, system: str) -> str:
    """The name a system's scores are recorded under: a published system's label (as the
    paper prints it), a variant's label, else its key."""
    variant = variant_of(config, system)
    if variant:
        return variant.get("label") or system
    if system_kind(config, system) == "published":
        return config["published"][system].get("label") or system
    return system


def base_model_of(config: dict, system: str) -> str:
    """The model key whose checkpoint a system (or its variant) decodes with."""
    system = weights_of(config, system)
    if system_kind(config, system) == "finetuned":
        return config["finetune"][system]["base_model"]
    return system


def published_directions(config: dict, name: str) -> list[str]:
    """Directions of a published system to fetch: its ``directions``, else those pinned in
    its ``sha256``, else every direction of its test set."""
    spec = config["download"]["published"][name]
    testset = config["testsets"].get(spec["testset"], {})
    return list(spec.get("directions") or spec.get("sha256") or testset.get("directions", []))


def downloaded_testsets(config: dict) -> list[str]:
    """Test sets fetched from their real source (``download:``), not cut from a corpus."""
    return [name for name, testset in config["testsets"].items() if "download" in testset]


def system_directions(config: dict, system: str, testset: str) -> list[str]:
    """The directions of ``testset`` that ``system`` is evaluated on: all of them for a
    model or fine-tuning run; for a published system, those it has outputs for (none on
    another test set)."""
    directions = config["testsets"][testset]["directions"]
    spec = config.get("published", {}).get(system)
    if spec is None:
        return list(directions)
    if spec["testset"] != testset:
        return []
    if spec.get("directions"):
        return [pair for pair in directions if pair in spec["directions"]]
    if system in config.get("download", {}).get("published", {}):
        fetched = published_directions(config, system)
        return [pair for pair in directions if pair in fetched]
    return list(directions)


def evaluated_directions(config: dict) -> list[tuple[str, str]]:
    """Every evaluated (test set, direction)."""
    testsets = config["testsets"]
    return [
        (testset, pair)
        for testset in config["evaluation"]["testsets"]
        for pair in testsets[testset]["directions"]
    ]


def evaluated_system_directions(config: dict) -> list[tuple[str, str, str]]:
    """Every evaluated (system, test set, direction); a published system only where it has
    outputs."""
    return [
        (system, testset, pair)
        for system in config["evaluation"]["systems"]
        for testset in config["evaluation"]["testsets"]
        for pair in system_directions(config, system, testset)
    ]


def published_path(config: dict, system: str, pair: str) -> str:
    """The hypothesis file of published ``system`` for ``pair`` (its path template filled)."""
    from bayling_pipeline.languages import locale_of

    def wmt_code(code: str) -> str:  # zho_Hans -> zh, as WMT and BayLing name their files
        return (locale_of(code) or code).split("_")[0]

    spec = config["published"][system]
    src, _, tgt = pair.partition("-")
    return spec["path"].format(
        system=system,
        testset=spec["testset"],
        pair=pair,
        src=src,
        tgt=tgt,
        src2=wmt_code(src),
        tgt2=wmt_code(tgt),
    )


def published_downloads(config: dict) -> list[tuple[str, str, str]]:
    """Every published output the config fetches: (name, its test set, direction)."""
    return [
        (name, spec["testset"], pair)
        for name, spec in config["download"]["published"].items()
        for pair in published_directions(config, name)
    ]


# --- scoring


def comet_revision(comet: dict) -> str | None:
    """The revision of a COMET model entry: None for a local checkpoint path."""
    model = comet["model"]
    local = model.endswith(".ckpt") or model.startswith((".", "/", "~")) or Path(model).exists()
    return None if local else comet.get("revision")


def comet_local_files(comet: dict | None) -> list[str]:
    """A local COMET checkpoint's files (inputs of its staging: editing them restages it);
    none for a hub model."""
    if not comet or comet_revision(comet) is not None:
        return []
    path = Path(comet["model"]).expanduser()
    checkpoint = path / "checkpoints" / "model.ckpt" if path.is_dir() else path
    return [str(checkpoint), str(checkpoint.parent.parent / "hparams.yaml")]


def significance_systems(config: dict, testset: str, pair: str) -> list[str]:
    """The baseline, then every other system evaluated on (testset, pair)."""
    baseline = config["scoring"]["significance"]["baseline"]
    others = [
        system
        for system in config["evaluation"]["systems"]
        if system != baseline and pair in system_directions(config, system, testset)
    ]
    return [baseline, *others]


def significance_directions(config: dict) -> list[tuple[str, str]]:
    """The (test set, direction) pairs of the paired bootstrap: those the baseline is
    scored on; none without a baseline."""
    baseline = config["scoring"]["significance"]["baseline"]
    if baseline is None:
        return []
    return [
        (testset, pair)
        for testset in config["evaluation"]["testsets"]
        for pair in system_directions(config, baseline, testset)
    ]


def report_metrics(config: dict) -> list[str]:
    """The metrics of the report: the sacreBLEU ones, then COMET when configured."""
    comet = ["comet"] if config["scoring"]["comet"] else []
    return list(config["scoring"]["metrics"]) + comet


# --- fine-tuning


def finetune_launcher(gpus: int, accelerate_config: str) -> str:
    """What starts a training job: `python -m`, or with several GPUs `accelerate launch`
    with one process per GPU (same module and arguments either way). Port 0: accelerate
    picks a free rendezvous port, so two jobs on one node do not both claim 29500."""
    if gpus <= 1:
        return "python -m"
    return (
        f"accelerate launch --num_processes {gpus} --num_machines 1 --main_process_port 0"
        f" --config_file {shlex.quote(accelerate_config)} -m"
    )


def finetuned_weights(config: dict, run: str) -> str:
    """What decoding loads for a fine-tuning run: ``full`` (the trained model itself),
    ``merged`` (merge: true) or ``adapter`` (base model + LoRA adapter); for a variant of
    a run, that run's."""
    spec = config["finetune"][weights_of(config, run)]
    if spec["recipe"]["method"] == "full":
        return "full"
    return "merged" if spec["merge"] else "adapter"


def merged_runs(config: dict) -> list[str]:
    """The fine-tuning runs whose adapter is merged into a standalone model."""
    return [run for run in config["finetune"] if finetuned_weights(config, run) == "merged"]


# keys of a model entry that say how prompts are written, not what the weights are
PROMPT_KEYS = ("chat_format", "system_prompt")


def model_stage_spec(config: dict, model: str) -> dict:
    """A model's entry without ``PROMPT_KEYS``: what staging it depends on."""
    return {k: v for k, v in config["models"][model].items() if k not in PROMPT_KEYS}


def trust_remote_code_flag(config: dict, system: str) -> str:
    """``--trust-remote-code`` where the system's base model entry allows it."""
    trusted = config["models"][base_model_of(config, system)]["trust_remote_code"]
    return "--trust-remote-code" if trusted else ""


# --- decoding


def decoding_of(config: dict, system: str) -> dict:
    """A system's decoding settings: config["decoding"], with a variant's overrides on top
    (those of its ``dialogues`` merged key by key; null keeps the global value)."""
    decoding = config["decoding"]
    overrides = variant_overrides(config, system)
    dialogues = {**decoding.get("dialogues", {}), **overrides.pop("dialogues", {})}
    return {**decoding, **overrides, "dialogues": dialogues}


def variant_overrides(config: dict, system: str) -> dict:
    """The decoding settings a variant sets (its non-null ``decoding`` keys, ``dialogues``
    likewise); empty for any other system."""
    chosen = dict((variant_of(config, system) or {}).get("decoding") or {})
    dialogues = {k: v for k, v in (chosen.pop("dialogues", None) or {}).items() if v is not None}
    chosen = {key: value for key, value in chosen.items() if value is not None}
    return chosen | ({"dialogues": dialogues} if dialogues else {})


def own_prompt_setting(config: dict, system: str, key: str) -> str | None:
    """A system's own ``chat_format`` or ``system_prompt``: a variant's (decoding.<key>),
    else its model's entry (models.<name>.<key>) or its fine-tuning run's
    (finetune.<run>.<key>, which inherits its base model's when null); None: not set."""
    chosen = variant_overrides(config, system).get(key)
    if chosen is not None:
        return chosen
    weights = weights_of(config, system)
    run = config.get("finetune", {}).get(weights)
    if run is not None and run.get(key) is not None:
        return run[key]
    model = config["models"].get(base_model_of(config, weights), {})
    return model.get(key)


def chat_format_of(config: dict, system: str) -> str:
    """The chat format a system's prompts are written in: its own (``own_prompt_setting``:
    a variant's, its model's or run's, a run's base model's), else decoding.chat_format,
    where `auto` means a fine-tuning run's training format and a base model's own template."""
    own = own_prompt_setting(config, system, "chat_format")
    chosen = own if own is not None else config["decoding"]["chat_format"]
    if chosen != "auto":
        return chosen
    if system_kind(config, system) == "finetuned":
        return training_chat_format(config, weights_of(config, system))
    return "model"


def training_chat_format(config: dict, run: str) -> str:
    """The chat format a fine-tuning run trains in (recipe.chat_format)."""
    return config["finetune"][run]["recipe"].get("chat_format", "model")


def system_prompt_of(config: dict, system: str) -> str | None:
    """The system message of a system's prompts: its own (``own_prompt_setting``), else
    decoding.system_prompt; None: the chat format's own (BayLing's line for bayling and
    bayling-llama3)."""
    own = own_prompt_setting(config, system, "system_prompt")
    return own if own is not None else config["decoding"].get("system_prompt")


def decode_options(config: dict, system: str, dialogues: bool = False) -> str:
    """The command-line options of a decoding job for the system's decoding settings
    (``decoding_of``; multi-turn: with their dialogues overrides), sorted so they stay
    equal across runs."""
    decoding = decoding_of(config, system)
    settings = {
        key: decoding[key] for key in (DIALOGUE_OPTIONS if dialogues else TRANSLATE_OPTIONS)
    }
    settings["chat_format"] = chat_format_of(config, system)
    system_prompt = system_prompt_of(config, system)
    if system_prompt is not None:  # only then: the commands of other systems stay as they were
        settings["system_prompt"] = system_prompt
    settings |= engine_options(decoding)  # compute_type, batch_tokens: when not the defaults
    if dialogues:
        settings |= decoding["dialogues"]
    return command_options(settings)


def ctranslate2_model(config: dict, system: str) -> tuple[str, str] | None:
    """(weights, quantization) of the converted model a system decodes with (rule
    decode_convert), or None when its backend is not ctranslate2."""
    from bayling_pipeline.decode.convert import conversion_quantization

    decoding = decoding_of(config, system)
    if decoding["backend"] != "ctranslate2":
        return None
    return weights_of(config, system), conversion_quantization(decoding.get("compute_type", "auto"))


def ctranslate2_weights(config: dict) -> list[str]:
    """Models and fine-tuning runs that a converted model can be made of (wildcard values
    of rule decode_convert)."""
    return sorted(set(config["models"]) | set(config.get("finetune", {})))


def answering_systems(config: dict) -> list[str]:
    """Evaluated systems that can answer dialogues (published ones only have outputs). A
    variant answers only where its multi-turn options differ from those of every other
    answering system with its weights: a variant that changes only the translation
    template would answer exactly as its system does, at the cost of a second GPU job."""
    decodable = [
        s for s in config["evaluation"]["systems"] if system_kind(config, s) != "published"
    ]
    seen: set[tuple[str, str]] = set()
    answering: set[str] = set()
    # systems before variants, so that a variant never stands in for its own system
    for system in sorted(decodable, key=lambda s: variant_of(config, s) is not None):
        key = (weights_of(config, system), decode_options(config, system, dialogues=True))
        if key not in seen:
            seen.add(key)
            answering.add(system)
    return [s for s in decodable if s in answering]


def dialogue_file(config: dict, name: str, download_pattern: str) -> str:
    """A dialogue set's file: its local path, or where the download stage puts it."""
    spec = config["evaluation"]["dialogue_sets"][name]
    return spec.get("path") or download_pattern.format(dialogue_set=name)


def downloaded_dialogue_sets(config: dict) -> list[str]:
    """The dialogue sets named by URL, which the download stage fetches."""
    return [n for n, s in config["evaluation"]["dialogue_sets"].items() if s.get("url")]


# --- models released as weight deltas


def delta_base(config: dict, model: str) -> str | None:
    """For a model of source ``delta``, the model (another key of models) its delta is
    added to; None for every other source."""
    spec = config["models"][model]
    if spec["source"] != "delta":
        return None
    if spec["base"] == model or spec["base"] not in config["models"]:
        others = ", ".join(sorted(set(config["models"]) - {model})) or "none"
        raise ValueError(
            f"models.{model}.base: {spec['base']!r} is not another key of models (defined: "
            f"{others})"
        )
    return spec["base"]
