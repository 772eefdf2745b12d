"""Line-aligned segment files in, score records out.

``read_aligned`` reads one-segment-per-line hypothesis, reference and source files (a
count mismatch is an error, never a silent truncation), ``check_counts`` checks segment
lists handed over in memory, ``write_score`` writes a score JSON with its provenance and,
for COMET, the segment scores beside it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from bayling_pipeline.io import write_json, write_text


def check_counts(**streams: Sequence[str] | None) -> None:
    """ValueError when the named segment lists (None: not given) differ in length or are
    all empty."""
    counts = {name: len(lines) for name, lines in streams.items() if lines is not None}
    if len(set(counts.values())) > 1:
        raise ValueError(f"segment counts differ: {counts}")
    if not any(counts.values()):
        raise ValueError("nothing to score: no segments")


def _read_segments(path: str | os.PathLike) -> list[str]:
    # Split on "\n" only: str.splitlines() would also break inside a segment at U+2028,
    # form feeds and the like, and shift every later line.
    with open(path, encoding="utf-8", newline="") as handle:
        text = handle.read()
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the final newline ends the last segment, it does not start one
    return [line.removesuffix("\r") for line in lines]


def read_aligned(
    hyp_path: str | os.PathLike,
    ref_path: str | os.PathLike | Sequence[str | os.PathLike],
    src_path: str | os.PathLike | None = None,
) -> tuple[list[str], list, list[str] | None]:
    """Read one-segment-per-line files as ``(hypotheses, references, sources or None)``.

    ``ref_path`` is one path (references: a list of segments) or a list of paths
    (references: one list of segments per path). ValueError naming every path and its
    line count when the counts differ.
    """
    several = not isinstance(ref_path, str | os.PathLike)
    ref_paths = list(ref_path) if several else [ref_path]
    paths = {"hypotheses": hyp_path}
    paths |= {f"references[{number}]": path for number, path in enumerate(ref_paths)}
    if src_path is not None:
        paths["sources"] = src_path
    texts = {name: _read_segments(path) for name, path in paths.items()}
    counts = {name: len(lines) for name, lines in texts.items()}
    if len(set(counts.values())) != 1:
        detail = ", ".join(f"{paths[name]} has {counts[name]} lines" for name in paths)
        raise ValueError(f"segment counts differ: {detail}")
    references = [texts[f"references[{n}]"] for n in range(len(ref_paths))]
    return texts["hypotheses"], references if several else references[0], texts.get("sources")


def write_score(path: str | os.PathLike, result: dict, **provenance) -> None:
    """Write ``result`` plus ``provenance`` (system, kind, testset, pair, ...) as JSON.

    Segment scores, when present, go to ``<stem>.segments.tsv`` beside it (one row per
    segment, in input order), named in the JSON as ``segment_scores_file``.
    """
    path = Path(path)
    clash = sorted(set(result) & set(provenance))
    if clash:
        raise ValueError(f"provenance keys {clash} would overwrite score fields")
    record = {key: value for key, value in result.items() if key != "segment_scores"}
    segment_scores = result.get("segment_scores")
    if segment_scores is not None:
        sidecar = path.with_suffix("").with_name(path.with_suffix("").name + ".segments.tsv")
        rows = [f"{number}\t{score!r}" for number, score in enumerate(segment_scores, 1)]
        write_text(sidecar, "segment\tscore\n" + "".join(row + "\n" for row in rows))
        record["segment_scores_file"] = sidecar.name
    write_json(path, {**record, **provenance})
