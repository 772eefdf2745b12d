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
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from bayling_pipeline.cli import input_folder, run_cli
from bayling_pipeline.io import split_lines, write_text

SUFFIX = ".scores.tsv"


def segment_key(source: str, hypothesis: str, reference: str, model: str, revision, version):
    """The cache key of one COMET segment score (hex SHA-256 of every input that changes it)."""
    fields = [source, hypothesis, reference, model, revision or "", version]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode("utf-8")).hexdigest()


def _rows(shard: Path) -> list[str]:
    return split_lines(shard.read_text(encoding="utf-8"))


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
                rows = _rows(shard)
            except FileNotFoundError:  # removed by a concurrent `compact`: a miss, not an error
                continue
            for line in rows:
                key, _, value = line.partition("\t")
                if key in wanted:
                    found[key] = float(value)
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
            for line in _rows(shard):
                key, _, value = line.partition("\t")
                merged[key] = float(value)
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
    entries = sum(len(_rows(shard)) for shard in shards)
    print(f"{cache.directory}: {len(shards)} shards, {entries} segment scores")
    return 0


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.score.comet_cache")
