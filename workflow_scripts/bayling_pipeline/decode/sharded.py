"""Sharded, resumable decoding by hand: merge shard outputs, or decode every shard in turn.

The rule ``decode_translate`` merges the outputs of the ``decode_shard`` jobs
(``decoding.shards`` > 1); the same by hand::

    python -m bayling_pipeline.decode.sharded merge --source SRC.txt \
        --shard-hypotheses D/0.hyp.txt D/1.hyp.txt --shard-metas D/0.meta.json D/1.meta.json \
        --output PAIR.hyp.txt --meta PAIR.meta.json

By hand on one GPU node, the same shards decoded one after the other in one process (a shard
already committed is skipped, so a killed run redoes only the shard it was in)::

    python -m bayling_pipeline.decode.sharded run --shards 4 <the arguments of decode>

Within a shard, every finished batch is appended to a partial file
(:mod:`bayling_pipeline.decode.resume`), so a killed job resumes at the first unfinished
batch; the file is removed once the shard's output is committed.
"""

from __future__ import annotations

import argparse
import logging
import sys

from bayling_pipeline.cli import input_file, run_cli
from bayling_pipeline.decode.loading import load, set_threads
from bayling_pipeline.decode.settings import add_arguments, settings_from_args
from bayling_pipeline.decode.shards import merge_shards, shard_paths
from bayling_pipeline.decode.translate import check_job, translate_file

log = logging.getLogger(__name__)


def run_shards(args: argparse.Namespace) -> dict:
    """Decode every shard not yet committed, in order, in this process; then merge."""
    loaded = None
    shard_files = [shard_paths(args.output, index) for index in range(args.shards)]
    for index, (hypotheses, meta) in enumerate(shard_files):
        if hypotheses.exists() and meta.exists():
            log.info("shard %d of %d: committed already, skipped", index, args.shards)
            continue
        if loaded is None:
            loaded = load(args.model, args.adapter or None, args.backend, args.trust_remote_code)
        log.info("shard %d of %d: decoding", index, args.shards)
        translate_file(
            args.model,
            args.adapter or None,
            args.source,
            args.pair,
            hypotheses,
            meta,
            settings_from_args(args),
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
    parser = argparse.ArgumentParser(description="Sharded decoding: merge shards, or run all")
    commands = parser.add_subparsers(dest="command", required=True)
    merge = commands.add_parser("merge", help="merge shard outputs in order")
    merge.add_argument("--source", required=True, type=input_file, help="the test set's source")
    merge.add_argument("--shard-hypotheses", nargs="+", required=True, type=input_file)
    merge.add_argument("--shard-metas", nargs="+", required=True, type=input_file)
    merge.add_argument("--output", required=True)
    merge.add_argument("--meta", required=True)
    run = commands.add_parser("run", help="decode every missing shard here, then merge")
    add_arguments(run)
    args = parser.parse_args(argv)
    if args.command == "merge" and len(args.shard_hypotheses) != len(args.shard_metas):
        parser.error("give one --shard-metas file per --shard-hypotheses file, in shard order")
    if args.command == "run":
        check_job(run, args)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    if args.command == "merge":
        merge_shards(args.source, args.shard_hypotheses, args.shard_metas, args.output, args.meta)
    else:
        set_threads(args.threads)
        run_shards(args)


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.decode.sharded")
