"""Every direction of a test set in one decoding job: the model is loaded once.

With ``evaluation.pool_directions`` the rule ``decode_pooled_<testset>`` runs this for one
(system, test set): its directions' segments are pooled, in the order of the directions,
and decoded in length-sorted batches that mix directions (a short Thai sentence and a short
German one share a batch), then split back into the usual per-direction ``.hyp.txt`` and
``.meta.json``. With ``decoding.shards`` = N, shard I decodes part I of the pooled segments
(``shards.shard_range`` over their total: N shards are N GPU jobs whatever the number of
languages) into one JSON Lines file, and ``merge_pooled_shards`` writes the per-direction
files. By hand, the same command::

    python -m bayling_pipeline.decode.pooled --model resources/models/smollm2-135m \
        --pairs eng_Latn-deu_Latn eng_Latn-fra_Latn \
        --sources T/eng_Latn-deu_Latn.source.txt T/eng_Latn-fra_Latn.source.txt \
        --outputs D/eng_Latn-deu_Latn.hyp.txt D/eng_Latn-fra_Latn.hyp.txt \
        --metas D/eng_Latn-deu_Latn.meta.json D/eng_Latn-fra_Latn.meta.json \
        --cache-dir D/.pooled-cache

Each direction's part of a job is a *piece* (pair, start, end). A decoded piece is kept in
``--cache-dir`` under a fingerprint of the model and adapter files, its exact prompt ids,
the settings and the hardware (decode.resume.fingerprint), so when one direction's source
changes only that direction is decoded again; the others are read back. Within the job,
every finished batch goes to a partial file as in the per-direction job: a killed job
resumes at its first unfinished batch.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from bayling_pipeline.cli import input_file, pair_argument, run_cli
from bayling_pipeline.decode.cost import merge_costs
from bayling_pipeline.decode.loading import (
    Loaded,
    generate_texts,
    job_cost,
    job_settings,
    load,
    recorded_settings,
)
from bayling_pipeline.decode.resume import BatchLog, fingerprint, partial_path
from bayling_pipeline.decode.settings import Settings, add_generation_arguments, clean_all
from bayling_pipeline.decode.shards import shard_range
from bayling_pipeline.decode.translate import translation_prompts
from bayling_pipeline.io import (
    DataError,
    read_json,
    read_jsonl,
    read_lines,
    write_index,
    write_json,
    write_jsonl,
    write_lines,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Piece:
    """Segments ``[start, end)`` of one direction, decoded in one job."""

    pair: str
    start: int
    end: int

    @property
    def name(self) -> str:
        return f"{self.pair}.{self.start}-{self.end}"


def pooled_pieces(
    pairs: list[str], counts: list[int], shard: int = 0, shards: int = 1
) -> list[Piece]:
    """The pieces of shard ``shard`` of ``shards``: its contiguous range of the pooled
    segments (directions in the given order), cut at the directions' borders."""
    start, end = shard_range(sum(counts), shard, shards)
    pieces, offset = [], 0
    for pair, count in zip(pairs, counts, strict=True):
        low, high = max(start, offset), min(end, offset + count)
        if low < high:
            pieces.append(Piece(pair, low - offset, high - offset))
        offset += count
    return pieces


def read_sources(pairs: list[str], sources: list[str]) -> dict[str, list[str]]:
    """{pair: source segments}; an empty file is an error naming it."""
    texts = {}
    for pair, path in zip(pairs, sources, strict=True):
        texts[pair] = read_lines(path)
        if not texts[pair]:
            raise DataError(f"{path}: no segments to translate (an empty file)")
    return texts


