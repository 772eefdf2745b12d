"""Published systems' outputs as the decode stage's output: copied, normalized, recorded.

Run by the rule ``decode_published``; by hand::

    python -m bayling_pipeline.decode.published \\
        resources/published/gpt-4/wmt22/eng_Latn-deu_Latn.hyp.txt \\
        results/download/testsets/wmt22/eng_Latn-deu_Latn.source.txt /tmp/hyp.txt /tmp/meta.json

A published hypothesis file becomes ``results/decode/<system>/<testset>/<pair>.hyp.txt``
with a ``meta.json`` of kind ``published``, so that scoring and the report treat it like
any system. Normalization is minimal and never changes words: a UTF-8 byte order mark and
Windows line ends are dropped; TABs and other white space stay (sacreBLEU's tokenizers
treat them as spaces). The segment count must equal the source's.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from pathlib import Path

from bayling_pipeline.cli import input_file, run_cli
from bayling_pipeline.io import DataError, read_lines, write_json, write_lines


def read_hypotheses(path: str | os.PathLike) -> list[str]:
    """Segments of a published file, read as every stage reads segment files
    (``bayling_pipeline.io.read_lines``: ``\\n`` separates segments, a final newline ends
    the last one, ``\\r`` before it and a leading BOM are dropped, a lone ``\\r`` becomes
    a space)."""
    return read_lines(path)


def import_published(
    published: str | os.PathLike,
    source: str | os.PathLike,
    out_hypotheses: str | os.PathLike,
    out_meta: str | os.PathLike,
    label: str | None = None,
    max_segments: int | None = None,
) -> dict:
    """Copy ``published`` to ``out_hypotheses`` (normalized) and write its ``meta.json``.

    ``max_segments``: the test set keeps its first N segments (a downloaded test set's
    ``max_segments``), so the output keeps its first N lines too. ValueError naming both
    paths and counts when it does not have one line per source line.
    """
    hypotheses = read_hypotheses(published)
    sources = read_hypotheses(source)
    if max_segments is not None:
        hypotheses = hypotheses[:max_segments]
    if len(hypotheses) != len(sources):
        raise DataError(
            f"segment counts differ: {published} has {len(hypotheses)} lines, "
            f"{source} has {len(sources)} lines"
        )
    write_lines(out_hypotheses, hypotheses)
    meta = {
        "kind": "published",
        "label": label,
        "path": str(published),
        "sha256": hashlib.sha256(Path(published).read_bytes()).hexdigest(),
        "segments": len(hypotheses),
        "max_segments": max_segments,
        "template": None,  # no prompt: the paper's outputs, decoded elsewhere
        "settings": {},
    }
    write_json(out_meta, meta)
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("published", type=input_file, help="the published output, one per line")
    parser.add_argument("source", type=input_file, help="the test set's source file")
    parser.add_argument("hypotheses", help="the .hyp.txt to write")
    parser.add_argument("meta", help="the .meta.json to write")
    parser.add_argument("--label", help="the system's name in the record")
    args = parser.parse_args(argv)
    import_published(args.published, args.source, args.hypotheses, args.meta, args.label)
    return 0


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.decode.published")
