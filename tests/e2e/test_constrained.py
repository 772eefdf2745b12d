"""Lexically constrained translation through Snakemake (`snakemake constrained`): the tiny
SmolLM2 model translates the first sentences of BayLing's constraint sets with the
constrained prompt in both instruction languages, two released systems' outputs enter
beside it, every file is fetched from a loopback mirror of ../shared/data through
download.mirrors, and the stage's table reaches results/report/ and the --report HTML.

.venv/bin/python -m pytest tests/e2e/test_constrained.py -q
"""

from __future__ import annotations

import hashlib
import json

import conftest
import pytest
import yaml
from conftest import ROOT, SHARED_DATA, job_counts, run_snakemake
from fileserver import FaultServer

from bayling_pipeline.constrained.sets import read_records
from bayling_pipeline.io import read_json

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not (SHARED_DATA / "bayling").is_dir(), reason=f"{SHARED_DATA}/bayling is absent"
    ),
]
UP = "https://raw.githubusercontent.com/ictnlp/BayLing/main/"
SENTENCES = 4
FILES = {"zho_Hans-eng_Latn": "zh-en.en", "eng_Latn-zho_Hans": "en-zh.zh"}
PUBLISHED = {  # key: (folder, label, instruction-language variants)
    "bayling-7b": ("bayling-7b", "BayLing-7B", {"eng_Latn": "", "zho_Hans": ".zh_prompt"}),
    "gpt-3.5-turbo": ("gpt-3.5-turbo", "GPT-3.5-turbo", {"eng_Latn": ""}),
}


def pinned(relative: str) -> dict:
    data = (SHARED_DATA / "bayling" / relative).read_bytes()
    return {"url": UP + relative, "sha256": hashlib.sha256(data).hexdigest()}


def section() -> dict:
    sets = {
        pair: pinned(f"data/constrained_translation/constraints.{name}.jsonl")
        for pair, name in FILES.items()
    }
    published = {
        key: {
            "label": label,
            "set": "bayling",
            "files": {
                pair: {
                    lang: pinned(f"exp/constrained_translation/{folder}/hypo.{name}{suffix}.jsonl")
                    for lang, suffix in variants.items()
                }
                for pair, name in FILES.items()
            },
        }
        for key, (folder, label, variants) in PUBLISHED.items()
    }
    return {
        "sets": {"bayling": {"files": sets, "max_segments": SENTENCES}},
        "systems": ["smollm2-135m"],
        "published": published,
    }


def online_env():
    # the fetch rules run where the network is (a login node): HF_HUB_OFFLINE unset
    return {k: v for k, v in ONLINE_ENV().items() if k != "HF_HUB_OFFLINE"}


ONLINE_ENV = conftest.workflow_env


@pytest.fixture(scope="module")
def constrained_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("constrained")
    config = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
    config["constrained"] = section()
    config["decoding"] |= {"max_new_tokens": 8, "batch_size": 4}
    with FaultServer(SHARED_DATA) as server, pytest.MonkeyPatch.context() as patch:
        config["download"] = {"mirrors": {UP: server.url + "bayling/"}}
        configfile = workdir / "config.yaml"
        configfile.write_text(yaml.safe_dump(config, allow_unicode=True))
        patch.setattr(conftest, "workflow_env", online_env)
        dry = run_snakemake(workdir, configfile, "constrained", "-n")
        run_snakemake(workdir, configfile, "constrained")
        html = workdir / "report.html"
        run_snakemake(workdir, configfile, "constrained", "--report", str(html))
    return workdir, config, job_counts(dry.stdout), html


def test_jobs_of_the_stage(constrained_run):
    _, _, counts, _ = constrained_run
    assert counts == {
        "finetune_prepare_base": 1,
        "constrained_fetch_set": 2,
        "constrained_fetch_published": 6,
        "constrained_translate": 4,  # one model x 2 instruction languages x 2 directions
        "constrained_score": 10,
        "constrained_report": 1,
        "constrained": 1,
    }


