"""Teachers on the real SmolLM2 checkpoint, directly and behind a real loopback OpenAI server."""

from __future__ import annotations

import copy
import json
import logging
import os
import secrets
import sqlite3
import subprocess
import sys
import time

import pytest
from conftest import ROOT
from openai_server import OpenAIServer

from bayling_pipeline.synthesize.teacher import (
    CachedTeacher,
    LocalTeacher,
    OpenAICompatibleTeacher,
    TeacherError,
    build_teacher,
    cache_key,
)

KEY_ENV = "BAYLING_TEACHER_TEST_KEY"
MAX_NEW_TOKENS = 12
PROMPTS = [
    [{"role": "user", "content": "Translate into German: Good morning."}],
    [{"role": "user", "content": "Polish this translation: Ich bin gehen nach Hause."}],
    [{"role": "user", "content": "Summarize in one sentence: The cat sat on the mat all day."}],
    [
        {"role": "user", "content": "Translate into French: Thank you."},
        {"role": "assistant", "content": "Merci."},
        {"role": "user", "content": "Make it more formal."},
    ],
]


class Counting:
    """Passes every call through to a real teacher and records the batch sizes it got.

    ``fail_after`` makes the call after that many raise, as a crash mid-run would.
    """

    def __init__(self, teacher, fail_after: int | None = None):
        self.teacher, self.fail_after, self.calls = teacher, fail_after, []
        self.model_id, self.settings = teacher.model_id, teacher.settings

    def complete(self, conversations):
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise RuntimeError("simulated crash")
        self.calls.append(len(conversations))
        return self.teacher.complete(conversations)


@pytest.fixture(scope="module")
def local_teacher(smollm2_dir):
    import torch

    before = torch.get_num_threads()
    # One thread: on cores shared with other jobs, OpenMP threads spin-waiting for each
    # other make a tiny model's generation 2-10x slower. Restored for the other modules.
    yield LocalTeacher(smollm2_dir, max_new_tokens=MAX_NEW_TOKENS, batch_size=3, threads=1)
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def local_replies(local_teacher):
    return local_teacher.complete(PROMPTS)


@pytest.fixture(scope="module")
def api_key():
    return "sk-test-" + secrets.token_hex(16)


@pytest.fixture(scope="module")
def server(local_teacher, api_key):
    with OpenAIServer(local_teacher, api_key=api_key) as server:
        yield server


@pytest.fixture
def fresh_server(server, api_key, monkeypatch):
    """The shared server with no faults or recorded requests, and the key exported."""
    server.faults.clear()
    server.requests.clear()
    monkeypatch.setenv(KEY_ENV, api_key)
    return server


def remote(server, **kwargs) -> OpenAICompatibleTeacher:
    settings = {"max_new_tokens": MAX_NEW_TOKENS, "requests_per_minute": 6000, **kwargs}
    return OpenAICompatibleTeacher(server.url, "smollm2-test", api_key_env=KEY_ENV, **settings)


def test_import_is_light():
    code = "import sys, bayling_pipeline.synthesize.teacher; print('torch' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "workflow_scripts")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.stdout.strip() == "False", result.stderr


def test_local_teacher_is_deterministic_and_batch_invariant(
    smollm2_dir, local_teacher, local_replies
):
    assert all(isinstance(r, str) and r and r == r.strip() for r in local_replies), local_replies
    assert local_teacher.complete(PROMPTS[::-1]) == local_replies[::-1]  # any order, same replies
    single = copy.copy(local_teacher)  # shares the loaded model
    single.batch_size = 1
    assert single.complete(PROMPTS) == local_replies
    assert single.complete([]) == []

    fresh = LocalTeacher(smollm2_dir)
    assert fresh.model is None  # constructing loads nothing
    assert fresh.model_id == local_teacher.model_id
    assert fresh.model_id.startswith("local:smollm2-135m@")


