"""The constrained-translation prompts: BayLing's wording (scripts/constrained_translate.py),
in English and in Chinese, rendered with the project's language names.

.venv/bin/python -m pytest tests/unit/constrained/test_constrained_prompts.py -q
"""

from __future__ import annotations

import pytest

from bayling_pipeline.prompts.constrained import (
    CONSTRAINED,
    constrained_template,
    render_constrained_prompt,
)
from bayling_pipeline.prompts.templates import ALL


@pytest.mark.parametrize(
    "instruction,pair,source,terms,expected",
    [
        # BayLing: f"Provide the {tgt_lang} translation for this sentence: {src}\n"
        #          f"Make sure to include these words: {constraints}", terms joined by ", "
        (
            "eng_Latn",
            ("zho_Hans", "eng_Latn"),
            "是否有途径处罚他\n",
            ["Is", "punish him"],
            "Provide the English translation for this sentence: 是否有途径处罚他\n"
            "Make sure to include these words: Is, punish him",
        ),
        # BayLing: f"提供这句话的{tgt_lang}翻译：{src}\n确保包含这些词：{constraints}"
        (
            "zho_Hans",
            ("eng_Latn", "zho_Hans"),
            "I'm sorry that your order is running late.",
            ["可能会晚", "餐可能"],
            "提供这句话的简体中文翻译：I'm sorry that your order is running late.\n"
            "确保包含这些词：可能会晚, 餐可能",
        ),
        (
            "zho_Hans",
            ("zho_Hans", "eng_Latn"),
            "暂时没有",
            ["We"],
            "提供这句话的英语翻译：暂时没有\n确保包含这些词：We",
        ),
    ],
)
def test_prompt_is_baylings_wording(instruction, pair, source, terms, expected):
    assert render_constrained_prompt(instruction, *pair, source, terms) == expected


def test_templates_are_versioned_and_their_ids_are_not_taken():
    assert constrained_template("eng_Latn").ref == "constrained-en@v1"
    assert constrained_template("zho_Hans").ref == "constrained-zh@v1"
    assert not set(CONSTRAINED) & set(ALL)


def test_unknown_instruction_language_is_refused():
    with pytest.raises(ValueError, match="deu_Latn"):
        constrained_template("deu_Latn")
