"""Instruction data by URL: JSON Lines and JSON arrays become JSON Lines, pinned, through a
real loopback server; bad files name the line."""

from __future__ import annotations

import hashlib
import json

import pytest
from conftest import SHARED_DATA
from fileserver import FaultServer

from bayling_pipeline.download import fetch
from bayling_pipeline.download.instructions import fetch_instructions, parse_records
from bayling_pipeline.io import read_json

SEED_TASKS = SHARED_DATA / "alpaca" / "seed_tasks.jsonl"


@pytest.mark.skipif(not SEED_TASKS.is_file(), reason="needs ../shared/data/alpaca")
def test_seed_tasks_and_their_array_form_give_the_same_records(tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    records = [json.loads(line) for line in SEED_TASKS.read_text().splitlines() if line]
    (www / "seed_tasks.jsonl").write_bytes(SEED_TASKS.read_bytes())
    (www / "seed_tasks.json").write_text(json.dumps(records, indent=2, ensure_ascii=False))
    settings = fetch.Settings(cache=str(tmp_path / "cache"), lock=str(tmp_path / "lock.json"))
    with FaultServer(www) as server, fetch.using(settings):
        pinned = hashlib.sha256(SEED_TASKS.read_bytes()).hexdigest()
        spec = {"url": f"{server.url}seed_tasks.jsonl", "sha256": pinned}
        assert fetch_instructions(spec, tmp_path / "a.jsonl", tmp_path / "a.json") == 175
        spec = {"url": f"{server.url}seed_tasks.json", "sha256": None}
        assert fetch_instructions(spec, tmp_path / "b.jsonl", tmp_path / "b.json") == 175
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()
    first = json.loads((tmp_path / "a.jsonl").read_text().split("\n", 1)[0])
    assert first == records[0]
    assert read_json(tmp_path / "b.json")["pinned"].startswith("lock file")
    assert f"{server.url}seed_tasks.json" in read_json(tmp_path / "lock.json")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"instruction": "a"}\n{"instruction": \n', "data.jsonl:2: not valid JSON"),
        ('{"instruction": "a"}\n["x"]\n', "data.jsonl: line 2 is not a JSON object"),
        ('[{"instruction": "a"}, 3]', "data.jsonl: record 2 is not a JSON object"),
        ('[\n{"a": 1},\n{"a" 2}\n]', "data.jsonl:3: not valid JSON"),
        ("\n\n", "data.jsonl: no records"),
    ],
)
def test_bad_instruction_files_name_the_line(text, message):
    with pytest.raises(ValueError, match=message):
        parse_records(text, "data.jsonl")
