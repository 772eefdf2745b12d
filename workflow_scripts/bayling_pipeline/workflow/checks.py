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
    from bayling_pipeline.prompts.templates import translation_template_ids
    from bayling_pipeline.synthesize.engine import validate_recipe

    errors: list[str] = []
    for name, corpus in config["corpora"].items():
        options = corpus.get("options", {})
        errors += _languages_list_errors(
            f"corpora.{name}.options.languages", options.get("languages")
        )
    for name, testset in config["testsets"].items():
        if "corpus" in testset:
            errors += _reference_errors(
                f"testsets.{name}.corpus", testset["corpus"], "corpora", config
            )
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
        teacher = dataset.get("teacher")
        if teacher and teacher.get("backend", "local") == "local":
            errors += _reference_errors(
                f"datasets.{name}.teacher.model", teacher["model"], "models", config
            )
        try:  # what the schema cannot see: follow-up names, teacher needs, mix ratios
            validate_recipe({key: value for key, value in dataset.items() if key != "corpus"})
        except ValueError as error:
            errors.append(f"datasets.{name}: {error}")
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
    errors += _published_errors(config)
    systems = set(config["models"]) | set(config.get("finetune", {}))
    systems |= set(config.get("published", {}))
    for index, system in enumerate(config["evaluation"]["systems"]):
        if system not in systems:
            errors.append(
                f"evaluation.systems[{index}]: {system!r} is neither a model, a "
                f"finetune run nor a published system (known: {sorted(systems)})"
            )
    baseline = config.get("scoring", {}).get("significance", {}).get("baseline")
    if baseline is not None and baseline not in config["evaluation"]["systems"]:
        errors.append(
            f"scoring.significance.baseline: {baseline!r} is not one of evaluation.systems "
            f"({', '.join(config['evaluation']['systems'])})"
        )
    for index, testset in enumerate(config["evaluation"]["testsets"]):
        errors += _reference_errors(f"evaluation.testsets[{index}]", testset, "testsets", config)
    for name, spec in config.get("download", {}).get("published", {}).items():
        where = f"download.published.{name}"
        errors += _reference_errors(f"{where}.testset", spec["testset"], "testsets", config)
        available = config["testsets"].get(spec["testset"], {}).get("directions", [])
        for index, pair in enumerate(published_directions(config, name)):
            if available and pair not in available:
                errors.append(
                    f"{where}.directions[{index}]: {pair} is not a direction of "
                    f"test set {spec['testset']!r}"
                )
    template = config.get("decoding", {}).get("template")
    if template is not None and template not in translation_template_ids():
        errors.append(
            f"decoding.template: unknown template {template!r} "
            f"(known: {translation_template_ids()})"
        )
    return errors


PATH_FIELDS = ("system", "testset", "pair", "src", "tgt", "src2", "tgt2")


def _published_errors(config: dict) -> Iterator[str]:
    import string

    others = set(config["models"]) | set(config.get("finetune", {}))
    for name, spec in config.get("published", {}).items():
        where = f"published.{name}"
        if name in others:
            yield f"{where}: the name is also a model or finetune run; system names must be unique"
        yield from _reference_errors(f"{where}.testset", spec["testset"], "testsets", config)
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(spec["path"]) if f is not None}
        except ValueError as error:
            yield f"{where}.path: not a valid template ({error})"
            fields = set()
        unknown = sorted(fields - set(PATH_FIELDS))
        if unknown:
            yield (
                f"{where}.path: unknown placeholder(s) {', '.join(unknown)} "
                f"(known: {', '.join(PATH_FIELDS)})"
            )
        if "{system}" in spec["path"] and spec["path"].startswith("resources/published/"):
            if name not in config.get("download", {}).get("published", {}):
                yield (
                    f"{where}.path: {spec['path']!r} is where download.published.{name} puts "
                    "its files, but download.published has no entry {name!r}: add one, or "
                    "give the path of local files"
                )
        available = config["testsets"].get(spec["testset"], {}).get("directions", [])
        for index, pair in enumerate(spec.get("directions") or []):
            yield from _pair_errors(f"{where}.directions[{index}]", pair)
            if available and pair not in available:
                yield (
                    f"{where}.directions[{index}]: {pair} is not a direction of "
                    f"test set {spec['testset']!r}"
                )


def check_config(config: dict) -> None:
    """Raise ConfigError listing every cross-reference error of ``config``."""
    errors = config_errors(config)
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errors))


def published_directions(config: dict, name: str) -> list[str]:
    """Directions of a published system to fetch: its ``directions``, else those pinned in
    its ``sha256``, else every direction of its test set."""
    spec = config["download"]["published"][name]
    testset = config["testsets"].get(spec["testset"], {})
    return list(spec.get("directions") or spec.get("sha256") or testset.get("directions", []))


def downloaded_testsets(config: dict) -> list[str]:
    """Test sets fetched from their real source (``download:``), not cut from a corpus."""
    return [name for name, testset in config["testsets"].items() if "download" in testset]


def system_kind(config: dict, system: str) -> str:
    """'base' for a model, 'finetuned' for a fine-tuning run, 'published' for outputs."""
    if system in config.get("finetune", {}):
        return "finetuned"
    if system in config.get("published", {}):
        return "published"
    if system in config["models"]:
        return "base"
    raise KeyError(system)


def base_model_of(config: dict, system: str) -> str:
    """The model key whose checkpoint a system decodes with."""
    if system_kind(config, system) == "finetuned":
        return config["finetune"][system]["base_model"]
    return system


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


def comet_revision(comet: dict) -> str | None:
    """The revision of a COMET model entry: None for a local checkpoint path."""
    from pathlib import Path

    model = comet["model"]
    local = model.endswith(".ckpt") or model.startswith((".", "/", "~")) or Path(model).exists()
    return None if local else comet.get("revision")
