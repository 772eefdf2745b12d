"""Synthesize BayLing-style chat instructions from a multi-way parallel corpus, streaming.

Three steps, each a rule and a subcommand of ``python -m bayling_pipeline.synthesize``
(this module; ``synthesize_dataset`` runs all three in one process)::

    python -m bayling_pipeline.synthesize plan --recipe recipe.json \\
        --train results/download/django/train.jsonl --dev results/download/django/dev.jsonl \\
        --out results/synthesize/bayling-demo/plan.json
    python -m bayling_pipeline.synthesize shard --plan results/synthesize/bayling-demo/plan.json \\
        --shard 0 --forbidden results/download/django/test.jsonl \\
        --out results/synthesize/bayling-demo/shards/0
    python -m bayling_pipeline.synthesize merge --plan results/synthesize/bayling-demo/plan.json \\
        --shards results/synthesize/bayling-demo/shards/* --out-train ... --out-dev ... \\
        --out-stats ... --out-samples ...

So the output is byte-identical for a given corpus, recipe and seed whatever the shard
count (teacher answers: given the same response cache), and memory is bounded by the
recipe's example counts (dedup state) and a fixed cache, not by the corpus size.

Every record carries its provenance in ``meta``: task family, unit, copy, template refs
(``id@vN``), languages, source corpus with record id and line, seed, and the teacher's
model id and action when a teacher wrote the last answer.

The steps live in :mod:`~bayling_pipeline.synthesize.plan` (counts, targets and which
records serve each unit), :mod:`~bayling_pipeline.synthesize.shard` (generation, with
:mod:`~bayling_pipeline.synthesize.shard_hygiene` and the teacher) and
:mod:`~bayling_pipeline.synthesize.merge` (the dataset files); the recipe is checked by
:mod:`~bayling_pipeline.synthesize.recipe`, the task families are
:mod:`~bayling_pipeline.synthesize.families`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from bayling_pipeline.cli import at_least, input_file
from bayling_pipeline.io import read_json, write_json
from bayling_pipeline.synthesize.merge import merge_shards
from bayling_pipeline.synthesize.plan import plan_from_files
from bayling_pipeline.synthesize.shard import write_shard
from bayling_pipeline.synthesize.shard_hygiene import read_forbidden
from bayling_pipeline.synthesize.streaming import split_reader

log = logging.getLogger(__name__)


def synthesize_dataset(
    train: str,
    dev: str,
    recipe: dict,
    corpus_name: str,
    forbidden_texts: Iterable[str],
    work_dir,
    out_train,
    out_dev,
    out_stats,
    out_samples,
    instructions: str | None = None,
    teacher=None,
) -> dict:
    """plan, every shard, merge: the three steps in one process (tests and benchmarks)."""
    work_dir = Path(work_dir)
    plan = plan_from_files(recipe, train, dev, instructions)
    write_json(work_dir / "plan.json", plan)
    forbidden = list(forbidden_texts)
    shard_dirs = []
    for shard in range(plan["recipe"]["shards"]):
        shard_dirs.append(work_dir / "shards" / str(shard))
        read_split = split_reader(train, dev, instructions)
        write_shard(plan, shard, read_split, corpus_name, forbidden, shard_dirs[-1], teacher)
    return merge_shards(plan, shard_dirs, out_train, out_dev, out_stats, out_samples)


def _read_recipe(path: str) -> dict:
    if Path(path).suffix in {".yaml", ".yml"}:
        import yaml

        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    return read_json(path)


def build_teacher_for(recipe: dict, cache: str | None, model_dir: str | None, threads=None):
    """The recipe's teacher (or None), cached in ``cache``; a local one runs ``model_dir``.

    The config names a local teacher by its key of ``models`` (the rule turns it into the
    staged directory) and an endpoint by its model name; the rest maps onto the backend.
    """
    spec = recipe.get("teacher")
    if not spec:
        return None
    from bayling_pipeline.synthesize.teacher import build_teacher

    if spec.get("backend", "local") == "local":
        if not model_dir:
            raise ValueError("a local teacher needs its model directory (--teacher-model)")
        built = {
            "backend": "local",
            "model_dir": model_dir,
            "max_new_tokens": spec.get("max_new_tokens", 128),
            "batch_size": spec.get("batch_size", 8),
            "threads": threads,
        }
    else:
        built = {
            "backend": "openai",
            "base_url": spec["base_url"],
            "model": spec["model"],
            "api_key_env": spec.get("api_key_env", "OPENAI_API_KEY"),
            "requests_per_minute": spec.get("requests_per_minute", 60),
            "max_new_tokens": spec.get("max_new_tokens", 128),
        }
    return build_teacher(built, cache_path=cache)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    steps = parser.add_subparsers(dest="step", required=True)
    plan_p = steps.add_parser("plan", help="count eligible records, write targets")
    plan_p.add_argument("--recipe", required=True, type=input_file, help="JSON or YAML recipe")
    plan_p.add_argument("--train", required=True, type=input_file)
    plan_p.add_argument("--dev", required=True, type=input_file)
    plan_p.add_argument(
        "--instructions", type=input_file, help="JSONL instructions (Alpaca format)"
    )
    plan_p.add_argument("--out", required=True)
    shard_p = steps.add_parser("shard", help="generate one shard's examples")
    shard_p.add_argument("--plan", required=True, type=input_file)
    shard_p.add_argument("--shard", type=at_least(0), required=True)
    shard_p.add_argument("--train", required=True, type=input_file)
    shard_p.add_argument("--dev", required=True, type=input_file)
    shard_p.add_argument("--instructions", type=input_file)
    shard_p.add_argument("--corpus-name", required=True)
    shard_p.add_argument("--forbidden", nargs="*", default=[], help="test-set files")
    shard_p.add_argument("--teacher-model", help="local teacher model directory")
    shard_p.add_argument("--teacher-cache", help="teacher response cache (SQLite)")
    shard_p.add_argument("--threads", type=at_least(1), default=1)
    shard_p.add_argument("--out", required=True)
    merge_p = steps.add_parser("merge", help="merge shards into the dataset files")
    merge_p.add_argument("--plan", required=True, type=input_file)
    merge_p.add_argument("--shards", nargs="+", required=True)
    for name in ("train", "dev", "stats", "samples"):
        merge_p.add_argument(f"--out-{name}", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.step == "plan":
        recipe = _read_recipe(args.recipe)
        write_json(args.out, plan_from_files(recipe, args.train, args.dev, args.instructions))
    elif args.step == "shard":
        os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
        plan = read_json(args.plan)
        teacher = build_teacher_for(
            plan["recipe"], args.teacher_cache, args.teacher_model, args.threads
        )
        summary = write_shard(
            plan,
            args.shard,
            split_reader(args.train, args.dev, args.instructions),
            args.corpus_name,
            read_forbidden(args.forbidden),
            args.out,
            teacher,
        )
        log.info("shard %d done: %s", args.shard, json.dumps(summary["drops"]))
    else:
        shards = sorted(args.shards, key=lambda d: int(Path(d).name))
        merge_shards(
            read_json(args.plan),
            shards,
            args.out_train,
            args.out_dev,
            args.out_stats,
            args.out_samples,
        )
