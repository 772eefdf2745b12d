"""Constraint sets and published outputs: fetched by URL through a loopback mirror of
../shared/data (pinned digests, cache, offline mode), or read from a local path; bad
inputs stop with the file and line named.

.venv/bin/python -m pytest tests/unit/constrained/test_constraint_sets.py -q
"""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from conftest import SHARED_DATA
from fileserver import FaultServer

from bayling_pipeline.constrained.sets import (
    ConstraintFileError,
    prepare_published,
    prepare_set,
    read_records,
)
from bayling_pipeline.download import fetch
from bayling_pipeline.io import read_json

BAYLING = SHARED_DATA / "bayling"
UPSTREAM = "https://raw.githubusercontent.com/ictnlp/BayLing/main/"
SET_EN_ZH = "data/constrained_translation/constraints.en-zh.zh.jsonl"
BAYLING_7B_ZH_PROMPT = "exp/constrained_translation/bayling-7b/hypo.en-zh.zh.zh_prompt.jsonl"
needs_data = pytest.mark.skipif(
    not BAYLING.is_dir(), reason=f"{BAYLING} (BayLing's released files) is absent"
)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def spec(relative: str) -> dict:
    return {"url": UPSTREAM + relative, "sha256": digest(BAYLING / relative)}


@pytest.fixture(scope="module")
def server():
    with FaultServer(SHARED_DATA) as server:
        yield server


@pytest.fixture
def settings(server, tmp_path):
    mirrors = {UPSTREAM: server.url + "bayling/"}
    return fetch.Settings(cache=str(tmp_path / "cache"), lock=None, mirrors=mirrors, timeout=5)


@needs_data
def test_set_and_published_output_through_the_mirror(settings, server, tmp_path):
    with fetch.using(settings):
        record = prepare_set(spec(SET_EN_ZH), 5, tmp_path / "set.jsonl", tmp_path / "set.json")
        published = prepare_published(
            spec(BAYLING_7B_ZH_PROMPT),
            "BayLing-7B",
            tmp_path / "set.jsonl",
            tmp_path / "set.json",
            tmp_path / "out.jsonl",
            tmp_path / "out.json",
        )
    upstream = read_records(BAYLING / SET_EN_ZH)
    assert record["segments"] == 5 and record["upstream_segments"] == 2037 == len(upstream)
    assert read_records(tmp_path / "set.jsonl") == upstream[:5]
    assert record["source"]["url"] == UPSTREAM + SET_EN_ZH  # the upstream URL, not the mirror's
    hypotheses = [r["hypo"] for r in read_records(BAYLING / BAYLING_7B_ZH_PROMPT)[:5]]
    outputs = read_records(tmp_path / "out.jsonl", ("src", "tgt", "constraint", "hypo"))
    assert [r["hypo"] for r in outputs] == hypotheses
    assert published["label"] == "BayLing-7B" and published["segments"] == 5
    assert read_json(tmp_path / "out.json")["source"]["sha256"] == digest(
        BAYLING / BAYLING_7B_ZH_PROMPT
    )
    assert any(path.endswith(BAYLING_7B_ZH_PROMPT) for path, _ in server.requests)
    # offline (a compute node): the cache answers, nothing is requested
    before = len(server.requests)
    offline = fetch.Settings(cache=settings.cache, lock=None, offline=True)
    with fetch.using(offline):
        prepare_set(spec(SET_EN_ZH), None, tmp_path / "all.jsonl", tmp_path / "all.json")
    assert len(read_records(tmp_path / "all.jsonl")) == 2037 and len(server.requests) == before


@needs_data
def test_a_wrong_pin_is_refused(settings, tmp_path):
    wrong = {**spec(SET_EN_ZH), "sha256": "0" * 64}
    with fetch.using(settings), pytest.raises(fetch.FetchError, match="checksum mismatch"):
        prepare_set(wrong, None, tmp_path / "set.jsonl", tmp_path / "set.json")
    assert not (tmp_path / "set.jsonl").exists()


def write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@needs_data
def test_published_src_that_differs_names_file_and_line(tmp_path):
    prepare_set(
        {"path": str(BAYLING / SET_EN_ZH)}, None, tmp_path / "set.jsonl", tmp_path / "set.json"
    )
    lines = (BAYLING / BAYLING_7B_ZH_PROMPT).read_text(encoding="utf-8").splitlines()
    shifted = json.loads(lines[41])
    shifted["src"] = shifted["src"] + " (edited)"
    lines[41] = json.dumps(shifted, ensure_ascii=False)
    bad = write_lines(tmp_path / "hypo.jsonl", lines)
    with pytest.raises(ConstraintFileError, match=re.escape(f"{bad}:42: src differs from line 42")):
        prepare_published(
            {"path": str(bad)}, "X", tmp_path / "set.jsonl", tmp_path / "set.json",
            tmp_path / "out.jsonl", tmp_path / "out.json",
        )  # fmt: skip
    short = write_lines(tmp_path / "short.jsonl", lines[:100])
    with pytest.raises(
        ConstraintFileError, match=re.escape(f"{short}: 100 lines, but the constraint set has 2037")
    ):
        prepare_published(
            {"path": str(short)}, "X", tmp_path / "set.jsonl", tmp_path / "set.json",
            tmp_path / "out.jsonl", tmp_path / "out.json",
        )  # fmt: skip
    assert not (tmp_path / "out.jsonl").exists()


@needs_data
def test_a_missing_constraint_field_names_file_and_line(tmp_path):
    lines = (BAYLING / SET_EN_ZH).read_text(encoding="utf-8").splitlines()[:10]
    record = json.loads(lines[6])
    del record["constraint"]
    lines[6] = json.dumps(record, ensure_ascii=False)
    bad = write_lines(tmp_path / "constraints.jsonl", lines)
    with pytest.raises(ConstraintFileError, match=re.escape(f"{bad}:7: no 'constraint' field")):
        prepare_set({"path": str(bad)}, None, tmp_path / "set.jsonl", tmp_path / "set.json")
    assert not (tmp_path / "set.jsonl").exists()


@pytest.mark.parametrize(
    "line,problem",
    [
        ("", "2: empty line"),
        ("{not json", "2: not valid JSON"),
        ('["src"]', "2: not a JSON object"),
        ('{"src": "a", "tgt": "b", "constraint": "term"}', "2: 'constraint' is not a list"),
        ('{"src": "a", "tgt": "b", "constraint": ["x", ""]}', "2: 'constraint' is not a list"),
        ('{"src": 3, "tgt": "b", "constraint": []}', "2: 'src' is not a string"),
        ('{"src": "a", "constraint": []}', "2: no 'tgt' field"),
    ],
)
def test_bad_lines_are_named(tmp_path, line, problem):
    good = '{"src": "a", "tgt": "b", "constraint": ["b"]}'
    path = write_lines(tmp_path / "set.jsonl", [good, line, good])
    with pytest.raises(ConstraintFileError, match=re.escape(f"{path}:{problem}")):
        read_records(path)