def decode_pieces(
    loaded: Loaded,
    pieces: list[Piece],
    texts: dict[str, list[str]],
    settings: Settings,
    model_dir,
    adapter_dir,
    cache_dir,
    partial_output,
) -> tuple[dict[Piece, list[str]], float, list[Piece]]:
    """Raw generated texts of every piece: from the cache where its fingerprint matches,
    else generated, all missing pieces pooled in one resumable call.
    Returns ``(raw texts by piece, seconds of generation, pieces generated)``."""
    hardware = {"device": loaded.device, "dtype": loaded.compute_type}
    recipe = dataclasses.asdict(settings)
    cache_dir = Path(cache_dir)
    raw: dict[Piece, list[str]] = {}
    todo: dict[Piece, tuple[list, str]] = {}
    for piece in pieces:
        segments = texts[piece.pair][piece.start : piece.end]
        prompts = translation_prompts(loaded.tokenizer, segments, piece.pair, settings)
        key = fingerprint(model_dir, adapter_dir, prompts, recipe, hardware)
        cached = cache_dir / f"{piece.name}.json"
        entry = read_json(cached) if cached.exists() else {}
        if entry.get("fingerprint") == key and len(entry.get("texts", [])) == len(prompts):
            raw[piece] = entry["texts"]
        else:
            todo[piece] = (prompts, key)
    log.info("%d pieces: %d from the cache, %d to decode", len(pieces), len(raw), len(todo))
    seconds = 0.0
    if todo:
        pooled = [prompt for prompts, _ in todo.values() for prompt in prompts]
        keys = [key for _, key in todo.values()]
        # the batches of exactly these pieces, each fingerprinted as a whole
        job_key = hashlib.sha256("\n".join(keys).encode()).hexdigest()
        batch_log = BatchLog(partial_path(partial_output), job_key)
        started = time.time()
        generated = generate_texts(loaded, pooled, settings, batch_log)
        seconds = time.time() - started
        offset = 0
        for piece, (prompts, key) in todo.items():
            raw[piece] = generated[offset : offset + len(prompts)]
            offset += len(prompts)
            write_json(cache_dir / f"{piece.name}.json", {"fingerprint": key, "texts": raw[piece]})
        batch_log.remove()
    return raw, seconds, list(todo)


def job_record(loaded: Loaded, settings: Settings, model_dir, adapter_dir) -> dict:
    """What every direction's metadata shares: model, adapter, template, settings, device."""
    from bayling_pipeline.prompts.templates import get_template

    return {
        "model": str(model_dir),
        "adapter": str(adapter_dir) if adapter_dir else None,
        "template": settings.template,
        "template_ref": get_template(settings.template).ref,
        "settings": recorded_settings(settings, loaded),
        "device": loaded.device,
        **({"engine": loaded.info} if loaded.info else {}),
    }


def decode_pooled(args: argparse.Namespace, settings: Settings) -> list[dict]:
    """The job: decode this shard's pieces (cache first), then write the per-direction
    files (one shard) or the shard's JSON Lines file and metadata (several)."""
    adapter = args.adapter or None
    texts = read_sources(args.pairs, args.sources)
    pieces = pooled_pieces(args.pairs, [len(texts[p]) for p in args.pairs], args.shard, args.shards)
    loaded = load(
        args.model, adapter, settings.backend, args.trust_remote_code, settings.compute_type
    )
    partial_output = args.shard_output or args.outputs[0]
    raw, seconds, generated = decode_pieces(
        loaded, pieces, texts, settings, args.model, adapter, args.cache_dir, partial_output
    )
    segments = sum(p.end - p.start for p in pieces)
    decoded = sum(p.end - p.start for p in generated)
    shared = job_record(loaded, settings, args.model, adapter)
    shared["pooled"] = {
        "directions": len({p.pair for p in pieces}),
        "segments": segments,
        "decoded_segments": decoded,
        "seconds": seconds,
        "cost": job_cost(loaded, seconds, max(decoded, 1)),
    }
    records = []
    for piece in pieces:
        hypotheses, fixes = clean_all(raw[piece], settings.postprocess)
        share = seconds * (piece.end - piece.start) / decoded if piece in generated else 0.0
        records.append(
            {
                "pair": piece.pair,
                "start": piece.start,
                "end": piece.end,
                "hypotheses": hypotheses,
                "postprocess_fixes": fixes,
                "seconds": share,
            }
        )
    if args.shards == 1:
        write_directions(records, shared, args.pairs, args.outputs, args.metas)
        if args.index:
            write_index(args.index, [*args.outputs, *args.metas])
    else:
        start, end = shard_range(sum(len(t) for t in texts.values()), args.shard, args.shards)
        shared["shard"] = {"index": args.shard, "count": args.shards, "start": start, "end": end}
        write_jsonl(args.shard_output, records)
        write_json(args.shard_meta, shared)
    return records


