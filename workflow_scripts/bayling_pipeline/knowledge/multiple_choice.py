"""Multiple choice by the log-likelihood of the options, as lm-evaluation-harness scores it.

Each option is scored as the sum of its tokens' log-probabilities after the context, with
the computation of lm-eval v0.4.13's ``HFLM`` (EleutherAI/lm-evaluation-harness,
``lm_eval/api/model.py`` ``TemplateLM._encode_pair`` and ``lm_eval/models/huggingface.py``
``HFLM.tok_encode`` / ``_loglikelihood_tokens``):

* the continuation is ``" " + option``; trailing spaces of the context move to the
  continuation; context + continuation are encoded as one string (the tokenizer's own
  special tokens, a BOS where it adds one) and split after the context's own token count;
* no chat template, no generation;
* requests are sorted longest first and scored in right-padded batches (no attention mask:
  the causal mask keeps padding out of every real position), left-truncated to the
  model's context length.

The prediction is the option with the highest sum (``acc``); lm-eval's ``acc_norm``
divides by the option's length in characters, ``acc_bytes`` by its UTF-8 bytes. The one
deliberate difference: the log-softmax is taken in float32 whatever the model's dtype
(lm-eval's ``softmax_dtype="float32"``; on the CPU, in float32, the two are the same).
tests/unit/knowledge/test_lm_eval_equivalence.py runs lm-eval itself on the same items.
"""

from __future__ import annotations

import logging
import sys
from typing import NamedTuple

from bayling_pipeline.cli import UserError
from bayling_pipeline.decode.resume import BatchLog, fingerprint, partial_path
from bayling_pipeline.knowledge.xcopa import Options, options_of

log = logging.getLogger(__name__)

DELIMITER = " "  # lm-eval's target_delimiter, between the context and every option
# lm_eval/models/utils.py: resolve_max_length's fallbacks
TOKENIZER_INFINITY = 1000000000000000019884624838656
DEFAULT_MAX_LENGTH = 2048


class Resume(NamedTuple):
    """Where finished batches are logged so that a killed job resumes: the partial file
    beside ``output`` (:mod:`bayling_pipeline.decode.resume`), kept for the same model,
    adapter, requests and batch size."""

    output: str
    model_dir: str
    adapter_dir: str | None


def tok_encode(tokenizer, text: str) -> list[int]:
    """lm-eval's ``HFLM.tok_encode``: the tokenizer's default special tokens, none when the
    text already starts with the prefix token."""
    prefix = tokenizer.decode(prefix_token_id(tokenizer))
    if prefix and text.startswith(prefix):
        return tokenizer.encode(text, add_special_tokens=False)
    return tokenizer.encode(text)


def prefix_token_id(tokenizer) -> int:
    """What an empty context is replaced with: BOS, else EOS."""
    if tokenizer.bos_token_id is not None:
        return tokenizer.bos_token_id
    return tokenizer.eos_token_id


