"""What a job would find out too late, checked when the workflow is parsed: names that
collide with the workflow's own, corpus options and the directions a corpus can give,
labels that scores are recorded under; and warnings for a legal but suspicious config.

Called by :func:`bayling_pipeline.workflow.validation.validate_config` after the schema
and the cross-reference checks (:mod:`bayling_pipeline.workflow.checks`). Reads only the
config and the rule files' text (for the names the workflow takes for itself).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from bayling_pipeline.workflow.checks import did_you_mean
from bayling_pipeline.workflow.queries import system_label

PIVOT = "eng_Latn"  # every corpus source aligns on English (bayling_pipeline.download.corpus)
# the options of each corpus source (bayling_pipeline.download.corpus checks them again)
CORPUS_OPTIONS = {
    "django_catalogs": ("languages", "min_segments"),
    "local_parallel": ("files",),
    "url_parallel": ("files",),
    "flores200": ("url", "sha256", "split", "languages"),
    "hf_dataset": ("repo", "revision", "files"),
}
# the config sections whose keys become path components or wildcard values
NAMED_SECTIONS = (
    ("corpora",),
    ("testsets",),
    ("models",),
    ("datasets",),
    ("finetune",),
    ("published",),
    ("variants",),
    ("evaluation", "dialogue_sets"),
    ("download", "published"),
    ("download", "instructions"),
    ("constrained", "sets"),
    ("constrained", "published"),
    ("knowledge", "suites"),
    ("knowledge", "published"),
    ("judging", "published_answers"),
    ("judging", "dialogue_sets"),
)
RULE = re.compile(r"^\s*(?:rule|checkpoint)\s+(\w+)\s*:", re.MULTILINE)
OUTPUT = re.compile(r"[\"']((?:results|resources|logs)/[^\"']*)[\"']")


def reserved_names(root: str | Path) -> dict[str, str]:
    """Names the workflow takes for itself, each with where: every rule name (a target on
    the command line) and every fixed folder of a result path (``significance`` in
    results/score/significance/..., beside results/score/{system}/...)."""
    root = Path(root)
    texts = {
        path.relative_to(root): path.read_text(encoding="utf-8")
        for path in [root / "Snakefile", *sorted((root / "rules").glob("*.smk"))]
    }
    taken: dict[str, str] = {}
    for path, text in texts.items():
        for name in RULE.findall(text):
            taken.setdefault(name, f"a rule name ({path})")
    for text in texts.values():
        for pattern in OUTPUT.findall(text):
            for folder in pattern.split("/")[1:-1]:
                if "{" not in folder:
                    taken.setdefault(folder, f"the fixed folder of {pattern}")
    return taken


def named_entries(config: dict) -> Iterator[tuple[str, str]]:
    """(key path, name) of every name that becomes a path component or wildcard value."""
    for section in NAMED_SECTIONS:
        node = config
        for part in section:
            node = node.get(part) if isinstance(node, dict) else None
        for name in node or {}:
            yield ".".join((*section, str(name))), str(name)
    comet = (config.get("scoring") or {}).get("comet")
    if isinstance(comet, dict) and comet.get("name"):
        yield "scoring.comet.name", str(comet["name"])
    judge = (config.get("judging") or {}).get("judge")
    if isinstance(judge, dict) and judge.get("name"):
        yield "judging.judge.name", str(judge["name"])


def name_errors(config: dict, root: str | Path) -> list[str]:
    """A name of the config that the workflow uses itself (Snakemake would stop at an
    ambiguous rule, or a target would mean two things)."""
    taken = reserved_names(root)
    return [
        f"{where}: the name {name!r} is taken by the workflow, as {taken[name]}; rename "
        f"it (e.g. {name}-1)"
        for where, name in named_entries(config)
        if name in taken
    ]


# --- corpora: their options, and the directions their test sets ask for


def corpus_languages(spec: dict) -> set[str] | None:
    """The languages a corpus can give, where the config says (None: known only once
    fetched, e.g. ``languages: all``)."""
    options = spec.get("options") or {}
    source = spec.get("source")
    if source in ("local_parallel", "url_parallel", "hf_dataset"):
        files = options.get("files")
        return set(files) if isinstance(files, dict) else None
    if source in ("django_catalogs", "flores200"):
        wanted = options.get("languages", "all" if source == "django_catalogs" else [])
        return {PIVOT, *wanted} if isinstance(wanted, list) else None
    return None


def corpus_errors(config: dict) -> list[str]:
    """Unknown options of a corpus source, and test-set directions its corpus lacks."""
    errors = []
    for name, spec in (config.get("corpora") or {}).items():
        allowed = CORPUS_OPTIONS.get(spec.get("source"), ())
        for option in spec.get("options") or {}:
            if option not in allowed:
                errors.append(
                    f"corpora.{name}.options.{option}: unknown option of source "
                    f"{spec['source']}{did_you_mean(option, allowed)} (it has: "
                    f"{', '.join(allowed)})"
                )
        if spec.get("source") in ("local_parallel", "url_parallel"):
            files = (spec.get("options") or {}).get("files")
            if not isinstance(files, dict) or len(files) < 2:
                errors.append(
                    f"corpora.{name}.options.files: give at least two languages, "
                    "{language code: file}, the first one the pivot (eng_Latn)"
                )
    for name, testset in config["testsets"].items():
        errors += _direction_errors(config, name, testset)
    return errors


def _direction_errors(config: dict, name: str, testset: dict) -> Iterator[str]:
    corpus = config["corpora"].get(testset.get("corpus"))
    languages = corpus_languages(corpus) if corpus else None
    if languages is None:
        return
    for index, pair in enumerate(testset["directions"]):
        missing = [code for code in pair.split("-") if code not in languages]
        if missing:
            yield (
                f"testsets.{name}.directions[{index}]: {pair} needs {', '.join(missing)}, "
                f"which corpus {testset['corpus']!r} does not have (its languages: "
                f"{', '.join(sorted(languages))}): add it to corpora.{testset['corpus']}"
                ".options, or drop the direction"
            )


def model_errors(config: dict) -> list[str]:
    """A weight delta's base: another key of models (checked again when its rule's inputs
    are built)."""
    from bayling_pipeline.workflow.queries import delta_base

    errors = []
    for name in config["models"]:
        try:
            delta_base(config, name)
        except ValueError as error:
            errors.append(str(error))
    return errors


def label_errors(config: dict) -> list[str]:
    """Scores are recorded under each system's label: two evaluated systems with the same
    label (or a label that is another system's key) would replace each other's rows."""
    errors, seen = [], {}
    systems = config["evaluation"]["systems"]
    for system in dict.fromkeys(systems):  # a variant's or published system's own label
        section = next(
            (s for s in ("variants", "published") if system in (config.get(s) or {})), None
        )
        if section is None:
            continue  # a model or run: its key, unique already
        label = system_label(config, system)
        if label != system and label in systems:
            errors.append(
                f"{section}.{system}.label: {label!r} is the key of another evaluated "
                "system, whose scores it would replace: give it another label"
            )
        elif label in seen:
            errors.append(
                f"{section}.{system}.label: {seen[label]!r} and {system!r} are both recorded "
                f"as {label!r} in the scores: give one of them another label"
            )
        seen.setdefault(label, system)
    return errors
