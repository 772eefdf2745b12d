"""Small file helpers shared by every stage: atomic writes and JSON Lines.

A rule's output must never exist half-written: everything is written to a temporary
sibling and renamed into place only once complete (rename is atomic on one file system).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` if the block succeeds.

    Works for files and directories alike: the caller creates whatever it likes at the
    yielded path. On an exception the temporary is removed and ``path`` is left untouched.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    tmp.rmdir()  # the caller decides whether it becomes a file or a directory
    try:
        yield tmp
        if final.is_dir() and not final.is_symlink():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 text atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, obj) -> None:
    """Write pretty, key-sorted JSON atomically (stable bytes for stable inputs)."""
    write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def write_jsonl(path: str | os.PathLike, records: Iterable[dict]) -> int:
    """Write one compact JSON object per line, atomically; return the number of lines."""
    count = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    return count


def read_jsonl(path: str | os.PathLike) -> Iterator[dict]:
    """Stream the objects of a JSON Lines file (UTF-8); a bad line names the file and line
    number. Parsed by orjson, several times faster than json on corpus-sized files."""
    import orjson  # here, not at the top: the scoring env imports this module, reads no JSONL

    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError as error:  # invalid UTF-8 too
                raise ValueError(f"{path}:{number}: not valid JSON: {error}") from error


def write_lines(path: str | os.PathLike, lines: Iterable[str]) -> int:
    """Write one segment per line atomically; a segment may not contain a newline."""
    count = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        for line in lines:
            if "\n" in line or "\r" in line:
                raise ValueError(f"{path}: segment {count + 1} contains a line break")
            handle.write(line + "\n")
            count += 1
    return count


def read_lines(path: str | os.PathLike) -> list[str]:
    """Read a one-segment-per-line text file (without the line ends)."""
    with open(path, encoding="utf-8") as handle:
        return handle.read().splitlines()
