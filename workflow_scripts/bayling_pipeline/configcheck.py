"""Cross-reference checks of a schema-valid config, run at parse time before any job.

The JSON schema checks shapes, types and ranges; this module checks what a schema cannot:
that language codes exist, that names refer to defined entries, and that system names are
unambiguous. Every error names the offending key path, e.g.
``testsets.django-test.directions[1]: unknown language 'deu_latn'``.
"""

from __future__ import annotations

from collections.abc import Iterator


class ConfigError(ValueError):
    """A config value that is well-formed but refers to something that does not exist."""


def _language_errors(where: str, code: str) -> Iterator[str]:
    from bayling_pipeline.languages import is_known

    if not is_known(code):
        yield f"{where}: unknown language {code!r} (see bayling_pipeline/data/languages.tsv)"


def _pair_errors(where: str, pair: str) -> Iterator[str]:
    src, _, tgt = pair.partition("-")
    yield from _language_errors(where, src)
    yield from _language_errors(where, tgt)
    if src == tgt:
        yield f"{where}: source and target are both {src!r}"


def _reference_errors(where: str, name: str, section: str, config: dict) -> Iterator[str]:
    if name not in config.get(section, {}):
        known = ", ".join(sorted(config.get(section, {}))) or "none"
        yield f"{where}: {name!r} is not defined under {section} (defined: {known})"


def _languages_list_errors(where: str, value) -> Iterator[str]:
    if isinstance(value, list):
        for index, code in enumerate(value):
            yield from _language_errors(f"{where}[{index}]", code)


def config_errors(config: dict) -> list[str]:
    """All cross-reference errors of ``config`` (empty when it is consistent)."""
    from bayling_pipeline.templates import translation_template_ids

    errors: list[str] = []
    for name, corpus in config["corpora"].items():
        options = corpus.get("options", {})
        errors += _languages_list_errors(
            f"corpora.{name}.options.languages", options.get("languages")
        )
    for name, testset in config["testsets"].items():
        errors += _reference_errors(f"testsets.{name}.corpus", testset["corpus"], "corpora", config)
        for index, pair in enumerate(testset["directions"]):
            errors += _pair_errors(f"testsets.{name}.directions[{index}]", pair)
    for name, dataset in config.get("datasets", {}).items():
        errors += _reference_errors(f"datasets.{name}.corpus", dataset["corpus"], "corpora", config)
        for family in ("single_turn", "interactive"):
            for index, pair in enumerate(dataset.get(family, {}).get("directions", [])):
                errors += _pair_errors(f"datasets.{name}.{family}.directions[{index}]", pair)
        errors += _languages_list_errors(
            f"datasets.{name}.cross_lingual.languages",
            dataset.get("cross_lingual", {}).get("languages"),
        )
        templates = dataset.get("single_turn", {}).get("templates", "all")
        if isinstance(templates, list):
            for index, template in enumerate(templates):
                if template not in translation_template_ids():
                    errors.append(
                        f"datasets.{name}.single_turn.templates[{index}]: unknown "
                        f"template {template!r} (known: {translation_template_ids()})"
                    )
    for name, run in config.get("finetune", {}).items():
        errors += _reference_errors(
            f"finetune.{name}.base_model", run["base_model"], "models", config
        )
        errors += _reference_errors(f"finetune.{name}.dataset", run["dataset"], "datasets", config)
        if name in config["models"]:
            errors.append(
                f"finetune.{name}: the name is also a model; system names must be "
                "unique across models and finetune"
            )
    systems = set(config["models"]) | set(config.get("finetune", {}))
    for index, system in enumerate(config["evaluation"]["systems"]):
        if system not in systems:
            errors.append(
                f"evaluation.systems[{index}]: {system!r} is neither a model nor a "
                f"finetune run (known: {sorted(systems)})"
            )
    for index, testset in enumerate(config["evaluation"]["testsets"]):
        errors += _reference_errors(f"evaluation.testsets[{index}]", testset, "testsets", config)
    template = config.get("decoding", {}).get("template")
    if template is not None and template not in translation_template_ids():
        errors.append(
            f"decoding.template: unknown template {template!r} "
            f"(known: {translation_template_ids()})"
        )
    return errors


def check_config(config: dict) -> None:
    """Raise ConfigError listing every cross-reference error of ``config``."""
    errors = config_errors(config)
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errors))


def system_kind(config: dict, system: str) -> str:
    """'base' for a model, 'finetuned' for a fine-tuning run."""
    if system in config.get("finetune", {}):
        return "finetuned"
    if system in config["models"]:
        return "base"
    raise KeyError(system)


def base_model_of(config: dict, system: str) -> str:
    """The model key whose checkpoint a system decodes with."""
    if system_kind(config, system) == "finetuned":
        return config["finetune"][system]["base_model"]
    return system
