"""benchmarks/gpu_bench.py on a CPU: the 8B shape skips at once, and the tiny shape runs
every section's code (HF, CTranslate2, LoRA and full steps, COMET) to figures.

    .venv/bin/pytest tests/unit/decode/test_gpu_bench.py -q
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT

SCRIPT = ROOT / "benchmarks" / "gpu_bench.py"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600
    )


def test_without_a_gpu_the_8b_shape_skips_cleanly():
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here: the 8B shape would run")
    result = run()
    assert result.returncode == 0, result.stderr[-2000:]
    assert "no GPU here: skipping the llama3-8b shape" in result.stdout


def test_the_tiny_shape_runs_every_section_on_the_cpu(tmp_path):
    result = run("--shape", "tiny", "--output", str(tmp_path / "bench.json"))
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads((tmp_path / "bench.json").read_text())
    assert figures["decode-hf"]["beam5_tokens_per_s"] > 0
    assert figures["decode-ct2"]["beam1_tokens_per_s"] > 0
    assert "skipped" in figures["decode-vllm"]  # no vLLM on a CPU
    for method in ("lora", "full"):
        assert figures[method]["tokens_per_s"] > 0, figures[method]
    assert figures["comet"]["segments_per_s"] > 0
    assert "| decode-ct2 |" in result.stdout
