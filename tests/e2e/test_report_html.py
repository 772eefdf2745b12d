"""The finished tiny run (conftest.tiny_run): Snakemake's HTML report, and the COMET
segment cache shared across jobs and runs.

.venv/bin/python -m pytest tests/e2e/test_report_html.py -q
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import run_snakemake, workflow_env

from bayling_pipeline.io import read_json

pytestmark = pytest.mark.e2e


def test_snakemake_report_html(tiny_run, tmp_path):
    workdir, configfile, _, _ = tiny_run
    html = tmp_path / "report.html"
    run_snakemake(workdir, configfile, "--report", str(html))
    text = html.read_text(errors="replace")
    assert html.stat().st_size > 10_000
    for name in ("scores.tsv", "scores.md", "tables.tex", "comet.png"):
        assert name in text


def test_comet_rescoring_is_served_by_the_cache(tiny_run, tmp_path):
    """Scoring a system's hypotheses again, by hand with the rule's command, asks the model
    for nothing: every segment comes from the cache the workflow's jobs filled."""
    workdir, _, config, _ = tiny_run
    cache = workdir / "resources" / "comet-cache"
    shards = sorted(cache.glob("*.scores.tsv"))
    assert shards, "score_comet wrote no cache shard"
    pair, testset = "eng_Latn-deu_Latn", workdir / "results/download/testsets/django-test"
    out = tmp_path / "again.json"
    command = [sys.executable, "-m", "bayling_pipeline.score", "--metric", "comet"]
    command += ["--checkpoint", str(workdir / "resources/comet/tiny/checkpoints/model.ckpt")]
    command += ["--model-label", config["scoring"]["comet"]["model"], "--cache", str(cache)]
    command += ["--source", str(testset / f"{pair}.source.txt"), "--pair", pair]
    command += ["--reference", str(testset / f"{pair}.reference.txt"), "--output", str(out)]
    command += [
        "--hypothesis",
        str(workdir / f"results/decode/tiny-lora/django-test/{pair}.hyp.txt"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=workflow_env())
    assert result.returncode == 0, result.stderr
    assert "COMET: 0 of 4 segments computed" in result.stderr
    assert sorted(cache.glob("*.scores.tsv")) == shards  # nothing new to store
    scored = read_json(workdir / f"results/score/tiny-lora/django-test/{pair}/comet-tiny.json")
    assert read_json(out)["score"] == scored["score"]
