"""The optional vLLM backend: what runs without vLLM (argument mapping, the error when it is
missing, the BLEU agreement check); the backend itself only on a GPU node with vllm.

    .venv/bin/pytest tests/unit/decode/test_vllm_backend.py -q
"""

import argparse
import importlib.util
import json

import pytest

from bayling_pipeline.decode import vllm_check
from bayling_pipeline.decode import vllm_engine as vllm_backend
from bayling_pipeline.decode.loading import load
from bayling_pipeline.decode.settings import Settings

HAVE_VLLM = importlib.util.find_spec("vllm") is not None


@pytest.mark.parametrize(
    "settings,expected",
    [
        (
            Settings(max_new_tokens=64),
            {"temperature": 0.0, "top_p": 1.0, "seed": None, "max_tokens": 64},
        ),
        (
            # top_p and seed only matter when sampling; greedy ignores them as HF does
            Settings(top_p=0.9, seed=7),
            {"temperature": 0.0, "top_p": 1.0, "seed": None, "max_tokens": 128},
        ),
        (
            Settings(temperature=0.7, top_p=0.9, seed=7, max_new_tokens=1024),
            {"temperature": 0.7, "top_p": 0.9, "seed": 7, "max_tokens": 1024},
        ),
    ],
)
def test_sampling_kwargs_map_the_hf_settings(settings, expected):
    kwargs = vllm_backend.sampling_kwargs(settings, [2, 7], ["<|eot_id|>"])
    assert {k: kwargs[k] for k in expected} == expected
    assert kwargs["n"] == 1 and kwargs["skip_special_tokens"] is True
    assert kwargs["stop_token_ids"] == [2, 7] and kwargs["stop"] == ["<|eot_id|>"]


def test_beam_search_stays_with_hf():
    with pytest.raises(ValueError, match="backend hf"):
        vllm_backend.sampling_kwargs(Settings(num_beams=5), [2], [])


def test_lora_rank_is_read_from_the_adapter(tmp_path):
    (tmp_path / "adapter_config.json").write_text(json.dumps({"r": 16, "lora_alpha": 32}))
    assert vllm_backend.lora_rank(tmp_path) == 16


@pytest.mark.skipif(HAVE_VLLM, reason="vllm is installed here")
def test_choosing_vllm_without_it_says_what_to_do(tmp_path):
    with pytest.raises(vllm_backend.BackendUnavailable) as error:
        load(str(tmp_path), None, backend="vllm")
    message = str(error.value)
    assert "vllm package is not installed" in message
    assert "pip install vllm" in message and "decoding.backend: hf" in message


def test_unknown_backend_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown decoding backend 'tgi'"):
        load(str(tmp_path), None, backend="tgi")


@pytest.mark.parametrize(
    "hf,other,bleu,identical",
    [
        (["Das ist gut.", "Guten Morgen!"], ["Das ist gut.", "Guten Morgen!"], 100.0, 1.0),
        (["Das ist ein gutes Haus."], ["Das ist ein schönes Haus."], None, 0.0),
    ],
)
def test_agreement(hf, other, bleu, identical):
    result = vllm_check.agreement(hf, other)
    assert result["identical"] == identical and result["segments"] == len(hf)
    if bleu is not None:
        assert result["bleu"] == pytest.approx(bleu)
    else:
        assert 0 < result["bleu"] < 100 and 0 < result["chrf"] < 100
    assert result["signature"].startswith("nrefs:1")


def test_agreement_needs_aligned_outputs():
    with pytest.raises(ValueError, match="2 HF outputs but 1"):
        vllm_check.agreement(["a", "b"], ["a"])


@pytest.mark.skipif(not HAVE_VLLM, reason="needs the vllm package and a GPU node")
def test_vllm_agrees_with_hf_on_greedy_decoding(smollm2_dir, tmp_path):
    from bayling_pipeline.io import write_lines

    write_lines(tmp_path / "src.txt", ["Save and continue editing", "Change password"] * 4)
    result = vllm_check.check_equivalence(
        argparse.Namespace(
            model=str(smollm2_dir),
            adapter="",
            source=str(tmp_path / "src.txt"),
            pair="eng_Latn-deu_Latn",
            template="bayling-en",
            chat_format="model",
            postprocess="first_line",
            batch_size=8,
            max_new_tokens=16,
            segments=8,
            min_bleu=90.0,
            trust_remote_code=False,
        )
    )
    assert result["passed"], result
