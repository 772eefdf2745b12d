"""The files the stage reads and writes: answer files, and review records (one line per item).

An *answer file* holds one dialogue per line, ``{"id", "turns": [user turns], "answers":
[one per turn], "category", ...}``: what the decode stage writes (``dialogues.jsonl``) and
what published answers are normalized to. A *review record* is one item of one setting,
judged by one source, in one format for released and new judgments alike::

    {"id": 1, "category": "generic", "setting": "singleturn.en", "turns": [...],
     "system": "bayling-13b", "opponent": "gpt-3.5-turbo",
     "answers": {"system": [...], "opponent": [...]},
     "reviews": [{"order": "system-first", "text": "...", "scores": [9.0, 7.0],
                  "problem": null}, ...],
     "scores": [9.0, 7.0], "verdict": "win"}

``reviews[*].scores`` are as the judge gave them (Assistant 1, Assistant 2); the item's
``scores`` are (system, opponent), the mean over both orders; null with verdict null when
a review did not parse (counted in the report, never guessed).
"""

from __future__ import annotations

from bayling_pipeline.io import read_jsonl
from bayling_pipeline.judge.reviews import Parsed, combine, parse_review, verdict

SYSTEM_FIRST, OPPONENT_FIRST = "system-first", "opponent-first"


def read_answers(path) -> dict[str, dict]:
    """An answer file by item id (as text: BayLing's ids are numbers, ours may be strings)."""
    answers = {}
    for number, record in enumerate(read_jsonl(path), start=1):
        if not isinstance(record.get("answers"), list) or not isinstance(record.get("turns"), list):
            raise ValueError(f"{path}:{number}: not an answer record (needs turns and answers)")
        answers[str(record["id"])] = record
    return answers


def answers_for(answers: dict[str, dict], item_id, turns: list[str], where: str) -> list[str]:
    """The answers to ``turns`` of item ``item_id``; an error when the file lacks the item,
    asked other questions, or answered fewer turns."""
    record = answers.get(str(item_id))
    if record is None:
        raise ValueError(f"{where}: no answers to item {item_id}")
    if [t.strip() for t in record["turns"][: len(turns)]] != [t.strip() for t in turns]:
        raise ValueError(f"{where}: item {item_id} answers other questions than the test set's")
    if len(record["answers"]) < len(turns):
        raise ValueError(f"{where}: item {item_id} has {len(record['answers'])} answers")
    return [str(a) for a in record["answers"][: len(turns)]]


def review_entry(order: str, text: str) -> tuple[dict, Parsed]:
    parsed = parse_review(text)
    entry = {
        "order": order,
        "text": text,
        "scores": list(parsed.scores) if parsed.ok else None,
        "problem": parsed.problem,
    }
    return entry, parsed


def review_record(item: dict, reviews: list[tuple[str, str]]) -> dict:
    """A review record from the item fields and its (order, review text) pairs."""
    entries, parsed = zip(*(review_entry(order, text) for order, text in reviews), strict=True)
    scores = combine(list(parsed), [order == SYSTEM_FIRST for order, _ in reviews])
    return {
        **item,
        "reviews": list(entries),
        "scores": list(scores) if scores else None,
        "verdict": verdict(*scores) if scores else None,
    }
