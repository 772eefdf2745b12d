"""Released answers and released reviews, fetched (pinned, cached, mirrored, offline-aware:
``bayling_pipeline.download.fetch``) and normalized to this stage's formats.

* Answers (``fetch_answers``): BayLing's ``exp/general_tasks/<system>/res.bayling-80.
  multiturn.<lang>.jsonl`` lines ``{"question_id", "text": [turns], "category", "response":
  [answers]}`` become answer records ``{"id", "turns", "answers", "category"}``, like the
  decode stage's ``dialogues.jsonl``.
* Reviews (``fetch_reviews``): ``exp/general_tasks/GPT4-REVIEW/<system>.vs.<opponent>.
  <turns>turn.<lang>.jsonl`` lines ``{"question_id", "question", "category", "system1":
  {"name", "response"}, "system2": ..., "review": [texts], "score": [s1, s2], "result"}``
  become review records (``bayling_pipeline.judge.records``). The released reviews show
  BayLing as Assistant 1 only (one order), and their texts are parsed like any judge's: the
  released ``score`` and ``result`` fields are only compared with the parse, and every
  disagreement is counted in the metadata.
"""

from __future__ import annotations

import logging

from bayling_pipeline.download import fetch
from bayling_pipeline.io import read_jsonl, write_json, write_jsonl
from bayling_pipeline.judge.plan import parse_setting
from bayling_pipeline.judge.records import SYSTEM_FIRST, read_answers, review_record

log = logging.getLogger(__name__)

RESULTS = {"WIN": "win", "TIE": "tie", "LOSS": "loss"}


def _as_list(value) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def fetch_answers(spec: dict, lang: str, output_path, manifest_path) -> dict:
    """Fetch one language's released answers (``spec``: url template with ``{lang}``,
    sha256 {lang: digest}); write answer records and a manifest (returned)."""
    url = spec["url"].format(lang=lang)
    sha256 = (spec.get("sha256") or {}).get(lang)
    path = fetch.fetch(url, sha256)
    records = []
    for number, row in enumerate(read_jsonl(path), start=1):
        if "turns" in row and "answers" in row:  # already in this project's format
            records.append(row)
            continue
        if not {"question_id", "text", "response"} <= set(row):
            raise ValueError(f"{url}:{number}: neither BayLing's answer format nor ours")
        extra = {k: v for k, v in row.items() if k not in ("question_id", "text", "response")}
        turns, answers = _as_list(row["text"]), _as_list(row["response"])
        records.append({**extra, "id": row["question_id"], "turns": turns, "answers": answers})
    write_jsonl(output_path, records)
    manifest = {**fetch.provenance(url, sha256, path), "label": spec.get("label"), "lang": lang}
    manifest["items"] = len(records)
    write_json(manifest_path, manifest)
    log.info("%s: %d answer records", url, len(records))
    return manifest


def _released_record(row: dict, system: str, opponent: str, setting: str) -> dict:
    """A review record from one released review line (BayLing as Assistant 1)."""
    item = {
        "id": row["question_id"],
        "category": row.get("category"),
        "setting": setting,
        "turns": _as_list(row["question"]),
        "system": system,
        "opponent": opponent,
        "answers": {
            "system": _as_list(row["system1"]["response"]),
            "opponent": _as_list(row["system2"]["response"]),
        },
        "released": {k: row.get(k) for k in ("score", "result")}
        | {"names": [row["system1"].get("name"), row["system2"].get("name")]},
    }
    return review_record(item, [(SYSTEM_FIRST, text) for text in _as_list(row["review"])])


def _disagreements(records: list[dict]) -> dict:
    """How often the released score/result fields disagree with the parsed reviews."""
    scores = results = 0
    for record in records:
        released = record["released"]
        if [float(s) for s in released.get("score") or []] != (record["scores"] or []):
            scores += 1
        if RESULTS.get(released.get("result")) != record["verdict"]:
            results += 1
    return {"score_field": scores, "result_field": results}


def _answers_match(records: list[dict], answer_paths: dict) -> dict:
    """Per side with a published answer file: items whose reviewed answers are exactly the
    released answers to the same turns (the reviews judged what was released)."""
    matches = {}
    for side, path in answer_paths.items():
        released = read_answers(path)
        same = 0
        for record in records:
            answers = released.get(str(record["id"]), {}).get("answers", [])
            same += answers[: len(record["turns"])] == record["answers"][side]
        matches[side] = same
    return matches


def fetch_reviews(
    spec: dict,
    setting: str,
    output_path,
    meta_path,
    *,
    names: dict,
    answer_paths: dict | None = None,
) -> dict:
    """Fetch one setting's released reviews (``spec``: url template with ``{turns}``
    (single/multi) and ``{lang}``, sha256 {setting: digest}); write review records and a
    metadata JSON (returned). ``answer_paths`` ({"system"|"opponent": answer file}) are
    compared with the answers the reviews quote."""
    turns, lang = parse_setting(setting)
    url = spec["url"].format(turns=turns, lang=lang)
    sha256 = (spec.get("sha256") or {}).get(setting)
    path = fetch.fetch(url, sha256)
    records = [
        _released_record(row, names["system"], names["opponent"], setting)
        for row in read_jsonl(path)
    ]
    write_jsonl(output_path, records)
    reviews = [review for record in records for review in record["reviews"]]
    meta = {
        **names,
        **fetch.provenance(url, sha256, path),
        "setting": setting,
        "orders": [SYSTEM_FIRST],
        "items": len(records),
        "judged_items": sum(r["verdict"] is not None for r in records),
        "reviews": len(reviews),
        "unparseable_reviews": sum(review["scores"] is None for review in reviews),
        "released_fields_disagreeing": _disagreements(records),
        "answers_match_released": _answers_match(records, answer_paths or {}),
    }
    write_json(meta_path, meta)
    log.info("%s: %d items, %d unparseable reviews", url, len(records), meta["unparseable_reviews"])
    return meta
