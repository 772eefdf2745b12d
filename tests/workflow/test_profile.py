"""The profiles, without a cluster: `snakemake -n` from the repository root shows what every
job would ask for, on this machine (profiles/default, loaded by itself) and on a SLURM
cluster (`--workflow-profile slurm`, with and without the GPU overlay).

    .venv/bin/python -m pytest -v tests/workflow/test_profile.py
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT, workflow_env

PROFILES = ROOT / "profiles"
SLURM = yaml.safe_load((PROFILES / "slurm" / "config.yaml").read_text())
LOCAL = yaml.safe_load((PROFILES / "default" / "config.yaml").read_text())
GPU_PRESET = ROOT / "presets" / "gpu-smollm2.yaml"
COMPUTE_RULES = {
    "synthesize_shard",
    "finetune_lora",
    "finetune_merge",
    "decode_convert",
    "decode_translate",
    "decode_shard",
    "decode_dialogues",
    "score_comet",
    "constrained_translate",
}


def dry_run(workdir, *args) -> str:
    """`snakemake -n` run from the repository root over config.yaml, writing to `workdir`."""
    command = [sys.executable, "-m", "snakemake", "-n", "--directory", str(workdir), *args]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=workflow_env())
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout + result.stderr


def requests(dry_run_output: str) -> dict[str, list[dict[str, str]]]:
    """{rule: [resources of each of its jobs]} from the job listing of a dry run."""
    found: dict[str, list[dict[str, str]]] = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", dry_run_output):
        rule = re.match(r"(?:local)?rule (\w+):", block)
        threads = re.search(r"^    threads: (\d+)$", block, re.M)
        resources = re.search(r"^    resources: (.*)$", block, re.M)
        if rule and resources:
            pairs = dict(item.split("=", 1) for item in resources.group(1).split(", "))
            pairs["threads"] = threads.group(1) if threads else "1"
            found.setdefault(rule.group(1), []).append(pairs)
    return found


def first_attempt(expression) -> str:
    """A profile size such as `16000 * attempt` on the first attempt."""
    return str(eval(str(expression), {"attempt": 1}))


@pytest.mark.parametrize("name", ["default", "slurm"])
def test_every_profile_setting_is_commented(name):
    lines = (PROFILES / name / "config.yaml").read_text().splitlines()
    uncommented = []
    for number, line in enumerate(lines):
        setting = re.match(r"^\s*[\w-]+:\s*\S", line)  # `key: value`, not a `key:` heading
        if setting and "#" not in line and not lines[number - 1].lstrip().startswith("#"):
            uncommented.append(line.strip())
    assert not uncommented


@pytest.mark.parametrize("profile", [LOCAL, SLURM], ids=["default", "slurm"])
def test_profiles_size_every_compute_rule_and_nothing_else(profile):
    assert set(profile["set-threads"]) == COMPUTE_RULES
    assert set(profile["set-resources"]) == COMPUTE_RULES
    for rule, sizes in profile["set-resources"].items():
        assert "* attempt" in sizes["mem_mb"] and "* attempt" in sizes["runtime"], rule


def test_the_config_holds_no_runtime_settings():
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    assert "compute" not in config  # the default: training on the CPU, one process
    assert yaml.safe_load(GPU_PRESET.read_text()) == {"compute": {"finetune": {"gpus": 1}}}


def test_local_run_takes_the_default_profile(tmp_path):
    # --cores 2 as make demo: a dry run otherwise counts one core and caps threads at it
    jobs = requests(dry_run(tmp_path, "--cores", "2", "--configfile", str(ROOT / "config.yaml")))
    for rule in COMPUTE_RULES & set(jobs):
        for request in jobs[rule]:
            assert request["threads"] == str(LOCAL["set-threads"][rule])
            sizes = LOCAL["set-resources"][rule]
            assert request["mem_mb"] == first_attempt(sizes["mem_mb"])
            assert request["runtime"] == first_attempt(sizes["runtime"])
            assert request.get("gpu", "0") == "0"
    assert jobs["finetune_lora"] and jobs["decode_translate"]


@pytest.mark.parametrize("overlay", [None, GPU_PRESET], ids=["embedded-default", "gpu-overlay"])
def test_slurm_dry_run_shows_each_jobs_request(overlay, tmp_path):
    configs = [ROOT / "config.yaml"] + ([overlay] if overlay else [])
    args = ["--workflow-profile", "slurm", "--configfile", *map(str, configs)]
    jobs = requests(dry_run(tmp_path, *args))
    assert not list(tmp_path.glob("results/*")), "a dry run wrote results"
    training_gpus = 1 if overlay else 0
    for rule in COMPUTE_RULES & set(jobs):
        sizes = SLURM["set-resources"][rule]
        for request in jobs[rule]:
            assert request["threads"] == str(SLURM["set-threads"][rule])
            assert request["mem_mb"] == first_attempt(sizes["mem_mb"])
            assert request["runtime"] == first_attempt(sizes["runtime"])
            expected_gpus = training_gpus if rule == "finetune_lora" else sizes.get("gpu")
            assert request.get("gpu") == (None if expected_gpus is None else str(expected_gpus))
            if "slurm_partition" in sizes:
                assert request["slurm_partition"] == "gpu" and request["nodes"] == "1"
                assert request["cpus_per_gpu"] == request["threads"]
    # every other job: the profile's defaults, the cluster's default partition
    for request in jobs["score_sacrebleu"] + jobs["synthesize_instructions"]:
        assert request["mem_mb"] == "2000" and request["runtime"] == "30"
        assert "gpu" not in request and "slurm_partition" not in request
