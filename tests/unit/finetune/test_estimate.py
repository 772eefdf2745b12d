"""The up-front estimate's arithmetic on Llama-3-8B's published config (8.03B parameters)."""

import pytest

from bayling_pipeline.finetune import estimate

GIB = 1024**3

# meta-llama/Meta-Llama-3-8B config.json (the numbers that matter here)
LLAMA3_8B = {
    "vocab_size": 128256,
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "tie_word_embeddings": False,
}
N = 8_030_261_248  # the parameter count Meta reports for Llama-3-8B


def test_llama3_8b_parameter_count():
    # embeddings + head: 2 * 128256 * 4096; a layer: q,o 4096^2 each, k,v 4096*1024 each,
    # MLP 3 * 4096 * 14336, two norms 2 * 4096; 32 layers; final norm 4096
    by_hand = 2 * 128256 * 4096 + 32 * (2 * 4096**2 + 2 * 4096 * 1024 + 3 * 4096 * 14336 + 8192)
    assert estimate.parameter_count(LLAMA3_8B) == by_hand + 4096 == N


@pytest.mark.parametrize(
    "target_modules,expected",
    [
        # r * (in + out) per module, per layer: q,o 16*8192; k,v 16*5120; gate,up,down 16*18432
        ("all-linear", 32 * 16 * (2 * 8192 + 2 * 5120 + 3 * 18432)),
        (["q_proj", "v_proj"], 32 * 16 * (8192 + 5120)),
    ],
)
def test_llama3_8b_lora_parameters(target_modules, expected):
    assert estimate.lora_parameter_count(LLAMA3_8B, 16, target_modules) == expected
    assert expected in (41_943_040, 6_815_744)


def test_full_fine_tuning_on_8_gpus_fsdp():
    result = estimate.estimate(
        LLAMA3_8B,
        method="full",
        tokens=1e9,
        batch_size=1,
        max_length=4096,
        gpus=8,
        sharded=True,
    )
    memory = result["memory_gib_per_gpu"]
    assert result["parameters"] == result["trainable_parameters"] == N
    assert memory["weights"] == pytest.approx(N * 4 / 8 / GIB)  # fp32 master, sharded
    assert memory["gradients"] == pytest.approx(N * 4 / 8 / GIB)
    assert memory["optimizer"] == pytest.approx(N * 8 / 8 / GIB)  # AdamW: 2 fp32 states
    # 34*b*s*h per layer, plus bf16 logits and fp32 softmax: 6*b*s*V
    activations = 34 * 4096 * 4096 * 32 + 6 * 4096 * 128256
    assert memory["activations"] == pytest.approx(activations / GIB)
    assert memory["total"] == pytest.approx(34.893, abs=1e-3)
    assert result["flops"] == pytest.approx(6 * N * 1e9)
    # 4.818e19 FLOPs / (989 TFLOP/s * 40%) = 121,794 GPU-seconds
    assert result["gpu_hours"] == pytest.approx(6 * N * 1e9 / (989e12 * 0.4) / 3600)
    assert result["gpu_hours"] == pytest.approx(33.83, abs=0.01)
    assert result["wall_hours"] == pytest.approx(result["gpu_hours"] / 8)


@pytest.mark.parametrize(
    "method,weights_gib",
    [
        ("lora", (N * 2 + 41_943_040 * 4) / GIB),  # bf16 base + fp32 adapter
        ("qlora", (N * 0.55 + 41_943_040 * 4) / GIB),  # 4-bit + scales
    ],
)
def test_adapter_methods_on_one_gpu_with_checkpointing(method, weights_gib):
    result = estimate.estimate(
        LLAMA3_8B,
        method=method,
        tokens=1e9,
        batch_size=1,
        max_length=4096,
        gradient_checkpointing=True,
    )
    memory = result["memory_gib_per_gpu"]
    assert memory["weights"] == pytest.approx(weights_gib)
    assert memory["gradients"] == pytest.approx(41_943_040 * 4 / GIB)
    # layer inputs of every layer, one layer's full activations, the logits
    checkpointed = 2 * 4096 * 4096 * 32 + 34 * 4096 * 4096 + 6 * 4096 * 128256
    assert memory["activations"] == pytest.approx(checkpointed / GIB)
    # 4N (no weight gradients for the frozen base) + 2N recomputed forward
    assert result["flops"] == pytest.approx(6 * N * 1e9)
    assert result["assumptions"]["flops_per_token"] == "6*N"


def test_summary_names_the_assumption():
    line = estimate.summary(
        estimate.estimate(LLAMA3_8B, method="lora", tokens=1e8, batch_size=4, max_length=1024)
    )
    assert "8.030B parameters" in line and "41.94M trainable" in line
    assert "40% of 989 TFLOP/s" in line
