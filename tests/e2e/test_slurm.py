"""Tier 3 through the real local SLURM cluster: the tiny DAG with the SLURM profile (run from
the repository root, as docs/slurm.md says), a running job cancelled with scancel and
retried with more memory and time, and a GPU request that the scheduler grants.

    .venv/bin/python -m pytest -v -m slurm       # as root; `make test` runs them too

The session fixture starts a single-node cluster with scripts/slurm/start-local-cluster.sh
(installing slurm-wlm and munge with apt-get on first use) and stops it at the end if it
was not running before. Without root or apt-get these tests are skipped, with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml
from conftest import ROOT, workflow_env

pytestmark = pytest.mark.slurm

SCRIPTS = ROOT / "scripts" / "slurm"
# Test-only speed-ups of the profile (same machine, so no file-system latency): the first
# status query one second after a submission instead of 20.
FAST = [
    "--slurm-init-seconds-before-status-checks=1",
    "--seconds-between-status-checks=1",
    "--latency-wait=5",
]
LOCAL_RULES = {"download_corpus", "finetune_prepare_base", "finetune_write_recipe"}
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+)")


def slurm_is_up() -> bool:
    if shutil.which("scontrol") is None:
        return False
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True)
    return ping.returncode == 0 and "UP" in ping.stdout


@pytest.fixture(scope="session")
def slurm_cluster():
    """A running single-node cluster (partitions main and gpu, one GRES gpu)."""
    if os.geteuid() != 0:
        pytest.skip("the local SLURM cluster needs root (it installs packages, starts daemons)")
    if shutil.which("sbatch") is None and shutil.which("apt-get") is None:
        pytest.skip("neither SLURM nor apt-get (to install it) is available")
    was_up = slurm_is_up()
    start = subprocess.run(
        [SCRIPTS / "start-local-cluster.sh"], capture_output=True, text=True, timeout=900
    )
    if start.returncode == 3:  # this machine has a SLURM configuration of its own
        pytest.skip(start.stderr.strip())
    assert start.returncode == 0, start.stdout + start.stderr
    yield
    if not was_up:
        subprocess.run([SCRIPTS / "stop-local-cluster.sh"], capture_output=True, timeout=120)


# The shipped profile's sizes cut to the one 2-core node, its places kept: threads as the
# tiny run uses them, memory and time of the old schema defaults, and the decoding and COMET
# jobs without a GPU (the node has one GRES gpu, which the retry test gives to training).
NODE_THREADS = {"synthesize_shard": 2, "finetune_lora": 2, "finetune_merge": 2}
NODE_SIZES = {"mem_mb": "8000 * attempt", "runtime": "120 * attempt"}


@pytest.fixture(scope="session")
def node_profile(tmp_path_factory):
    """profiles/slurm with its sizes cut to the local cluster's one node."""
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    profile["set-threads"] = {rule: NODE_THREADS.get(rule, 1) for rule in profile["set-threads"]}
    for sizes in profile["set-resources"].values():
        sizes |= NODE_SIZES
        if "gpu" in sizes:
            sizes["gpu"] = 0
    folder = tmp_path_factory.mktemp("profile") / "slurm-node"
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump(profile))
    return folder


