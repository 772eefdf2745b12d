"""From review records to the paper's numbers: wins, ties and losses, score sums, the score
ratio to the opponent (BayLing's "89% of GPT-3.5-turbo" is its mean over the four
settings), and the mean score per category (the radar charts).

``collect`` returns one long table (a list of row dicts) with the provenance of every row:
source and judge, both systems and their printed labels, the setting, the orders shown,
the prompt id or the released file's URL and digest.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

from bayling_pipeline.io import read_json, read_jsonl
from bayling_pipeline.judge.plan import parse_setting

COLUMNS = (
    "source", "judge", "system", "system_label", "opponent", "opponent_label", "setting",
    "turns", "lang", "dialogue_set", "category", "metric", "value", "orders", "provenance",
)  # fmt: skip
UNCATEGORIZED = "uncategorized"


def summarize(records: list[dict]) -> dict:
    """Counts and score sums of one setting's review records (items without a verdict, for
    an unparseable review, count as unjudged and add to no sum)."""
    judged = [r for r in records if r["verdict"] is not None]
    verdicts = [r["verdict"] for r in judged]
    mine = sum(r["scores"][0] for r in judged)
    theirs = sum(r["scores"][1] for r in judged)
    return {
        "items": len(records),
        "judged": len(judged),
        "reviews": sum(len(r["reviews"]) for r in records),
        "unparseable_reviews": sum(v["scores"] is None for r in records for v in r["reviews"]),
        "wins": verdicts.count("win"),
        "ties": verdicts.count("tie"),
        "losses": verdicts.count("loss"),
        "score_sum_system": mine,
        "score_sum_opponent": theirs,
        "score_ratio": mine / theirs if theirs else None,
    }


def category_means(records: list[dict]) -> dict[str, tuple[float, float, int]]:
    """{category: (system's mean score, opponent's mean score, judged items)}, in order of
    first appearance."""
    scores: dict[str, list] = defaultdict(list)
    for record in records:
        bucket = scores[record.get("category") or UNCATEGORIZED]  # created in item order
        if record["verdict"] is not None:
            bucket.append(record["scores"])
    return {
        category: (
            statistics.fmean(s[0] for s in pairs) if pairs else None,
            statistics.fmean(s[1] for s in pairs) if pairs else None,
            len(pairs),
        )
        for category, pairs in scores.items()
    }


def _provenance(meta: dict) -> str:
    if "url" in meta:
        return f"{meta['url']} sha256:{meta['sha256']}"
    return f"{meta['model_id']} prompt:{meta['prompt']} {meta.get('generation', {})}"


def _base(meta: dict) -> dict:
    turns, lang = parse_setting(meta["setting"])
    return {
        "source": meta["source"],
        "judge": meta["judge_label"],
        "system": meta["system"],
        "system_label": meta["system_label"],
        "opponent": meta["opponent"],
        "opponent_label": meta["opponent_label"],
        "setting": meta["setting"],
        "turns": turns,
        "lang": lang,
        "dialogue_set": meta.get("dialogue_set"),
        "orders": "+".join(meta["orders"]),
        "provenance": _provenance(meta),
    }


def released_checks(meta: dict) -> dict:
    """Released reviews only: how often their score/result fields disagree with the parsed
    texts, and on how many items each side's quoted answers are the released answers."""
    checks = {
        f"released_{field}_disagreeing": count
        for field, count in meta.get("released_fields_disagreeing", {}).items()
    }
    for side, count in meta.get("answers_match_released", {}).items():
        checks[f"answers_as_released_{side}"] = count
    return checks


def setting_rows(meta: dict, records: list[dict]) -> list[dict]:
    """The long-table rows of one reviews file: its summary, then its category means."""
    base = _base(meta)
    summary = summarize(records) | released_checks(meta)
    rows = [
        {**base, "category": "all", "metric": metric, "value": value}
        for metric, value in summary.items()
    ]
    for category, (mine, theirs, judged) in category_means(records).items():
        for metric, value in (("mean_system", mine), ("mean_opponent", theirs), ("judged", judged)):
            rows.append({**base, "category": category, "metric": metric, "value": value})
    return rows


def mean_ratio_rows(rows: list[dict]) -> list[dict]:
    """Per (source, system, opponent): the mean score ratio over its settings."""
    ratios: dict[tuple, list] = defaultdict(list)
    first: dict[tuple, dict] = {}
    for row in rows:
        if row["metric"] == "score_ratio" and row["value"] is not None:
            key = (row["source"], row["system"], row["opponent"])
            ratios[key].append(row["value"])
            first.setdefault(key, row)
    return [
        {
            **first[key],
            "setting": "mean",
            "turns": "all",
            "lang": "all",
            "dialogue_set": None,
            "metric": "score_ratio_mean",
            "value": statistics.fmean(values),
        }
        for key, values in ratios.items()
    ]


def meta_path(reviews_path) -> Path:
    """``x.reviews.jsonl`` -> ``x.meta.json``."""
    path = Path(reviews_path)
    return path.with_name(path.name.removesuffix(".reviews.jsonl") + ".meta.json")


def collect(review_paths) -> list[dict]:
    """Every row of the long table, for review files that have their meta beside them."""
    rows = []
    for path in review_paths:
        rows += setting_rows(read_json(meta_path(path)), list(read_jsonl(path)))
    return rows + mean_ratio_rows(rows)
