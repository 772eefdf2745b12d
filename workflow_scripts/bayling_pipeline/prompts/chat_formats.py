"""Versioned chat formats: how a conversation is written out as text for a model.

A format id is ``name@vN``; the bare name selects the newest version, and the resolved id
is what training records. Changing how a format renders means adding a version, never
editing one, so a recorded id always names the text a model was trained on.

- ``model@v1``: the tokenizer's own chat template (``tokenizer.apply_chat_template``).
- ``bayling@v1``: BayLing 1, the "BayLing" template of ictnlp/BayLing's FastChat fork
  (``bayling/conversation.py``, separator style BAYLING)::

      <s>{system}\\n### Instruction:\\n{user}\\n### Response:\\n{answer}</s>\\n###...

  ``<s>``/``</s>`` are written as the tokenizer's BOS/EOS: that is what they are for
  LLaMA, and with another tokenizer they stay the model's own sentence markers. BOS is
  written only where the tokenizer adds one by default, as FastChat's
  ``tokenizer(prompt)`` does.
- ``llama3@v1``: the Llama 3 header format used by BayLing-2-8B::

      <|begin_of_text|><|start_header_id|>user<|end_header_id|>\\n\\n{user}<|eot_id|>...

  Contents are stripped, as Llama 3's own template does. For a tokenizer without these
  special tokens (SmolLM2, LLaMA 1) the markers are written as text and tokenize into
  several ordinary tokens: the format still round-trips, but costs a few tokens a turn.
- ``bayling-llama3@v1``: BayLing-2-Llama-3-8B's format, the Llama 3 headers with BayLing's
  system line (``BAYLING_SYSTEM``) as the system message when the conversation has none::

      <|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nI am an intelligent
      language assistant ...<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n...

A conversation that starts with a system message (a model's ``system_prompt``) puts it in
place of the format's own: BayLing's line for bayling and bayling-llama3, none for llama3,
the chat template's default for model.

Nothing here imports torch or transformers: this module is safe to import at parse time
(the config check reads :data:`CHAT_FORMAT_IDS`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

BAYLING_SYSTEM = (
    "I am an intelligent language assistant developed by the NLP Group of ICT/CAS.\n"
    "Below is a dialog consisting of instructions and responses. "
    "Write a response that completes the request.\n"
)


@dataclass(frozen=True)
class ChatFormat:
    """A registered format: ``render`` writes a conversation, ``end_of_turn`` its marker.

    ``render(tokenizer, messages, add_generation_prompt)`` returns the text; with
    ``add_generation_prompt`` it ends where the next assistant answer begins.
    ``end_of_turn(tokenizer)`` is the text closing an assistant turn, or None when the
    format leaves it to the template (the first special token after the answer then is).
    """

    id: str
    render: Callable
    end_of_turn: Callable


def _adds_bos(tokenizer) -> bool:
    bos = tokenizer.bos_token_id
    return bos is not None and tokenizer("a")["input_ids"][:1] == [bos]


def _split_system(messages: list[dict], default: str) -> tuple[str, list[dict]]:
    if messages and messages[0]["role"] == "system":
        return messages[0]["content"], messages[1:]
    return default, messages


def _render_model(tokenizer, messages, add_generation_prompt):
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt
    )


def _render_bayling(tokenizer, messages, add_generation_prompt):
    system, turns = _split_system(messages, BAYLING_SYSTEM)
    eos = tokenizer.eos_token or "</s>"
    text = (tokenizer.bos_token if _adds_bos(tokenizer) else "") + system + "\n"
    for message in turns:
        if message["role"] == "user":
            text += "### Instruction:\n" + message["content"] + "\n"
        elif message["role"] == "assistant":
            # FastChat's BAYLING style: role, message, sep2 (</s>), then a newline
            text += "### Response:\n" + message["content"] + eos + "\n"
        else:
            raise ValueError(f"bayling format: unexpected role {message['role']!r}")
    if add_generation_prompt:
        text += "### Response:\n"
    return text


def _render_llama3(tokenizer, messages, add_generation_prompt):
    text = "<|begin_of_text|>"
    for message in messages:
        text += (
            f"<|start_header_id|>{message['role']}<|end_header_id|>\n\n"
            f"{message['content'].strip()}<|eot_id|>"
        )
    if add_generation_prompt:
        text += "<|start_header_id|>assistant<|end_header_id|>\n\n"
    return text


def _render_bayling_llama3(tokenizer, messages, add_generation_prompt):
    system, turns = _split_system(messages, BAYLING_SYSTEM)
    return _render_llama3(
        tokenizer, [{"role": "system", "content": system}, *turns], add_generation_prompt
    )


_FORMATS = [
    ChatFormat("model@v1", _render_model, lambda tokenizer: None),
    ChatFormat("bayling@v1", _render_bayling, lambda tokenizer: tokenizer.eos_token or "</s>"),
    ChatFormat("llama3@v1", _render_llama3, lambda tokenizer: "<|eot_id|>"),
    ChatFormat("bayling-llama3@v1", _render_bayling_llama3, lambda tokenizer: "<|eot_id|>"),
]
REGISTRY = {fmt.id: fmt for fmt in _FORMATS}

#: Every versioned id, e.g. ``bayling@v1``.
CHAT_FORMAT_IDS = tuple(REGISTRY)
#: Bare names; each selects its newest version.
CHAT_FORMAT_NAMES = tuple(dict.fromkeys(i.split("@")[0] for i in CHAT_FORMAT_IDS))
#: Everything a config may name: bare names and versioned ids.
ACCEPTED = CHAT_FORMAT_NAMES + CHAT_FORMAT_IDS


def resolve(chat_format: str) -> str:
    """The versioned id a name stands for (``bayling`` -> ``bayling@v1``)."""
    if chat_format in REGISTRY:
        return chat_format
    versions = [i for i in CHAT_FORMAT_IDS if i.split("@")[0] == chat_format]
    if not versions:
        raise ValueError(f"unknown chat format {chat_format!r}; known: {', '.join(ACCEPTED)}")
    return max(versions, key=lambda i: int(i.split("@v")[1]))


def get(chat_format: str) -> ChatFormat:
    """The registered format for a name or versioned id."""
    return REGISTRY[resolve(chat_format)]