def snakemake_slurm(profile, workdir, configfile, *args) -> list[str]:
    """The command of `snakemake --workflow-profile ...` as a user runs it from the repository
    root, with `profile` (the shipped SLURM profile, sized for the test node)."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--workflow-profile",
        str(profile),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile),
        *FAST,
        *args,
    ]


def squeue(*job_ids: str) -> dict[str, dict[str, str]]:
    """State, partition, memory, time limit, rule and run of finished or running SLURM jobs."""
    result = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--format=%i|%T|%P|%m|%l|%k|%j"]
        + (["--jobs", ",".join(job_ids)] if job_ids else []),
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [line.split("|") for line in result.stdout.splitlines() if line.strip()]
    keys = ("state", "partition", "memory", "time_limit", "comment", "name")
    return {row[0]: dict(zip(keys, row[1:], strict=True)) for row in rows}


def minutes(time_limit: str) -> int:
    """Minutes of an squeue time limit: [days-][hours:]minutes:seconds."""
    days, _, clock = time_limit.rpartition("-")
    parts = [int(part) for part in clock.split(":")]
    hours, mins, _ = [0] * (3 - len(parts)) + parts
    return (int(days or 0) * 24 + hours) * 60 + mins


def job_rules(output: str) -> dict[int, tuple[str, bool]]:
    """{snakemake job id: (rule, runs locally)} from snakemake's job listing."""
    jobs = {}
    for local, rule, jobid in re.findall(
        r"^(local)?rule (\w+):\n(?:    .*\n)*?    jobid: (\d+)$", output, re.M
    ):
        jobs[int(jobid)] = (rule, bool(local))
    return jobs


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, node_profile, tiny_run, tmp_path_factory):
    """The tiny config of the local end-to-end run (COMET on), through SLURM."""
    _, _, config, _ = tiny_run
    workdir = tmp_path_factory.mktemp("slurm-run")
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    started = time.monotonic()
    result = subprocess.run(
        snakemake_slurm(node_profile, workdir, configfile),
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=workflow_env(),
        timeout=1200,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    print(f"tiny DAG through SLURM: {time.monotonic() - started:.0f} s")
    return workdir, configfile, config, output


def test_every_compute_job_goes_through_sbatch(slurm_run):
    _, _, _, output = slurm_run
    jobs = job_rules(output)
    submitted = dict((int(job), slurm_id) for job, slurm_id in SUBMITTED.findall(output))
    remote = {job for job, (_, local) in jobs.items() if not local}
    local_rules = {rule for rule, local in jobs.values() if local}
    # downloads and staging stay on the login node; the target rule `all` does nothing
    assert local_rules == LOCAL_RULES | {"score_comet_stage_model", "all"}
    assert set(submitted) == remote
    assert {jobs[job][0] for job in remote} >= {"finetune_lora", "decode_translate", "score_comet"}
    # all of them finished in SLURM, the GPU rules on the profile's GPU partition
    states = squeue(*submitted.values())
    for job, slurm_id in submitted.items():
        assert states[slurm_id]["state"] == "COMPLETED", (jobs[job], states[slurm_id])
        gpu_rule = jobs[job][0] in ("finetune_lora", "decode_translate", "score_comet")
        assert states[slurm_id]["partition"] == ("gpu" if gpu_rule else "main")


def test_scores_through_slurm_equal_the_local_run(slurm_run, tiny_run):
    workdir = slurm_run[0]
    keys = ["system", "kind", "testset", "pair", "metric"]
    columns = [*keys, "score", "signature"]
    local = pd.read_csv(tiny_run[0] / "results/report/scores.tsv", sep="\t")[columns]
    remote = pd.read_csv(workdir / "results/report/scores.tsv", sep="\t")[columns]
    assert len(remote) == len(local) == 2 * 4 * 3
    pd.testing.assert_frame_equal(
        remote.sort_values(keys).reset_index(drop=True),
        local.sort_values(keys).reset_index(drop=True),
        check_exact=True,
    )


def wait_for_running_job(rule: str, run_prefix: str, process, timeout: float = 300) -> str:
    """The SLURM id of the first RUNNING job of `rule` in the snakemake run whose SLURM job
    names start with `run_prefix` (other runs may share the cluster)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        for slurm_id, job in squeue().items():
            ours = job["name"].startswith(run_prefix) and job["comment"].startswith(f"rule_{rule}_")
            if ours and job["state"] == "RUNNING":
                return slurm_id
        time.sleep(0.2)
    raise AssertionError(f"no {rule} job started running (snakemake rc {process.poll()})")


def test_cancelled_gpu_job_is_retried_with_more_and_completes(slurm_run, node_profile, tmp_path):
    """scancel on the running fine-tuning job (asking for a GPU): snakemake sees it
    CANCELLED, submits it again with twice the memory and time, and finishes."""
    workdir, _, config, _ = slurm_run
    gpu_config = yaml.safe_load(yaml.safe_dump(config))
    gpu_config.setdefault("compute", {})["finetune"] = {"gpus": 1}  # the node's GRES gpu
    configfile = tmp_path / "gpu.yaml"
    configfile.write_text(yaml.safe_dump(gpu_config))
    prefix = f"cancel{os.getpid()}"  # the job name is <prefix>_<run uuid>
    command = snakemake_slurm(
        node_profile,
        workdir,
        configfile,
        f"--slurm-jobname-prefix={prefix}",
        "--forcerun",
        "finetune_lora",
    )
    command += ["--", "finetune"]
    with subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=workflow_env(),
    ) as process:
        try:
            first = wait_for_running_job("finetune_lora", prefix, process)
            subprocess.run(["scancel", first], check=True)
            output, _ = process.communicate(timeout=600)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, output[-8000:]
    submissions = [slurm_id for _, slurm_id in SUBMITTED.findall(output)]
    assert len(submissions) == 2 and submissions[0] == first, output[-8000:]
    assert f"SLURM-job '{first}' failed, SLURM status is: 'CANCELLED'" in output
    assert "Trying to restart job" in output
    jobs = squeue(*submissions)
    retry = jobs[submissions[1]]
    assert jobs[first]["state"] == "CANCELLED" and retry["state"] == "COMPLETED"
    assert jobs[first]["partition"] == retry["partition"] == "gpu"
    # attempt 2 asks for twice the memory and time (the profile's `* attempt`)
    sizes = yaml.safe_load((node_profile / "config.yaml").read_text())["set-resources"]
    needs = {key: eval(sizes["finetune_lora"][key], {"attempt": 1}) for key in NODE_SIZES}
    assert jobs[first]["memory"] == f"{needs['mem_mb']}M"
    assert retry["memory"] == f"{2 * needs['mem_mb']}M"
    assert minutes(jobs[first]["time_limit"]) == needs["runtime"]
    assert minutes(retry["time_limit"]) == 2 * needs["runtime"]
    # the GPU was requested and granted (a GRES without a device: the job ran on the CPU)
    shown = subprocess.run(
        ["scontrol", "show", "job", submissions[1]], capture_output=True, text=True
    ).stdout
    assert "TresPerJob=gres:gpu:1" in shown
    record = yaml.safe_load((workdir / "results/finetune/tiny-lora/training.json").read_text())
    assert record["recipe"]["max_steps"] == 2
