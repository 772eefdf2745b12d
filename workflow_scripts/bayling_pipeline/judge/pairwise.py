"""Judge two systems' answers to a dialogue set pairwise, in both orders, with a model behind
an OpenAI-compatible endpoint: one setting (``singleturn.en``, ...) per job.

Run by the rule ``judge_pairwise``; by hand (the key stays in the environment variable the
spec names)::

    python -m bayling_pipeline.judge pairwise --spec judge.json \\
        --cache resources/judge-cache/gpt-4o.sqlite --setting singleturn.en \\
        --dialogues resources/dialogues/bayling80-en.jsonl \\
        --system results/decode/bayling-smollm2/bayling80-en/dialogues.jsonl \\
        --opponent resources/judging/answers/gpt-3.5-turbo/en.jsonl \\
        --output reviews.jsonl --meta reviews.meta.json

The judge is the teacher client of the synthesis stage (``bayling_pipeline.synthesize.
teacher``: rate limit, retries, key read from the environment at each request and never
stored), wrapped in its SQLite cache keyed by judge model and endpoint, generation
settings and the whole prompt (which holds the question and both answers), so a rerun
asks nothing twice. Every item is shown twice, the system as Assistant 1 and then as
Assistant 2; its scores are the means over both orders, which cancels the judge's
position bias (FairEval's balanced position calibration).
"""

from __future__ import annotations

import logging
import time

from bayling_pipeline.decode.dialogues import read_dialogues
from bayling_pipeline.io import write_json, write_jsonl
from bayling_pipeline.judge.plan import parse_setting
from bayling_pipeline.judge.prompts import PROMPT_ID, conversation
from bayling_pipeline.judge.records import (
    OPPONENT_FIRST,
    SYSTEM_FIRST,
    answers_for,
    read_answers,
    review_record,
)

log = logging.getLogger(__name__)


def judging_items(dialogues_path, system_path, opponent_path, turns: str, max_items=None):
    """(item fields, system answers, opponent answers) for the first ``max_items`` dialogues
    of the test set; single-turn items keep the first user turn only."""
    dialogues = read_dialogues(dialogues_path)[:max_items]
    mine, theirs = read_answers(system_path), read_answers(opponent_path)
    items = []
    for dialogue in dialogues:
        asked = dialogue.turns[:1] if turns == "single" else dialogue.turns
        ours = answers_for(mine, dialogue.id, asked, str(system_path))
        other = answers_for(theirs, dialogue.id, asked, str(opponent_path))
        fields = {"id": dialogue.id, "category": dialogue.extra.get("category"), "turns": asked}
        items.append((fields, ours, other))
    return items


def judge_items(teacher, items, orders=(SYSTEM_FIRST, OPPONENT_FIRST)) -> list[dict]:
    """Review records of ``items`` with one review per order, asked in one batch."""
    conversations = []
    for fields, ours, other in items:
        for order in orders:
            first, second = (ours, other) if order == SYSTEM_FIRST else (other, ours)
            conversations.append(conversation(fields["turns"], first, second))
    replies = iter(teacher.complete(conversations))
    return [
        review_record(
            {**fields, "answers": {"system": ours, "opponent": other}},
            [(order, next(replies)) for order in orders],
        )
        for fields, ours, other in items
    ]


def judge_setting(
    spec: dict,
    cache_path,
    setting: str,
    dialogues_path,
    system_path,
    opponent_path,
    output_path,
    meta_path,
    *,
    names: dict | None = None,
    max_items: int | None = None,
    both_orders: bool = True,
) -> dict:
    """Judge one setting; write the review records and a metadata JSON (returned)."""
    from bayling_pipeline.synthesize.teacher import CachedTeacher, build_teacher

    turns, _ = parse_setting(setting)
    names = names or {}
    items = judging_items(dialogues_path, system_path, opponent_path, turns, max_items)
    orders = (SYSTEM_FIRST, OPPONENT_FIRST) if both_orders else (SYSTEM_FIRST,)
    teacher = build_teacher(spec, cache_path=cache_path)
    started = time.time()
    try:
        records = judge_items(teacher, items, orders)
        stats = teacher.stats() if isinstance(teacher, CachedTeacher) else {}
    finally:
        if isinstance(teacher, CachedTeacher):
            teacher.close()
    pair = {"system": names.get("system"), "opponent": names.get("opponent")}
    write_jsonl(output_path, ({**r, **pair, "setting": setting} for r in records))
    reviews = [review for record in records for review in record["reviews"]]
    meta = {
        **names,
        "setting": setting,
        "model_id": teacher.model_id,
        "generation": teacher.settings,
        "prompt": PROMPT_ID,
        "orders": list(orders),
        "items": len(records),
        "judged_items": sum(r["verdict"] is not None for r in records),
        "reviews": len(reviews),
        "unparseable_reviews": sum(review["scores"] is None for review in reviews),
        "cache": stats,
        "seconds": round(time.time() - started, 3),
    }
    write_json(meta_path, meta)
    log.info(
        "%s: %d items, %d reviews (%d unparseable), cache %s",
        setting,
        meta["items"],
        meta["reviews"],
        meta["unparseable_reviews"],
        stats,
    )
    return meta
