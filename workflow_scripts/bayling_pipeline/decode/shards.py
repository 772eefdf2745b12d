"""Shards of a test set: the segments each shard decodes, where its files go, and the merge
of shard outputs, in order, into the usual ``.hyp.txt`` / ``.meta.json``.

In the workflow (``decoding.shards`` > 1) every shard is its own job (rule ``decode_shard``,
``python -m bayling_pipeline.decode --shard I --shards N``) and the rule
``decode_translate`` merges them (``merge_shards``; by hand, see
:mod:`bayling_pipeline.decode.sharded`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from bayling_pipeline.decode.cost import merge_costs
from bayling_pipeline.io import read_json, read_lines, write_json, write_lines

log = logging.getLogger(__name__)


def shard_range(total: int, index: int, count: int) -> tuple[int, int]:
    """``[start, end)`` of shard ``index`` of ``count`` over ``total`` segments: contiguous
    and as even as possible (the first ``total % count`` shards get one more), so merging
    is concatenation in shard order."""
    if not 0 <= index < count:
        raise ValueError(f"shard {index} does not exist among {count} shards")
    size, extra = divmod(total, count)
    start = index * size + min(index, extra)
    return start, start + size + (1 if index < extra else 0)


def shard_paths(hypotheses: str | os.PathLike, index: int) -> tuple[Path, Path]:
    """(hypotheses, meta) of shard ``index`` of the output ``<dir>/<pair>.hyp.txt``:
    ``<dir>/<pair>.shards/<index>.hyp.txt`` and ``.meta.json`` (the rule decode_shard's
    output pattern)."""
    hypotheses = Path(hypotheses)
    folder = hypotheses.with_name(hypotheses.name.removesuffix(".hyp.txt") + ".shards")
    return folder / f"{index}.hyp.txt", folder / f"{index}.meta.json"


def merge_shards(
    source_path: str | os.PathLike,
    shard_hypotheses: list[str | os.PathLike],
    shard_metas: list[str | os.PathLike],
    output_path: str | os.PathLike,
    meta_path: str | os.PathLike,
) -> dict:
    """Concatenate shard outputs in order into one hypothesis file and one metadata JSON.

    Checks that the shards are exactly 0..N-1 of N, tile the source without gap or overlap
    and were decoded with the same model and settings; fix counts and seconds are summed.
    """
    total = len(read_lines(source_path))
    metas = [read_json(path) for path in shard_metas]
    count = len(metas)
    hypotheses: list[str] = []
    for index, (path, meta) in enumerate(zip(shard_hypotheses, metas, strict=True)):
        shard = meta.get("shard") or {}
        expected = shard_range(total, index, count)
        if (shard.get("index"), shard.get("count")) != (index, count):
            raise ValueError(
                f"{path}: is shard {shard.get('index')} of {shard.get('count')}, "
                f"expected {index} of {count}"
            )
        if (shard.get("start"), shard.get("end")) != expected:
            raise ValueError(
                f"{path}: covers {shard.get('start')}..{shard.get('end')}, "
                f"expected {expected[0]}..{expected[1]} of {total} segments"
            )
        for key in ("model", "adapter", "pair", "template", "settings"):
            if meta.get(key) != metas[0].get(key):
                raise ValueError(f"{path}: {key} differs from shard 0's")
        lines = read_lines(path)
        if len(lines) != expected[1] - expected[0]:
            raise ValueError(f"{path}: {len(lines)} lines, expected {expected[1] - expected[0]}")
        hypotheses.extend(lines)
    fixes: dict[str, int] = {}
    for meta in metas:
        for fix, number in meta["postprocess_fixes"].items():
            fixes[fix] = fixes.get(fix, 0) + number
    merged = {key: value for key, value in metas[0].items() if key != "shard"}
    merged.update(
        segments=len(hypotheses),
        postprocess_fixes=fixes,
        seconds=sum(meta["seconds"] for meta in metas),
        shards=[
            {**meta["shard"], "seconds": meta["seconds"], "device": meta["device"]}
            | ({"cost": meta["cost"]} if "cost" in meta else {})
            for meta in metas
        ],
    )
    if all("cost" in meta for meta in metas):
        merged["cost"] = merge_costs([meta["cost"] for meta in metas])
    write_lines(output_path, hypotheses)
    write_json(meta_path, merged)
    log.info("merged %d shards, %d segments -> %s", count, len(hypotheses), output_path)
    return merged
