"""Benchmark items and released answers: fetched or read, checked line by line, cut to
max_items, and every problem named by file and line (real XCOPA and AGIEval files)."""

from __future__ import annotations

import json

import pytest
from conftest import SHARED_DATA

from bayling_pipeline.io import read_json
from bayling_pipeline.knowledge import items as K
from bayling_pipeline.knowledge import queries as KQ

needs_data = pytest.mark.skipif(
    not (SHARED_DATA / "xcopa").is_dir(), reason=f"{SHARED_DATA}/xcopa is absent"
)


def xcopa_spec(subsets):
    return {
        "task": "xcopa",
        "subsets": subsets,
        "path": str(SHARED_DATA / "xcopa/data/{subset}/test.{subset}.jsonl"),
        "max_items": 3,
    }


@needs_data
def test_a_suite_is_one_file_of_every_subset_cut_to_max_items(tmp_path):
    config = {"knowledge": {"suites": {"xcopa": xcopa_spec(["qu", "sw"])}}}
    files = KQ.suite_files(config, "xcopa")
    out, manifest = tmp_path / "items.jsonl", tmp_path / "items.manifest.json"
    record = K.prepare_suite("xcopa", files, 3, str(out), str(manifest))
    rows = K.read_items(out)
    assert [(r["subset"], r["index"]) for r in rows] == [
        (s, i) for s in ("qu", "sw") for i in range(3)
    ]
    released = (SHARED_DATA / "xcopa/data/sw/test.sw.jsonl").read_text().splitlines()
    assert rows[3]["record"] == json.loads(released[0])
    assert record["subsets"]["qu"]["upstream_items"] == 500
    assert read_json(manifest)["subsets"]["sw"]["items"] == 3


def test_a_line_without_a_field_names_the_file_and_line(tmp_path):
    bad = tmp_path / "test.xx.jsonl"
    good = {"premise": "p", "choice1": "a", "choice2": "b", "question": "cause", "label": 0}
    lines = [good, good, {k: v for k, v in good.items() if k != "choice2"}]
    bad.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with pytest.raises(K.BenchmarkFileError, match=rf"{bad}:3: no 'choice2' field"):
        K.prepare_suite(
            "xcopa", {"xx": {"path": str(bad)}}, None, str(tmp_path / "o"), str(tmp_path / "m")
        )
    assert not (tmp_path / "o").exists()


def test_released_answers_must_cover_the_items(tmp_path):
    items = tmp_path / "items.jsonl"
    items.write_text(
        "".join(
            json.dumps({"subset": "sat-math", "index": i, "record": {}}) + "\n" for i in range(3)
        )
    )
    answers = tmp_path / "predict.jsonl"
    answers.write_text('{"text": "Answer is choice (B)"}\n' * 2)
    with pytest.raises(K.BenchmarkFileError, match=r"predict\.jsonl: 2 answers for 3 items"):
        K.prepare_published(
            {"sat-math": {"path": str(answers)}},
            str(items),
            str(tmp_path / "a"),
            str(tmp_path / "m"),
        )
    answers.write_text('{"text": "Answer is choice (B)"}\n' * 5)  # a cut suite: the first 3
    K.prepare_published(
        {"sat-math": {"path": str(answers)}}, str(items), str(tmp_path / "a"), str(tmp_path / "m")
    )
    assert len(K.read_records(tmp_path / "a", ("subset", "index", "text"))) == 3


def test_cross_references_are_checked():
    config = {
        "models": {"m": {}},
        "finetune": {},
        "variants": {},
        "evaluation": {"systems": ["m"]},
        "knowledge": {
            "suites": {"xcopa": xcopa_spec(["qu", "sw"]) | {"path": "x.jsonl"}},
            "systems": ["m", "ghost"],
            "published": {
                "m": {"suite": "agieval", "url": "u/{subset}"},
                "r": {"suite": "xcopa", "url": "u/{subset}", "subsets": ["de"]},
            },
        },
    }
    errors = KQ.config_errors(config)
    assert any("knowledge.suites.xcopa: 'x.jsonl' has no {subset}" in e for e in errors)
    assert any("knowledge.systems[1]: 'ghost'" in e for e in errors)
    assert any("knowledge.published.m: also a model" in e for e in errors)
    assert any("knowledge.published.m.suite: 'agieval' is not under" in e for e in errors)
    assert any(
        "knowledge.published.r: released answers are read by extraction" in e for e in errors
    )
    assert any("knowledge.published.r.subsets: 'de' is not a subset" in e for e in errors)


def test_one_answering_job_per_system_and_suite_whatever_the_subsets():
    config = {
        "models": {"m": {}},
        "finetune": {"run": {}},
        "evaluation": {"systems": ["m", "run", "published-wmt"]},
        "knowledge": {"suites": {"xcopa": xcopa_spec(["et", "ht", "qu", "sw", "ta"])}},
    }
    assert KQ.jobs(config) == [("m", "xcopa"), ("run", "xcopa")]
    config["knowledge"]["suites"] = {}
    assert KQ.jobs(config) == []
