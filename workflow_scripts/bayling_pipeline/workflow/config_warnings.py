"""Warnings for a config that is legal but probably not what was meant: work that is never
scored, shards without segments, a multi-reference setting with one reference, a label
the report does not show. The Snakefile logs them in one block when the workflow is
parsed; none of them stops a run.
"""

from __future__ import annotations

from collections.abc import Iterator

from bayling_pipeline.workflow.queries import evaluated_system_directions

# more decoding shards than this per direction are mostly scheduling overhead
MAX_SENSIBLE_SHARDS = 64


def config_warnings(config: dict) -> list[str]:
    """Every warning for a valid ``config`` (empty when nothing looks off)."""
    warnings: list[str] = []
    for check in (_unscored, _shards, _references, _labels, _inherited_formats):
        warnings += check(config)
    return warnings


def _unscored(config: dict) -> Iterator[str]:
    """Systems and downloads that nothing evaluates."""
    systems = config["evaluation"]["systems"]
    testsets = config["evaluation"]["testsets"]
    for section in ("published", "variants"):
        for name in config.get(section) or {}:
            if name not in systems:
                yield (
                    f"{section}.{name}: not in evaluation.systems, so never scored; add it "
                    "there or remove the entry"
                )
    for name, spec in (config.get("published") or {}).items():
        if name in systems and spec["testset"] not in testsets:
            yield (
                f"published.{name}: its test set {spec['testset']!r} is not in "
                f"evaluation.testsets, so it gets no score; add {spec['testset']!r} there"
            )
    read = {n for n in systems if n in (config.get("published") or {})}
    fetched = [n for n in (config.get("download") or {}).get("published") or {} if n not in read]
    if fetched:
        yield (
            f"download.published: {', '.join(fetched)} fetched but never scored (no system "
            "of evaluation.systems reads them): list each under published and "
            "evaluation.systems to score it"
        )


def _shards(config: dict) -> Iterator[str]:
    """More decoding shards than segments, or than is sensible."""
    shards = config["decoding"]["shards"]
    if shards == 1:
        return
    for name in config["evaluation"]["testsets"]:
        limit = config["testsets"][name].get("max_segments")
        if limit is not None and shards > limit:
            yield (
                f"decoding.shards: {shards} shards of at most {limit} segments "
                f"(testsets.{name}.max_segments): {shards - limit} or more decoding jobs "
                f"per direction get no segment; set decoding.shards to {limit} or less"
            )
    if shards > MAX_SENSIBLE_SHARDS:
        published = config.get("published") or {}
        decoded = [t for t in evaluated_system_directions(config) if t[0] not in published]
        yield (
            f"decoding.shards: {shards} shards x {len(decoded)} decoded directions = "
            f"{shards * len(decoded):,} decoding jobs, each loading the model; a few shards "
            f"per GPU are enough (at most {MAX_SENSIBLE_SHARDS} is sensible)"
        )


def reference_count(config: dict, testset: str) -> int | None:
    """References per direction of a test set, where the config says: one for a test set
    cut from a corpus or from Flores; for WMT, those listed or pinned (else A only)."""
    from bayling_pipeline.languages import locale_of

    spec = config["testsets"][testset]
    download = spec.get("download")
    if not download:
        return 1
    if download["source"] != "wmt_testset":
        return 1
    counts = []
    for pair in spec["directions"]:
        listed = (download.get("references") or {}).get(pair)
        src, tgt = ((locale_of(c) or c).split("_")[0] for c in pair.split("-"))
        prefix = f"references/{download['name']}.{src}-{tgt}.ref."
        digests = download.get("sha256")
        pinned = [k for k in digests if k.startswith(prefix)] if isinstance(digests, dict) else []
        counts.append(len(listed or pinned) or 1)
    return max(counts, default=1)


def _references(config: dict) -> Iterator[str]:
    if config["scoring"]["references"] != "all":
        return
    for name in config["evaluation"]["testsets"]:
        if reference_count(config, name) == 1:
            yield (
                f"scoring.references: all, but test set {name!r} has one reference per "
                "direction: it is scored against that one (as with primary)"
            )


def _labels(config: dict) -> Iterator[str]:
    """A download entry's label is kept in its manifest only: the report prints the label
    of the published system that reads the files."""
    published = config.get("published") or {}
    for name, spec in ((config.get("download") or {}).get("published") or {}).items():
        label = spec.get("label")
        if label and name in published and (published[name].get("label") or name) != label:
            yield (
                f"download.published.{name}.label: {label!r} is not what the report prints "
                f"(published.{name}.label, now {published[name].get('label') or name!r}); "
                f"set published.{name}.label: {label}"
            )


def _inherited_formats(config: dict) -> Iterator[str]:
    """A fine-tuning run that decodes in its base model's chat format (inherited) while it
    trains in another: its prompts would not look like its training data."""
    from bayling_pipeline.prompts.chat_formats import resolve

    for run, spec in (config.get("finetune") or {}).items():
        base = spec["base_model"]
        inherited = (config["models"].get(base) or {}).get("chat_format")
        trained = spec["recipe"].get("chat_format", "model")
        if spec.get("chat_format") is None and inherited and resolve(inherited) != resolve(trained):
            yield (
                f"finetune.{run}: decodes in its base model's chat format {inherited!r} "
                f"(models.{base}.chat_format) but trains in {trained!r} (recipe.chat_format); "
                f"set finetune.{run}.chat_format to the one its prompts should have"
            )
