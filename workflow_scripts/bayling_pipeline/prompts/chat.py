"""Chat tokenization shared by fine-tuning and decoding, in any registered chat format.

Training computes the loss on assistant tokens only. The conversation is rendered as text
by its format (:mod:`bayling_pipeline.prompts.chat_formats`) and cut, at the text level, into
runs: prompt text, then an assistant answer with its end-of-turn marker, then the next
prompt text, and so on. Where an answer starts is found by rendering the conversation up
to it with the generation prompt; the answer ends after its end-of-turn marker (what
follows the marker, e.g. ChatML's newline, belongs to the next prompt run).

Each run is tokenized on its own and the ids are concatenated. That makes the mask exact
by construction and a decoding prompt a token-exact prefix of the training sequence,
even where a tokenizer would merge text across a boundary (SmolLM2 merges the ``>`` of a
textual ``<|eot_id|>`` with the ``<`` of the next header). Runs start and end at special
tokens or newlines, where the usual pre-tokenizers split anyway.
"""

from __future__ import annotations

from bayling_pipeline.prompts import chat_formats
from bayling_pipeline.prompts.chat_formats import CHAT_FORMAT_IDS, CHAT_FORMAT_NAMES  # noqa: F401

IGNORE_INDEX = -100  # label value that torch's cross-entropy skips


def _encode(tokenizer, text: str) -> list[int]:
    # The format writes any BOS it wants; do not add special tokens twice.
    return tokenizer(text, add_special_tokens=False)["input_ids"] if text else []


def _special_texts(tokenizer) -> list[str]:
    texts = set(tokenizer.all_special_tokens)
    texts.update(t.content for t in tokenizer.added_tokens_decoder.values() if t.special)
    return [t for t in texts if t]


def _answer_length(fmt, tokenizer, answer_text: str, content: str) -> int:
    """Characters of ``answer_text`` that are learned: the answer and its end-of-turn marker."""
    stripped = content.strip()
    at = answer_text.find(stripped) if stripped else -1
    after = at + len(stripped) if at >= 0 else 0
    marker = fmt.end_of_turn(tokenizer)
    candidates = [marker] if marker else _special_texts(tokenizer)
    ends = [
        answer_text.find(m, after) + len(m) for m in candidates if answer_text.find(m, after) >= 0
    ]
    return min(ends) if ends else len(answer_text)


def dialogue_runs(
    tokenizer, messages: list[dict], chat_format: str = "model", add_generation_prompt=False
) -> list[tuple[str, bool]]:
    """The rendered conversation as (text, learned) runs; learned runs are assistant answers.

    Raises ValueError if the format is not prefix-stable (a later turn re-renders earlier
    ones differently), because the mask would then be wrong.
    """
    fmt = chat_formats.get(chat_format)
    full = fmt.render(tokenizer, messages, add_generation_prompt)
    runs, position = [], 0
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt = fmt.render(tokenizer, messages[:index], True)
        upto = fmt.render(tokenizer, messages[: index + 1], False)
        if not (upto.startswith(prompt) and full.startswith(upto) and len(prompt) >= position):
            raise ValueError(f"chat format {fmt.id} is not prefix-stable; cannot mask turns")
        answer = upto[len(prompt) :]
        learned = _answer_length(fmt, tokenizer, answer, message["content"])
        runs += [(full[position : len(prompt)], False), (answer[:learned], True)]
        position = len(prompt) + learned
    runs.append((full[position:], False))
    return [(text, learned) for text, learned in runs if text]


def tokenize_dialogue(
    tokenizer, messages: list[dict], max_length: int, chat_format: str = "model"
) -> dict | None:
    """Token ids and labels for one dialogue; labels are IGNORE_INDEX outside assistant turns.

    Returns None when truncation to ``max_length`` leaves no assistant token to learn from.
    """
    input_ids, labels = [], []
    for text, learned in dialogue_runs(tokenizer, messages, chat_format):
        ids = _encode(tokenizer, text)
        input_ids += ids
        labels += ids if learned else [IGNORE_INDEX] * len(ids)
    input_ids, labels = input_ids[:max_length], labels[:max_length]
    if all(label == IGNORE_INDEX for label in labels):
        return None
    return {"input_ids": input_ids, "labels": labels}


def conversation_prompt_ids(
    tokenizer, messages: list[dict], chat_format: str = "model"
) -> list[int]:
    """Token ids of a conversation up to where the next assistant answer begins.

    ``messages`` alternate user/assistant (an optional system message first) and end with
    a user turn. The ids are exactly the prefix that training saw for the same turns.
    """
    if not messages or messages[-1]["role"] != "user":
        raise ValueError("a conversation prompt must end with a user turn")
    runs = dialogue_runs(tokenizer, messages, chat_format, add_generation_prompt=True)
    return [i for text, _ in runs for i in _encode(tokenizer, text)]


def generation_prompt_ids(tokenizer, user_text: str, chat_format: str = "model") -> list[int]:
    """Token ids of a one-turn chat ending where the assistant's answer begins."""
    return conversation_prompt_ids(tokenizer, [{"role": "user", "content": user_text}], chat_format)


def end_of_turn_text(tokenizer, chat_format: str = "model") -> str | None:
    """The text closing an assistant turn in a format (None: the template's own EOS)."""
    return chat_formats.get(chat_format).end_of_turn(tokenizer)
