"""Tier 2 and 3: lint, dry runs of every shipped config, config rejection, and the whole DAG
for real on tiny settings (the real SmolLM2, real Django catalogs, real sacrebleu and COMET)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from conftest import ROOT, job_counts, run_snakemake, workflow_env

from bayling_pipeline.workflow.configfiles import merge_config

# BayLing 2's preset and its smoke overlay have a test of their own (pooled jobs, generated
# directions): tests/workflow/test_bayling2_preset.py
SHIPPED_CONFIGS = [
    ROOT / "config.yaml",
    *sorted(p for p in (ROOT / "presets").glob("*.yaml") if not p.name.startswith("bayling2")),
    *sorted((ROOT / "tests" / "configs").glob("*.yaml")),
]


def layered(configfile):
    """The config files Snakemake reads for a shipped config: an overlay (a preset with only
    some sections, such as presets/gpu-smollm2.yaml) goes over config.yaml."""
    config = yaml.safe_load(configfile.read_text())
    return [configfile] if "testsets" in config else [ROOT / "config.yaml", configfile]


def test_lint_is_clean(tmp_path):
    result = run_snakemake(tmp_path, ROOT / "config.yaml", "--lint", check=False)
    assert result.returncode == 0, result.stderr
    assert "Lints for" not in result.stdout + result.stderr


@pytest.mark.parametrize("configfile", SHIPPED_CONFIGS, ids=lambda p: p.name)
def test_dry_run_builds_the_whole_dag(configfile, tmp_path):
    config = {}
    for path in layered(configfile):
        merge_config(config, yaml.safe_load(path.read_text()))
    evaluated = [
        p for t in config["evaluation"]["testsets"] for p in config["testsets"][t]["directions"]
    ]
    published = config.get("published", {})
    fetched = config.get("download", {}).get("published", {})
    ours = [s for s in config["evaluation"]["systems"] if s not in published]
    # a published system is scored where it has outputs: the directions pinned for it
    outputs = sum(
        len(set(fetched[s].get("directions") or fetched[s]["sha256"]) & set(evaluated))
        for s in config["evaluation"]["systems"]
        if s in published
    )
    metrics = len(config["scoring"]["metrics"])
    for spec in config.get("models", {}).values():  # the user's own weights (LLaMA)
        if spec["source"] in ("local", "delta") and "path" in spec:
            (tmp_path / spec["path"]).mkdir(parents=True)
    counts = job_counts(run_snakemake(tmp_path, layered(configfile), "-n").stdout)
    assert counts.get("finetune_lora", 0) == len(config.get("finetune", {}))
    assert counts.get("decode_translate", 0) == len(ours) * len(evaluated)
    assert counts.get("decode_published", 0) == outputs
    assert counts["score_sacrebleu"] == (len(ours) * len(evaluated) + outputs) * metrics
    assert counts["report_tables"] == 1 and counts["all"] == 1
    assert not list(tmp_path.glob("results/*")), "a dry run wrote results"


@pytest.mark.parametrize(
    "old,new,named",
    [
        ("max_steps: 80", "max_steps: -5", "max_steps"),
        ("num_beams: 1", "num_beamz: 1", "num_beamz"),
        (
            "eng_Latn-isl_Latn]\n    max_segments",
            "eng_Latn-isx_Latn]\n    max_segments",
            "testsets.django-test.directions[3]: unknown language 'isx_Latn'",
        ),
        (
            "systems: [smollm2-135m, bayling-smollm2]",
            "systems: [smollm2-135m, bayling-smol]",
            "evaluation.systems[1]",
        ),
        (
            "teacher: {model: smollm2-135m",
            "teacher: {model: smollm3",
            "datasets.bayling-demo.teacher.model",
        ),
        ("teacher_follow_ups: [polish, comment", "teacher_follow_ups: [polish, sing", "'sing'"),
        ("mix: {single_turn: 4", "mix: {singel_turn: 4", "singel_turn"),
    ],
    ids=[
        "negative-steps",
        "misspelled-key",
        "unknown-language",
        "unknown-system",
        "unknown-teacher-model",
        "unknown-teacher-action",
        "unknown-family",
    ],
)
def test_wrong_config_stops_before_any_job(old, new, named, tmp_path):
    text = (ROOT / "config.yaml").read_text()
    assert old in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(old, new))
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = run_snakemake(workdir, bad, check=False)
    assert result.returncode != 0
    assert named in result.stderr
    assert not (workdir / "results").exists() and not (workdir / "resources").exists()


@pytest.mark.e2e
def test_whole_dag_produces_the_report(tiny_run):
    workdir, _, config, _ = tiny_run
    scores = pd.read_csv(workdir / "results/report/scores.tsv", sep="\t")
    for column in ("system", "kind", "testset", "pair", "metric", "score", "signature"):
        assert column in scores.columns
    directions = config["testsets"]["django-test"]["directions"]
    assert set(scores["pair"]) == set(directions)
    assert set(scores["metric"]) == {"bleu", "chrf", "comet"}
    assert dict(zip(scores["system"], scores["kind"], strict=True)) == {
        "smollm2-135m": "base",
        "tiny-lora": "finetuned",
    }
    assert len(scores) == 2 * len(directions) * 3
    assert scores["score"].notna().all()
    zh = scores[(scores.metric == "bleu") & (scores.pair == "eng_Latn-zho_Hans")]
    assert zh["signature"].str.contains("tok:zh").all()
    assert scores[scores.metric == "comet"]["signature"].str.contains("comet=").all()
    markdown = (workdir / "results/report/scores.md").read_text()
    assert "tiny-lora" in markdown and "chrf" in markdown.lower()
    for metric in ("bleu", "chrf", "comet"):
        assert (workdir / f"results/report/{metric}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = yaml.safe_load((workdir / "results/finetune/tiny-lora/training.json").read_text())
    assert record["recipe"]["max_steps"] == 2 and record["versions"]["transformers"]
    stats = yaml.safe_load((workdir / "results/synthesize/tiny/stats.json").read_text())
    train = stats["train"]
    assert set(train["tasks"]) == {"single_turn", "interactive", "cross_lingual"}
    assert train["examples"] == sum(train["tasks"].values()) > 20
    assert set(train["dropped"]) >= {"contaminated", "wrong_language", "duplicate"}
    samples = (workdir / "results/synthesize/tiny/samples.md").read_text(encoding="utf-8")
    assert "## interactive" in samples and "## cross_lingual" in samples
    logs = list((workdir / "logs").rglob("*.log"))
    assert len(logs) >= 10 and all(p.stat().st_size > 0 for p in logs if "decode" in p.parts)


@pytest.mark.e2e
def test_second_run_does_nothing(tiny_run):
    workdir, configfile, _, _ = tiny_run
    result = run_snakemake(workdir, configfile, "-n")
    assert "Nothing to be done" in result.stdout + result.stderr


@pytest.mark.e2e
def test_decoding_change_reruns_decode_score_report_not_training(tiny_run, tmp_path):
    workdir, configfile, config, _ = tiny_run
    changed = dict(config, decoding={**config["decoding"], "max_new_tokens": 9})
    other = tmp_path / "changed.yaml"
    other.write_text(yaml.safe_dump(changed))
    counts = job_counts(run_snakemake(workdir, other, "-n").stdout)
    directions = len(config["testsets"]["django-test"]["directions"])
    assert counts.get("decode_translate") == 2 * directions
    assert counts.get("score_sacrebleu") == 2 * directions * 2
    assert counts.get("score_comet") == 2 * directions
    assert counts.get("report_tables") == 1
    for untouched in (
        "finetune_lora",
        "finetune_prepare_base",
        "synthesize_instructions",
        "download_corpus",
    ):
        assert untouched not in counts


@pytest.mark.parametrize(
    "target,last_stage",
    [
        ("download", "download"),
        ("synthesize", "synthesize"),
        ("finetune", "finetune"),
        ("decode", "decode"),
        ("score", "score"),
        ("report", "report"),
    ],
)
def test_each_stage_is_a_target_that_stops_there(target, last_stage, tmp_path):
    order = ["download", "synthesize", "finetune", "decode", "score", "report"]
    counts = job_counts(
        run_snakemake(tmp_path, ROOT / "tests/configs/tiny.yaml", "-n", target).stdout
    )
    # staging a base model is a login-node fetch that synthesis also needs (the tiny
    # config's teacher is the local base model): it counts as download here
    stages = {
        "download" if rule == "finetune_prepare_base" else rule.split("_")[0]
        for rule in counts
        if rule != target
    }
    assert last_stage in stages
    assert max(order.index(stage) for stage in stages) == order.index(last_stage)


def test_a_preset_inherits_nothing_from_the_default(tmp_path):
    """config.yaml is read only when no config file is named: the comparison preset (no
    corpus, no model) then builds no synthesis or training job of the demo's."""
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]
    command += ["--directory", str(tmp_path), "-n", "--cores", "2"]
    default = subprocess.run(command, capture_output=True, text=True, env=workflow_env())
    assert job_counts(default.stdout)["synthesize_plan"] == 1, default.stderr
    preset = ROOT / "presets" / "bayling1-comparison.yaml"
    named = subprocess.run(
        [*command, "--configfile", str(preset)], capture_output=True, text=True, env=workflow_env()
    )
    counts = job_counts(named.stdout)
    assert named.returncode == 0, named.stderr[-3000:]
    assert counts["decode_published"] > 0
    assert not {"download_corpus", "synthesize_plan", "finetune_lora"} & set(counts)
