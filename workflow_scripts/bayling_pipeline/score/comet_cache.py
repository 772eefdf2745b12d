"""A content-addressed cache of COMET segment scores, safe for parallel jobs on any file system.

A segment's key is the SHA-256 of (source, hypothesis, reference, model, revision, COMET
version), so rescoring unchanged hypotheses costs nothing and adding a system scores only
its own segments. The cache is a directory of shard files: every job that scores new
segments writes them to one new file, named by the hash of its keys and renamed into place
complete, and a lookup reads every shard. Nothing is ever modified in place, so jobs need
no locks (SQLite locking is unreliable on the NFS of most clusters); two jobs scoring the
same segment at once both write it, with the same value.

Look inside::

    python -m bayling_pipeline.score.comet_cache resources/comet-cache   # shards, entries
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from bayling_pipeline.cli import input_folder, run_cli
from bayling_pipeline.io import split_lines, write_text

SUFFIX = ".scores.tsv"
_KEY = re.compile(r"[0-9a-f]{64}")

log = logging.getLogger(__name__)


def segment_key(source: str, hypothesis: str, reference: str, model: str, revision, version):
    """The cache key of one COMET segment score (hex SHA-256 of every input that changes it)."""
    fields = [source, hypothesis, reference, model, revision or "", version]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode("utf-8")).hexdigest()


def _rows(shard: Path) -> list[str]:
    return split_lines(shard.read_bytes().decode("utf-8", "replace"))


def _entries(shard: Path) -> dict[str, float]:
    """The (key, score) lines of ``shard``; a malformed line (torn by a crash, edited by
    hand: no tab, a key that is no SHA-256, a score that is no finite number) is skipped
    and counted in a warning: it costs one segment's rescoring, never a wrong score."""
    found, bad = {}, 0
    for line in _rows(shard):
        key, tab, value = line.partition("\t")
        try:
            score = float(value)
        except ValueError:
            score = math.nan
        if not tab or not _KEY.fullmatch(key) or not math.isfinite(score):
            bad += 1
            continue
        found[key] = score
    if bad:
        log.warning("%s: skipped %d malformed line(s); those segments are scored again", shard, bad)
    return found


class SegmentCache:
    """Segment scores under ``directory`` (created on first write)."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)

    def shards(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob(f"*{SUFFIX}"))

    def lookup(self, keys: Iterable[str]) -> dict[str, float]:
        """The cached scores of those ``keys`` that are cached."""
        wanted = set(keys)
        found: dict[str, float] = {}
        for shard in self.shards():
            try:
                entries = _entries(shard)
            except FileNotFoundError:  # removed by a concurrent `compact`: a miss, not an error
                continue
            found.update((key, entries[key]) for key in wanted & entries.keys())
        return found

    def add(self, scores: Mapping[str, float]) -> Path | None:
        """Store ``scores`` (key -> score) as one new shard; return it (None when empty)."""
        if not scores:
            return None
        keys = sorted(scores)
        name = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:24] + SUFFIX
        path = self.directory / name
        write_text(path, "".join(f"{key}\t{scores[key]!r}\n" for key in keys))
        return path

    def compact(self) -> Path | None:
        """Merge every shard into one (run it when no scoring job is running)."""
        shards = self.shards()
        if len(shards) < 2:
            return shards[0] if shards else None
        merged: dict[str, float] = {}
        for shard in shards:
            merged.update(_entries(shard))
        path = self.add(merged)
        for shard in shards:
            if shard != path:
                shard.unlink(missing_ok=True)
        return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory", type=input_folder, help="the cache (scoring.comet.cache)")
    args = parser.parse_args(argv)
    cache = SegmentCache(args.directory)
    shards = cache.shards()
    entries = sum(len(_entries(shard)) for shard in shards)
    print(f"{cache.directory}: {len(shards)} shards, {entries} segment scores")
    return 0


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.score.comet_cache")
