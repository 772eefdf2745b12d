"""Small file helpers shared by every stage: atomic writes, JSON Lines and segment files.

A rule's output must never exist half-written: everything is written to a temporary
sibling and renamed into place only once complete (rename is atomic on one file system).

Segment files (sources, references, hypotheses, local corpora) are read by one function,
``read_lines``, in every stage, so that download, decoding and scoring always count the
same segments: strict UTF-8 (a fault names the line and byte), a leading BOM dropped, and
only ``\\n`` separating segments (``split_lines``). Characters that other tools take for
line breaks (form feed, U+2028, ...) stay inside their segment, counted in the log; a NUL
byte or a line over ``MAX_LINE_BYTES`` is an error naming the file and line.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from bayling_pipeline import durable
from bayling_pipeline.cli import UserError

log = logging.getLogger(__name__)

# One segment, or one JSON Lines record, longer than this is a file-format accident (a
# file without newlines, a binary file), not data: refused with the file and line.
MAX_LINE_BYTES = 1_000_000
# What str.splitlines(), editors and universal-newline readers also take for a line break.
# Only "\n" separates segments here (as in sacreBLEU): these stay inside their segment,
# counted in the log, except a lone "\r", which becomes a space (write_lines refuses it).
OTHER_LINE_BREAKS = {
    "\r": "carriage return",
    "\x0b": "vertical tab",
    "\x0c": "form feed",
    "\x1c": "U+001C",
    "\x1d": "U+001D",
    "\x1e": "U+001E",
    "\x85": "U+0085 next line",
    "\u2028": "U+2028 line separator",
    "\u2029": "U+2029 paragraph separator",
}
_OTHER_LINE_BREAKS = re.compile("[" + "".join(OTHER_LINE_BREAKS) + "]")


class DataError(UserError):
    """An input file that cannot be used as it is; the message names the file and line."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` if the block succeeds.

    Works for files and directories alike: the caller creates whatever it likes at the
    yielded path. On an exception the temporary is removed and ``path`` is left untouched.
    The temporary is flushed to disk before the rename (``durable.commit``).
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    tmp.rmdir()  # the caller decides whether it becomes a file or a directory
    try:
        yield tmp
        durable.commit(tmp, final)  # flushed before the rename: a crash never tears it
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
    """The value of a JSON file; DataError naming the file, line and column when malformed."""
    text = decode_utf8(Path(path).read_bytes(), path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(
            f"{path}: line {error.lineno}, column {error.colno}: not valid JSON ({error.msg})"
        ) from None


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
            if len(line) > MAX_LINE_BYTES:
                raise DataError(f"{path}:{number}: {_too_long(len(line))}")
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as error:
                raise DataError(f"{path}:{number}: not valid JSON: {_why(line, error)}") from None
            if b"\\u0000" in line and _holds_nul(record):
                raise DataError(f"{path}:{number}: a text holds a NUL character (\\u0000)")
            yield record


def _why(line: bytes, error: Exception) -> str:
    """orjson's reason, or where the line stops being UTF-8 when that is the reason."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as bad:
        return (
            f"invalid UTF-8 at byte {bad.start + 1} of the line ({line[bad.start : bad.end]!r}); "
            "save the file as UTF-8"
        )
    return str(error)


def _holds_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        value = list(value.values())
    return isinstance(value, list) and any(_holds_nul(item) for item in value)


def _too_long(size: int) -> str:
    return (
        f"line of {size:,} bytes, over the limit of {MAX_LINE_BYTES:,}: is the file missing its "
        "line breaks, or not a text file?"
    )


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


def decode_utf8(data: bytes, name: str | os.PathLike) -> str:
    """``data`` as strict UTF-8, a leading BOM dropped; DataError naming ``name``, the line
    and the byte offset of the first invalid byte."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        bad = data[error.start : error.end]
        hint = (
            "it looks like UTF-16: save it as UTF-8"
            if data[:2] in (b"\xff\xfe", b"\xfe\xff")
            else "save it as UTF-8 (e.g. iconv -f latin1 -t utf-8 FILE)"
        )
        raise DataError(
            f"{name}: line {line} is not valid UTF-8 (at byte offset {error.start}, byte "
            f"{column} of the line: {error.reason}, bytes {bad!r}); {hint}"
        ) from None
    return text.removeprefix("\ufeff")


def split_lines(text: str) -> list[str]:
    """The one way text is cut into lines in this project: only ``\\n`` separates them, a
    final ``\\n`` ends the last line (it does not start an empty one) and a ``\\r`` before a
    ``\\n`` is dropped. Unlike ``str.splitlines()``, a form feed or U+2028 inside a line
    does not start a new one (see ``OTHER_LINE_BREAKS``)."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def segments(text: str, name: str | os.PathLike) -> list[str]:
    """The segments of a one-segment-per-line text (``split_lines``), checked: DataError
    naming ``name`` and the line for a NUL character or a line over ``MAX_LINE_BYTES``;
    other line-break characters stay in their segment (a lone ``\\r`` becomes a space),
    counted in a warning."""
    lines = split_lines(text)
    if "\x00" in text:
        number = next(n for n, line in enumerate(lines, 1) if "\x00" in line)
        raise DataError(
            f"{name}: line {number} holds a NUL byte: a binary or UTF-16 file? Give UTF-8 text"
        )
    if len(text) > MAX_LINE_BYTES // 4:
        for number, line in enumerate(lines, 1):
            if len(line) > MAX_LINE_BYTES // 4 and len(line.encode()) > MAX_LINE_BYTES:
                raise DataError(f"{name}: line {number}: {_too_long(len(line.encode()))}")
    if _OTHER_LINE_BREAKS.search(text):
        lines = _keep_other_breaks(lines, name)
    return lines


def _keep_other_breaks(lines: list[str], name) -> list[str]:
    counts: collections.Counter = collections.Counter()
    first, kept = None, []
    for number, line in enumerate(lines, 1):
        found = _OTHER_LINE_BREAKS.findall(line)
        if found:
            counts.update(found)
            first = first or number
            line = line.replace("\r", " ")
        kept.append(line)
    if not counts:  # only the "\r" of "\r\n" line ends
        return kept
    listing = ", ".join(f"{OTHER_LINE_BREAKS[c]} x{n}" for c, n in sorted(counts.items()))
    spaced = "; each lone carriage return became a space" if "\r" in counts else ""
    log.warning(
        "%s: %s (first on line %d): kept inside their segments, since only \\n separates "
        "segments%s",
        name, listing, first, spaced,
    )  # fmt: skip
    return kept


def read_lines(path: str | os.PathLike) -> list[str]:
    """The segments of a one-segment-per-line UTF-8 file: the same reading in every stage
    (``decode_utf8``, then ``segments``)."""
    return segments(decode_utf8(Path(path).read_bytes(), path), path)


def read_records(
    path: str | os.PathLike, fields: tuple[str, ...], error: type[DataError] = DataError
) -> list[dict]:
    """Every line of a JSON Lines file that must stay aligned line by line with another
    (a set and its outputs, items and their answers) as an object with ``fields``; an empty
    line, invalid JSON, a non-object or a missing field raises ``error`` naming
    ``path:line``. Standard library only (the scoring environment has no orjson)."""
    import json

    records = []
    lines = split_lines(decode_utf8(Path(path).read_bytes(), path))
    for number, line in enumerate(lines, start=1):
        where = f"{path}:{number}"
        if not line.strip():
            # a blank line would shift every later record against its counterpart
            raise error(f"{where}: empty line")
        try:
            record = json.loads(line)
        except json.JSONDecodeError as problem:
            raise error(f"{where}: not valid JSON: {problem}") from problem
        if not isinstance(record, dict):
            raise error(f"{where}: not a JSON object")
        missing = [field for field in fields if field not in record]
        if missing:
            raise error(
                f"{where}: no {', '.join(map(repr, missing))} field "
                f"(a line needs {', '.join(fields)})"
            )
        records.append(record)
    return records


# --- the index of a pooled job (evaluation.pool_directions): one small file that stands in
# the DAG for a job's many per-direction outputs (Snakemake resolves one input, not
# hundreds), listing them for whoever reads them all (the report)


def write_index(path: str | os.PathLike, files: Iterable[str | os.PathLike]) -> None:
    """Write, last of a job's outputs, the index of the files it made."""
    write_json(path, {"files": [str(f) for f in files]})


def indexed_files(paths: Iterable[str | os.PathLike]) -> list[str]:
    """``paths`` with every pooled index (``*pooled.json``) replaced by the files it lists."""
    files = []
    for path in map(str, paths):
        files += read_json(path)["files"] if path.endswith("pooled.json") else [path]
    return files