def test_the_model_translates_with_the_constrained_prompt(constrained_run):
    workdir, _, _, _ = constrained_run
    expected_lines = {
        "eng_Latn": "Make sure to include these words: ",
        "zho_Hans": "确保包含这些词：",
    }
    for instruction, line in expected_lines.items():
        for pair in FILES:
            base = workdir / f"results/constrained/decode/smollm2-135m/bayling/{instruction}/{pair}"
            outputs = read_records(f"{base}.jsonl", ("src", "tgt", "constraint", "hypo"))
            assert len(outputs) == SENTENCES
            meta = read_json(f"{base}.meta.json")
            assert meta["template_ref"] == f"constrained-{instruction[:2]}@v1"
            terms = ", ".join(outputs[0]["constraint"])
            assert meta["first_prompt"].endswith(f"\n{line}{terms}")
            assert meta["settings"]["chat_format"] == "model" and meta["segments"] == SENTENCES


def test_released_outputs_hit_rates_on_the_subset(constrained_run):
    workdir, _, _, _ = constrained_run
    for key, (folder, label, variants) in PUBLISHED.items():
        for instruction, suffix in variants.items():
            for pair, name in FILES.items():
                released = SHARED_DATA / "bayling/exp/constrained_translation"
                rows = read_records(released / folder / f"hypo.{name}{suffix}.jsonl", ("hypo",))
                rows = rows[:SENTENCES]
                hits = sum(t in r["hypo"] for r in rows for t in r["constraint"])
                terms = sum(len(r["constraint"]) for r in rows)
                path = f"results/constrained/score/{key}/bayling/{instruction}/{pair}.json"
                record = read_json(workdir / path)
                scores = {s["metric"]: s["score"] for s in record["scores"]}
                assert scores["term_hit_rate"] == pytest.approx(100 * hits / terms)
                assert (record["label"], record["kind"], record["sentences"]) == (
                    label,
                    "published",
                    SENTENCES,
                )


def test_the_report_holds_the_stage_table(constrained_run):
    workdir, _, _, html = constrained_run
    markdown = (workdir / "results/report/constrained.md").read_text(encoding="utf-8")
    english, chinese = markdown.split("## bayling: instruction in ")[1:]
    for label in ("smollm2-135m", "BayLing-7B", "GPT-3.5-turbo"):
        assert f"| {label} | " in english
    assert "| BayLing-7B | " in chinese and "GPT-3.5-turbo" not in chinese
    tsv = (workdir / "results/report/constrained.tsv").read_text(encoding="utf-8").splitlines()
    assert len(tsv) == 1 + 10 * 3  # header, then (system, instruction, direction) x 3 metrics
    assert "tok:zh" in markdown and (workdir / "results/report/constrained.tex").exists()
    text = html.read_text(errors="replace")
    assert "constrained.md" in text and "constrained.tsv" in text


def test_a_released_file_that_does_not_match_the_set_is_refused(constrained_run, tmp_path):
    workdir, config, _, _ = constrained_run
    released = SHARED_DATA / "bayling/exp/constrained_translation/alpaca-7b/hypo.zh-en.en.jsonl"
    lines = released.read_text(encoding="utf-8").splitlines()
    row = json.loads(lines[2])
    lines[2] = json.dumps({**row, "src": "另一句话"}, ensure_ascii=False)
    edited = tmp_path / "hypo.zh-en.en.jsonl"
    edited.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config["constrained"]["published"] = {
        "alpaca-7b": {
            "set": "bayling",
            "files": {"zho_Hans-eng_Latn": {"eng_Latn": {"path": str(edited)}}},
        }
    }
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config, allow_unicode=True))
    result = run_snakemake(workdir, configfile, "constrained", check=False)
    assert result.returncode != 0
    log = workdir / "logs/constrained/decode/alpaca-7b/bayling/eng_Latn/zho_Hans-eng_Latn.log"
    assert f"{edited}:3: src differs from line 3 of the constraint set" in log.read_text()
