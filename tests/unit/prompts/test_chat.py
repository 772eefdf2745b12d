"""Assistant-only loss mask on the real SmolLM2 chat template, checked token by token."""

import pytest

from bayling_pipeline.prompts import chat_formats
from bayling_pipeline.prompts.chat import (
    CHAT_FORMAT_IDS,
    IGNORE_INDEX,
    conversation_prompt_ids,
    generation_prompt_ids,
    tokenize_dialogue,
)
from bayling_pipeline.prompts.chat_formats import BAYLING_SYSTEM

DIALOGUE = [
    {"role": "user", "content": "Provide the German translation for this sentence: Save"},
    {"role": "assistant", "content": "Speichern"},
    {"role": "user", "content": "Now give it in French."},
    {"role": "assistant", "content": "Enregistrer"},
]


def test_only_assistant_turns_are_learned(smollm2_tokenizer):
    tok = smollm2_tokenizer
    example = tokenize_dialogue(tok, DIALOGUE, max_length=512)
    assert len(example["input_ids"]) == len(example["labels"])
    learned = [i for i, label in enumerate(example["labels"]) if label != IGNORE_INDEX]
    # labels equal the inputs wherever they are learned
    assert all(example["labels"][i] == example["input_ids"][i] for i in learned)
    # the learned spans decode to exactly the two answers, each with its end-of-turn marker
    spans, current = [], [learned[0]]
    for i in learned[1:]:
        if i == current[-1] + 1:
            current.append(i)
        else:
            spans.append(current)
            current = [i]
    spans.append(current)
    texts = [tok.decode([example["input_ids"][i] for i in span]) for span in spans]
    assert [t.strip() for t in texts] == ["Speichern<|im_end|>", "Enregistrer<|im_end|>"]
    # nothing of the user turns or the system prompt is learned
    everything = tok.decode(example["input_ids"])
    assert "Now give it in French." in everything
    assert not any("French" in t or "Save" in t for t in texts)


def test_truncation_keeps_alignment_and_drops_unlearnable(smollm2_tokenizer):
    full = tokenize_dialogue(smollm2_tokenizer, DIALOGUE, max_length=512)
    cut = tokenize_dialogue(smollm2_tokenizer, DIALOGUE, max_length=len(full["input_ids"]) - 5)
    assert cut["input_ids"] == full["input_ids"][: len(cut["input_ids"])]
    assert tokenize_dialogue(smollm2_tokenizer, DIALOGUE, max_length=8) is None


def test_generation_prompt_ends_where_the_answer_starts(smollm2_tokenizer):
    prompt = generation_prompt_ids(smollm2_tokenizer, DIALOGUE[0]["content"])
    example = tokenize_dialogue(smollm2_tokenizer, DIALOGUE[:2], max_length=512)
    assert example["input_ids"][: len(prompt)] == prompt
    assert example["labels"][len(prompt)] != IGNORE_INDEX
    assert example["labels"][len(prompt) - 1] == IGNORE_INDEX


# --- chat formats ------------------------------------------------------------------------

THREE_TURNS = [
    {"role": "user", "content": "Translate into German: Save"},
    {"role": "assistant", "content": "Speichern"},
    {"role": "user", "content": "Now into French."},
    {"role": "assistant", "content": "Enregistrer"},
    {"role": "user", "content": "And into Chinese?"},
    {"role": "assistant", "content": "保存"},
]

# (format, end-of-turn marker as SmolLM2 decodes it)
FORMATS = [("model", "<|im_end|>"), ("bayling", "<|im_end|>"), ("llama3", "<|eot_id|>")]


def _learned_spans(example):
    spans = []
    for i, label in enumerate(example["labels"]):
        if label == IGNORE_INDEX:
            continue
        assert label == example["input_ids"][i]  # labels equal the inputs where learned
        if spans and spans[-1][-1] == i - 1:
            spans[-1].append(i)
        else:
            spans.append([i])
    return spans


@pytest.mark.parametrize("chat_format,marker", FORMATS)
def test_three_turn_mask_is_exactly_the_answers_and_their_markers(
    smollm2_tokenizer, chat_format, marker
):
    tok = smollm2_tokenizer
    example = tokenize_dialogue(tok, THREE_TURNS, max_length=1024, chat_format=chat_format)
    spans = _learned_spans(example)
    texts = [tok.decode([example["input_ids"][i] for i in span]) for span in spans]
    assert texts == [m["content"] + marker for m in THREE_TURNS if m["role"] == "assistant"]
    # everything else (system prompt, user turns, headers) is context, never learned
    context = tok.decode(
        [
            t
            for t, lab in zip(example["input_ids"], example["labels"], strict=True)
            if lab == IGNORE_INDEX
        ]
    )
    assert all(m["content"] in context for m in THREE_TURNS if m["role"] == "user")


@pytest.mark.parametrize("chat_format,marker", FORMATS)
@pytest.mark.parametrize("turns", [1, 3, 5])
def test_conversation_prompt_is_the_training_prefix(smollm2_tokenizer, chat_format, marker, turns):
    """The decoding prompt for the first ``turns`` messages is token-exact what training saw
    before the next answer, and the answer's first token is learned."""
    prompt = conversation_prompt_ids(smollm2_tokenizer, THREE_TURNS[:turns], chat_format)
    example = tokenize_dialogue(smollm2_tokenizer, THREE_TURNS, 1024, chat_format=chat_format)
    assert example["input_ids"][: len(prompt)] == prompt
    assert example["labels"][len(prompt)] != IGNORE_INDEX
    assert example["labels"][len(prompt) - 1] == IGNORE_INDEX


@pytest.mark.parametrize(
    "chat_format,expected",
    [
        (
            "bayling",
            "<|im_start|>" + BAYLING_SYSTEM + "\n### Instruction:\nHi\n### Response:\n"
            "Hallo<|im_end|>\n### Instruction:\nMore\n### Response:\n",
        ),
        (
            "llama3",
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHallo<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nMore<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n",
        ),
    ],
)
def test_format_text_table(smollm2_tokenizer, chat_format, expected):
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hallo"},
        {"role": "user", "content": "More"},
    ]
    ids = conversation_prompt_ids(smollm2_tokenizer, messages, chat_format)
    assert smollm2_tokenizer.decode(ids) == expected


@pytest.mark.parametrize(
    "name,resolved",
    [("model", "model@v1"), ("bayling", "bayling@v1"), ("llama3@v1", "llama3@v1")],
)
def test_format_names_resolve_to_versioned_ids(name, resolved):
    assert chat_formats.resolve(name) == resolved
    assert resolved in CHAT_FORMAT_IDS


def test_unknown_format_and_prompt_ending_with_answer_are_refused(smollm2_tokenizer):
    with pytest.raises(ValueError, match="unknown chat format"):
        chat_formats.resolve("vicuna")
    with pytest.raises(ValueError, match="end with a user turn"):
        conversation_prompt_ids(smollm2_tokenizer, THREE_TURNS[:2], "bayling")