def write_directions(records, shared: dict, pairs, outputs, metas) -> None:
    """Per-direction ``.hyp.txt`` and ``.meta.json`` from the pieces of every direction,
    which must tile it from segment 0 without gap or overlap."""
    by_pair: dict[str, list[dict]] = {pair: [] for pair in pairs}
    for record in records:
        by_pair[record["pair"]].append(record)
    for pair, output, meta_path in zip(pairs, outputs, metas, strict=True):
        parts = sorted(by_pair[pair], key=lambda record: record["start"])
        hypotheses, fixes, position = [], {}, 0
        for part in parts:
            if part["start"] != position:
                raise DataError(f"{pair}: segments {position}..{part['start']} are missing")
            hypotheses += part["hypotheses"]
            position = part["end"]
            for fix, number in part["postprocess_fixes"].items():
                fixes[fix] = fixes.get(fix, 0) + number
        if not parts:
            raise DataError(f"{pair}: no shard decoded this direction")
        write_lines(output, hypotheses)
        seconds = sum(part["seconds"] for part in parts)
        write_json(
            meta_path,
            {
                **shared,
                "pair": pair,
                "segments": len(hypotheses),
                "postprocess_fixes": fixes,
                "seconds": seconds,
            },
        )
        log.info("%s: %d segments", pair, len(hypotheses))


def merge_pooled_shards(shard_outputs, shard_metas, pairs, outputs, metas) -> None:
    """The per-direction files of a sharded pooled decode (rule decode_translate_<testset>):
    shard I must be shard I of N, all decoded with the same model and settings."""
    metas_read = [read_json(path) for path in shard_metas]
    count = len(metas_read)
    for index, (path, meta) in enumerate(zip(shard_metas, metas_read, strict=True)):
        shard = meta.get("shard") or {}
        if (shard.get("index"), shard.get("count")) != (index, count):
            raise DataError(
                f"{path}: is shard {shard.get('index')} of {shard.get('count')}, "
                f"expected {index} of {count}"
            )
        for key in ("model", "adapter", "template", "settings"):
            if meta.get(key) != metas_read[0].get(key):
                raise DataError(f"{path}: {key} differs from shard 0's")
    records = [record for path in shard_outputs for record in read_jsonl(path)]
    shared = {k: v for k, v in metas_read[0].items() if k not in ("shard", "pooled")}
    shared["shards"] = [
        {**meta["shard"], "device": meta["device"], **meta["pooled"]} for meta in metas_read
    ]
    shared["cost"] = merge_costs([meta["pooled"]["cost"] for meta in metas_read])
    write_directions(records, shared, pairs, outputs, metas)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Every direction of a test set in one job")
    add_generation_arguments(parser)
    parser.add_argument("--pairs", nargs="+", required=True, type=pair_argument)
    # files by direction: one per pair, or one pattern with {pair} (a job's command line
    # stays short with 800 directions)
    parser.add_argument("--sources", nargs="+", required=True, help="source files")
    parser.add_argument("--outputs", nargs="+", help="per-direction .hyp.txt (one shard)")
    parser.add_argument("--metas", nargs="+", help="per-direction .meta.json (one shard)")
    parser.add_argument("--index", help="the index of the files written (one shard)")
    parser.add_argument("--shard-output", help="the shard's JSON Lines file (several shards)")
    parser.add_argument("--shard-meta", help="the shard's metadata (several shards)")
    parser.add_argument("--cache-dir", required=True, help="decoded pieces, by fingerprint")
    return parser


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """One source per pair; per-direction files with one shard, the shard's files with more;
    a known template."""
    from bayling_pipeline.prompts.templates import translation_template_ids

    for option in ("sources", "outputs", "metas"):
        files = getattr(args, option)
        if files and len(files) == 1 and "{pair}" in files[0]:
            setattr(args, option, [files[0].format(pair=pair) for pair in args.pairs])
    if len(args.sources) != len(args.pairs):
        parser.error("give one --sources file per --pairs direction, in the same order")
    for source in args.sources:
        try:
            input_file(source)
        except argparse.ArgumentTypeError as error:
            parser.error(f"argument --sources: {error}")
    if args.shard >= args.shards:
        parser.error(f"--shard {args.shard}: shards are numbered 0 to {args.shards - 1}")
    if args.shards == 1:
        if not args.outputs or not args.metas:
            parser.error("one shard: give --outputs and --metas")
        if not len(args.outputs) == len(args.metas) == len(args.pairs):
            parser.error("give one --outputs and one --metas file per --pairs direction")
    elif not (args.shard_output and args.shard_meta):
        parser.error("several shards: give --shard-output and --shard-meta")
    known = translation_template_ids()
    if args.template not in known:
        parser.error(f"--template {args.template!r} is unknown; known: {', '.join(known)}")


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    _check(parser, args)
    decode_pooled(args, job_settings(parser, args))


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.decode.pooled")
