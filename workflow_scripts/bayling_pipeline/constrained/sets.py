"""Constraint test sets and published outputs of lexically constrained translation.

A constraint set is BayLing's JSON Lines format (``data/constrained_translation/
constraints.{en-zh.zh,zh-en.en}.jsonl``), one sentence a line::

    {"src": "...", "tgt": "reference", "constraint": ["term", ...]}

A system's output adds ``"hypo"`` (BayLing's ``exp/constrained_translation/<system>/
hypo.*.jsonl``, and what :mod:`bayling_pipeline.constrained.translate` writes). Files come
from a local ``path`` or a ``url`` fetched by :mod:`bayling_pipeline.download.fetch`
(pinned by sha256 or the lock file; ``download.mirrors``, offline mode and the cache apply).
Every problem names the file and line. Read with the standard library only: the scoring
environment has no orjson.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from bayling_pipeline import io
from bayling_pipeline.download.files import local_copy
from bayling_pipeline.io import DataError, write_json, write_jsonl

SET_FIELDS = ("src", "tgt", "constraint")
OUTPUT_FIELDS = ("src", "hypo")


class ConstraintFileError(DataError):
    """A constraint set or system output that cannot be read as such."""


def _check_types(record: dict, where: str, fields: tuple[str, ...]) -> dict:
    for field in ("src", "tgt", "hypo"):
        if field in fields and not isinstance(record[field], str):
            raise ConstraintFileError(f"{where}: {field!r} is not a string")
    terms = record.get("constraint")
    if "constraint" in fields and not (
        isinstance(terms, list) and all(isinstance(t, str) and t for t in terms)
    ):
        raise ConstraintFileError(f"{where}: 'constraint' is not a list of non-empty strings")
    return record


def read_records(path: str | os.PathLike, fields: tuple[str, ...] = SET_FIELDS) -> list[dict]:
    """Every line of a JSON Lines file as an object with ``fields``; an empty line, invalid
    JSON, a missing field or a wrong type is a ConstraintFileError naming ``path:line``."""
    records = io.read_records(path, fields, ConstraintFileError)
    return [
        _check_types(record, f"{path}:{number}", fields)
        for number, record in enumerate(records, start=1)
    ]


def count_terms(records: list[dict]) -> int:
    return sum(len(record["constraint"]) for record in records)


def prepare_set(
    spec: dict, max_segments: int | None, out: str | os.PathLike, manifest: str | os.PathLike
) -> dict:
    """Write one direction of a constraint set (its first ``max_segments`` sentences, or
    all) with the fields src, tgt, constraint, and a manifest of where it came from."""
    path, provenance = local_copy(spec)
    records = read_records(path)
    kept = records[:max_segments] if max_segments else records
    write_jsonl(out, ({field: r[field] for field in SET_FIELDS} for r in kept))
    record = {
        "source": provenance,
        "segments": len(kept),
        "terms": count_terms(kept),
        "upstream_segments": len(records),
    }
    write_json(manifest, record)
    return record


def check_sources(
    outputs: list[dict], where: str, constraints: list[dict], upstream: int, note: str = ""
) -> None:
    """A system's output (file ``where``) must translate the constraint set line by line:
    as many lines as the set upstream, and the same ``src`` on every line the set keeps.
    ``note`` ends each message (e.g. the URL the file came from)."""
    if len(outputs) != upstream:
        raise ConstraintFileError(
            f"{where}: {len(outputs)} lines, but the constraint set has {upstream}{note}"
        )
    # the set may keep only its first sentences (max_segments): compare those
    kept = zip(outputs[: len(constraints)], constraints, strict=True)
    for number, (output, sentence) in enumerate(kept, start=1):
        if output["src"] != sentence["src"]:
            raise ConstraintFileError(
                f"{where}:{number}: src differs from line {number} of the constraint set: "
                f"{output['src']!r} != {sentence['src']!r}{note}"
            )


def prepare_published(
    spec: dict,
    label: str,
    set_path: str | os.PathLike,
    set_manifest: str | os.PathLike,
    out: str | os.PathLike,
    meta: str | os.PathLike,
) -> dict:
    """A published system's output for one (direction, instruction language), checked
    against the constraint set (same sources, line by line) and cut to the set's sentences;
    written with the set's reference and terms beside the system's hypothesis."""
    path, provenance = local_copy(spec)
    outputs = read_records(path, OUTPUT_FIELDS)
    constraints = read_records(set_path)
    upstream = json.loads(Path(set_manifest).read_text(encoding="utf-8"))["upstream_segments"]
    note = f" (fetched from {spec['url']})" if spec.get("url") else ""
    check_sources(outputs, str(path), constraints, upstream, note)
    write_jsonl(
        out,
        (
            {**sentence, "hypo": o["hypo"]}
            for sentence, o in zip(constraints, outputs[: len(constraints)], strict=True)
        ),
    )
    record = {
        "label": label,
        "kind": "published",
        "source": provenance,
        "segments": len(constraints),
    }
    write_json(meta, record)
    return record
