"""BayLing-2-8B's chat format (bayling-llama3: Llama 3 headers, BayLing's system line) and
system prompts in decoding prompts, with the real SmolLM2 tokenizer.

    .venv/bin/python -m pytest -q tests/unit/prompts/test_system_prompts.py
"""

from __future__ import annotations

import pytest

from bayling_pipeline.decode.settings import Settings
from bayling_pipeline.decode.translate import translation_prompts
from bayling_pipeline.prompts.chat import conversation_prompt_ids, tokenize_dialogue
from bayling_pipeline.prompts.chat_formats import BAYLING_SYSTEM, resolve

HEADER = "<|start_header_id|>{}<|end_header_id|>\n\n"
BAYLING_LINE = BAYLING_SYSTEM.strip()
DIALOGUE = [
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hallo"},
    {"role": "user", "content": "More"},
]


@pytest.mark.parametrize(
    ("chat_format", "system", "expected"),
    [
        (
            "bayling-llama3",
            None,
            "<|begin_of_text|>"
            + HEADER.format("system")
            + BAYLING_LINE
            + "<|eot_id|>"
            + HEADER.format("user")
            + "Hi<|eot_id|>"
            + HEADER.format("assistant")
            + "Hallo<|eot_id|>"
            + HEADER.format("user")
            + "More<|eot_id|>"
            + HEADER.format("assistant"),
        ),
        (
            "bayling-llama3",
            "Be brief.",
            "<|begin_of_text|>"
            + HEADER.format("system")
            + "Be brief.<|eot_id|>"
            + HEADER.format("user")
            + "Hi<|eot_id|>"
            + HEADER.format("assistant")
            + "Hallo<|eot_id|>"
            + HEADER.format("user")
            + "More<|eot_id|>"
            + HEADER.format("assistant"),
        ),
        (
            "llama3",
            "Be brief.",
            "<|begin_of_text|>"
            + HEADER.format("system")
            + "Be brief.<|eot_id|>"
            + HEADER.format("user")
            + "Hi<|eot_id|>"
            + HEADER.format("assistant")
            + "Hallo<|eot_id|>"
            + HEADER.format("user")
            + "More<|eot_id|>"
            + HEADER.format("assistant"),
        ),
        (
            "bayling",
            "Be brief.",
            "<|im_start|>Be brief.\n### Instruction:\nHi\n### Response:\nHallo<|im_end|>\n"
            "### Instruction:\nMore\n### Response:\n",
        ),
    ],
)
def test_prompt_text_table(smollm2_tokenizer, chat_format, system, expected):
    messages = ([{"role": "system", "content": system}] if system else []) + DIALOGUE
    ids = conversation_prompt_ids(smollm2_tokenizer, messages, chat_format)
    assert smollm2_tokenizer.decode(ids) == expected


def test_bayling_llama3_trains_on_answers_only(smollm2_tokenizer):
    dialogue = [*DIALOGUE, {"role": "assistant", "content": "Mehr"}]
    example = tokenize_dialogue(smollm2_tokenizer, dialogue, 256, chat_format="bayling-llama3")
    learned = [
        t for t, label in zip(example["input_ids"], example["labels"], strict=True) if label != -100
    ]
    assert smollm2_tokenizer.decode(learned) == "Hallo<|eot_id|>Mehr<|eot_id|>"
    assert resolve("bayling-llama3") == "bayling-llama3@v1"


@pytest.mark.parametrize(
    ("chat_format", "system_prompt", "present", "absent"),
    [
        ("bayling-llama3", None, BAYLING_LINE, None),
        ("bayling-llama3", "Translate only.", "Translate only.", BAYLING_LINE),
        ("model", "Translate only.", "Translate only.", BAYLING_LINE),
        ("model", None, None, "Translate only."),
    ],
)
def test_translation_prompts_carry_the_system_prompt(
    smollm2_tokenizer, chat_format, system_prompt, present, absent
):
    settings = Settings(chat_format=chat_format, system_prompt=system_prompt)
    [ids] = translation_prompts(smollm2_tokenizer, ["Save"], "eng_Latn-deu_Latn", settings)
    text = smollm2_tokenizer.decode(ids)
    assert "Save" in text
    if present:
        assert present in text
    if absent:
        assert absent not in text
    recorded = settings.recorded()
    assert ("system_prompt" in recorded) == (system_prompt is not None)
