"""The judge stage through Snakemake (target `judge`), downloads from a loopback mirror of
../shared/data (download.mirrors):

1. the released GPT-4 reviews as published judgments (judge null, no API call): the
   win/tie/loss counts of BayLing's four battle charts, exactly, and the report HTML;
2. the judge end to end on the tiny model: SmolLM2 answers two BayLing-80 dialogues
   (decode_dialogues), the local SmolLM2 behind the loopback OpenAI-compatible server judges
   them against GPT-3.5-turbo's released answers in both orders, single- and multi-turn;
   the aggregates are written, a rerun asks the server nothing, and the API key is in no
   log, cache, metadata or output file.

    .venv/bin/python -m pytest -q tests/e2e/test_judge.py      (about 3 minutes)
"""

from __future__ import annotations

import csv
import hashlib
import json

import conftest
import pytest
import yaml
from conftest import SHARED_DATA, run_snakemake
from fileserver import FaultServer
from unit.judge.test_judge_published import BATTLE_CHARTS, OPPONENTS

from bayling_pipeline.io import read_json, read_jsonl

BAYLING = SHARED_DATA / "bayling"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not BAYLING.is_dir(), reason="needs ../shared/data/bayling"),
]
UPSTREAM = "https://raw.githubusercontent.com/ictnlp/BayLing/main/"
GENERAL = UPSTREAM + "exp/general_tasks/"


@pytest.fixture
def online(monkeypatch):
    """Download jobs run where the network is (a login node): HF_HUB_OFFLINE unset."""
    offline_env = conftest.workflow_env
    monkeypatch.setattr(
        conftest,
        "workflow_env",
        lambda: {k: v for k, v in offline_env().items() if k != "HF_HUB_OFFLINE"},
    )


def sha256(relative: str) -> str:
    return hashlib.sha256((BAYLING / relative).read_bytes()).hexdigest()


def base_config(mirror: str, dialogue_sets: dict) -> dict:
    """A complete config whose only evaluation is the judging (nothing else is targeted)."""
    return {
        "testsets": {
            "wmt22": {
                "download": {"source": "wmt_testset", "name": "generaltest2022"},
                "directions": ["eng_Latn-zho_Hans"],
            }
        },
        "models": {"smollm2-135m": conftest.SMOLLM2},
        "evaluation": {
            "systems": ["smollm2-135m"],
            "testsets": ["wmt22"],
            "dialogue_sets": dialogue_sets,
        },
        "decoding": {"batch_size": 4, "dialogues": {"max_new_tokens": 8}},
        "download": {"mirrors": {UPSTREAM: mirror}, "lock": None},
    }


def published_answers(*folders: str, labels=None) -> dict:
    labels = labels or {}
    answers = {}
    for folder in folders:
        name = folder + "/res.bayling-80.multiturn.{lang}.jsonl"
        answers[folder] = {
            "url": GENERAL + name,
            "label": labels.get(folder),
            "sha256": {
                lang: sha256("exp/general_tasks/" + name.format(lang=lang)) for lang in ("en", "zh")
            },
        }
    return answers


def released_reviews(short: str) -> dict:
    name = f"GPT4-REVIEW/bayling-13b.vs.{short}.{{turns}}turn.{{lang}}.jsonl"
    settings = [(t, lang) for t in ("single", "multi") for lang in ("en", "zh")]
    return {
        "url": GENERAL + name,
        "judge_label": "GPT-4",
        "sha256": {
            f"{t}turn.{lang}": sha256("exp/general_tasks/" + name.format(turns=t, lang=lang))
            for t, lang in settings
        },
    }


def test_released_reviews_give_the_battle_charts(tmp_path, online):
    data = UPSTREAM + "data/BayLing-80/BayLing-80.multiturn.{}.jsonl"
    with FaultServer(BAYLING) as server:
        sets = {f"bayling80-{lang}": {"url": data.format(lang)} for lang in ("en", "zh")}
        config = base_config(server.url, sets)
        labels = {"bayling-13b": "BayLing-13B"} | {o[0]: o[2] for o in OPPONENTS}
        config["judging"] = {
            "judge": None,
            "dialogue_sets": {"en": "bayling80-en", "zh": "bayling80-zh"},
            "published_answers": published_answers(*labels, labels=labels),
            "pairings": [
                {
                    "system": "bayling-13b",
                    "opponent": folder,
                    "published_reviews": released_reviews(short),
                }
                for folder, short, _ in OPPONENTS
            ],
        }
        configfile = tmp_path / "config.yaml"
        configfile.write_text(yaml.safe_dump(config))
        run_snakemake(tmp_path, configfile, "judge")
    with open(tmp_path / "results/report/judging.tsv", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle, delimiter="\t") if r["category"] == "all"]
    value = {(r["opponent_label"], r["setting"], r["metric"]): r["value"] for r in rows}
    for setting, chart in BATTLE_CHARTS.items():
        for label, counts in chart.items():
            got = tuple(int(value[label, setting, m]) for m in ("wins", "ties", "losses"))
            assert got == counts, (setting, label)
    assert round(100 * float(value["GPT-3.5-turbo", "mean", "score_ratio_mean"])) == 89
    assert not list((tmp_path / "results").glob("decode/*")), "nothing is decoded"
    html = tmp_path / "report.html"
    run_snakemake(tmp_path, configfile, "judge", "--report", str(html))
    text = html.read_text(errors="replace")
    for name in ("judging.tsv", "judging.md", "judging.tex", "battle.published.png"):
        assert name in text