def encode_pair(tokenizer, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """(context ids, continuation ids) as lm-eval splits them: the whole string encoded once
    and cut after the context's own token count, so a token that spans the boundary
    belongs to the continuation's count."""
    if context == "":
        continuation_ids = tokenizer.encode(continuation, add_special_tokens=False)
        prefix = prefix_token_id(tokenizer)
        if continuation_ids[0] == prefix:
            return continuation_ids[:1], continuation_ids[1:]
        return [prefix], continuation_ids
    spaces = len(context) - len(context.rstrip())
    if spaces:  # the space starts the next word's token
        context, continuation = context[:-spaces], context[-spaces:] + continuation
    whole = tok_encode(tokenizer, context + continuation)
    context_ids = tok_encode(tokenizer, context)
    return context_ids, whole[len(context_ids) :]


def context_length(model, tokenizer) -> int:
    """The model's context in tokens, where lm-eval's ``resolve_max_length`` finds it."""
    config = getattr(model.config, "text_config", None) or model.config
    for attribute in ("n_positions", "max_position_embeddings", "n_ctx"):
        value = getattr(config, attribute, None)
        if value is not None:
            return int(value)
    limit = getattr(tokenizer, "model_max_length", None)
    if limit is not None and limit != TOKENIZER_INFINITY:
        return int(limit)
    return DEFAULT_MAX_LENGTH


def plan(pairs: list[tuple[list[int], list[int]]], batch_size: int) -> list[list[int]]:
    """Request indices in batches, longest context + continuation first (lm-eval's
    ``Collator`` order: ties by the token ids, then input order): the same plan on every
    run, so logged batches can be resumed."""
    order = sorted(
        range(len(pairs)),
        key=lambda i: (-len(pairs[i][0] + pairs[i][1]), pairs[i][0] + pairs[i][1]),
    )
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def score_batch(model, device, pairs: list[tuple[list[int], list[int]]], limit: int) -> list[float]:
    """Sum of the continuation's token log-probabilities for each (context, continuation)
    pair, in one forward pass over right-padded rows."""
    import torch

    rows = [(context + continuation)[-(limit + 1) :][:-1] for context, continuation in pairs]
    width = max(len(row) for row in rows)
    batch = torch.zeros((len(rows), width), dtype=torch.long)  # lm-eval pads with id 0
    for number, row in enumerate(rows):
        batch[number, : len(row)] = torch.tensor(row, dtype=torch.long)
    with torch.no_grad():
        logits = model(batch.to(device)).logits
    sums = []
    for number, ((_, continuation), row) in enumerate(zip(pairs, rows, strict=True)):
        # the logits at position t predict token t + 1: the continuation's are the last
        # len(continuation) positions of the row
        scored = logits[number, len(row) - len(continuation) : len(row)].float()
        logprobs = torch.log_softmax(scored, dim=-1)
        targets = torch.tensor(continuation, dtype=torch.long, device=logprobs.device)
        sums.append(float(logprobs.gather(1, targets.unsqueeze(1)).sum()))
    return sums


def loglikelihoods(
    model,
    device,
    pairs: list[tuple[list[int], list[int]]],
    batch_size: int,
    limit: int,
    batch_log=None,
) -> list[float]:
    """The log-likelihood of every encoded (context, continuation) pair, in input order,
    each left-truncated to ``limit`` tokens of input (:func:`context_length`).

    With ``batch_log`` (a :class:`bayling_pipeline.decode.resume.BatchLog`), batches it
    holds are not scored again and every new batch is committed to it as soon as it is
    done (its sums where the decoder keeps texts)."""
    from tqdm import tqdm

    sums: list[float] = [0.0] * len(pairs)
    done = batch_log.load() if batch_log else {}
    batches = plan(pairs, batch_size)
    resumed = 0
    for number, batch in enumerate(tqdm(batches, desc="options", disable=not sys.stderr.isatty())):
        if number in done and done[number][0] == batch:
            scores = done[number][1]
            resumed += 1
        else:
            scores = score_batch(model, device, [pairs[i] for i in batch], limit)
            if batch_log:
                batch_log.commit(number, batch, scores)
        for index, score in zip(batch, scores, strict=True):
            sums[index] = score
    if resumed:
        log.info("resumed %d of %d batches from %s", resumed, len(batches), batch_log.path)
    return sums


def verdict(item: Options, sums: list[float]) -> dict:
    """The options' log-likelihoods and lm-eval's three predictions (first maximum wins,
    as numpy's argmax): by the sum (acc), per character (acc_norm), per byte (acc_bytes)."""

    def best(values: list[float]) -> int:
        return max(range(len(values)), key=lambda i: (values[i], -i))

    predicted = best(sums)
    per_char = best([s / len(o) for s, o in zip(sums, item.options, strict=True)])
    per_byte = best([s / len(o.encode()) for s, o in zip(sums, item.options, strict=True)])
    return {
        "loglikelihoods": sums,
        "gold": item.gold,
        "predicted": predicted,
        "correct": predicted == item.gold,
        "predicted_norm": per_char,
        "correct_norm": per_char == item.gold,
        "predicted_bytes": per_byte,
        "correct_bytes": per_byte == item.gold,
    }


def score_options(
    model, tokenizer, device, items: list[Options], batch_size: int, resume: Resume | None = None
) -> list[dict]:
    """Rank every item's options; one :func:`verdict` per item, in input order."""
    requests = [
        (i, item.context, DELIMITER + o) for i, item in enumerate(items) for o in item.options
    ]
    pairs = [encode_pair(tokenizer, context, continuation) for _, context, continuation in requests]
    for (index, context, continuation), (_, ids) in zip(requests, pairs, strict=True):
        if not ids:  # lm-eval stops on an assertion here; a sum over no token would be 0
            raise UserError(
                f"item {index}: the option {continuation!r} adds no token to its context "
                f"{context[-40:]!r} (the tokenizer merges it into the context's last token)"
            )
    batch_log = None
    if resume:
        settings = {"protocol": "loglikelihood", "batch_size": batch_size}
        batch_log = BatchLog(
            partial_path(resume.output),
            fingerprint(resume.model_dir, resume.adapter_dir, [c + o for c, o in pairs], settings),
        )
    limit = context_length(model, tokenizer)
    sums = loglikelihoods(model, device, pairs, batch_size, limit, batch_log)
    per_item: list[list[float]] = [[] for _ in items]
    for (index, _, _), score in zip(requests, sums, strict=True):
        per_item[index].append(score)
    return [verdict(item, scores) for item, scores in zip(items, per_item, strict=True)]


def rank_items(
    loaded, rows: list[dict], task: str, batch_size: int, resume: Resume | None = None
) -> list[dict]:
    """Every row of a suite's items file (``{"subset", "index", "record"}``) ranked with a
    loaded model (:func:`bayling_pipeline.decode.loading.load`: base, adapter or merged):
    ``{"subset", "index", "loglikelihoods", "predicted", "gold", "correct", ...}``.

    With ``resume``, finished batches are kept in the partial file beside its output; the
    caller removes it (``partial_path(output).unlink()``) once the output is written."""
    if loaded.model is None:
        raise UserError("ranking options by log-likelihood needs the hf backend (--backend hf)")
    items = [options_of(task, row["subset"], row["record"]) for row in rows]
    verdicts = score_options(
        loaded.model, loaded.tokenizer, loaded.device, items, batch_size, resume
    )
    return [
        {"subset": row["subset"], "index": row["index"], **found}
        for row, found in zip(rows, verdicts, strict=True)
    ]
