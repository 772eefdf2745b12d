"""One judging job: the judge prompt, the items it reads, and the job itself against the real
SmolLM2 behind the loopback OpenAI-compatible server (both orders, the cache, the key).

    .venv/bin/python -m pytest -q tests/unit/judge/test_judge_pairwise.py
"""

from __future__ import annotations

import json
import sqlite3

import pytest
from conftest import SHARED_DATA

from bayling_pipeline.io import read_json, read_jsonl, write_jsonl
from bayling_pipeline.judge.pairwise import judge_setting, judging_items
from bayling_pipeline.judge.prompts import PROMPT_ID, conversation

BAYLING = SHARED_DATA / "bayling"
needs_data = pytest.mark.skipif(not BAYLING.is_dir(), reason="needs ../shared/data/bayling")


def test_single_turn_prompt_shows_both_answers_in_order():
    messages = conversation(["What is 2+2?"], ["four"], ["5"])
    assert [m["role"] for m in messages] == ["system", "user"]
    user = messages[1]["content"]
    assert user.startswith(
        "[Question]\nWhat is 2+2?\n\n[The Start of Assistant 1's Answer]\nfour\n"
    )
    assert user.index("four") < user.index("[The Start of Assistant 2's Answer]\n5\n")
    # the output format of BayLing's released reviews
    assert "Evaluation evidence: <your explanation>\nScore of the Assistant 1: <score>\n" in user


def test_multi_turn_prompt_shows_each_conversation():
    turns, mine, theirs = ["Hi?", "And then?"], ["a1", "a2"], ["b1", "b2"]
    user = conversation(turns, mine, theirs)[1]["content"]
    first = user[: user.index("[The End of the Conversation with Assistant 1]")]
    assert "User (turn 2):\nAnd then?\n\nAssistant 1 (turn 2):\na2" in first
    assert "b1" not in first and "Assistant 2 (turn 2):\nb2" in user
    assert "follows up" in user


def _answers(path, records):
    write_jsonl(path, records)
    return path


def test_judging_items_refuse_answers_to_other_questions(tmp_path):
    dialogues = _answers(tmp_path / "d.jsonl", [{"id": 1, "turns": ["q1", "q2"], "category": "c"}])
    good = _answers(tmp_path / "a.jsonl", [{"id": 1, "turns": ["q1", "q2"], "answers": ["x", "y"]}])
    items = judging_items(dialogues, good, good, "single")
    assert items == [({"id": 1, "category": "c", "turns": ["q1"]}, ["x"], ["x"])]
    assert judging_items(dialogues, good, good, "multi")[0][1] == ["x", "y"]
    other = _answers(tmp_path / "o.jsonl", [{"id": 1, "turns": ["q9"], "answers": ["x"]}])
    with pytest.raises(ValueError, match="answers other questions"):
        judging_items(dialogues, good, other, "single")
    short = _answers(tmp_path / "s.jsonl", [{"id": 1, "turns": ["q1", "q2"], "answers": ["x"]}])
    with pytest.raises(ValueError, match="has 1 answers"):
        judging_items(dialogues, short, good, "multi")
    with pytest.raises(ValueError, match="no answers to item 1"):
        judging_items(dialogues, good, _answers(tmp_path / "e.jsonl", []), "single")


def _released_answers(tmp_path, system: str, ids) -> str:
    """Released BayLing-80 answers (English) of ``system`` as answer records."""
    path = BAYLING / f"exp/general_tasks/{system}/res.bayling-80.multiturn.en.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    records = [
        {"id": r["question_id"], "turns": r["text"], "answers": r["response"]}
        for r in rows
        if r["question_id"] in ids
    ]
    return _answers(tmp_path / f"{system}.jsonl", records)


@needs_data
def test_judge_job_against_the_local_smollm2(tmp_path, smollm2_dir, monkeypatch):
    """Two items, both orders: four requests carrying the key; the rerun is served by the
    cache; the key is in no output, metadata or cache file."""
    from openai_server import OpenAIServer

    from bayling_pipeline.synthesize.teacher import LocalTeacher

    ids = (68, 69)  # two short math items
    lines = (BAYLING / "data/BayLing-80/BayLing-80.multiturn.en.jsonl").read_text().splitlines()
    dialogues = _answers(
        tmp_path / "bayling80.jsonl",
        [json.loads(line) for line in lines if json.loads(line)["question_id"] in ids],
    )
    system = _released_answers(tmp_path, "alpaca-7b", ids)
    opponent = _released_answers(tmp_path, "gpt-3.5-turbo", ids)
    key = "sk-unit-judge-5a1f0c"
    monkeypatch.setenv("JUDGE_UNIT_KEY", key)
    out, meta, cache = tmp_path / "reviews.jsonl", tmp_path / "meta.json", tmp_path / "c.sqlite"
    with OpenAIServer(LocalTeacher(smollm2_dir, threads=2), api_key=key) as server:
        spec = {
            "backend": "openai",
            "base_url": server.url,
            "model": "smollm2-test",
            "api_key_env": "JUDGE_UNIT_KEY",
            "max_new_tokens": 8,
            "requests_per_minute": 6000,
            "model_id": f"judge:smollm2-test@{server.url}",
        }
        args = (spec, cache, "singleturn.en", dialogues, system, opponent, out, meta)
        judge_setting(*args, names={"system": "alpaca-7b", "opponent": "gpt-3.5-turbo"})
        assert len(server.requests) == 4
        judge_setting(*args, names={"system": "alpaca-7b", "opponent": "gpt-3.5-turbo"})
        assert len(server.requests) == 4  # all from the cache
    assert all(r["headers"]["Authorization"] == f"Bearer {key}" for r in server.requests)
    alpaca = [next(read_jsonl(system))["answers"][0]]
    shown = [r["body"]["messages"][1]["content"] for r in server.requests[:2]]
    first_answers = [t.split("Assistant 1's Answer]\n")[1].split("\n[The End")[0] for t in shown]
    assert first_answers[0] == alpaca[0] != first_answers[1]  # system first, then second
    records = list(read_jsonl(out))
    assert [r["id"] for r in records] == list(ids)
    orders = [[v["order"] for v in r["reviews"]] for r in records]
    assert orders == [["system-first", "opponent-first"]] * 2
    info = read_json(meta)
    assert info["cache"] == {"hits": 4, "misses": 0, "calls": 0} and info["prompt"] == PROMPT_ID
    unparseable = sum(v["scores"] is None for r in records for v in r["reviews"])
    assert info["unparseable_reviews"] == unparseable
    for path in (out, meta, cache):
        assert key.encode() not in path.read_bytes(), path
    with sqlite3.connect(cache) as db:
        (model_id,) = {row[0] for row in db.execute("SELECT model_id FROM replies")}
    assert model_id == f"judge:smollm2-test@{server.url}"
