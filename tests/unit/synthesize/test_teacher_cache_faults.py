"""Rows of the fault matrix (docs/reliability.md) for the teacher's SQLite cache: the
endpoint is part of the key, and a malformed cached row is skipped, counted and asked again.

    .venv/bin/pytest -q tests/unit/synthesize/test_teacher_cache_faults.py
"""

from __future__ import annotations

import sqlite3

from bayling_pipeline.synthesize.teacher import CachedTeacher, OpenAICompatibleTeacher, cache_key

CONVERSATION = [{"role": "user", "content": "Translate into German: Good morning."}]


class Served:
    """A teacher behind an endpoint that answers with its own address (what two different
    servers of one model name would do: answer differently)."""

    model_id, settings = "openai:same-name", {"max_new_tokens": 8, "temperature": 0.0}

    def __init__(self, endpoint: str):
        self.endpoint, self.asked = endpoint, 0

    def complete(self, conversations):
        self.asked += len(conversations)
        return [f"answer of {self.endpoint}" for _ in conversations]


def test_two_endpoints_of_one_model_name_do_not_share_answers(tmp_path):
    cache = tmp_path / "teacher.sqlite"
    first, second = Served("http://10.0.0.1:8000/v1"), Served("http://10.0.0.2:8000/v1")
    with CachedTeacher(first, cache) as teacher:
        assert teacher.complete([CONVERSATION]) == ["answer of http://10.0.0.1:8000/v1"]
    with CachedTeacher(second, cache) as teacher:
        assert teacher.complete([CONVERSATION]) == ["answer of http://10.0.0.2:8000/v1"]
    with CachedTeacher(Served("http://10.0.0.1:8000/v1"), cache) as teacher:
        assert teacher.complete([CONVERSATION]) == ["answer of http://10.0.0.1:8000/v1"]
        assert teacher.stats()["hits"] == 1
    assert first.asked == second.asked == 1


def test_endpoint_keeps_host_port_and_path_but_no_credentials():
    teacher = OpenAICompatibleTeacher(
        "https://user:secret@api.example:8443/v1/", "m", api_key_env=None
    )
    assert teacher.endpoint == "https://api.example:8443/v1/chat/completions"
    settings = teacher.settings
    assert cache_key("m", settings, CONVERSATION, teacher.endpoint) != cache_key(
        "m", settings, CONVERSATION
    )


def test_malformed_cached_reply_is_skipped_counted_and_asked_again(tmp_path, caplog):
    cache = tmp_path / "teacher.sqlite"
    served = Served("http://10.0.0.1:8000/v1")
    with CachedTeacher(served, cache) as teacher:
        expected = teacher.complete([CONVERSATION])
    with sqlite3.connect(cache) as db:
        db.execute("UPDATE replies SET reply = NULL")  # a hand-edited or damaged row
    with caplog.at_level("WARNING"), CachedTeacher(served, cache) as teacher:
        assert teacher.complete([CONVERSATION]) == expected
        assert teacher.stats()["malformed"] == 1 and teacher.stats()["misses"] == 1
    assert "1 malformed cached replies skipped" in caplog.text
    with CachedTeacher(served, cache) as teacher:  # repaired by the answer asked again
        assert teacher.complete([CONVERSATION]) == expected and teacher.stats()["hits"] == 1
    assert served.asked == 2
