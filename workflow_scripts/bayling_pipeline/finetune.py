"""LoRA fine-tuning of a causal LM on chat-format instructions (loss on assistant turns only).

Run by the rule ``finetune_lora``; by hand on a GPU node, the same command::

    python -m bayling_pipeline.finetune --base-model resources/models/smollm2-135m \
        --train results/synthesize/bayling-demo/train.jsonl \
        --dev results/synthesize/bayling-demo/dev.jsonl \
        --recipe results/finetune/bayling-smollm2/recipe.json \
        --adapter results/finetune/bayling-smollm2/adapter \
        --record results/finetune/bayling-smollm2/training.json \
        --loss-curve results/finetune/bayling-smollm2/loss.tsv

The recipe (a JSON file the workflow writes from config.yaml) holds every setting that
changes the result; it is copied, resolved, into the training record next to the adapter
together with the library versions and the seed.
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

from bayling_pipeline.chat import IGNORE_INDEX, tokenize_dialogue
from bayling_pipeline.io import atomic_path, read_json, read_jsonl, write_json, write_lines

log = logging.getLogger(__name__)

#: Settings a recipe may leave out; config.yaml's schema carries the same defaults.
RECIPE_DEFAULTS = {
    "seed": 1,
    "max_steps": 100,
    "batch_size": 8,
    "gradient_accumulation": 1,
    "learning_rate": 1e-3,
    "warmup_steps": 10,
    "weight_decay": 0.0,
    "max_length": 256,
    "lora": {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": "all-linear"},
    "trust_remote_code": False,
    "dev_examples": 64,
    "log_every": 10,
    "checkpoint_every": 50,
}

VERSIONED_PACKAGES = ("torch", "transformers", "peft", "accelerate", "tokenizers", "safetensors")


def resolve_recipe(recipe: dict) -> dict:
    """Fill defaults into a recipe (one level deep for ``lora``)."""
    resolved = {**RECIPE_DEFAULTS, **recipe}
    resolved["lora"] = {**RECIPE_DEFAULTS["lora"], **recipe.get("lora", {})}
    return resolved


def library_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def load_examples(path, tokenizer, max_length: int, limit: int | None = None) -> list[dict]:
    """Tokenize chat records; those with nothing to learn after truncation are skipped."""
    examples = []
    for record in read_jsonl(path):
        example = tokenize_dialogue(tokenizer, record["messages"], max_length)
        if example is not None:
            examples.append(example)
        if limit is not None and len(examples) >= limit:
            break
    if not examples:
        raise ValueError(f"{path}: no trainable examples (empty file or all truncated away)")
    return examples


def length_grouped_batches(lengths: list[int], batch_size: int, rng: random.Random) -> list:
    """Shuffle, then sort within windows of 64 batches so a batch holds similar lengths.

    Padding then costs little, while batch order stays random across the epoch.
    """
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * 64
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: lengths[i], reverse=True)
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def collate(examples: list[dict], pad_id: int):
    """Right-pad a batch: (input_ids, attention_mask, labels) as LongTensors [batch, time]."""
    import torch

    width = max(len(e["input_ids"]) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, example in enumerate(examples):
        n = len(example["input_ids"])
        ids[row, :n] = torch.tensor(example["input_ids"])
        labels[row, :n] = torch.tensor(example["labels"])
        mask[row, :n] = 1
    return ids, mask, labels


def batch_stream(examples: list[dict], batch_size: int, seed: int):
    """Endless stream of batches (lists of examples), a new length-grouped order per epoch."""
    rng = random.Random(seed)
    lengths = [len(e["input_ids"]) for e in examples]
    while True:
        for batch in length_grouped_batches(lengths, batch_size, rng):
            yield [examples[i] for i in batch]


def assistant_token_loss(model, ids, mask, labels, reduction: str = "mean"):
    """Cross-entropy over the learned (assistant) positions only.

    The vocabulary projection is applied to those positions alone: with a 49k-token
    vocabulary it is a large share of the compute, and most positions are prompt.
    Models without the usual ``<body>.lm_head`` layout fall back to full logits.
    """
    import torch

    target = labels[:, 1:]
    learned = target != IGNORE_INDEX
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    body = getattr(causal_lm, causal_lm.base_model_prefix, None)
    head = causal_lm.get_output_embeddings()
    if body is not None and head is not None:
        hidden = body(input_ids=ids, attention_mask=mask).last_hidden_state
        logits = head(hidden[:, :-1][learned])
    else:
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1][learned]
    return torch.nn.functional.cross_entropy(logits.float(), target[learned], reduction=reduction)


def mean_loss(model, examples: list[dict], batch_size: int, pad_id: int, device) -> float:
    """Token-averaged loss over ``examples`` (assistant tokens only)."""
    import torch

    total, tokens = 0.0, 0
    model.eval()
    with torch.no_grad():
        for start in range(0, len(examples), batch_size):
            ids, mask, labels = collate(examples[start : start + batch_size], pad_id)
            loss = assistant_token_loss(
                model, ids.to(device), mask.to(device), labels.to(device), reduction="sum"
            )
            total += loss.item()
            tokens += int((labels[:, 1:] != IGNORE_INDEX).sum())
    model.train()
    return total / max(tokens, 1)


def build_model(base_model: str, recipe: dict, device):
    """Base model with fresh LoRA adapters on the recipe's target modules."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(
        base_model, dtype=dtype, trust_remote_code=recipe["trust_remote_code"]
    ).to(device)
    lora = recipe["lora"]
    config = LoraConfig(
        task_type="CAUSAL_LM",
        r=lora["r"],
        lora_alpha=lora["alpha"],
        lora_dropout=lora["dropout"],
        target_modules=lora["target_modules"],
    )
    return get_peft_model(model, config)


