"""Up-front estimate of a fine-tuning run: parameters, tokens, memory per GPU, GPU-hours.

Printed by :mod:`bayling_pipeline.finetune.setup` before the first step and written to the
training record, so a paper-scale run's needs are known before it is queued for days.
By hand, for any Llama-style ``config.json``::

    python -m bayling_pipeline.finetune.estimate \
        --config resources/models/smollm2-135m/config.json \
        --method lora --tokens 50e6 --batch-size 8 --max-length 1024 --gpus 8

The formulas (all rough; they size a job, they do not replace a measurement):

- **parameters** of a Llama-style decoder: embeddings ``V*h`` (twice unless tied), per
  layer ``h*(h + 2*kv + h)`` attention (``kv = kv_heads * head_dim``), ``3*h*f`` SwiGLU
  MLP and ``2*h`` norms, plus the final norm. LoRA adds ``r*(in + out)`` per adapted linear.
- **FLOPs** per processed token: ``6*N`` for full fine-tuning (forward 2N, backward 4N);
  ``4*N`` for LoRA/QLoRA, whose frozen weights need no weight gradients; ``+2*N`` with
  gradient checkpointing (the forward runs twice). Attention's ``s^2`` term is ignored.
- **time**: FLOPs / (peak * MFU), default peak 989 TFLOP/s (H100 SXM, dense bf16) at 40%
  model FLOPs utilization, a typical figure for a well-tuned 8B fine-tune.
- **memory per GPU**: weights (a frozen base in bf16: 2 bytes, fp32: 4, 4-bit: 0.5 + 10%
  for the scales; full fine-tuning keeps fp32 master weights, 4 bytes, computing in bf16
  under autocast; LoRA adapters are fp32) + gradients (4 bytes per trainable parameter) +
  AdamW states (8 bytes per trainable parameter) -- each divided by the GPU count when
  sharded (FSDP full-shard / ZeRO-3) -- + activations. Activations per layer
  follow Korthikanti et al. (2022) for bf16 with memory-efficient attention:
  ``34*b*s*h`` bytes per layer, or ``2*b*s*h`` per layer plus one full layer with
  gradient checkpointing, plus ``6*b*s*V`` bytes for bf16 logits and their fp32 softmax.
"""

from __future__ import annotations

import argparse
import json

from bayling_pipeline.cli import at_least, input_file, run_cli
from bayling_pipeline.io import read_json, write_json

GIB = 1024**3
DEFAULT_PEAK_TFLOPS = 989.0  # H100 SXM, dense bf16
DEFAULT_MFU = 0.40
LINEAR_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def _shape(config: dict) -> dict:
    h = config["hidden_size"]
    heads = config["num_attention_heads"]
    head_dim = config.get("head_dim") or h // heads
    return {
        "h": h,
        "f": config["intermediate_size"],
        "layers": config["num_hidden_layers"],
        "vocab": config["vocab_size"],
        "q": heads * head_dim,
        "kv": config.get("num_key_value_heads", heads) * head_dim,
        "tied": bool(config.get("tie_word_embeddings", False)),
    }


def linear_shapes(config: dict) -> dict[str, tuple[int, int]]:
    """(in, out) features of each linear module of one decoder layer."""
    s = _shape(config)
    return {
        "q_proj": (s["h"], s["q"]),
        "k_proj": (s["h"], s["kv"]),
        "v_proj": (s["h"], s["kv"]),
        "o_proj": (s["q"], s["h"]),
        "gate_proj": (s["h"], s["f"]),
        "up_proj": (s["h"], s["f"]),
        "down_proj": (s["f"], s["h"]),
    }


def parameter_count(config: dict) -> int:
    """Parameters of a Llama-style decoder from its ``config.json``."""
    s = _shape(config)
    per_layer = sum(i * o for i, o in linear_shapes(config).values()) + 2 * s["h"]
    embeddings = s["vocab"] * s["h"] * (1 if s["tied"] else 2)
    return embeddings + s["layers"] * per_layer + s["h"]


def lora_parameter_count(config: dict, r: int, target_modules) -> int:
    """LoRA parameters: ``r*(in + out)`` per adapted linear of every layer.

    ``all-linear`` adapts every linear layer but the output head, as PEFT does.
    """
    shapes = linear_shapes(config)
    names = LINEAR_MODULES if target_modules == "all-linear" else target_modules
    per_layer = sum(r * sum(shapes[n]) for n in names if n in shapes)
    return _shape(config)["layers"] * per_layer


def _weight_bytes(n: int, trainable: int, method: str, bf16: bool):
    """Bytes of the weights of one unsharded copy of the model."""
    weight_bytes = {"qlora": 0.55, "lora": 2 if bf16 else 4, "full": 4}[method]
    if method != "full":
        weight_bytes_total = n * weight_bytes + trainable * 4  # frozen base + fp32 adapter
    else:
        weight_bytes_total = n * weight_bytes  # fp32 master weights, bf16 autocast
    return weight_bytes_total