def test_judge_end_to_end_on_smollm2(tmp_path, online, monkeypatch):
    from openai_server import OpenAIServer

    from bayling_pipeline.synthesize.teacher import LocalTeacher

    # two BayLing-80 dialogues (a roleplay and a math item) with short GPT-3.5-turbo answers
    lines = (BAYLING / "data/BayLing-80/BayLing-80.multiturn.en.jsonl").read_text().splitlines()
    picked = [line for line in lines if json.loads(line)["question_id"] in (21, 68)]
    (tmp_path / "bayling80-mini.jsonl").write_text("\n".join(picked) + "\n")
    key = "sk-e2e-judge-" + hashlib.sha256(str(tmp_path).encode()).hexdigest()[:20]
    monkeypatch.setenv("BAYLING_JUDGE_TEST_KEY", key)
    with FaultServer(BAYLING) as files:
        mini = {"bayling80-mini": {"path": str(tmp_path / "bayling80-mini.jsonl")}}
        config = base_config(files.url, mini)
        config["judging"] = {
            "judge": {
                "name": "smollm2-judge",
                "base_url": "http://127.0.0.1:9/v1",
                "model": "smollm2-test",
                "api_key_env": "BAYLING_JUDGE_TEST_KEY",
                "requests_per_minute": 6000,
                "max_new_tokens": 16,
                "timeout": 600,
            },
            "dialogue_sets": {"en": "bayling80-mini"},
            "published_answers": published_answers(
                "gpt-3.5-turbo", labels={"gpt-3.5-turbo": "GPT-3.5-turbo"}
            ),
            "pairings": [{"system": "smollm2-135m", "opponent": "gpt-3.5-turbo"}],
        }
        configfile = tmp_path / "config.yaml"
        configfile.write_text(yaml.safe_dump(config))
        answers = tmp_path / "results/decode/smollm2-135m/bayling80-mini/dialogues.jsonl"
        run_snakemake(tmp_path, configfile, str(answers.relative_to(tmp_path)))
        judge = LocalTeacher(tmp_path / "resources/models/smollm2-135m", threads=2)
        with OpenAIServer(judge, api_key=key) as server:
            config["judging"]["judge"]["base_url"] = server.url
            configfile.write_text(yaml.safe_dump(config))
            run_snakemake(tmp_path, configfile, "judge")
            asked = len(server.requests)
            assert_no_key_anywhere(tmp_path, key)
            run_snakemake(tmp_path, configfile, "judge", "--forcerun", "judge_pairwise")
            assert len(server.requests) == asked  # the rerun is answered by the cache
    assert asked == 2 * 2 * 2  # dialogues x orders x (single-turn, multi-turn)
    assert {r["headers"]["Authorization"] for r in server.requests} == {f"Bearer {key}"}
    assert [len(d["answers"]) for d in read_jsonl(answers)] == [2, 2]
    out = tmp_path / "results/judge/smollm2-judge/smollm2-135m/gpt-3.5-turbo"
    for setting, turns in (("singleturn.en", 1), ("multiturn.en", 2)):
        records = list(read_jsonl(out / f"{setting}.reviews.jsonl"))
        assert [r["id"] for r in records] == [21, 68]
        assert all(len(r["turns"]) == turns and len(r["reviews"]) == 2 for r in records)
        meta = read_json(out / f"{setting}.meta.json")
        assert meta["orders"] == ["system-first", "opponent-first"] and meta["reviews"] == 4
    report = tmp_path / "results/report"
    assert "smollm2-135m vs GPT-3.5-turbo" in (report / "judging.md").read_text()
    assert (report / "judging/radar.smollm2-judge.smollm2-135m.vs.gpt-3.5-turbo.png").is_file()
    assert_no_key_anywhere(tmp_path, key)


def assert_no_key_anywhere(workdir, key: str) -> None:
    """Not in a result, log, cache, metadata or Snakemake's own records."""
    leaked = [
        str(path.relative_to(workdir))
        for path in workdir.rglob("*")
        if path.is_file() and key.encode() in path.read_bytes()
    ]
    assert leaked == []
    assert (workdir / "resources/judge-cache/smollm2-judge.sqlite").is_file()
