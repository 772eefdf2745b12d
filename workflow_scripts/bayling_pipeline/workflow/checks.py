"""Cross-reference checks of a schema-valid config, run at parse time before any job.

The JSON schema checks shapes, types and ranges; this module checks what a schema cannot:
that language codes exist, that names refer to defined entries, and that system names are
unambiguous. Every error names the offending key path, e.g.
``testsets.django-test.directions[1]: unknown language 'deu_latn'``.
"""

from __future__ import annotations

from collections.abc import Iterator

from bayling_pipeline.workflow.queries import decoding_of, published_directions, variant_overrides


class ConfigError(ValueError):
    """A config value that is well-formed but refers to something that does not exist."""


def _language_errors(where: str, code: str) -> Iterator[str]:
    from bayling_pipeline.languages import is_known, known_codes

    if not is_known(code):
        yield (
            f"{where}: unknown language {code!r} (see bayling_pipeline/data/languages.tsv)"
            + did_you_mean(code, known_codes())
        )


def _pair_errors(where: str, pair: str) -> Iterator[str]:
    src, _, tgt = pair.partition("-")
    yield from _language_errors(where, src)
    yield from _language_errors(where, tgt)
    if src == tgt:
        yield f"{where}: source and target are both {src!r}"


def did_you_mean(name, known) -> str:
    """``; did you mean 'x'?`` for a name close to one of ``known`` (a misspelling)."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _reference_errors(where: str, name: str, section: str, config: dict) -> Iterator[str]:
    if name not in config.get(section, {}):
        known = ", ".join(sorted(config.get(section, {}))) or "none"
        hint = did_you_mean(name, config.get(section, {}))
        yield f"{where}: {name!r} is not defined under {section} (defined: {known}){hint}"


def _languages_list_errors(where: str, value) -> Iterator[str]:
    if isinstance(value, list):
        for index, code in enumerate(value):
            yield from _language_errors(f"{where}[{index}]", code)


def config_errors(config: dict, partial: bool = False) -> list[str]:
    """All cross-reference errors of ``config`` (empty when it is consistent). With
    ``partial`` (a config the schema refused: some defaults missing), a section that
    cannot be checked is skipped instead of raising."""
    errors: list[str] = []
    for section in (
        _corpus_and_testset_errors,
        _dataset_errors,
        _finetune_errors,
        _published_errors,
        _evaluation_errors,
        _download_errors,
        _decoding_errors,
        _variant_errors,
        _constrained_errors,
        _judging_errors,
        _knowledge_errors,
    ):
        try:
            errors += section(config)
        except (KeyError, TypeError, AttributeError, IndexError, ValueError):
            if not partial:
                raise
    return errors


def _corpus_and_testset_errors(config: dict) -> Iterator[str]:
    for name, corpus in config["corpora"].items():
        options = corpus.get("options", {})
        yield from _languages_list_errors(
            f"corpora.{name}.options.languages", options.get("languages")
        )
    for name, testset in config["testsets"].items():
        if "corpus" in testset:
            yield from _reference_errors(
                f"testsets.{name}.corpus", testset["corpus"], "corpora", config
            )
        for index, pair in enumerate(testset["directions"]):
            yield from _pair_errors(f"testsets.{name}.directions[{index}]", pair)


def _dataset_errors(config: dict) -> Iterator[str]:
    from bayling_pipeline.synthesize.recipe import validate_recipe

    for name, dataset in config.get("datasets", {}).items():
        yield from _reference_errors(
            f"datasets.{name}.corpus", dataset["corpus"], "corpora", config
        )
        for family in ("single_turn", "interactive"):
            for index, pair in enumerate(dataset.get(family, {}).get("directions", [])):
                yield from _pair_errors(f"datasets.{name}.{family}.directions[{index}]", pair)
        yield from _languages_list_errors(
            f"datasets.{name}.cross_lingual.languages",
            dataset.get("cross_lingual", {}).get("languages"),
        )
        templates = dataset.get("single_turn", {}).get("templates", "all")
        if isinstance(templates, list):
            for index, template in enumerate(templates):
                yield from _template_errors(
                    f"datasets.{name}.single_turn.templates[{index}]", template
                )
        teacher = dataset.get("teacher")
        if teacher and teacher.get("backend", "local") == "local":
            yield from _reference_errors(
                f"datasets.{name}.teacher.model", teacher["model"], "models", config
            )
        try:  # what the schema cannot see: follow-up names, teacher needs, mix ratios
            validate_recipe({key: value for key, value in dataset.items() if key != "corpus"})
        except ValueError as error:
            yield f"datasets.{name}: {error}"


def _template_errors(where: str, template: str) -> Iterator[str]:
    from bayling_pipeline.prompts.templates import translation_template_ids

    if template not in translation_template_ids():
        known = translation_template_ids()
        hint = did_you_mean(template, known)
        yield f"{where}: unknown template {template!r} (known: {known}){hint}"


def _finetune_errors(config: dict) -> Iterator[str]:
    for name, run in config.get("finetune", {}).items():
        yield from _reference_errors(
            f"finetune.{name}.base_model", run["base_model"], "models", config
        )
        yield from _reference_errors(f"finetune.{name}.dataset", run["dataset"], "datasets", config)
        if name in config["models"]:
            yield (
                f"finetune.{name}: the name is also a model; system names must be "
                "unique across models and finetune"
            )


def _evaluation_errors(config: dict) -> Iterator[str]:
    systems = set(config["models"]) | set(config.get("finetune", {}))
    systems |= set(config.get("published", {})) | set(config.get("variants", {}))
    for index, system in enumerate(config["evaluation"]["systems"]):
        if system not in systems:
            yield (
                f"evaluation.systems[{index}]: {system!r} is neither a model, a "
                f"finetune run, a variant nor a published system (known: {sorted(systems)})"
                + did_you_mean(system, systems)
            )
    baseline = config.get("scoring", {}).get("significance", {}).get("baseline")
    if baseline is not None and baseline not in config["evaluation"]["systems"]:
        yield (
            f"scoring.significance.baseline: {baseline!r} is not one of evaluation.systems "
            f"({', '.join(config['evaluation']['systems'])})"
            + did_you_mean(baseline, config["evaluation"]["systems"])
        )
    for index, testset in enumerate(config["evaluation"]["testsets"]):
        yield from _reference_errors(f"evaluation.testsets[{index}]", testset, "testsets", config)
    yield from _report_errors(config)


def _report_errors(config: dict) -> Iterator[str]:
    report = config.get("report", {})
    reference = report.get("reference_system")
    if reference is not None and reference not in config["evaluation"]["systems"]:
        yield (
            f"report.reference_system: {reference!r} is not one of evaluation.systems "
            f"({', '.join(config['evaluation']['systems'])})"
        )
    evaluated = {
        pair
        for testset in config["evaluation"]["testsets"]
        for pair in config["testsets"].get(testset, {}).get("directions", [])
    }
    for title, pairs in (report.get("groups") or {}).items():
        for index, pair in enumerate(pairs):
            if pair not in evaluated:
                yield (
                    f"report.groups.{title}[{index}]: {pair!r} is not a direction of the "
                    "evaluated test sets"
                )


def _download_errors(config: dict) -> Iterator[str]:
    for name, spec in config.get("download", {}).get("published", {}).items():
        where = f"download.published.{name}"
        yield from _reference_errors(f"{where}.testset", spec["testset"], "testsets", config)
        available = config["testsets"].get(spec["testset"], {}).get("directions", [])
        for index, pair in enumerate(published_directions(config, name)):
            if available and pair not in available:
                yield (
                    f"{where}.directions[{index}]: {pair} is not a direction of "
                    f"test set {spec['testset']!r}"
                )


def _decoding_errors(config: dict) -> Iterator[str]:
    """The decoding template, and what the schema cannot say about decoding settings and
    dialogue sets."""
    from bayling_pipeline.decode.settings import check_settings

    decoding = config.get("decoding", {})
    if decoding.get("template") is not None:
        yield from _template_errors("decoding.template", decoding["template"])
    if "dialogues" not in decoding:  # a config the schema has not filled in
        return
    problems = [f"decoding: {p}" for p in check_settings(decoding)]
    problems += [
        f"decoding.dialogues: {p}" for p in check_settings({**decoding, **decoding["dialogues"]})
    ]
    dialogue_sets = config["evaluation"].get("dialogue_sets", {})
    for name in set(dialogue_sets) & set(config["testsets"]):
        problems.append(f"evaluation.dialogue_sets.{name}: also the name of a test set")
    yield from dict.fromkeys(problems)


def _constrained_errors(config: dict) -> Iterator[str]:
    """The constrained-translation section: language codes of its directions, and its
    systems, sets and published outputs (bayling_pipeline.constrained.queries)."""
    from bayling_pipeline.constrained.queries import config_errors, constraint_sets

    for name, spec in constraint_sets(config).items():
        for pair in spec["files"]:
            yield from _pair_errors(f"constrained.sets.{name}.files.{pair}", pair)
    yield from config_errors(config)


def _knowledge_errors(config: dict) -> Iterator[str]:
    """The knowledge-benchmark section: its systems, suites and published answers
    (bayling_pipeline.knowledge.queries)."""
    from bayling_pipeline.knowledge.queries import config_errors

    yield from config_errors(config)


def _variant_errors(config: dict) -> Iterator[str]:
    """A variant names a model or fine-tuning run (not a published system, not another
    variant), has a name of its own, and its decoding settings pass the same checks as
    the global ones once merged into them."""
    from bayling_pipeline.decode.settings import check_settings

    decodable = set(config["models"]) | set(config.get("finetune", {}))
    taken = decodable | set(config.get("published", {}))
    decoding = config.get("decoding", {})
    for name, spec in (config.get("variants") or {}).items():
        where = f"variants.{name}"
        if name in taken:
            yield f"{where}: the name is also a model, finetune run or published system"
        target = spec["system"]
        if target in config.get("variants", {}):
            yield f"{where}.system: {target!r} is a variant itself; name its system instead"
        elif target in config.get("published", {}):
            yield f"{where}.system: {target!r} is a published system: it has outputs, no weights"
        elif target not in decodable:
            yield (
                f"{where}.system: {target!r} is neither a model nor a finetune run "
                f"(known: {sorted(decodable)})"
            )
        overrides = variant_overrides(config, name)
        if "template" in overrides:
            yield from _template_errors(f"{where}.decoding.template", overrides["template"])
        if "dialogues" not in decoding:  # a config the schema has not filled in
            continue
        merged = decoding_of(config, name)
        problems = [p for p in check_settings(merged) if p not in check_settings(decoding)]
        yield from (f"{where}: {p}" for p in problems)
        dialogues = check_settings({**merged, **merged["dialogues"]})
        shared = check_settings({**decoding, **decoding["dialogues"]})
        yield from (f"{where}.decoding.dialogues: {p}" for p in dialogues if p not in shared)


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


def _judging_errors(config: dict) -> Iterator[str]:
    """The judging section's names (pairings, dialogue sets, published answers)."""
    from bayling_pipeline.judge.plan import config_errors as judging_errors

    yield from judging_errors(config)


def check_config(config: dict) -> None:
    """Raise ConfigError listing every cross-reference error of ``config``."""
    errors = config_errors(config)
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errors))
