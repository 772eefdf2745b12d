"""XCOPA and Belebele items as lm-evaluation-harness poses them: expected prompts by hand,
then every XCOPA test item of the 11 languages and a Belebele file written in its released
format against lm-eval's own task code (no model needed).

    .venv/bin/pytest tests/unit/knowledge/test_xcopa.py -q
"""

import json

import pytest
from conftest import SHARED_DATA

from bayling_pipeline.cli import UserError
from bayling_pipeline.knowledge.multiple_choice import DELIMITER
from bayling_pipeline.knowledge.xcopa import (
    CONNECTORS,
    belebele_options,
    options_of,
    xcopa_options,
)

XCOPA = SHARED_DATA / "xcopa" / "data"


@pytest.mark.parametrize(
    "language,record,context,options",
    [
        (  # the full stop goes, the connector comes after a space, options lower-cased
            "ht",
            {
                "premise": "Msye a te louvri tiyo a.",
                "choice1": "Twalèt la te ranpli ak dlo.",
                "choice2": "Dlo a te soti nan bouch tiyo a.",
                "question": "effect",
                "label": 1,
            },
            "Msye a te louvri tiyo a donk sa",
            ["twalèt la te ranpli ak dlo.", "dlo a te soti nan bouch tiyo a."],
        ),
        (  # a two-word connector; only the first character is lower-cased
            "sw",
            {
                "premise": " Mtu huyo alivunjika mguu wake. ",
                "choice1": "Alianguka kutoka ngazi ya NASA.",
                "choice2": "Éco alipiga teke mpira.",
                "question": "cause",
                "label": 0,
            },
            "Mtu huyo alivunjika mguu wake kwa sababu",
            ["alianguka kutoka ngazi ya NASA.", "éco alipiga teke mpira."],
        ),
        (  # the ideographic full stop is one character too; Chinese has no case
            "zh",
            {
                "premise": "该物品用气泡包装纸包着。",
                "choice1": "它很易碎。",
                "choice2": "它很小。",
                "question": "cause",
                "label": 0,
            },
            "该物品用气泡包装纸包着 因为",
            ["它很易碎。", "它很小。"],
        ),
    ],
)
def test_xcopa_prompt(language, record, context, options):
    built = xcopa_options(record, language)
    assert built.context == context
    assert built.options == options
    assert built.gold == record["label"]
    assert options_of("xcopa", language, record) == built


def test_every_xcopa_language_has_both_connectors():
    assert sorted(CONNECTORS) == sorted("et ht id it qu sw ta th tr vi zh".split())
    assert all(set(c) == {"cause", "effect"} for c in CONNECTORS.values())


def test_unknown_language_or_task_is_refused():
    record = {"premise": "A.", "choice1": "B", "choice2": "C", "question": "cause", "label": 0}
    with pytest.raises(UserError, match="no language 'en'"):
        xcopa_options(record, "en")
    with pytest.raises(ValueError, match="agieval"):
        options_of("agieval", "gaokao-biology", record)


# Two items in Belebele's released format (facebook/belebele, one JSON object a line); the
# question of the second carries spaces that lm-eval's template strips.
BELEBELE_RECORDS = [
    {
        "link": "https://en.wikibooks.org/wiki/Accordion/Right_hand",
        "question_number": 1,
        "flores_passage": "Make sure your hand is as relaxed as possible while still hitting "
        "all the notes correctly. Also try not to make much extraneous motion with your fingers.",
        "question": "According to the passage, what would not be considered an accurate tip?",
        "mc_answer1": "Keep your hand relaxed",
        "mc_answer2": "Use as little motion as possible",
        "mc_answer3": "Add force for volume",
        "mc_answer4": "Hit every note correctly",
        "correct_answer_num": "3",
        "dialect": "eng_Latn",
        "ds": "2023-05-03",
    },
    {
        "link": "https://en.wikinews.org/wiki/Example",
        "question_number": 2,
        "flores_passage": "The bridge is expected to be operational in September 2017.",
        "question": "  When is the bridge expected to open? ",
        "mc_answer1": "September 2017",
        "mc_answer2": "2016",
        "mc_answer3": "never",
        "mc_answer4": "in spring",
        "correct_answer_num": "1",
        "dialect": "eng_Latn",
        "ds": "2023-05-03",
    },
]


def test_belebele_prompt():
    built = belebele_options(BELEBELE_RECORDS[1])
    assert built.context == (
        "P: The bridge is expected to be operational in September 2017.\n"
        "Q: When is the bridge expected to open?\n"
        "A: September 2017\nB: 2016\nC: never\nD: in spring\nAnswer:"
    )
    assert built.options == ["A", "B", "C", "D"]
    assert built.gold == 0
    assert belebele_options(BELEBELE_RECORDS[0]).gold == 2
    assert options_of("belebele", "zho_Hans", BELEBELE_RECORDS[0]).gold == 2


def pairs(options) -> list[tuple[str, str]]:
    return [(options.context, DELIMITER + option) for option in options.options]


@pytest.mark.skipif(not XCOPA.is_dir(), reason=f"XCOPA data not found at {XCOPA}")
@pytest.mark.parametrize("language", sorted(CONNECTORS))
def test_xcopa_items_equal_lm_eval_requests(language, tmp_path):
    pytest.importorskip("lm_eval", reason="lm-eval is a test requirement (requirements-dev.txt)")
    from lm_eval_local import requests, xcopa_task

    task = xcopa_task(XCOPA, language, tmp_path)
    expected = requests(task)
    lines = (XCOPA / language / f"test.{language}.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(expected) == len(lines) == 500
    for number, line in enumerate(lines):
        record = json.loads(line)
        built = xcopa_options(record, language)
        assert pairs(built) == expected[number], f"{language} test item {number}"
        assert built.gold == task.doc_to_target(task.test_docs()[number])


@pytest.mark.parametrize("language", ["eng_Latn", "zho_Hans"])
def test_belebele_items_equal_lm_eval_requests(language, tmp_path):
    pytest.importorskip("lm_eval", reason="lm-eval is a test requirement (requirements-dev.txt)")
    from lm_eval_local import belebele_task, requests

    path = tmp_path / f"{language}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in BELEBELE_RECORDS), encoding="utf-8")
    task = belebele_task(path, language, tmp_path / "cache")
    expected = requests(task)
    for number, record in enumerate(BELEBELE_RECORDS):
        built = belebele_options(record)
        assert pairs(built) == expected[number]
        assert built.gold == task.doc_to_target(task.test_docs()[number])
