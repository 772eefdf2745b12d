"""How training data is cut into batches: padded length-grouped batches or packed rows,
one global order per seed, shared out over processes.

Used by :mod:`bayling_pipeline.finetune.train` (``python -m bayling_pipeline.finetune ...``) and
``benchmarks/train_batching.py``. Every process draws the same global stream (a pure
function of the seed) and takes every n-th batch, so processes see disjoint batches and a
resumed run replays the order up to its checkpoint without computing anything.
"""

from __future__ import annotations

import random

from bayling_pipeline.finetune import packing
from bayling_pipeline.prompts.chat import IGNORE_INDEX


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


def row_length(recipe: dict) -> int:
    """Tokens per packed row: ``pack_length``, or ``max_length`` when that is unset.

    Rows longer than the longest example fill better: a row of ``max_length`` keeps a gap
    wherever no remaining example is short enough.
    """
    return recipe["pack_length"] or recipe["max_length"]


def training_stream(examples: list[dict], recipe: dict):
    """The recipe's global batch stream: packed rows or length-grouped padded batches."""
    if recipe["packing"]:
        return packing.packed_stream(
            examples, recipe["batch_size"], row_length(recipe), recipe["seed"]
        )
    return batch_stream(examples, recipe["batch_size"], recipe["seed"])


def shard_stream(stream, processes: int, rank: int):
    """Every ``processes``-th batch of ``stream``, from the ``rank``-th: disjoint per rank."""
    for index, batch in enumerate(stream):
        if index % processes == rank:
            yield batch


def model_batch(batch: list, recipe: dict, pad_id: int, attn: str):
    """(model keyword arguments, labels, real tokens, padded tokens) of one micro-batch."""
    if recipe["packing"]:
        ids, labels, positions, segments = packing.collate_packed(batch, pad_id)
        real = sum(len(e["input_ids"]) for row in batch for e in row)
        inputs, labels = packing.model_inputs(ids, labels, positions, segments, attn)
        return inputs, labels, real, ids.numel()
    ids, mask, labels = collate(batch, pad_id)
    return {"input_ids": ids, "attention_mask": mask}, labels, int(mask.sum()), ids.numel()


def epoch_tokens(examples: list[dict], recipe: dict) -> tuple[float, float]:
    """(processed, real) tokens per micro-batch, averaged over one epoch of the stream."""
    lengths = [len(e["input_ids"]) for e in examples]
    rng = random.Random(recipe["seed"])
    size = recipe["batch_size"]
    if recipe["packing"]:
        rows = packing.pack_rows(lengths, row_length(recipe), rng)
        rows = [sum(lengths[i] for i in row) for row in rows]
        batches = [rows[i : i + size] for i in range(0, len(rows), size)]
        processed = sum(max(b) * len(b) for b in batches)
    else:
        batches = length_grouped_batches(lengths, size, rng)
        processed = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    return processed / len(batches), sum(lengths) / len(batches)
