"""Instruction data by URL (rule ``download_instructions``), stored as JSON Lines for the
synthesis stage's ``general`` family (``bayling_pipeline.synthesize.general``).

Instruction sets are published as JSON Lines (Alpaca's seed tasks) or as one JSON array
(Alpaca's ``alpaca_data.json``, ShareGPT dumps); both become
``resources/instructions/<name>.jsonl``, one record a line, records unchanged. The file is
pinned by its sha256 (null: the lock file records the first download's digest) and
fetched through ``bayling_pipeline.download.fetch`` (mirrors, cache, offline mode).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from bayling_pipeline.download import fetch
from bayling_pipeline.io import write_json, write_text


def parse_records(text: str, where: str) -> list[dict]:
    """The records of a JSON array or of JSON Lines; ValueError naming ``where`` and the
    line of the first one that is not a JSON object."""
    stripped = text.lstrip("\ufeff").lstrip()
    if stripped.startswith("["):
        try:
            records = json.loads(stripped)
        except json.JSONDecodeError as error:
            raise ValueError(f"{where}:{error.lineno}: not valid JSON ({error.msg})") from None
        numbered = list(enumerate(records, start=1))
        what = "record"
    else:
        numbered = []
        for number, line in enumerate(stripped.split("\n"), start=1):
            if line.strip():
                try:
                    numbered.append((number, json.loads(line)))
                except json.JSONDecodeError as error:
                    raise ValueError(f"{where}:{number}: not valid JSON ({error.msg})") from None
        what = "line"
    for number, record in numbered:
        if not isinstance(record, dict):
            raise ValueError(f"{where}: {what} {number} is not a JSON object")
    if not numbered:
        raise ValueError(f"{where}: no records")
    return [record for _, record in numbered]


def fetch_instructions(spec: dict, out: str | os.PathLike, manifest: str | os.PathLike) -> int:
    """Fetch ``spec["url"]`` (pinned by ``spec["sha256"]``), write its records to ``out``
    as JSON Lines and a manifest beside it; return the number of records."""
    path = fetch.fetch(spec["url"], spec.get("sha256"))
    records = parse_records(path.read_text(encoding="utf-8"), spec["url"])
    lines = [json.dumps(record, ensure_ascii=False, sort_keys=True) for record in records]
    write_text(out, "\n".join(lines) + "\n")
    provenance = fetch.provenance(spec["url"], spec.get("sha256"), Path(path))
    write_json(manifest, {**provenance, "records": len(records)})
    return len(records)
