"""Row of the fault matrix (docs/reliability.md): a decode shard begun in one dtype and
resumed in another starts over instead of mixing outputs of both; resumed in the same one,
it keeps its committed batches.

    .venv/bin/pytest -q tests/unit/decode/test_decode_resume_faults.py

The real tiny SmolLM2 model, loaded in fp32 (as on a CPU) and cast to bf16 (as on a GPU).
"""

from __future__ import annotations

import copy
import json

import pytest

from bayling_pipeline.decode.loading import Loaded, generate_resumable, load
from bayling_pipeline.decode.resume import partial_path
from bayling_pipeline.decode.settings import Settings

SOURCES = ["Good morning.", "Save the file.", "Delete the user.", "Log out.", "Thank you."]


@pytest.fixture(scope="module")
def fp32(smollm2_dir):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield load(str(smollm2_dir))
    torch.set_num_threads(threads)


def _prompts(loaded) -> list[list[int]]:
    return [loaded.tokenizer(f"Translate into German: {s}\n")["input_ids"] for s in SOURCES]


def _header(output) -> dict:
    return json.loads(partial_path(output).read_text().splitlines()[0])


def test_shard_resumed_with_another_dtype_starts_over(fp32, smollm2_dir, tmp_path, caplog):
    import torch

    settings = Settings(batch_size=2, max_new_tokens=4)
    output, prompts = tmp_path / "shard.hyp", _prompts(fp32)
    # a job killed after committing its batches in fp32: the batch log stays
    first, *_ = generate_resumable(fp32, prompts, settings, output, smollm2_dir, None)
    fp32_header = _header(output)
    with caplog.at_level("INFO"):
        again, *_ = generate_resumable(fp32, prompts, settings, output, smollm2_dir, None)
    assert again == first and "starting over" not in caplog.text  # same dtype: resumed
    bf16 = Loaded(
        tokenizer=fp32.tokenizer,
        device=fp32.device,
        model=copy.deepcopy(fp32.model).to(torch.bfloat16),
        compute_type="bfloat16",
    )
    with caplog.at_level("INFO"):
        resumed, *_ = generate_resumable(bf16, prompts, settings, output, smollm2_dir, None)
    assert "decoded from other inputs or settings; starting over" in caplog.text
    assert _header(output) != fp32_header
    fresh, *_ = generate_resumable(
        bf16, prompts, settings, tmp_path / "fresh.hyp", smollm2_dir, None
    )
    assert resumed == fresh, "every batch decoded in bf16, none kept from the fp32 job"
