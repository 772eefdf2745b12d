"""One GPU, under 8 minutes, no network: decoding, fine-tuning and COMET throughput of
random-weight models with the papers' shapes.

    .venv/bin/python benchmarks/gpu_bench.py                 # Llama-3-8B shape, bf16, on a GPU
    .venv/bin/python benchmarks/gpu_bench.py --shape tiny    # the same code, tiny, on a CPU

Sections (each timed on its own, skipped with the reason when it cannot run here or the
time budget is spent, an error recorded without stopping the others):

- ``decode-hf``, ``decode-ct2``, ``decode-vllm``: generated tokens/s of HF ``generate``,
  CTranslate2 (the model converted in memory, bf16) and vLLM (where installed), greedy and
  beam 5, random prompts, every sequence run to max_new_tokens (no end token);
- ``lora``, ``full``: one fine-tuning step (LoRA r=16 on every linear layer, as the demo's
  recipe; full fine-tuning with AdamW, states in bf16 to fit one GPU), gradient
  checkpointing on: tokens/s, peak memory and model FLOPs utilization (MFU: 6 x parameters
  per token for full fine-tuning, 4 x for LoRA, which computes no weight gradients of the
  frozen layers, plus attention; recomputation not counted) against the GPU's dense bf16
  peak (``--peak-tflops`` for a GPU not in ``PEAK_TFLOPS``);
- ``comet``: segments/s of a COMET regression model (COMET-22's estimator) on an encoder
  of XLM-R-large's shape, random weights, a SentencePiece vocabulary trained here on
  Django's catalogs (tests/helpers/comet_tiny.py).

Without a GPU the 8B shape is skipped at once (exit status 0); ``--shape tiny`` runs every
section on the CPU (tests/unit/decode/test_gpu_bench.py). Prints a table, ``--output``
writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "helpers"))

LLAMA = {
    "llama3-8b": dict(
        hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
        num_key_value_heads=8, vocab_size=128256, rope_theta=500000.0,
        max_position_embeddings=8192,
    ),
    "tiny": dict(
        hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, vocab_size=512, max_position_embeddings=1024,
    ),
}  # fmt: skip
ENCODER = {
    "llama3-8b": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                      intermediate_size=4096, vocab_size=250002),
    "tiny": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=64, vocab_size=2005),
}  # fmt: skip
WORK = {
    "llama3-8b": dict(batch=32, prompt=128, new=128, beam_batch=8, lora_batch=4, full_batch=2,
                      seq=2048, comet_segments=2048, comet_batch=64),
    "tiny": dict(batch=4, prompt=16, new=8, beam_batch=2, lora_batch=2, full_batch=2, seq=64,
                 comet_segments=16, comet_batch=8),
}  # fmt: skip
# dense bf16 TFLOP/s by device name (the SXM parts)
PEAK_TFLOPS = {"H100": 989.4, "H200": 989.4, "A100": 312.0, "L40S": 362.1, "A10": 125.0}


class Bench:
    """The device, the shapes, the clock and the results."""

    def __init__(self, args):
        import torch

        self.args = args
        self.cuda = torch.cuda.is_available()
        self.device = "cuda" if self.cuda else "cpu"
        self.dtype = torch.bfloat16 if self.cuda else torch.float32
        self.work = WORK[args.shape]
        self.name = torch.cuda.get_device_name() if self.cuda else "cpu"
        peak = args.peak_tflops or next((v for k, v in PEAK_TFLOPS.items() if k in self.name), None)
        self.peak = peak * 1e12 if peak and self.cuda else None
        self.started = time.perf_counter()
        self.results: dict[str, dict] = {}

    def left(self) -> float:
        return self.args.budget - (time.perf_counter() - self.started)

    def section(self, name, function, *arguments, needs=30.0):
        """Run one section; record its figures, or why it was skipped or failed."""
        if self.left() < needs:
            self.results[name] = {"skipped": f"time budget ({self.left():.0f} s left)"}
            return
        try:
            self.results[name] = function(self, *arguments)
        except Exception as error:  # one section's failure must not hide the others'
            self.results[name] = {"error": f"{type(error).__name__}: {error}"[:300]}
        finally:
            gc.collect()
            if self.cuda:
                import torch

                torch.cuda.empty_cache()
        print(name, json.dumps(self.results[name]), flush=True)

    def sync(self):
        if self.cuda:
            import torch

            torch.cuda.synchronize()

    def peak_memory(self) -> float | None:
        import torch

        return round(torch.cuda.max_memory_allocated() / 2**30, 2) if self.cuda else None


def build_llama(bench):
    """A Llama of the chosen shape, random weights, in the bench's dtype, on its device."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(**LLAMA[bench.args.shape], bos_token_id=1, eos_token_id=2)
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(bench.dtype)
    try:
        with torch.device(bench.device):  # initialized where it runs: seconds, not minutes
            model = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    model.generation_config.eos_token_id = None  # every sequence runs to max_new_tokens
    model.generation_config.pad_token_id = 0
    return model.eval()