def train(
    base_model: str,
    train_path,
    dev_path,
    recipe: dict,
    adapter_dir,
    record_path,
    loss_path,
    checkpoint_dir=None,
) -> dict:
    """Train LoRA adapters; write the adapter, the training record and the loss curve.

    With ``checkpoint_dir``, a checkpoint is written every ``checkpoint_every`` steps and a
    restarted job resumes from the newest complete one made with the same recipe and data;
    the checkpoints are removed once the adapter is written.
    """
    import torch
    from transformers import AutoTokenizer, get_linear_schedule_with_warmup

    from bayling_pipeline import checkpoints

    recipe = resolve_recipe(recipe)
    seed = recipe["seed"]
    random.seed(seed)
    torch.manual_seed(seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = AutoTokenizer.from_pretrained(
        base_model, trust_remote_code=recipe["trust_remote_code"]
    )
    train_examples = load_examples(train_path, tokenizer, recipe["max_length"])
    dev_examples = load_examples(
        dev_path, tokenizer, recipe["max_length"], limit=recipe["dev_examples"]
    )
    model = build_model(base_model, recipe, device)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    log.info(
        "%d training / %d dev examples; %d of %d parameters trainable (%.2f%%) on %s",
        len(train_examples),
        len(dev_examples),
        trainable,
        total,
        100 * trainable / total,
        device,
    )

    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=recipe["learning_rate"],
        weight_decay=recipe["weight_decay"],
    )
    steps = recipe["max_steps"]
    scheduler = get_linear_schedule_with_warmup(optimizer, recipe["warmup_steps"], steps)
    batches = batch_stream(train_examples, recipe["batch_size"], seed)
    pad_id = tokenizer.pad_token_id
    fingerprint = resume_from = None
    if checkpoint_dir is not None:
        fingerprint = checkpoints.fingerprint(recipe, base_model + "/config.json", train_path)
        resume_from = checkpoints.latest(checkpoint_dir, fingerprint)
    if resume_from is not None:
        state = checkpoints.restore(resume_from, model, optimizer, scheduler)
        first_step, curve, dev_before = state["step"] + 1, state["curve"], state["dev_before"]
        for _ in range(state["step"] * recipe["gradient_accumulation"]):
            next(batches)  # replay the data order up to the checkpoint (no compute)
        log.info("resuming from checkpoint %s (step %d of %d)", resume_from, state["step"], steps)
    else:
        first_step, curve = 1, []
        dev_before = mean_loss(model, dev_examples, recipe["batch_size"], pad_id, device)
    log.info("dev loss before training: %.4f", dev_before)

    started = time.time() - (curve[-1]["seconds"] if curve else 0.0)
    model.train()
    for step in range(first_step, steps + 1):
        step_loss, step_tokens = 0.0, 0
        for _ in range(recipe["gradient_accumulation"]):
            ids, mask, labels = collate(next(batches), pad_id)
            loss = assistant_token_loss(model, ids.to(device), mask.to(device), labels.to(device))
            (loss / recipe["gradient_accumulation"]).backward()
            step_loss += loss.item() / recipe["gradient_accumulation"]
            step_tokens += int(mask.sum())
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if not math.isfinite(step_loss):
            raise FloatingPointError(f"loss became {step_loss} at step {step}")
        curve.append(
            {
                "step": step,
                "loss": step_loss,
                "tokens": step_tokens,
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
            path = checkpoints.save(checkpoint_dir, step, model, optimizer, scheduler, state)
            log.info("checkpoint %s", path)
        if step % recipe["log_every"] == 0 or step == steps:
            log.info(
                "step %d/%d loss %.4f (%.2f s/step)",
                step,
                steps,
                step_loss,
                (time.time() - started) / step,
            )

    dev_after = mean_loss(model, dev_examples, recipe["batch_size"], pad_id, device)
    log.info("dev loss after training: %.4f", dev_after)
    record = {
        "recipe": recipe,
        "seed": seed,
        "base_model": str(base_model),
        "train": str(train_path),
        "dev": str(dev_path),
        "examples": {"train": len(train_examples), "dev": len(dev_examples)},
        "parameters": {"total": total, "trainable": trainable},
        "device": str(device),
        "versions": library_versions(),
        "dev_loss": {"before": dev_before, "after": dev_after},
        "train_seconds": time.time() - started,
        "loss_curve": curve,
    }
    with atomic_path(adapter_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    write_lines(
        loss_path,
        ["step\tloss\ttokens\tlr\tseconds"]
        + [
            f"{p['step']}\t{p['loss']:.6f}\t{p['tokens']}\t{p['lr']:.3e}\t{p['seconds']:.2f}"
            for p in curve
        ],
    )
    write_json(record_path, record)  # written last: its presence means the run completed
    if checkpoint_dir is not None:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)  # the adapter supersedes them
    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="LoRA fine-tuning on chat-format JSONL")
    parser.add_argument("--base-model", required=True)
    parser.add_argument("--train", required=True)
    parser.add_argument("--dev", required=True)
    parser.add_argument("--recipe", required=True, help="JSON file with the training recipe")
    parser.add_argument("--adapter", required=True, help="output directory of the adapter")
    parser.add_argument("--record", required=True, help="output JSON: config, versions, curve")
    parser.add_argument("--loss-curve", required=True, help="output TSV: step, loss, ...")
    parser.add_argument(
        "--checkpoints", default=None, help="directory for resumable checkpoints (kept on failure)"
    )
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
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
    )


if __name__ == "__main__":
    main()
