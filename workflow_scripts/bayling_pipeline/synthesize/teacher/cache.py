"""`CachedTeacher`: a teacher whose answers persist in an SQLite file, keyed by `cache_key`
over the `canonical_json` of (model id, generation settings, conversation, and the endpoint
of a served teacher: the same model name behind two servers may be two models)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

from bayling_pipeline.synthesize.teacher.base import (
    Conversation,
    Teacher,
    TeacherError,
    check_conversation,
)

log = logging.getLogger(__name__)


def canonical_json(obj) -> str:
    """Key-sorted, compact, UTF-8 JSON: the same object always gives the same bytes."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def cache_key(
    model_id: str, settings: dict, conversation: Conversation, endpoint: str | None = None
) -> str:
    """Hex SHA-256 of the canonical JSON of (model id, generation settings, conversation,
    and the endpoint when the teacher has one)."""
    payload = {"model_id": model_id, "settings": settings, "conversation": conversation}
    if endpoint is not None:  # keys of local teachers stay what they were
        payload["endpoint"] = endpoint
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


class CachedTeacher:
    """A teacher whose answers persist in an SQLite file, keyed by ``cache_key``.

    Only the conversations not yet cached go to the wrapped teacher, ``chunk_size`` at a
    time, and each chunk is committed before the next is asked, so a crash loses at most
    one chunk. Table ``replies(key, model_id, settings, conversation, reply, created)``
    holds everything needed to read the cache without this module; no secret goes in.
    """

    def __init__(self, teacher: Teacher, cache_path: str | os.PathLike, *, chunk_size: int = 64):
        self.teacher = teacher
        self.cache_path = Path(cache_path)
        self.chunk_size = chunk_size
        self.hits = self.misses = self.calls = self.malformed = 0
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        # Rollback journal, not WAL: WAL needs shared memory, which network file systems lack.
        self._db = sqlite3.connect(self.cache_path, timeout=60)
        with self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, model_id TEXT, "
                "settings TEXT, conversation TEXT, reply TEXT, created REAL)"
            )

    @property
    def model_id(self) -> str:
        return self.teacher.model_id

    @property
    def settings(self) -> dict:
        return getattr(self.teacher, "settings", {})

    def stats(self) -> dict:
        """Counts so far: answers from the cache, answers asked for, calls to the teacher,
        and (when there were any) cached rows skipped as malformed and asked again."""
        counts = {"hits": self.hits, "misses": self.misses, "calls": self.calls}
        if self.malformed:
            counts["malformed"] = self.malformed
        return counts

    def _lookup(self, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        unique = sorted(set(keys))
        for start in range(0, len(unique), 500):  # SQLite caps the number of parameters
            part = unique[start : start + 500]
            marks = ",".join("?" * len(part))
            query = f"SELECT key, reply FROM replies WHERE key IN ({marks})"
            for key, reply in self._db.execute(query, part).fetchall():
                if isinstance(reply, str):
                    found[key] = reply
                else:  # NULL or bytes (a hand-edited row): asked again, counted
                    self.malformed += 1
        if self.malformed:
            log.warning("%s: %d malformed cached replies skipped", self.cache_path, self.malformed)
        return found

    def complete(self, conversations: Sequence[Conversation]) -> list[str]:
        """Replies in order, from the cache where possible."""
        model_id, settings = self.model_id, self.settings
        convs = [check_conversation(c) for c in conversations]
        endpoint = getattr(self.teacher, "endpoint", None)
        keys = [cache_key(model_id, settings, c, endpoint) for c in convs]
        answers = self._lookup(keys)
        missing = {}  # key -> conversation, first occurrence; duplicates are asked once
        for key, conv in zip(keys, convs, strict=True):
            if key not in answers:
                missing.setdefault(key, conv)
        self.misses += len(missing)
        self.hits += len(keys) - len(missing)
        pending = list(missing.items())
        for start in range(0, len(pending), self.chunk_size):
            chunk = pending[start : start + self.chunk_size]
            self.calls += 1
            replies = self.teacher.complete([conv for _, conv in chunk])
            if len(replies) != len(chunk):
                raise TeacherError(f"{model_id} gave {len(replies)} replies to {len(chunk)}")
            rows = [
                (key, model_id, canonical_json(settings), canonical_json(conv), reply, time.time())
                for (key, conv), reply in zip(chunk, replies, strict=True)
            ]
            with self._db:  # one transaction per chunk
                self._db.executemany(
                    "INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?, ?, ?)", rows
                )
            answers.update((row[0], row[4]) for row in rows)
        return [answers[key] for key in keys]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> CachedTeacher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