def matmul_params(model) -> int:
    """Parameters multiplied per token: all but the input embedding."""
    return (
        sum(p.numel() for p in model.parameters())
        - model.config.vocab_size * model.config.hidden_size
    )


def prompts(bench, batch, vocab):
    import torch

    generator = torch.Generator().manual_seed(1)
    return torch.randint(10, vocab, (batch, bench.work["prompt"]), generator=generator)


def decode_hf(bench, model) -> dict:
    import torch

    figures = {}
    for beams, batch in ((1, bench.work["batch"]), (5, bench.work["beam_batch"])):
        ids = prompts(bench, batch, model.config.vocab_size).to(bench.device)
        with torch.inference_mode():
            model.generate(ids, max_new_tokens=2, num_beams=beams, do_sample=False)  # warm-up
            bench.sync()
            started = time.perf_counter()
            out = model.generate(
                ids, attention_mask=torch.ones_like(ids), max_new_tokens=bench.work["new"],
                num_beams=beams, do_sample=False,
            )  # fmt: skip
            bench.sync()
        seconds = time.perf_counter() - started
        generated = (out.shape[1] - ids.shape[1]) * batch
        figures[f"beam{beams}_tokens_per_s"] = round(generated / seconds, 1)
    return figures


def decode_ct2(bench, model) -> dict:
    """CTranslate2 on the same weights: the spec built from the model in memory."""
    import tempfile

    import ctranslate2
    from ctranslate2.converters.transformers import LlamaLoader

    class Vocabulary:  # the loader asks a tokenizer for its vocabulary and special tokens
        bos_token, eos_token, unk_token = "<t1>", "<t2>", None

        def get_vocab(self):
            return {f"<t{i}>": i for i in range(model.config.vocab_size)}

    compute_type = "bfloat16" if bench.cuda else "float32"
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as tmp:
        started = time.perf_counter()
        # the loader takes the model apart as it converts: give it a copy, on the host
        spec = LlamaLoader()(copy.deepcopy(model).cpu(), Vocabulary())
        spec.validate()
        spec.optimize(quantization=compute_type)
        spec.save(tmp)
        del spec
        convert_seconds = time.perf_counter() - started
        generator = ctranslate2.Generator(tmp, device=bench.device, compute_type=compute_type)
    figures = {"convert_seconds": round(convert_seconds, 1)}
    for beams, batch in ((1, bench.work["batch"]), (5, bench.work["beam_batch"])):
        tokens = [
            [f"<t{i}>" for i in row]
            for row in prompts(bench, batch, model.config.vocab_size).tolist()
        ]
        options = dict(
            max_length=bench.work["new"], min_length=bench.work["new"], beam_size=beams,
            include_prompt_in_result=False, max_batch_size=batch,
        )  # fmt: skip
        generator.generate_batch(tokens, **{**options, "max_length": 2, "min_length": 0})
        started = time.perf_counter()
        results = generator.generate_batch(tokens, **options)
        seconds = time.perf_counter() - started
        generated = sum(len(r.sequences_ids[0]) for r in results)
        figures[f"beam{beams}_tokens_per_s"] = round(generated / seconds, 1)
    del generator
    return figures


def decode_vllm(bench, model) -> dict:
    import importlib.util
    import tempfile

    if not bench.cuda or importlib.util.find_spec("vllm") is None:
        return {"skipped": "vllm is not installed" if bench.cuda else "vllm needs a GPU"}
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    with tempfile.TemporaryDirectory(dir="/dev/shm") as tmp:
        model.save_pretrained(tmp)
        llm = LLM(model=tmp, skip_tokenizer_init=True, dtype="bfloat16", gpu_memory_utilization=0.6)
    ids = prompts(bench, bench.work["batch"], model.config.vocab_size).tolist()
    params = SamplingParams(max_tokens=bench.work["new"], ignore_eos=True, temperature=0.0)
    llm.generate([TokensPrompt(prompt_token_ids=p) for p in ids[:2]], params)  # warm-up
    started = time.perf_counter()
    outputs = llm.generate([TokensPrompt(prompt_token_ids=p) for p in ids], params)
    seconds = time.perf_counter() - started
    generated = sum(len(o.outputs[0].token_ids) for o in outputs)
    del llm
    return {"beam1_tokens_per_s": round(generated / seconds, 1)}


