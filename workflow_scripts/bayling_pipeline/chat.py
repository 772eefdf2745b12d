"""Chat-template tokenization shared by fine-tuning and decoding.

Training computes the loss on assistant tokens only. The mask is found by rendering the
dialogue prefix by prefix with the model's own chat template: the tokens that a prefix
ending in ``add_generation_prompt=True`` does not yet contain, and that the prefix ending
with the assistant message does, are that message's tokens (its end-of-turn marker
included, so the model learns to stop).
"""

from __future__ import annotations

IGNORE_INDEX = -100  # label value that torch's cross-entropy skips


def _ids(tokenizer, messages: list[dict], add_generation_prompt: bool) -> list[int]:
    rendered = tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt
    )
    # The template already writes any BOS it wants; do not add special tokens twice.
    return tokenizer(rendered, add_special_tokens=False)["input_ids"]


def tokenize_dialogue(tokenizer, messages: list[dict], max_length: int) -> dict | None:
    """Token ids and labels for one dialogue; labels are IGNORE_INDEX outside assistant turns.

    Returns None when truncation to ``max_length`` leaves no assistant token to learn from.
    Raises ValueError if the template is not prefix-stable (a later turn re-renders earlier
    ones differently), because the mask would then be wrong.
    """
    full = _ids(tokenizer, messages, add_generation_prompt=False)
    labels = [IGNORE_INDEX] * len(full)
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start = len(_ids(tokenizer, messages[:index], add_generation_prompt=True))
        upto = _ids(tokenizer, messages[: index + 1], add_generation_prompt=False)
        if full[: len(upto)] != upto:
            raise ValueError("chat template is not prefix-stable; cannot mask assistant turns")
        labels[start : len(upto)] = full[start : len(upto)]
    input_ids, labels = full[:max_length], labels[:max_length]
    if all(label == IGNORE_INDEX for label in labels):
        return None
    return {"input_ids": input_ids, "labels": labels}


def generation_prompt_ids(tokenizer, user_text: str) -> list[int]:
    """Token ids of a one-turn chat ending where the assistant's answer begins."""
    return _ids(tokenizer, [{"role": "user", "content": user_text}], add_generation_prompt=True)
