"""Fine-tuning of a causal LM on chat-format instructions (loss on assistant turns only).

Run by the rule ``finetune_lora``; by hand on a GPU node, the same command::

    python -m bayling_pipeline.finetune --base-model resources/models/smollm2-135m \
        --train results/synthesize/bayling-demo/train.jsonl \
        --dev results/synthesize/bayling-demo/dev.jsonl \
        --recipe results/finetune/bayling-smollm2/recipe.json \
        --adapter results/finetune/bayling-smollm2/adapter \
        --record results/finetune/bayling-smollm2/training.json \
        --loss-curve results/finetune/bayling-smollm2/loss.tsv

On several GPUs of one node, the same arguments after
``accelerate launch --num_processes 8 --config_file profiles/accelerate/fsdp.yaml -m``.

The recipe (a JSON file the workflow writes from config.yaml) holds every setting that
changes the result; it is copied, resolved, into the training record next to the weights
together with the library versions, the seed and an up-front cost estimate. The method
(``lora``, ``qlora``, ``full``: :mod:`bayling_pipeline.finetune.model`) decides what the
output directory holds: a LoRA adapter, or for ``full`` a complete model.

Batches come from :mod:`bayling_pipeline.finetune.batching` (padded or packed, disjoint per
process). The loss of a step is the mean over all its assistant tokens, across
micro-batches and processes. Only the main process writes files.
"""

from __future__ import annotations

import argparse
import logging
import math
import platform
import random
import shutil
import sys
import time
from importlib import metadata
from pathlib import Path

from bayling_pipeline.finetune import batching, estimate
from bayling_pipeline.io import atomic_path, read_json, read_jsonl, write_json, write_lines
from bayling_pipeline.prompts import chat_formats
from bayling_pipeline.prompts.chat import IGNORE_INDEX, tokenize_dialogue

log = logging.getLogger(__name__)

#: Settings a recipe may leave out; config.yaml's schema carries the same defaults.
RECIPE_DEFAULTS = {
    "seed": 1,
    "method": "lora",
    "chat_format": "model",
    "max_steps": 100,
    "batch_size": 8,
    "gradient_accumulation": 1,
    "learning_rate": 1e-3,
    "warmup_steps": 10,
    "weight_decay": 0.0,
    "max_length": 256,
    "packing": False,
    "pack_length": None,
    "precision": "auto",
    "attn_implementation": "sdpa",
    "gradient_checkpointing": False,
    "lora": {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": "all-linear"},
    "trust_remote_code": False,
    "dev_examples": 64,
    "log_every": 10,
    "checkpoint_every": 50,
}

#: Beside the weights: {"chat_format": "<id>"}, the format the model was trained on.
CHAT_FORMAT_FILE = "chat_format.json"

VERSIONED_PACKAGES = (
    "torch",
    "transformers",
    "peft",
    "accelerate",
    "tokenizers",
    "safetensors",
    "bitsandbytes",
    "flash_attn",
    "deepspeed",
)


def resolve_recipe(recipe: dict) -> dict:
    """Fill defaults into a recipe (one level deep for ``lora``); pin the chat format's
    version, so the record names the exact format trained on."""
    resolved = {**RECIPE_DEFAULTS, **recipe}
    resolved["lora"] = {**RECIPE_DEFAULTS["lora"], **recipe.get("lora", {})}
    resolved["chat_format"] = chat_formats.resolve(resolved["chat_format"])
    if (resolved["pack_length"] or resolved["max_length"]) < resolved["max_length"]:
        raise ValueError("recipe.pack_length must be at least max_length (an example fills a row)")
    return resolved


def library_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def load_examples(
    path, tokenizer, max_length: int, limit: int | None = None, chat_format: str = "model"
) -> list[dict]:
    """Tokenize chat records; those with nothing to learn after truncation are skipped.

    Each example keeps ``index``, its line in the file, to tell which process saw it.
    """
    examples = []
    for index, record in enumerate(read_jsonl(path)):
        example = tokenize_dialogue(tokenizer, record["messages"], max_length, chat_format)
        if example is not None:
            examples.append({**example, "index": index})
        if limit is not None and len(examples) >= limit:
            break
    if not examples:
        raise ValueError(f"{path}: no trainable examples (empty file or all truncated away)")
    return examples


def mean_loss(loss_fn, examples: list[dict], batch_size: int, pad_id: int, device) -> float:
    """Token-averaged loss over ``examples`` (assistant tokens only).

    ``loss_fn(ids, mask, labels)`` returns the summed loss of a padded batch.
    """
    import torch

    total, tokens = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(examples), batch_size):
            ids, mask, labels = batching.collate(examples[start : start + batch_size], pad_id)
            total += loss_fn(ids.to(device), mask.to(device), labels.to(device)).item()
            tokens += int((labels[:, 1:] != IGNORE_INDEX).sum())
    return total / max(tokens, 1)