def test_cached_teacher_asks_only_once(tmp_path, local_teacher, local_replies):
    cache = tmp_path / "teacher.sqlite"
    counting = Counting(local_teacher)
    first = CachedTeacher(counting, cache)
    assert first.complete(PROMPTS[:3]) == local_replies[:3]
    assert first.complete(PROMPTS) == local_replies  # only the fourth is new
    assert counting.calls == [3, 1]
    assert first.stats() == {"hits": 3, "misses": 4, "calls": 2}
    first.close()

    counting.calls.clear()
    reopened = CachedTeacher(counting, cache)
    assert reopened.complete(PROMPTS + PROMPTS[:1]) == local_replies + local_replies[:1]
    assert counting.calls == []
    assert reopened.stats() == {"hits": 5, "misses": 0, "calls": 0}

    shorter = copy.copy(local_teacher)  # shares the loaded model
    shorter.max_new_tokens = 4
    changed = Counting(shorter)
    assert CachedTeacher(changed, cache).complete(PROMPTS[:1])[0] != ""
    assert changed.calls == [1]  # another generation setting is another key

    rows = sqlite3.connect(cache).execute("SELECT key, settings, conversation FROM replies")
    for key, settings, conversation in rows:
        assert key == cache_key(
            local_teacher.model_id, json.loads(settings), json.loads(conversation)
        )


def test_cached_teacher_keeps_answered_chunks_after_a_crash(tmp_path, local_teacher, local_replies):
    cache = tmp_path / "teacher.sqlite"
    crashing = CachedTeacher(Counting(local_teacher, fail_after=1), cache, chunk_size=2)
    with pytest.raises(RuntimeError, match="simulated crash"):
        crashing.complete(PROMPTS)
    counting = Counting(local_teacher)
    assert CachedTeacher(counting, cache).complete(PROMPTS) == local_replies
    assert counting.calls == [2]  # the first chunk survived the crash


def test_openai_teacher_matches_local_teacher(fresh_server, api_key, local_replies):
    teacher = remote(fresh_server)
    assert teacher.model_id == "openai:smollm2-test"
    assert teacher.complete(PROMPTS) == local_replies
    assert len(fresh_server.requests) == 4
    for request in fresh_server.requests:
        assert request["headers"]["Authorization"] == f"Bearer {api_key}"
        assert request["body"]["max_tokens"] == MAX_NEW_TOKENS
        assert api_key.encode() not in request["raw"] and api_key not in request["path"]


@pytest.mark.parametrize(
    "faults,min_seconds",
    [
        ([(429, 1)], 1.0),  # Retry-After honoured: far longer than the 0.01 s backoff
        ([(500, None), (503, None)], 0.01 + 0.02),  # exponential backoff
    ],
)
def test_openai_teacher_retries(fresh_server, local_replies, faults, min_seconds):
    fresh_server.faults.extend(faults)
    teacher = remote(fresh_server, backoff=0.01)
    started = time.monotonic()
    assert teacher.complete(PROMPTS[:1]) == local_replies[:1]
    assert time.monotonic() - started >= min_seconds
    assert teacher.requests == len(fresh_server.requests) == len(faults) + 1


def test_openai_teacher_gives_up_after_max_retries(fresh_server):
    fresh_server.faults.extend([(500, None)] * 3)
    teacher = remote(fresh_server, backoff=0.01, max_retries=2)
    with pytest.raises(TeacherError, match=r"gave up after 3 attempts; last: HTTP 500"):
        teacher.complete(PROMPTS[:1])
    assert len(fresh_server.requests) == 3


def test_connection_errors_are_retried(monkeypatch):
    import socket

    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    teacher = OpenAICompatibleTeacher(
        f"http://127.0.0.1:{port}/v1", "m", api_key_env=None, max_retries=1, backoff=0.01
    )
    with pytest.raises(TeacherError, match="gave up after 2 attempts; last: URLError"):
        teacher.complete(PROMPTS[:1])
    assert teacher.requests == 2


def test_wrong_key_fails_at_once_without_leaking_it(fresh_server, monkeypatch):
    wrong = "sk-wrong-" + secrets.token_hex(16)
    monkeypatch.setenv(KEY_ENV, wrong)
    with pytest.raises(TeacherError) as caught:
        remote(fresh_server).complete(PROMPTS[:1])
    message = str(caught.value)
    assert "HTTP 401" in message and "Incorrect API key provided: [REDACTED]" in message
    assert wrong not in message and wrong not in repr(caught.value)
    assert len(fresh_server.requests) == 1  # not retried


