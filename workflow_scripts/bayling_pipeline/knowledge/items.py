"""Benchmark items and released answers, fetched and checked once per suite.

A suite's items file (``results/knowledge/items/<suite>.jsonl``) holds every item of every
subset in order, one JSON object a line: ``{"subset", "index", "record"}``, where
``record`` is the benchmark's own line as released (an AGIEval v1 question, an XCOPA
premise and its two alternatives, a Belebele passage and question), cut to ``max_items``
per subset. Every problem names the file and line. Standard library only: the data
environment has no orjson.
"""

from __future__ import annotations

import os

from bayling_pipeline import io
from bayling_pipeline.download.files import local_copy
from bayling_pipeline.io import DataError, write_json, write_jsonl

# the fields a record of each task needs (their meaning: the task's module)
TASK_FIELDS = {
    # the SAT lines have no "answer" field; cloze lines have null options
    "agieval": ("question", "options"),
    "xcopa": ("premise", "choice1", "choice2", "question", "label"),
    "belebele": (
        "flores_passage",
        "question",
        "mc_answer1",
        "mc_answer2",
        "mc_answer3",
        "mc_answer4",
        "correct_answer_num",
    ),
}


class BenchmarkFileError(DataError):
    """A benchmark or answer file that cannot be read as such."""


def read_records(path: str | os.PathLike, fields: tuple[str, ...]) -> list[dict]:
    """Every line of a JSON Lines file as an object with ``fields``; an empty line, invalid
    JSON or a missing field is an error naming ``path:line``."""
    return io.read_records(path, fields, BenchmarkFileError)


def prepare_suite(
    task: str, files: dict[str, dict], max_items: int | None, output: str, manifest: str
) -> dict:
    """Fetch (or read) every subset's file, check its records and write the suite's items
    file and a manifest (per subset: provenance, items kept of items released)."""
    rows, subsets = [], {}
    for subset, spec in files.items():
        path, provenance = local_copy(spec)
        records = read_records(path, TASK_FIELDS[task])
        kept = records[:max_items] if max_items else records
        rows += [{"subset": subset, "index": i, "record": r} for i, r in enumerate(kept)]
        subsets[subset] = {**provenance, "items": len(kept), "upstream_items": len(records)}
    write_jsonl(output, rows)
    record = {"task": task, "max_items": max_items, "items": len(rows), "subsets": subsets}
    write_json(manifest, record)
    return record


def read_items(path: str | os.PathLike) -> list[dict]:
    """A suite's items file, as written by :func:`prepare_suite`."""
    return read_records(path, ("subset", "index", "record"))


def by_subset(rows: list[dict]) -> dict[str, list[dict]]:
    """Rows grouped by subset, in file order."""
    grouped: dict[str, list[dict]] = {}
    for row in rows:
        grouped.setdefault(row["subset"], []).append(row)
    return grouped


def released_text(record: dict) -> str:
    """The generated text of one released answer line: ``text`` (BayLing's format) or an
    OpenAI chat completion's ``choices[0].message.content`` (the GPT-3.5-turbo files)."""
    if isinstance(record.get("text"), str):
        return record["text"]
    try:
        content = record["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        content = None
    if not isinstance(content, str):
        raise ValueError("neither a 'text' string nor choices[0].message.content")
    return content


def load_released(path: str | os.PathLike) -> list[str]:
    """The generated texts of a released ``predict.*.jsonl`` file, one per item in order;
    a bad line is a BenchmarkFileError naming the file and line."""
    texts = []
    for number, record in enumerate(read_records(path, ()), start=1):
        try:
            texts.append(released_text(record))
        except ValueError as error:
            raise BenchmarkFileError(f"{path}:{number}: {error}") from None
    return texts


def prepare_published(files: dict[str, dict], items_path: str, output: str, meta: str) -> dict:
    """Released answers of one system: per subset one generated answer a line in item
    order (BayLing's ``{"text"}``, or an OpenAI chat completion), checked against the
    suite's items (at least as many answers as items kept: a cut
    suite takes the first answers) and written in the answering jobs' format."""
    wanted = by_subset(read_items(items_path))
    rows, subsets = [], {}
    for subset, spec in files.items():
        path, provenance = local_copy(spec)
        texts = load_released(path)
        items = wanted.get(subset, [])
        if len(texts) < len(items):
            raise BenchmarkFileError(
                f"{path}: {len(texts)} answers for {len(items)} items of subset {subset!r}"
            )
        rows += [
            {"subset": subset, "index": item["index"], "text": text}
            for item, text in zip(items, texts, strict=False)
        ]
        subsets[subset] = {**provenance, "answers": len(items), "released": len(texts)}
    write_jsonl(output, rows)
    record = {"protocol": "generate", "published": True, "subsets": subsets}
    write_json(meta, record)
    return record
