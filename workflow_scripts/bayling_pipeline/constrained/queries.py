"""Config lookups of the constrained-translation rules at parse time (rules/constrained.smk)
and the cross-reference checks of the ``constrained`` section.

Like :mod:`bayling_pipeline.workflow.queries`: pure functions of the validated config,
light imports only (every cluster job parses the workflow again). A job is one
(system, set, instruction language, direction).
"""

from __future__ import annotations

from collections.abc import Iterator

from bayling_pipeline.decode.settings import TRANSLATE_OPTIONS, command_options

# instruction languages with a constrained prompt (bayling_pipeline.prompts.constrained)
INSTRUCTION_LANGUAGES = ("eng_Latn", "zho_Hans")
# the options of `python -m bayling_pipeline.constrained` that config["decoding"] sets: the
# decoder's, but its own prompt (no template) and the system's chat format (set per system)
DECODING_OPTIONS = tuple(o for o in TRANSLATE_OPTIONS if o not in ("template", "chat_format"))


def section(config: dict) -> dict:
    """The ``constrained`` section (empty when the stage is off)."""
    return config.get("constrained") or {}


def constraint_sets(config: dict) -> dict:
    return section(config).get("sets") or {}


def set_directions(config: dict, name: str) -> list[str]:
    """The directions of a constraint set, in config order."""
    return list(constraint_sets(config)[name]["files"])


def all_directions(config: dict) -> list[str]:
    """Every direction of every constraint set (wildcard values)."""
    return sorted(
        {pair for name in constraint_sets(config) for pair in set_directions(config, name)}
    )


def decoded_systems(config: dict) -> list[str]:
    """The systems that translate the constraint sets: ``constrained.systems``, by default
    every model and fine-tuning run of evaluation.systems; none without a set."""
    if not constraint_sets(config):
        return []
    chosen = section(config).get("systems")
    if chosen is not None:
        return list(chosen)
    decodable = set(config.get("models", {})) | set(config.get("finetune", {}))
    return [s for s in config["evaluation"]["systems"] if s in decodable]


def published_systems(config: dict) -> dict:
    """The published outputs of the stage, by system name."""
    return section(config).get("published") or {}


def instruction_languages(config: dict) -> list[str]:
    return list(section(config).get("instruction_languages") or INSTRUCTION_LANGUAGES)


def jobs(config: dict) -> list[tuple[str, str, str, str]]:
    """Every (system, set, instruction language, direction): decoded systems in every
    configured instruction language, then each published system where it has a file."""
    decoded = [
        (system, name, instruction, pair)
        for system in decoded_systems(config)
        for name in constraint_sets(config)
        for instruction in instruction_languages(config)
        for pair in set_directions(config, name)
    ]
    published = [
        (system, spec["set"], instruction, pair)
        for system, spec in published_systems(config).items()
        for pair, files in spec["files"].items()
        for instruction in files
    ]
    return decoded + published


def set_file(config: dict, name: str, pair: str) -> dict:
    """The file spec ({path} or {url, sha256}) of one direction of a constraint set."""
    return constraint_sets(config)[name]["files"][pair]


def published_file(config: dict, system: str, instruction: str, pair: str) -> dict:
    """The file spec of a published system's output for one direction and instruction."""
    return published_systems(config)[system]["files"][pair][instruction]


def local_inputs(spec: dict) -> list[str]:
    """A local file is an input of the rule that reads it (editing it reruns the rule);
    a URL is not."""
    return [spec["path"]] if spec.get("path") else []


def label(config: dict, system: str) -> str:
    """The name a system's rows carry: a published system's label, else its key."""
    spec = published_systems(config).get(system)
    return (spec or {}).get("label") or system


def decode_options(config: dict, chat_format: str) -> str:
    """The command-line options of a constrained decoding job for config["decoding"] (its
    template and sharding do not apply; constrained.max_new_tokens overrides its limit)
    and the system's chat format."""
    decoding = config.get("decoding", {})
    settings = {key: decoding[key] for key in DECODING_OPTIONS if key in decoding}
    settings["chat_format"] = chat_format
    if section(config).get("max_new_tokens"):
        settings["max_new_tokens"] = section(config)["max_new_tokens"]
    return command_options(settings)


def config_errors(config: dict) -> list[str]:
    """Cross-reference errors of the ``constrained`` section (empty when consistent); the
    language codes of its directions are checked with the others' (workflow.checks)."""
    return list(_system_errors(config)) + list(_published_errors(config))


def _system_errors(config: dict) -> Iterator[str]:
    decodable = set(config.get("models", {})) | set(config.get("finetune", {}))
    for index, system in enumerate(section(config).get("systems") or []):
        if system not in decodable:
            yield (
                f"constrained.systems[{index}]: {system!r} is neither a model nor a "
                f"finetune run (known: {sorted(decodable)})"
            )


def _published_errors(config: dict) -> Iterator[str]:
    decodable = set(config.get("models", {})) | set(config.get("finetune", {}))
    sets = constraint_sets(config)
    for system, spec in published_systems(config).items():
        where = f"constrained.published.{system}"
        if system in decodable:
            yield f"{where}: the name is also a model or finetune run; system names must be unique"
        if spec["set"] not in sets:
            known = ", ".join(sorted(sets)) or "none"
            yield f"{where}.set: {spec['set']!r} is not defined under constrained.sets ({known})"
            continue
        for pair in spec["files"]:
            if pair not in sets[spec["set"]]["files"]:
                yield (
                    f"{where}.files.{pair}: not a direction of constraint set {spec['set']!r} "
                    f"({', '.join(set_directions(config, spec['set']))})"
                )