def run_estimate(base_model, recipe, examples, processes, sharded, precision, **throughput):
    """The up-front estimate for this run, or None for a non-Llama-style config."""
    processed, _ = batching.epoch_tokens(examples, recipe)
    micro_batches = recipe["max_steps"] * recipe["gradient_accumulation"] * processes
    try:
        return estimate.estimate(
            read_json(Path(base_model) / "config.json"),
            method=recipe["method"],
            lora_r=recipe["lora"]["r"],
            target_modules=recipe["lora"]["target_modules"],
            tokens=processed * micro_batches,
            batch_size=recipe["batch_size"],
            max_length=batching.row_length(recipe) if recipe["packing"] else recipe["max_length"],
            gpus=processes,
            sharded=sharded,
            bf16=precision == "bf16",
            gradient_checkpointing=recipe["gradient_checkpointing"],
            **throughput,
        )
    except KeyError as missing:
        log.warning("no estimate: config.json lacks %s (not a Llama-style model)", missing)
        return None


def _accelerator(recipe: dict):
    """The Accelerator of this process, and the resolved precision."""
    import torch
    from accelerate import Accelerator

    from bayling_pipeline.finetune.model import resolve_precision

    cuda = torch.cuda.is_available()
    precision = resolve_precision(
        recipe["precision"], "cuda" if cuda else "cpu", cuda and torch.cuda.is_bf16_supported()
    )
    accelerator = Accelerator(
        mixed_precision="bf16" if precision == "bf16" else "no",
        gradient_accumulation_steps=recipe["gradient_accumulation"],
    )
    return accelerator, precision


