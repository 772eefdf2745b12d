"""The BayLing 2 preset (presets/bayling2.yaml) and its smoke overlay: they validate, the
plan's jobs scale with systems, not with Flores-200's 810 directions (evaluation.
pool_directions), every Flores-200 language is evaluated into and out of English and
Chinese, and the instruction mix is the paper's.

    .venv/bin/python -m pytest -q tests/workflow/test_bayling2_preset.py

The dry run of the whole preset plans 824 directions in 281 jobs: seconds, since every
pooled job stands in the DAG by its index (pooled.json).
"""

from __future__ import annotations

import copy

import pytest
import yaml
from conftest import ROOT, job_counts, run_snakemake

from bayling_pipeline import languages
from bayling_pipeline.workflow.validation import validate_config

PRESET = ROOT / "presets" / "bayling2.yaml"
SMOKE = ROOT / "presets" / "bayling2-smoke.yaml"
CONFIG = yaml.safe_load(PRESET.read_text())
HUBS = ("eng_Latn", "zho_Hans")


def _expanded(config: dict) -> dict:
    """The config as the rules see it: validated, defaults filled in, generators expanded."""
    config = copy.deepcopy(config)
    validate_config(config, (), ROOT)
    return config


def _jobs(counts: dict[str, int], prefix: str) -> int:
    """Jobs of the rules whose name starts with `prefix` (the pooled rules are one rule per
    test set, e.g. decode_pooled_shard_flores200)."""
    return sum(count for rule, count in counts.items() if rule.startswith(prefix))


@pytest.fixture(scope="module")
def plan(tmp_path_factory) -> dict[str, int]:
    """The dry run's 'Job stats' of the whole preset."""
    workdir = tmp_path_factory.mktemp("bayling2-plan")
    return job_counts(run_snakemake(workdir, PRESET, "-n").stdout)


# Pooled evaluation (evaluation.pool_directions): a decoding job per (system, test set,
# shard) and scoring per (system, test set). Written for the pooled rules; with a job per
# direction the plan holds tens of thousands of jobs and this test fails, by design.
def test_the_plan_scales_with_systems_not_directions(plan):
    systems = len(CONFIG["evaluation"]["systems"])
    testsets = len(CONFIG["evaluation"]["testsets"])
    shards = CONFIG["decoding"]["shards"]
    print({rule: count for rule, count in sorted(plan.items())})
    assert sum(plan.values()) < 600
    assert _jobs(plan, "decode_pooled_shard") == systems * testsets * shards
    assert _jobs(plan, "score_pooled") == systems * testsets
    assert _jobs(plan, "score_comet_pooled") == systems * testsets
    assert "decode_translate" not in plan and "score_sacrebleu" not in plan
    assert plan["finetune_lora"] == len(CONFIG["finetune"]) == 3
    assert plan["finetune_prepare_base"] == len(CONFIG["models"]) == 6
    assert plan["synthesize_shard"] == CONFIG["datasets"]["bayling2"]["shards"]
    # every trained and released model answers XCOPA and Belebele, one job per suite
    assert plan["knowledge_answer"] == len(CONFIG["knowledge"]["systems"]) * 2 == 12


def test_every_flores200_language_is_evaluated_into_and_out_of_both_hubs():
    directions = _expanded(CONFIG)["testsets"]["flores200"]["directions"]
    assert len(directions) == len(set(directions)) == 810
    codes = languages.language_list("flores200")
    assert len(codes) == 204
    for code in codes:
        if code in HUBS:
            continue
        for hub in HUBS:
            assert f"{hub}-{code}" in directions and f"{code}-{hub}" in directions, code
    assert {"eng_Latn-zho_Hans", "zho_Hans-eng_Latn"} <= set(directions)


def test_the_mix_is_the_papers():
    """Chinese 43.2%, English 26.2% and cross-lingual 30.6% of 3.2M instructions."""
    dataset = CONFIG["datasets"]["bayling2"]
    mix, weights = dataset["mix"], dataset["general"]["weights"]
    total = sum(mix.values())
    general = mix["general"] / total
    share = {name: general * w / sum(weights.values()) for name, w in weights.items()}
    assert dataset["examples"] == 3_200_000
    assert share["belle-2m-zh"] == pytest.approx(0.432)
    assert share["openhermes-2.5-en"] == pytest.approx(0.262)
    assert (total - mix["general"]) / total == pytest.approx(0.306)
    # the cross-lingual families cover 100+ languages of the multi-way corpus
    files = CONFIG["corpora"]["ntrex128"]["options"]["files"]
    assert len(files) > 100 and all(spec["sha256"] for spec in files.values())
    directions = _expanded(CONFIG)["datasets"]["bayling2"]["single_turn"]["directions"]
    assert {code for pair in directions for code in pair.split("-")} == set(files)


def test_the_smoke_overlay_cuts_the_plan_down(tmp_path):
    counts = job_counts(run_snakemake(tmp_path, [PRESET, SMOKE], "-n").stdout)
    smoke = yaml.safe_load(SMOKE.read_text())
    systems = len(CONFIG["evaluation"]["systems"])
    testsets = len(CONFIG["evaluation"]["testsets"])
    assert _jobs(counts, "decode_pooled_shard") == systems * testsets * 2
    assert counts["finetune_lora"] == 3 and counts["synthesize_shard"] == 2
    assert sum(counts.values()) < 200
    assert smoke["testsets"]["flores200"]["max_segments"] == 4
