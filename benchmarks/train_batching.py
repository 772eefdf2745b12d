"""Length-grouped batches (the finetune stage) vs plain shuffled padded batches: the share of
non-padding tokens and useful (non-padding) tokens per second, same model and data, one run.

    .venv/bin/python benchmarks/train_batching.py --model resources/models/smollm2-135m \
        --train results/synthesize/bayling-demo/train.jsonl --steps 8

The last line prints the ratio of useful tokens per second (grouped / plain).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow_scripts"))

from bayling_pipeline import finetune  # noqa: E402


def plain_batches(count: int, batch_size: int, rng: random.Random) -> list[list[int]]:
    order = list(range(count))
    rng.shuffle(order)
    return [order[i : i + batch_size] for i in range(0, count, batch_size)]


def run(model, optimizer, examples, batches, pad_id) -> tuple[float, int, int]:
    """Seconds, real tokens and padded tokens of training steps on the given batches."""
    started, real, padded = time.perf_counter(), 0, 0
    for batch in batches:
        ids, mask, labels = finetune.collate([examples[i] for i in batch], pad_id)
        finetune.assistant_token_loss(model, ids, mask, labels).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        real += int(mask.sum())
        padded += mask.numel()
    return time.perf_counter() - started, real, padded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--train", required=True)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    import torch
    from transformers import AutoTokenizer

    torch.set_num_threads(2)
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    examples = finetune.load_examples(args.train, tokenizer, 192)
    recipe = finetune.resolve_recipe({})
    model = finetune.build_model(args.model, recipe, torch.device("cpu"))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    lengths = [len(e["input_ids"]) for e in examples]
    grouped = finetune.length_grouped_batches(lengths, args.batch_size, random.Random(1))
    plain = plain_batches(len(examples), args.batch_size, random.Random(1))
    # whole-epoch padding shares, then timed steps on the first batches of each order
    for name, batches in (("plain", plain), ("grouped", grouped)):
        width = sum(max(lengths[i] for i in b) * len(b) for b in batches)
        print(f"{name}: non-padding tokens over an epoch {sum(lengths) / width:.1%}")
    run(model, optimizer, examples, plain[:1], tokenizer.pad_token_id)  # warm-up
    results = {}
    for name, batches in (("plain", plain), ("grouped", grouped)):
        seconds, real, padded = run(
            model, optimizer, examples, batches[: args.steps], tokenizer.pad_token_id
        )
        results[name] = real / seconds
        print(
            f"{name}: {args.steps} steps in {seconds:.1f} s, {real / padded:.1%} non-padding,"
            f" {real / seconds:.0f} useful tokens/s"
        )
    print(f"useful tokens/s, grouped vs plain: {results['grouped'] / results['plain']:.2f}x")


if __name__ == "__main__":
    main()
