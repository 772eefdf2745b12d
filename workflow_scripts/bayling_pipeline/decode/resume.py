"""Batch-level resume of a killed decoding job.

Every finished batch is appended to a partial file next to the output
(``.<name>.partial.jsonl``, with a fingerprint of model, adapter, prompts, settings, device
and dtype), so a killed job resumes at the first unfinished batch, and a job with other
settings or hardware starts the shard over; the file is removed once the output is
committed. :func:`bayling_pipeline.prompts.generation.generate` reads and appends it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from bayling_pipeline.io import split_lines, write_jsonl

log = logging.getLogger(__name__)


def partial_path(output: str | os.PathLike) -> Path:
    """The partial file of committed batches that belongs to ``output``."""
    output = Path(output)
    return output.with_name(f".{output.name}.partial.jsonl")


def fingerprint(
    model_dir, adapter_dir, prompts: list[list[int]], settings: dict, hardware: dict | None = None
) -> str:
    """What a partial file's batches were decoded from: the model and adapter files (name,
    size, mtime: a retrained adapter at the same path is a different model), the exact
    prompt ids, the generation settings and ``hardware`` (device and dtype: the same
    greedy search in bf16 and in fp32 can choose other tokens, so a shard resumed on other
    hardware starts over rather than mixing both)."""
    digest = hashlib.sha256()
    if hardware is not None:
        digest.update(json.dumps(hardware, sort_keys=True).encode())
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
            # split at "\n" only: a raw U+2028 inside a record is not a line end
            lines = split_lines(self.path.read_text(encoding="utf-8"))
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