def train_step(bench, model, method: str) -> dict:
    """Warm-up, then timed steps of LoRA or full fine-tuning on random tokens."""
    import torch

    batch = bench.work["lora_batch" if method == "lora" else "full_batch"]
    seq, config = bench.work["seq"], model.config
    if method == "lora":
        from peft import LoraConfig, get_peft_model

        targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
        model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules=targets))
    else:
        model.requires_grad_(True)  # LoRA's section froze the base weights
    model.train()
    model.gradient_checkpointing_enable()
    model.config.use_cache = False
    if method == "lora":
        model.enable_input_require_grads()  # checkpointing with frozen embeddings
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-5, foreach=False)  # states in bf16 on a GPU
    ids = prompts(bench, batch, config.vocab_size).to(bench.device)
    ids = ids.repeat(1, seq // ids.shape[1] + 1)[:, :seq]
    if bench.cuda:
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(3):  # the first step allocates the optimizer states: not timed
        started = time.perf_counter()
        model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        bench.sync()
        times.append(time.perf_counter() - started)
    seconds = min(times[1:])
    params = matmul_params(model.get_base_model() if method == "lora" else model)
    attention = 12 * config.num_hidden_layers * config.hidden_size * seq
    per_token = (4 if method == "lora" else 6) * params + (
        attention * 2 // 3 if method == "lora" else attention
    )
    achieved = per_token * batch * seq / seconds
    figures = {
        "tokens_per_s": round(batch * seq / seconds, 1),
        "step_seconds": round(seconds, 3),
        "tokens_per_step": batch * seq,
        "peak_memory_gib": bench.peak_memory(),
        "achieved_tflops": round(achieved / 1e12, 2),
        "mfu": round(achieved / bench.peak, 3) if bench.peak else None,
    }
    del optimizer
    if method == "lora":
        model.unload()
    model.gradient_checkpointing_disable()
    return figures


def comet(bench) -> dict:
    """COMET-22's regression estimator on a random encoder of the shape, segments/s."""
    import tempfile

    import torch
    from comet.models import RegressionMetric
    from comet_tiny import _train_tokenizer, training_text
    from transformers import XLMRobertaConfig, XLMRobertaModel

    shape = ENCODER[bench.args.shape]
    with tempfile.TemporaryDirectory() as tmp:
        encoder = Path(tmp)
        _train_tokenizer(encoder)
        config = XLMRobertaConfig(**shape, max_position_embeddings=514, pad_token_id=1)
        XLMRobertaModel(config, add_pooling_layer=False).save_pretrained(encoder)
        model = RegressionMetric(
            pretrained_model=str(encoder), encoder_model="XLM-RoBERTa", local_files_only=True,
            load_pretrained_weights=True, layer="mix", hidden_sizes=[3072, 1024],
            activations="Tanh", final_activation=None, batch_size=bench.work["comet_batch"],
        )  # fmt: skip
    lines = training_text()
    samples = [
        {"src": lines[i % len(lines)], "mt": lines[(i + 1) % len(lines)],
         "ref": lines[(i + 2) % len(lines)]}
        for i in range(bench.work["comet_segments"])
    ]  # fmt: skip
    options = dict(batch_size=bench.work["comet_batch"], gpus=1 if bench.cuda else 0,
                   progress_bar=False)  # fmt: skip
    if bench.cuda:
        torch.cuda.reset_peak_memory_stats()
    model.predict(samples[: bench.work["comet_batch"]], **options)  # warm-up
    started = time.perf_counter()
    model.predict(samples, **options)
    seconds = time.perf_counter() - started
    return {
        "segments_per_s": round(len(samples) / seconds, 1),
        "segments": len(samples),
        "encoder_params_m": round(sum(p.numel() for p in model.encoder.parameters()) / 1e6, 1),
        "peak_memory_gib": bench.peak_memory(),
    }


def run(bench) -> None:
    model = build_llama(bench)
    bench.results["model"] = {
        "shape": bench.args.shape,
        "params_b": round(sum(p.numel() for p in model.parameters()) / 1e9, 3),
        "dtype": str(bench.dtype).removeprefix("torch."),
        "device": bench.name,
        "peak_tflops": bench.peak and bench.peak / 1e12,
    }
    bench.section("decode-hf", decode_hf, model, needs=30)
    bench.section("decode-ct2", decode_ct2, model, needs=150)
    bench.section("decode-vllm", decode_vllm, model, needs=150)
    bench.section("lora", train_step, model, "lora", needs=40)
    bench.section("full", train_step, model, "full", needs=40)
    del model
    bench.section("comet", comet, needs=30)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(LLAMA), default="llama3-8b")
    parser.add_argument("--budget", type=float, default=450.0, help="seconds for all sections")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the GPU's bf16 peak")
    parser.add_argument("--output", default="", help="write the figures here as JSON")
    args = parser.parse_args(argv)
    import torch

    if args.shape != "tiny" and not torch.cuda.is_available():
        print(
            f"no GPU here: skipping the {args.shape} shape (--shape tiny runs the code on the CPU)"
        )
        return 0
    bench = Bench(args)
    run(bench)
    bench.results["seconds"] = round(time.perf_counter() - bench.started, 1)
    print("| section | figures |\n|---|---|")
    for name, figures in bench.results.items():
        print(f"| {name} | {json.dumps(figures)} |")
    if args.output:
        Path(args.output).write_text(json.dumps(bench.results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
