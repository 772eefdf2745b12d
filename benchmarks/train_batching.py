"""Three ways to batch the same training data, one model, one run: (a) plain shuffled padded
batches, (b) length-grouped padded batches (finetune's default), (c) packed rows
(``packing: true``, block-diagonal attention). Reports the share of non-padding tokens and
useful (non-padding) tokens per second of real LoRA training steps.

    .venv/bin/python benchmarks/train_batching.py --model resources/models/smollm2-135m \
        --train results/synthesize/bayling-demo/train.jsonl --steps 4

Every step holds at most batch_size * max_length tokens: packed rows of ``--pack-length``
come fewer to a batch. The methods take turns step by step, so a machine whose load
changes during the run slows all three alike. The last line prints the ratio of useful
tokens per second, best method vs plain.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow_scripts"))

from bayling_pipeline.finetune import (
    batching,
    packing,  # noqa: E402
)
from bayling_pipeline.finetune import model as finetune_model
from bayling_pipeline.finetune import train as finetune
from bayling_pipeline.finetune.setup import load_examples


def plain_batches(count: int, batch_size: int, rng: random.Random) -> list[list[int]]:
    order = list(range(count))
    rng.shuffle(order)
    return [order[i : i + batch_size] for i in range(0, count, batch_size)]


def epoch_batches(method: str, lengths: list[int], batch_size: int, pack_length: int) -> list:
    """One epoch as batches of example indices (packing: batches of rows of indices)."""
    rng = random.Random(1)
    if method == "plain":
        return plain_batches(len(lengths), batch_size, rng)
    if method == "grouped":
        return batching.length_grouped_batches(lengths, batch_size, rng)
    rows = packing.pack_rows(lengths, pack_length, rng)
    return [rows[i : i + batch_size] for i in range(0, len(rows), batch_size)]


def non_padding(method: str, batches: list, lengths: list[int]) -> float:
    """Share of real tokens in the padded [batch, width] tensors of an epoch."""
    if method == "packed":
        rows = [[sum(lengths[i] for i in row) for row in batch] for batch in batches]
        return sum(map(sum, rows)) / sum(max(b) * len(b) for b in rows)
    width = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    return sum(lengths[i] for b in batches for i in b) / width


def run(model, optimizer, examples, method, batches, pad_id) -> tuple[float, int, int]:
    """Seconds, real tokens and padded tokens of LoRA training steps on the given batches."""
    recipe = {"packing": method == "packed"}
    started, real, padded = time.perf_counter(), 0, 0
    for batch in batches:
        if method == "packed":
            batch = [[examples[i] for i in row] for row in batch]
        else:
            batch = [examples[i] for i in batch]
        inputs, labels, n_real, n_padded = batching.model_batch(batch, recipe, pad_id, "sdpa")
        finetune_model.assistant_token_loss(
            model,
            inputs["input_ids"],
            inputs["attention_mask"],
            labels,
            position_ids=inputs.get("position_ids"),
        ).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        real += n_real
        padded += n_padded
    return time.perf_counter() - started, real, padded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--train", required=True)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=192)
    parser.add_argument("--pack-length", type=int, default=768)
    parser.add_argument("--chat-format", default="model")
    args = parser.parse_args()
    import torch
    from transformers import AutoTokenizer

    from bayling_pipeline.finetune.model import build_model, load_settings

    torch.set_num_threads(2)
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    examples = load_examples(args.train, tokenizer, args.max_length, chat_format=args.chat_format)
    recipe = finetune.resolve_recipe({})
    settings = load_settings("lora", "fp32", "sdpa", sharded=False)
    model = build_model(args.model, recipe, torch.device("cpu"), settings)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    lengths = [len(e["input_ids"]) for e in examples]
    methods = ("plain", "grouped", "packed")
    rows = max(1, args.batch_size * args.max_length // args.pack_length)
    sizes = {"plain": args.batch_size, "grouped": args.batch_size, "packed": rows}
    batches = {m: epoch_batches(m, lengths, sizes[m], args.pack_length) for m in methods}
    print(
        f"{len(examples)} examples; batches of {args.batch_size} examples (max_length"
        f" {args.max_length}) or {rows} packed rows of {args.pack_length} tokens"
    )
    for method in methods:
        share = non_padding(method, batches[method], lengths)
        print(f"{method}: {len(batches[method])} batches an epoch, {share:.1%} non-padding")
    pad_id = tokenizer.pad_token_id
    run(model, optimizer, examples, "plain", batches["plain"][:1], pad_id)  # warm-up
    totals = {m: [0.0, 0, 0] for m in methods}
    for step in range(args.steps):
        for method in methods:
            done = run(model, optimizer, examples, method, [batches[method][step]], pad_id)
            totals[method] = [a + b for a, b in zip(totals[method], done, strict=True)]
    results = {}
    for method, (seconds, real, padded) in totals.items():
        results[method] = real / seconds
        print(
            f"{method}: {args.steps} steps in {seconds:.1f} s, {real / padded:.1%} non-padding,"
            f" {real / seconds:.0f} useful tokens/s"
        )
    best = max(results, key=results.get)
    print(f"useful tokens/s, best ({best}) vs plain: {results[best] / results['plain']:.2f}x")


if __name__ == "__main__":
    main()
