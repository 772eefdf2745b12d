"""Sharded, resumable decoding: split a test set into shards, commit each one atomically,
merge them in order into the usual ``.hyp.txt`` / ``.meta.json``.

In the workflow (``decoding.shards`` > 1) every shard is its own job (rule ``decode_shard``,
``python -m bayling_pipeline.decode --shard I --shards N``) and the rule
``decode_translate`` merges them::

    python -m bayling_pipeline.decode.shards merge --source SRC.txt \
        --shard-hypotheses D/0.hyp.txt D/1.hyp.txt --shard-metas D/0.meta.json D/1.meta.json \
        --output PAIR.hyp.txt --meta PAIR.meta.json

By hand on one GPU node, the same shards decoded one after the other in one process (a shard
already committed is skipped, so a killed run redoes only the shard it was in)::

    python -m bayling_pipeline.decode.shards run --shards 4 <the arguments of decode>

Within a shard, every finished batch is appended to a partial file next to the output
(``.<name>.partial.jsonl``, with a fingerprint of model, adapter, prompts and settings), so
a killed job resumes at the first unfinished batch; the file is removed once the shard's
output is committed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
from pathlib import Path

from bayling_pipeline.io import read_json, read_lines, write_json, write_jsonl, write_lines

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


def partial_path(output: str | os.PathLike) -> Path:
    """The partial file of committed batches that belongs to ``output``."""
    output = Path(output)
    return output.with_name(f".{output.name}.partial.jsonl")


def fingerprint(model_dir, adapter_dir, prompts: list[list[int]], settings: dict) -> str:
    """What a partial file's batches were decoded from: the model and adapter files (name,
    size, mtime: a retrained adapter at the same path is a different model), the exact
    prompt ids and the generation settings."""
    digest = hashlib.sha256()
    for folder in (model_dir, adapter_dir):
        if not folder:
            continue
        for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
            stat = path.stat()
            digest.update(
                f"{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode()
            )
    digest.update(json.dumps(settings, sort_keys=True).encode())
    digest.update(json.dumps(prompts).encode())
    return digest.hexdigest()


class BatchLog:
    """Batches already decoded for one output, appended one JSON line per batch.

    The first line holds the fingerprint; a file with another fingerprint is stale and
    ignored. A torn last line (the job was killed while writing it) is dropped.
    """

    def __init__(self, path: str | os.PathLike, fingerprint: str):
        self.path = Path(path)
        self.fingerprint = fingerprint

    def load(self) -> dict[int, tuple[list[int], list[str]]]:
        """{batch number: (segment indices, raw texts)} of the committed batches; rewrites the
        file to hold exactly those, so that later appends start on a clean line."""
        records = []
        if self.path.exists():
            lines = self.path.read_text(encoding="utf-8").splitlines()
            header = _parse(lines[0]) if lines else None
            if header == {"fingerprint": self.fingerprint}:
                for line in lines[1:]:
                    record = _parse(line)
                    if record is None:
                        break  # torn write of a killed job: the batch is redone
                    records.append(record)
            elif lines:
                log.info("%s: decoded from other inputs or settings; starting over", self.path)
        write_jsonl(self.path, [{"fingerprint": self.fingerprint}, *records])
        return {r["batch"]: (r["indices"], r["texts"]) for r in records}

    def commit(self, batch: int, indices: list[int], texts: list[str]) -> None:
        """Append one finished batch, flushed to disk before decoding goes on."""
        record = {"batch": batch, "indices": indices, "texts": texts}
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def remove(self) -> None:
        """Drop the file once the output it belongs to is committed."""
        self.path.unlink(missing_ok=True)


def _parse(line: str) -> dict | None:
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return None


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
            for meta in metas
        ],
    )
    write_lines(output_path, hypotheses)
    write_json(meta_path, merged)
    log.info("merged %d shards, %d segments -> %s", count, len(hypotheses), output_path)
    return merged


def run_shards(args: argparse.Namespace) -> dict:
    """Decode every shard not yet committed, in order, in this process; then merge."""
    from bayling_pipeline.decode import translate as decode

    loaded = None
    shard_files = [shard_paths(args.output, index) for index in range(args.shards)]
    for index, (hypotheses, meta) in enumerate(shard_files):
        if hypotheses.exists() and meta.exists():
            log.info("shard %d of %d: committed already, skipped", index, args.shards)
            continue
        if loaded is None:
            loaded = decode.load(
                args.model, args.adapter or None, args.backend, args.trust_remote_code
            )
        log.info("shard %d of %d: decoding", index, args.shards)
        decode.translate_file(
            args.model,
            args.adapter or None,
            args.source,
            args.pair,
            hypotheses,
            meta,
            decode.settings_from_args(args),
            shard=(index, args.shards),
            loaded=loaded,
        )
    return merge_shards(
        args.source,
        [h for h, _ in shard_files],
        [m for _, m in shard_files],
        args.output,
        args.meta,
    )


def main(argv: list[str] | None = None) -> None:
    from bayling_pipeline.decode import translate as decode

    parser = argparse.ArgumentParser(description="Sharded decoding: merge shards, or run all")
    commands = parser.add_subparsers(dest="command", required=True)
    merge = commands.add_parser("merge", help="merge shard outputs in order")
    merge.add_argument("--source", required=True, help="the test set's source file")
    merge.add_argument("--shard-hypotheses", nargs="+", required=True)
    merge.add_argument("--shard-metas", nargs="+", required=True)
    merge.add_argument("--output", required=True)
    merge.add_argument("--meta", required=True)
    run = commands.add_parser("run", help="decode every missing shard here, then merge")
    decode.add_arguments(run)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    if args.command == "merge":
        merge_shards(args.source, args.shard_hypotheses, args.shard_metas, args.output, args.meta)
    else:
        decode.set_threads(args.threads)
        run_shards(args)


if __name__ == "__main__":
    main()
