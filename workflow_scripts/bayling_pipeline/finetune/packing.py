"""Sequence packing: several tokenized examples per row of ``max_length`` tokens.

Used by :mod:`bayling_pipeline.finetune.train` when the recipe sets ``packing: true``. Examples
keep their own positions (``position_ids`` restart at 0 in each) and never attend to one
another:

- sdpa / eager attention get a 4-D block-diagonal causal mask ``[batch, 1, time, time]``
  (bool for sdpa, True = may attend; additive float for eager), which transformers passes
  through unchanged;
- flash_attention_2 gets no mask and a batch flattened into one row: transformers then
  finds the example boundaries where ``position_ids`` restart and calls the varlen kernel.

Padding at the end of a row forms one more segment of its own; its labels are ignored.
Rows are filled best-fit-decreasing, which on instruction data fills rows to about 99%.
"""

from __future__ import annotations

import bisect
import random

from bayling_pipeline.prompts.chat import IGNORE_INDEX


def pack_rows(lengths: list[int], max_length: int, rng: random.Random) -> list[list[int]]:
    """Group example indices into rows of at most ``max_length`` tokens, in random row order.

    Best fit decreasing: longest examples first, each into the fullest row it still fits
    in. Shuffling before the (stable) sort lets equal-length examples change partners
    from epoch to epoch.
    """
    if any(n > max_length for n in lengths):
        raise ValueError(f"an example is longer than max_length={max_length}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    order.sort(key=lambda i: lengths[i], reverse=True)
    rows: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (free tokens, row index), sorted
    for index in order:
        at = bisect.bisect_left(free, (lengths[index], -1))
        if at == len(free):
            rows.append([index])
            room, row = max_length - lengths[index], len(rows) - 1
        else:
            room, row = free.pop(at)
            rows[row].append(index)
            room -= lengths[index]
        if room > 0:
            bisect.insort(free, (room, row))
    rng.shuffle(rows)
    return rows


def packed_stream(examples: list[dict], batch_size: int, max_length: int, seed: int):
    """Endless stream of batches of packed rows (each row a list of examples), re-packed
    in a new order every epoch. A pure function of the seed, so a resumed run replays it."""
    rng = random.Random(seed)
    lengths = [len(e["input_ids"]) for e in examples]
    while True:
        rows = pack_rows(lengths, max_length, rng)
        for start in range(0, len(rows), batch_size):
            yield [[examples[i] for i in row] for row in rows[start : start + batch_size]]


def collate_packed(rows: list[list[dict]], pad_id: int):
    """(input_ids, labels, position_ids, segments) as LongTensors [batch, time].

    ``segments`` numbers the examples of a row 0, 1, ...; padding gets the next number.
    The first token of each example is not learned: nothing before it in its own example
    predicts it.
    """
    import torch

    width = max(sum(len(e["input_ids"]) for e in row) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    segments = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        at = 0
        for s, example in enumerate(row):
            n = len(example["input_ids"])
            ids[r, at : at + n] = torch.tensor(example["input_ids"])
            labels[r, at + 1 : at + n] = torch.tensor(example["labels"][1:])
            positions[r, at : at + n] = torch.arange(n)
            segments[r, at : at + n] = s
            at += n
        positions[r, at:] = torch.arange(width - at)
        segments[r, at:] = len(row)
    return ids, labels, positions, segments


def block_causal_mask(segments, attn_implementation: str, dtype=None):
    """4-D mask [batch, 1, time, time]: causal, and only within a segment.

    sdpa takes a bool mask (True = attend); eager adds the mask to the scores, so it gets
    0 where allowed and the dtype's minimum elsewhere.
    """
    import torch

    time = segments.shape[1]
    causal = torch.ones(time, time, dtype=torch.bool, device=segments.device).tril()
    allowed = (segments[:, :, None] == segments[:, None, :]) & causal
    allowed = allowed[:, None]
    if attn_implementation == "sdpa":
        return allowed
    dtype = dtype or torch.float32
    mask = torch.zeros(allowed.shape, dtype=dtype, device=segments.device)
    return mask.masked_fill(~allowed, torch.finfo(dtype).min)


def model_inputs(ids, labels, positions, segments, attn_implementation: str, dtype=None):
    """Keyword arguments for the model body and the matching labels, per attention kind."""
    if attn_implementation == "flash_attention_2":
        # one long row: the varlen kernel needs batch 1 to read boundaries from positions
        return (
            {"input_ids": ids.reshape(1, -1), "position_ids": positions.reshape(1, -1)},
            labels.reshape(1, -1),
        )
    mask = block_causal_mask(segments, attn_implementation, dtype)
    return {"input_ids": ids, "position_ids": positions, "attention_mask": mask}, labels
