"""Streaming helpers shared by the plan, shard and merge steps of synthesis.

The split files are read as fresh record streams each pass (``split_reader``), corpus
records and instructions are numbered in one stream (``record_sources``), and the hot
loops run with a lazier garbage collector (``fewer_collections``).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterable, Iterator

from bayling_pipeline.io import read_jsonl
from bayling_pipeline.synthesize import families as F


def split_reader(train: str, dev: str, instructions: str | None):
    """``read_split(split)`` over the split files; instructions are read for train only."""

    def read_split(split: str):
        corpus = read_jsonl(train if split == "train" else dev)
        extra = read_jsonl(instructions) if instructions and split == "train" else iter(())
        return corpus, extra

    return read_split


@contextlib.contextmanager
def fewer_collections(threshold: int = 10_000):
    """Run the young-generation garbage collector every ``threshold`` allocations, not 700.

    Synthesis allocates millions of short-lived dicts and strings that reference counting
    frees, while large long-lived tables (hygiene indexes, caches) make every collection
    slow: Python's default spends about 10% of a shard's time in the collector. Records and
    examples form no reference cycles, so memory does not grow. Used as a decorator.
    """
    previous = gc.get_threshold()
    gc.set_threshold(threshold, 10, 10)
    try:
        yield
    finally:
        gc.set_threshold(*previous)


def record_sources(
    records: Iterable[dict], instructions: Iterable[dict], general: Iterable[tuple] = ()
) -> Iterator[tuple]:
    """``(kind, line, record id, texts)``: corpus records (kind 0), then instructions (1),
    then general records (2; ``general``: ``general.general_records``, parsed already)."""
    for line, record in enumerate(records, start=1):
        yield 0, line, record["id"], F.texts_of(record)
    for line, record in enumerate(instructions, start=1):
        yield 1, line, record.get("id", f"instruction-{line}"), F.instruction_texts(record)
    for line, record_id, texts in general:
        yield 2, line, record_id, texts