def _activation_bytes(s: dict, batch_size: int, max_length: int, gradient_checkpointing: bool):
    """Bytes of the activations and logits of one micro-batch (Korthikanti et al. 2022)."""
    per_layer = 34 * batch_size * max_length * s["h"]
    if gradient_checkpointing:
        activations = 2 * batch_size * max_length * s["h"] * s["layers"] + per_layer
    else:
        activations = per_layer * s["layers"]
    activations += 6 * batch_size * max_length * s["vocab"]
    return activations


def estimate(
    config: dict,
    *,
    method: str,
    lora_r: int = 16,
    target_modules="all-linear",
    tokens: float,
    batch_size: int,
    max_length: int,
    gpus: int = 1,
    sharded: bool = False,
    bf16: bool = True,
    gradient_checkpointing: bool = False,
    peak_tflops: float = DEFAULT_PEAK_TFLOPS,
    mfu: float = DEFAULT_MFU,
) -> dict:
    """The estimate of one run; ``tokens`` is every token processed (padding included).

    ``batch_size`` and ``max_length`` give the activations of one micro-batch per GPU;
    ``sharded`` is FSDP full-shard or ZeRO-3 over ``gpus``.
    """
    n = parameter_count(config)
    trainable = n if method == "full" else lora_parameter_count(config, lora_r, target_modules)
    s = _shape(config)
    shard = gpus if sharded else 1
    weights = _weight_bytes(n, trainable, method, bf16) / shard
    gradients = trainable * 4 / shard
    optimizer = trainable * 8 / shard
    activations = _activation_bytes(s, batch_size, max_length, gradient_checkpointing)
    flops_per_token = (6 if method == "full" else 4) * n + (2 * n if gradient_checkpointing else 0)
    flops = flops_per_token * tokens
    gpu_seconds = flops / (peak_tflops * 1e12 * mfu)
    return {
        "parameters": n,
        "trainable_parameters": trainable,
        "tokens": int(tokens),
        "flops": flops,
        "memory_gib_per_gpu": {
            "weights": weights / GIB,
            "gradients": gradients / GIB,
            "optimizer": optimizer / GIB,
            "activations": activations / GIB,
            "total": (weights + gradients + optimizer + activations) / GIB,
        },
        "gpu_hours": gpu_seconds / 3600,
        "wall_hours": gpu_seconds / 3600 / gpus,
        "assumptions": {
            "peak_tflops": peak_tflops,
            "mfu": mfu,
            "flops_per_token": f"{flops_per_token / n:.0f}*N",
            "gpus": gpus,
            "sharded": sharded,
        },
    }


def summary(result: dict) -> str:
    """One log line of an estimate."""
    memory = result["memory_gib_per_gpu"]
    return (
        f"estimate: {result['parameters'] / 1e9:.3f}B parameters, "
        f"{result['trainable_parameters'] / 1e6:.2f}M trainable, "
        f"{result['tokens'] / 1e6:.2f}M tokens, {result['flops']:.2e} FLOPs; "
        f"per GPU {memory['total']:.1f} GiB (weights {memory['weights']:.1f}, "
        f"gradients {memory['gradients']:.1f}, optimizer {memory['optimizer']:.1f}, "
        f"activations {memory['activations']:.1f}); {result['gpu_hours']:.2f} GPU-hours at "
        f"{result['assumptions']['mfu']:.0%} of {result['assumptions']['peak_tflops']:.0f} "
        "TFLOP/s"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, type=input_file, help="the model's config.json")
    parser.add_argument("--method", choices=["lora", "qlora", "full"], default="lora")
    parser.add_argument("--lora-r", type=at_least(1), default=16)
    parser.add_argument("--tokens", type=float, required=True, help="training tokens, e.g. 2e8")
    parser.add_argument("--batch-size", type=at_least(1), default=8)
    parser.add_argument("--max-length", type=at_least(1), default=1024)
    parser.add_argument("--gpus", type=at_least(1), default=1)
    parser.add_argument("--sharded", action="store_true", help="FSDP full-shard or ZeRO-3")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--peak-tflops", type=float, default=DEFAULT_PEAK_TFLOPS)
    parser.add_argument("--mfu", type=float, default=DEFAULT_MFU)
    parser.add_argument("--output", help="write the estimate's JSON here (default: print it)")
    args = parser.parse_args(argv)
    if args.tokens <= 0:
        parser.error(f"--tokens must be positive, got {args.tokens}")
    config = read_json(args.config)
    result = estimate(
        config,
        method=args.method,
        lora_r=args.lora_r,
        tokens=args.tokens,
        batch_size=args.batch_size,
        max_length=args.max_length,
        gpus=args.gpus,
        sharded=args.sharded,
        gradient_checkpointing=args.gradient_checkpointing,
        peak_tflops=args.peak_tflops,
        mfu=args.mfu,
    )
    print(summary(result))
    if args.output:
        write_json(args.output, result)
    else:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.finetune.estimate")
