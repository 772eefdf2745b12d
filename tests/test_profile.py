"""The SLURM profile and the GPU preset, without a cluster: `snakemake --profile slurm -n`
from the repository root shows what every job would ask SLURM for.

    .venv/bin/python -m pytest -v tests/test_profile.py
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT, workflow_env

PROFILE = ROOT / "profiles" / "slurm" / "config.yaml"
GPU_PRESET = ROOT / "presets" / "gpu-smollm2.yaml"
GPU_RULES = {"finetune_lora": "finetune", "decode_translate": "decode", "score_comet": "comet"}


def dry_run_with_profile(workdir, configfile) -> str:
    """`snakemake --profile slurm -n` run from the repository root, writing to `workdir`."""
    command = [sys.executable, "-m", "snakemake", "--profile", "slurm", "-n"]
    # the overlay goes over config.yaml, which --directory would otherwise hide
    configfiles = [ROOT / "config.yaml"] + ([configfile] if configfile == GPU_PRESET else [])
    command += ["--directory", str(workdir), "--configfile", *map(str, configfiles)]
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


def test_slurm_at_the_root_is_the_profile_folder():
    link = ROOT / "slurm"
    assert link.is_symlink() and str(link.readlink()) == "profiles/slurm"
    assert (link / "config.yaml").read_text() == PROFILE.read_text()


def test_every_profile_setting_is_commented():
    lines = PROFILE.read_text().splitlines()
    uncommented = []
    for number, line in enumerate(lines):
        setting = re.match(r"^\s*[\w-]+:\s*\S", line)  # `key: value`, not a `key:` heading
        if setting and "#" not in line and not lines[number - 1].lstrip().startswith("#"):
            uncommented.append(line.strip())
    assert not uncommented


def test_gpu_preset_is_an_overlay_of_the_compute_needs():
    demo = yaml.safe_load((ROOT / "config.yaml").read_text())
    preset = yaml.safe_load(GPU_PRESET.read_text())
    assert set(preset) == {"compute"} and set(preset["compute"]) == set(demo["compute"])
    # one GPU for each fine-tuning, decoding and COMET job; synthesis stays on CPUs
    gpu_stages = {stage: needs["gpus"] for stage, needs in preset["compute"].items()}
    assert gpu_stages == {"synthesize": 0, "finetune": 1, "decode": 1, "comet": 1}


@pytest.mark.parametrize(
    "configfile", [ROOT / "config.yaml", GPU_PRESET], ids=["embedded-default", "gpu-preset"]
)
def test_dry_run_shows_each_jobs_slurm_request(configfile, tmp_path):
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config |= yaml.safe_load(configfile.read_text())  # an overlay, as Snakemake merges it
    jobs = requests(dry_run_with_profile(tmp_path, configfile))
    assert not list(tmp_path.glob("results/*")), "a dry run wrote results"
    for rule, stage in GPU_RULES.items():
        needs = config["compute"][stage]
        for request in jobs.get(rule, []):
            # the rule's needs (first attempt) and the profile's places
            assert request["gpu"] == str(needs["gpus"])
            assert request["mem_mb"] == str(needs["mem_mb"])
            assert request["runtime"] == str(needs["runtime"])
            assert request["threads"] == str(needs["threads"])
            assert request["cpus_per_gpu"] == str(needs["threads"])
            assert request["slurm_partition"] == "gpu" and request["nodes"] == "1"
    assert jobs["finetune_lora"] and jobs["decode_translate"]
    # every other job: the profile's defaults, the cluster's default partition
    for request in jobs["score_sacrebleu"] + jobs["synthesize_instructions"]:
        assert request["mem_mb"] == "2000" and request["runtime"] == "30"
        assert "gpu" not in request and "slurm_partition" not in request