def _save_weights(accelerator, wrapper, tokenizer, recipe, base_model, out_dir) -> None:
    """Write the adapter (or, for method ``full``, the whole model) from the main process."""
    from accelerate.utils import DistributedType

    sharded = accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)
    # every process joins the gather of sharded weights; only the main one writes
    state = accelerator.get_state_dict(wrapper) if sharded else None
    if not accelerator.is_main_process:
        return
    model = accelerator.unwrap_model(wrapper).model
    if state is not None:
        state = {k.removeprefix("model."): v for k, v in state.items()}
    if recipe["method"] == "full":
        import torch

        # store in the base model's dtype: training kept fp32 master weights
        config = read_json(Path(base_model) / "config.json")
        dtype = getattr(torch, config.get("dtype") or config.get("torch_dtype") or "float32")
        state = {k: v.to(dtype) for k, v in (state or model.state_dict()).items()}
    with atomic_path(out_dir) as tmp:
        model.save_pretrained(tmp, state_dict=state, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        # decoding must write prompts the way training wrote dialogues
        write_json(tmp / CHAT_FORMAT_FILE, {"chat_format": recipe["chat_format"]})
    log.info("rank %d wrote %s", accelerator.process_index, out_dir)


def _train_step(accelerator, wrapper, optimizer, prepared: list) -> tuple[float, int, int]:
    """One optimizer step over this process's micro-batches (``batching.model_batch``
    tuples); returns the step's loss over all processes, real and padded tokens."""
    import torch

    device = accelerator.device
    local = sum(int((labels[:, 1:] != IGNORE_INDEX).sum()) for _, labels, _, _ in prepared)
    counts = torch.tensor(
        [local, sum(p[2] for p in prepared), sum(p[3] for p in prepared)], device=device
    )
    learned, real, padded = accelerator.reduce(counts, "sum").tolist()
    # this process's summed loss / every learned token of the step, times what DDP's
    # averaging and accelerate's division by the accumulation steps take away: the
    # gradient is that of the mean over all assistant tokens of all micro-batches and
    # processes, however they are shared out
    scale = accelerator.num_processes * len(prepared) / max(learned, 1)
    step_sum = torch.zeros((), device=device)
    for inputs, labels, _, _ in prepared:
        with accelerator.accumulate(wrapper):
            inputs = {k: v.to(device) for k, v in inputs.items()}
            loss_sum = wrapper(
                inputs["input_ids"],
                inputs.get("attention_mask"),
                labels.to(device),
                position_ids=inputs.get("position_ids"),
            )
            accelerator.backward(loss_sum * scale)
            step_sum += loss_sum.detach()
            if accelerator.sync_gradients:
                accelerator.clip_grad_norm_(wrapper.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    return accelerator.reduce(step_sum, "sum").item() / max(learned, 1), real, padded


def train(
    base_model: str,
    train_path,
    dev_path,
    recipe: dict,
    adapter_dir,
    record_path,
    loss_path,
    checkpoint_dir=None,
    **throughput,
) -> dict:
    """Fine-tune; write the weights, the training record and the loss curve.

    With ``checkpoint_dir``, a checkpoint is written every ``checkpoint_every`` steps and a
    restarted job resumes from the newest complete one made with the same recipe, data
    and process count; the checkpoints are removed once the weights are written.
    ``throughput`` (peak_tflops, mfu) overrides the estimate's assumed GPU speed.
    """
    import torch
    from accelerate.utils import DistributedType
    from transformers import AutoTokenizer, get_linear_schedule_with_warmup

    from bayling_pipeline.finetune import checkpoints
    from bayling_pipeline.finetune.model import (
        build_model,
        load_settings,
        loss_module,
        require_bitsandbytes,
        resolve_attn_implementation,
    )

    recipe = resolve_recipe(recipe)
    if recipe["method"] == "qlora":
        require_bitsandbytes()  # before anything slow
    accelerator, precision = _accelerator(recipe)
    device, rank, processes = (
        accelerator.device,
        accelerator.process_index,
        accelerator.num_processes,
    )
    sharded = accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)
    if not accelerator.is_main_process:
        log.setLevel(logging.WARNING)  # one copy of the progress lines, from the main process
    seed = recipe["seed"]
    random.seed(seed)
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(
        base_model, trust_remote_code=recipe["trust_remote_code"]
    )
    fmt = recipe["chat_format"]
    train_examples = load_examples(train_path, tokenizer, recipe["max_length"], chat_format=fmt)
    dev_examples = load_examples(
        dev_path, tokenizer, recipe["max_length"], limit=recipe["dev_examples"], chat_format=fmt
    )
    attn = resolve_attn_implementation(recipe["attn_implementation"], device.type, precision)
    settings = load_settings(recipe["method"], precision, attn, sharded)
    cost = run_estimate(
        base_model, recipe, train_examples, processes, sharded, precision, **throughput
    )
    if cost is not None:
        log.info(estimate.summary(cost))
    model = build_model(base_model, recipe, None if sharded else device, settings)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    log.info(
        "%d training / %d dev examples; %s, %d of %d parameters trainable (%.2f%%); "
        "%s, %s attention, %d process(es) (%s) on %s",
        len(train_examples),
        len(dev_examples),
        recipe["method"],
        trainable,
        total,
        100 * trainable / total,
        precision,
        attn,
        processes,
        accelerator.distributed_type.value,
        device,
    )

    wrapper = loss_module(model)
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=recipe["learning_rate"],
        weight_decay=recipe["weight_decay"],
    )
    wrapper, optimizer = accelerator.prepare(wrapper, optimizer)
    steps, accumulation = recipe["max_steps"], recipe["gradient_accumulation"]
    # stepped once per optimizer step by hand: accelerate's wrapper would step it once
    # per process
    scheduler = get_linear_schedule_with_warmup(optimizer, recipe["warmup_steps"], steps)
    batches = batching.shard_stream(
        batching.training_stream(train_examples, recipe), processes, rank
    )
    pad_id = tokenizer.pad_token_id

    def dev_loss() -> float:
        wrapper.eval()
        value = mean_loss(wrapper, dev_examples, recipe["batch_size"], pad_id, device)
        wrapper.train()
        return value

    fingerprint = resume_from = None
    if checkpoint_dir is not None:
        fingerprint = checkpoints.fingerprint(
            {**recipe, "processes": processes}, Path(base_model) / "config.json", train_path
        )
        resume_from = checkpoints.latest(checkpoint_dir, fingerprint)
    if resume_from is not None:
        state = checkpoints.restore(resume_from, accelerator, wrapper, optimizer, scheduler)
        first_step, curve, dev_before = state["step"] + 1, state["curve"], state["dev_before"]
        for _ in range(state["step"] * accumulation):
            next(batches)  # replay the data order up to the checkpoint (no compute)
        log.info("resuming from checkpoint %s (step %d of %d)", resume_from, state["step"], steps)
    else:
        first_step, curve = 1, []
        dev_before = dev_loss()
    log.info("dev loss before training: %.4f", dev_before)

    started = time.time() - (curve[-1]["seconds"] if curve else 0.0)
    first_ids = None
    wrapper.train()
    for step in range(first_step, steps + 1):
        micro = [next(batches) for _ in range(accumulation)]
        if first_ids is None:
            rows = [r if recipe["packing"] else [r] for b in micro for r in b]
            first_ids = sorted(e["index"] for row in rows for e in row)
        prepared = [batching.model_batch(b, recipe, pad_id, attn) for b in micro]
        step_loss, real, padded = _train_step(accelerator, wrapper, optimizer, prepared)
        scheduler.step()
        if not math.isfinite(step_loss):
            raise FloatingPointError(f"loss became {step_loss} at step {step}")
        curve.append(
            {
                "step": step,
                "loss": step_loss,
                "tokens": int(real),
                "non_padding": real / padded,
                "lr": scheduler.get_last_lr()[0],
                "seconds": time.time() - started,
            }
        )
        if (
            checkpoint_dir is not None
            and recipe["checkpoint_every"]
            and (step % recipe["checkpoint_every"] == 0 and step < steps)
        ):
            state = {"fingerprint": fingerprint, "curve": curve, "dev_before": dev_before}
            path = checkpoints.save(
                checkpoint_dir, step, accelerator, wrapper, optimizer, scheduler, state
            )
            log.info("checkpoint %s", path)
        if step % recipe["log_every"] == 0 or step == steps:
            log.info(
                "step %d/%d loss %.4f, %.1f%% non-padding (%.2f s/step)",
                step,
                steps,
                step_loss,
                100 * real / padded,
                (time.time() - started) / step,
            )

    dev_after = dev_loss()
    log.info("dev loss after training: %.4f", dev_after)
    from accelerate.utils import gather_object

    seen = gather_object([first_ids])  # examples of each process's first step in this job
    real_total = sum(p["tokens"] for p in curve)
    padded_total = sum(p["tokens"] / p["non_padding"] for p in curve)
    record = {
        "recipe": recipe,
        "seed": seed,
        "base_model": str(base_model),
        "train": str(train_path),
        "dev": str(dev_path),
        "examples": {"train": len(train_examples), "dev": len(dev_examples)},
        "parameters": {"total": total, "trainable": trainable},
        "estimate": cost,
        "device": str(device),
        "precision": precision,
        "attn_implementation": attn,
        "processes": processes,
        "distributed": accelerator.distributed_type.value,
        "first_step_examples_per_process": seen,
        "non_padding": real_total / max(padded_total, 1),
        "versions": library_versions(),
        "dev_loss": {"before": dev_before, "after": dev_after},
        "train_seconds": time.time() - started,
        "loss_curve": curve,
    }
    accelerator.wait_for_everyone()
    _save_weights(accelerator, wrapper, tokenizer, recipe, base_model, adapter_dir)
    if accelerator.is_main_process:
        write_lines(
            loss_path,
            ["step\tloss\ttokens\tnon_padding\tlr\tseconds"]
            + [
                f"{p['step']}\t{p['loss']:.6f}\t{p['tokens']}\t{p['non_padding']:.4f}"
                f"\t{p['lr']:.3e}\t{p['seconds']:.2f}"
                for p in curve
            ],
        )
        write_json(record_path, record)  # written last: its presence means the run completed
        if checkpoint_dir is not None:
            shutil.rmtree(checkpoint_dir, ignore_errors=True)  # the weights supersede them
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fine-tuning on chat-format JSONL")
    parser.add_argument("--base-model", required=True)
    parser.add_argument("--train", required=True)
    parser.add_argument("--dev", required=True)
    parser.add_argument("--recipe", required=True, help="JSON file with the training recipe")
    parser.add_argument("--adapter", required=True, help="output directory of the weights")
    parser.add_argument("--record", required=True, help="output JSON: config, versions, curve")
    parser.add_argument("--loss-curve", required=True, help="output TSV: step, loss, ...")
    parser.add_argument(
        "--checkpoints", default=None, help="directory for resumable checkpoints (kept on failure)"
    )
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    parser.add_argument(
        "--peak-tflops",
        type=float,
        default=estimate.DEFAULT_PEAK_TFLOPS,
        help="per-GPU peak the estimate assumes",
    )
    parser.add_argument(
        "--mfu", type=float, default=estimate.DEFAULT_MFU, help="utilization the estimate assumes"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    train(
        args.base_model,
        Path(args.train),
        Path(args.dev),
        read_json(args.recipe),
        args.adapter,
        args.record,
        args.loss_curve,
        checkpoint_dir=args.checkpoints,
        peak_tflops=args.peak_tflops,
        mfu=args.mfu,
    )


if __name__ == "__main__":
    main()
