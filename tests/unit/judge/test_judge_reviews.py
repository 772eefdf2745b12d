"""The review parser: every form of BayLing's released GPT-4 reviews, the forms judges add,
and garbage, which is counted unparseable (never guessed); the both-order combination.

    .venv/bin/python -m pytest -q tests/unit/judge/test_judge_reviews.py
"""

from __future__ import annotations

import json

import pytest
from conftest import SHARED_DATA

from bayling_pipeline.judge.records import OPPONENT_FIRST, SYSTEM_FIRST, review_record
from bayling_pipeline.judge.reviews import combine, parse_review, verdict

REVIEWS = SHARED_DATA / "bayling" / "exp" / "general_tasks" / "GPT4-REVIEW"
EVIDENCE = "Evaluation evidence: Both answers are relevant; the first is more detailed."


@pytest.mark.parametrize(
    "text,scores",
    [
        # the released forms (1,243 of 1,280 reviews end like the first)
        (f"{EVIDENCE}\n\nScore of the Assistant 1: 9\nScore of the Assistant 2: 7", (9, 7)),
        (f"{EVIDENCE}\n\nScore of Assistant 1: 9\nScore of Assistant 2: 6", (9, 6)),
        (f"{EVIDENCE}\nScore of the Assistant 1: 4\nScore of the Assistant 2: 10", (4, 10)),
        (f"{EVIDENCE}\n\nScore of the Assistant 1: 9\n\nScore of the Assistant 2: 7", (9, 7)),
        (f"{EVIDENCE}\nScore of the Assistant 1: 8.5\nScore of the Assistant 2: 7.5", (8.5, 7.5)),
        (
            "Evaluation Evidence: same.\nScore of the Assistant 1: 8\nScore of the Assistant 2: 9",
            (8, 9),
        ),
        (f"{EVIDENCE} \nScore of the Assistant 1: 1\nScore of the Assistant 2: 1", (1, 1)),
        # what other judges write
        ("**Score of the Assistant 1:** 8\n**Score of the Assistant 2:** 9", (8, 9)),
        ("Score of the Assistant 1**: 8\nScore of the Assistant 2**: 6", (8, 6)),
        ("score of the assistant 1 : 7/10\nscore of the assistant 2 : 5/10", (7, 5)),
        ("Score of the Assistant 1： 6\nScore of the Assistant 2： 10", (6, 10)),
        ("Score of the Assistant 2: 3\nScore of the Assistant 1: 8", (8, 3)),
        # the score line quoted again at the end, same value: still one score
        (
            "Score of the Assistant 1: 8\nScore of the Assistant 2: 7\nSo: Score of Assistant 1: 8",
            (8, 7),
        ),
        # FastChat's older reviewer format: a first line of two numbers
        ("8 9\nAssistant 2 is more detailed.", (8, 9)),
        ("7.5, 6\nBoth fine.", (7.5, 6)),
    ],
)
def test_review_forms_parse(text, scores):
    parsed = parse_review(text)
    assert parsed.ok and parsed.problem is None
    assert parsed.scores == scores


@pytest.mark.parametrize(
    "text,problem",
    [
        ("", "empty review"),
        (None, "empty review"),
        ("   \n", "empty review"),
        ("I cannot judge these answers.", "no 'Score of the Assistant 1/2"),
        ("[System]\nWe would like your feedback on how well", "no 'Score of the Assistant 1/2"),
        ("Score of the Assistant 1: 8", "no score for Assistant 2"),
        ("Score of the Assistant 2: 8", "no score for Assistant 1"),
        (
            "Score of the Assistant 1: 8\nScore of the Assistant 1: 6\nScore of the Assistant 2: 7",
            "several scores for Assistant 1: 6, 8",
        ),
        ("Score of the Assistant 1: 11\nScore of the Assistant 2: 7", "score 11 outside 1..10"),
        ("Score of the Assistant 1: 0\nScore of the Assistant 2: 7", "score 0 outside 1..10"),
        (
            "Score of the Assistant 1: eight\nScore of the Assistant 2: 7",
            "no score for Assistant 1",
        ),
        ("Assistant 1 is better: 9 vs 7.", "no 'Score of the Assistant 1/2"),
        ("8 9 10\nthree numbers", "no 'Score of the Assistant 1/2"),
    ],
)
def test_garbage_is_unparseable_never_guessed(text, problem):
    parsed = parse_review(text)
    assert not parsed.ok and parsed.scores is None
    assert problem in parsed.problem


@pytest.mark.skipif(not REVIEWS.is_dir(), reason="needs ../shared/data/bayling (released reviews)")
def test_every_released_review_parses_to_its_released_scores():
    """All 1,280 released reviews: the parse of the text equals the released score field,
    and the verdict its result field (WIN/TIE/LOSS)."""
    count = 0
    for path in sorted(REVIEWS.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            parsed = parse_review(row["review"][0])
            assert parsed.scores == tuple(float(s) for s in row["score"]), (path.name, row)
            assert verdict(*parsed.scores) == row["result"].lower()
            count += 1
    assert count == 16 * 80


@pytest.mark.parametrize(
    "first,second,scores,expected",
    [
        # the system is Assistant 1, then Assistant 2: means over both orders
        ((8, 6), (7, 9), (8.5, 6.5), "win"),
        ((8, 6), (9, 5), (6.5, 7.5), "loss"),
        ((7, 7), (7, 7), (7.0, 7.0), "tie"),
        ((9, 8), (9, 8), (8.5, 8.5), "tie"),  # position bias alone: cancelled
    ],
)
def test_both_orders_are_averaged(first, second, scores, expected):
    texts = [
        (
            SYSTEM_FIRST,
            f"Score of the Assistant 1: {first[0]}\nScore of the Assistant 2: {first[1]}",
        ),
        (
            OPPONENT_FIRST,
            f"Score of the Assistant 1: {second[0]}\nScore of the Assistant 2: {second[1]}",
        ),
    ]
    record = review_record({"id": 1}, texts)
    assert record["scores"] == list(scores) and record["verdict"] == expected
    assert [r["scores"] for r in record["reviews"]] == [list(first), list(second)]


def test_one_unparseable_order_leaves_the_item_unjudged():
    texts = [
        (SYSTEM_FIRST, "Score of the Assistant 1: 9\nScore of the Assistant 2: 2"),
        (OPPONENT_FIRST, "no scores at all"),
    ]
    record = review_record({"id": 7, "category": "math"}, texts)
    assert record["scores"] is None and record["verdict"] is None
    assert record["reviews"][1]["problem"].startswith("no 'Score of")
    assert record["reviews"][0]["scores"] == [9.0, 2.0]  # kept, but not used alone
    assert combine([], []) is None