def test_rate_limit_spaces_requests(fresh_server):
    teacher = remote(fresh_server, requests_per_minute=600, max_new_tokens=1)
    started = time.monotonic()
    teacher.complete(PROMPTS)
    # 600 per minute: a request every 0.1 s, the first one at once
    assert time.monotonic() - started >= 3 * 0.1
    assert len(fresh_server.requests) == 4


def test_key_stays_out_of_logs_cache_and_outputs(fresh_server, api_key, tmp_path):
    spec = {
        "backend": "openai",
        "base_url": fresh_server.url,
        "model": "smollm2-test",
        "api_key_env": KEY_ENV,
        "requests_per_minute": 6000,
        "max_new_tokens": MAX_NEW_TOKENS,
        "backoff": 0.01,
    }
    cache, log_file = tmp_path / "cache.sqlite", tmp_path / "debug.log"
    handler = logging.FileHandler(log_file)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        fresh_server.faults.append((429, 0))  # a retry warning goes to the log too
        teacher = build_teacher(spec, cache_path=cache)
        assert teacher.complete(PROMPTS[:2])
        logging.getLogger("test").debug("teacher %r, stats %s", teacher.teacher, teacher.stats())
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
    assert "retrying" in log_file.read_text() and "POST" in log_file.read_text()

    (tmp_path / "spec.json").write_text(json.dumps(spec))
    lines = [json.dumps({"id": i, "messages": m}) for i, m in enumerate(PROMPTS[:3])]
    (tmp_path / "prompts.jsonl").write_text("\n".join(lines) + "\n")
    command = [sys.executable, "-m", "bayling_pipeline.synthesize.teacher", "--spec", "spec.json"]
    command += ["--cache", "cache.sqlite", "--prompts", "prompts.jsonl"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "workflow_scripts")}
    streams = b""
    for run, new_requests in (("out1", 1), ("out2", 0)):  # the second process hits the cache
        before = len(fresh_server.requests)
        result = subprocess.run(
            [*command, "--output", f"{run}.jsonl"], cwd=tmp_path, capture_output=True, env=env
        )
        assert result.returncode == 0, result.stderr.decode()
        assert len(fresh_server.requests) - before == new_requests
        streams += result.stdout + result.stderr
    records = [json.loads(line) for line in (tmp_path / "out2.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == [0, 1, 2] and all(r["reply"] for r in records)
    assert records[0]["teacher"] == "openai:smollm2-test"

    assert all(r["headers"]["Authorization"] == f"Bearer {api_key}" for r in fresh_server.requests)
    secret = api_key.encode()
    for path in tmp_path.iterdir():
        assert secret not in path.read_bytes(), path
    assert secret not in streams


def test_missing_key_variable_is_named(monkeypatch):
    monkeypatch.delenv("BAYLING_NO_SUCH_KEY", raising=False)
    spec = {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m"}
    with pytest.raises(TeacherError, match="environment variable BAYLING_NO_SUCH_KEY"):
        build_teacher({**spec, "api_key_env": "BAYLING_NO_SUCH_KEY"})


@pytest.mark.parametrize(
    "spec,message",
    [
        ({"backend": "anthropic"}, r"unknown teacher backend 'anthropic' \(known: local, openai\)"),
        ({"model_dir": "x"}, "unknown teacher backend None"),
        ({"backend": "local", "model_dir": "x", "temperature": 0.5}, "unknown keys .*temperature"),
        (
            {"backend": "openai", "model": "m", "top_k": 5, "seed": 1},
            "unknown keys .*: seed, top_k",
        ),
        ({"backend": "openai", "model": "m"}, "'openai' teacher needs: base_url"),
        ({"backend": "openai", "base_url": "u", "model": "m", "api_key": "k"}, "api_key_env"),
    ],
)
def test_build_teacher_rejects_bad_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        build_teacher(spec)


def test_build_teacher_is_cheap_and_caches(smollm2_dir, tmp_path):
    spec = {"backend": "local", "model_dir": str(smollm2_dir), "max_new_tokens": 8}
    teacher = build_teacher(spec)
    assert isinstance(teacher, LocalTeacher) and teacher.model is None
    assert teacher.settings == {"decoding": "greedy", "max_new_tokens": 8}
    cached = build_teacher(spec, cache_path=tmp_path / "c.sqlite")
    assert isinstance(cached, CachedTeacher) and cached.model_id == teacher.model_id
