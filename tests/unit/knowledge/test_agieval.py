"""AGIEval as BayLing 1 ran it: subjects, items, labels, and the zero-shot prompts rebuilt
byte for byte from the v1 data (compared with every prompt of BayLing's released inputs).

.venv/bin/python -m pytest tests/unit/knowledge/test_agieval.py -q
"""

from __future__ import annotations

import json

import pytest
from conftest import SHARED_DATA

from bayling_pipeline.knowledge import agieval
from bayling_pipeline.knowledge.items import BenchmarkFileError, read_records

V1 = SHARED_DATA / "agieval" / "data" / "v1"
EXAMINATION = SHARED_DATA / "bayling" / "exp" / "examination"
needs_data = pytest.mark.skipif(
    not (V1.is_dir() and EXAMINATION.is_dir()),
    reason="needs ../shared/data/agieval and ../shared/data/bayling (real data)",
)


def test_the_eighteen_subjects_of_the_two_tables():
    tables = [s.table for s in agieval.SUBJECTS.values()]
    assert len(agieval.SUBJECTS) == 18 and tables.count("gaokao") == tables.count("english")
    assert agieval.language_of("gaokao-english") == "en"  # an English question in GaoKao
    assert agieval.language_of("logiqa-zh") == "zh"  # a Chinese one in the English table
    assert [n for n, s in agieval.SUBJECTS.items() if s.kind == "cloze"] == ["gaokao-mathcloze"]
    assert [n for n, s in agieval.SUBJECTS.items() if s.multi] == ["gaokao-physics"]
    assert agieval.subject("math").kind == "cloze"  # released inputs, in no table
    assert set(agieval.CHINESE) | set(agieval.ENGLISH) == set(agieval.SUBJECTS)
    with pytest.raises(KeyError, match="known: gaokao-chinese"):
        agieval.language_of("jec-qa-kd")


@pytest.mark.parametrize(
    "label, letters",
    [("C", "C"), (["A", "C"], "AC"), (["C", "A", "B"], "ABC"), ("A B D", "ABD"), ("CD", "CD")],
)
def test_gold_letters(label, letters):
    assert agieval.gold_letters({"label": label}) == letters


@pytest.mark.parametrize("label", [None, "", "H", "1", ["A", "x"]])
def test_gold_letters_refuses_what_is_no_label(label):
    with pytest.raises(ValueError, match="not a choice label"):
        agieval.gold_letters({"label": label})


@pytest.mark.parametrize(
    "options, letters",
    [
        (["(A)a", "(B)b", "(C)c", "(D)d", "(E)e"], 5),
        (["(A)a", "(C)c", "(D)d"], 4),  # gaokao-biology line 36: (B) merged into (A)
        (["(A)a (B)b (C)c (D)d"], 4),  # all options in one line
    ],
)
def test_the_letters_options_span(options, letters):
    record = {"question": "q", "options": options, "label": "A", "passage": None}
    assert agieval.item_of(record).n_letters == letters


PROMPTS = [  # (subject, record, prompt)
    (
        "lsat-lr",
        {"passage": None, "question": "Why?", "options": ["(A)x", "(B)y"], "label": "B"},
        "Question:\nWhy?\nChoices:\n(A)x\n(B)y\n\nAnswer:\nOutput the correct answer in this "
        'format: "Answer is choice ()"',
    ),
    (
        "sat-math",  # an empty passage still gets its blank line, as released
        {"passage": "", "question": "x?", "options": ["(A)1", "(B)2"], "label": "A"},
        "\n\nQuestion:\nx?\nChoices:\n(A)1\n(B)2\n\nAnswer:\nOutput the correct answer in "
        'this format: "Answer is choice ()"',
    ),
    (
        "logiqa-zh",
        {"passage": "材料", "question": "为什么？", "options": ["(A)甲", "(B)乙"], "label": "A"},
        '材料\n\n问题：\n为什么？\n选项：\n(A)甲\n(B)乙\n\n答案：\n按照此格式输出正确答案："答案是选项()"',
    ),
    (
        "gaokao-mathcloze",
        {"passage": None, "question": "$1+1=(\\quad)$", "options": None, "answer": "2"},
        "问题：$1+1=(\\quad)$\n答案：",
    ),
    (
        "math",
        {"passage": None, "question": "What is $1+1$?", "options": None, "answer": "2"},
        "Question: What is $1+1$?\nAnswer: The answer is",
    ),
]


@pytest.mark.parametrize("subject, record, prompt", PROMPTS)
def test_zero_shot_prompt(subject, record, prompt):
    assert agieval.zero_shot_prompt(agieval.item_of(record), subject) == prompt
    assert agieval.zero_shot_prompt(record, subject) == prompt  # a v1 record works as well


def test_a_bad_line_names_the_file_and_line(tmp_path):
    good = {"passage": None, "question": "q", "options": ["(A)x", "(B)y"], "label": "A"}
    path = tmp_path / "subject.jsonl"
    path.write_text(json.dumps(good) + "\n" + '{"question": "q", "options": \n')
    with pytest.raises(BenchmarkFileError, match=r"subject\.jsonl:2: not valid JSON"):
        agieval.load_items(path)
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "label": "Z"}) + "\n")
    with pytest.raises(BenchmarkFileError, match=r"subject\.jsonl:2: not a choice label"):
        agieval.load_items(path)
    path.write_text(json.dumps({"question": "q", "options": None, "answer": None}) + "\n")
    with pytest.raises(BenchmarkFileError, match=r"subject\.jsonl:1: no 'options' and no"):
        agieval.load_items(path)


def test_released_text_of_both_formats():
    assert agieval.released_text({"text": "答案是选项(C)"}) == "答案是选项(C)"
    chat = {"choices": [{"message": {"role": "assistant", "content": "B) 10."}}]}
    assert agieval.released_text(chat) == "B) 10."
    with pytest.raises(ValueError, match="neither a 'text'"):
        agieval.released_text({"choices": []})


@needs_data
def test_every_released_prompt_is_rebuilt_exactly():
    """All 6,269 prompts of the 19 released input files (two systems' copies are equal)."""
    inputs = sorted((EXAMINATION / "bayling-13b" / "inputs").glob("*.zero-shot.jsonl"))
    inputs += sorted((EXAMINATION / "chatglm-6b" / "inputs").glob("math.zero-shot.jsonl"))
    assert len(inputs) == 19
    equal = total = 0
    for path in inputs:
        subject = path.name.removesuffix(".zero-shot.jsonl")
        items = agieval.load_items(V1 / f"{subject}.jsonl")
        released = [r["context"] for r in read_records(path, ("context",))]
        assert len(items) == len(released), subject
        total += len(items)
        equal += sum(
            agieval.zero_shot_prompt(i, subject) == c for i, c in zip(items, released, strict=True)
        )
    assert (equal, total) == (6269, 6269)


@needs_data
def test_the_v1_items():
    physics = agieval.load_items(V1 / "gaokao-physics.jsonl")
    assert len(physics) == 200 and sum(len(i.gold) > 1 for i in physics) == 35
    assert physics[0].gold == "C" and physics[0].kind == "choice" and physics[0].passage is None
    cloze = agieval.load_items(V1 / "gaokao-mathcloze.jsonl")
    assert cloze[1].gold == "$5$;$10$" and cloze[1].options == () and cloze[1].kind == "cloze"
    assert len(agieval.load_items(V1 / "sat-math.jsonl")) == 220  # lines without "answer"


@needs_data
def test_released_answers_of_both_formats():
    gpt = agieval.load_released(
        EXAMINATION / "gpt-3.5-turbo" / "predict.gpt-3.5-turbo.sat-math.zero-shot.jsonl"
    )
    bayling = agieval.load_released(
        EXAMINATION / "bayling-13b" / "predict.BayLing-13B.gaokao-physics.zero-shot.jsonl"
    )
    assert len(gpt) == 220 and gpt[0].startswith("D) 10.")
    assert len(bayling) == 200 and bayling[1] == "答案是选项(C)$1.0 \\mathrm{~s}$"


def test_judge_readings():
    record = {"passage": None, "question": "q", "options": ["(A)x", "(B)y"], "label": "B"}
    assert agieval.judge("lsat-lr", record, "Answer is choice (B)") == ("B", True)
    assert agieval.judge("lsat-lr", record, "Based on it, (A)", "strict") == ("A", False)
    assert agieval.judge("lsat-lr", record, "Based on it, (A)") == ("B", True)  # BayLing 1's
    physics = {**record, "options": ["(A)x", "(B)y", "(C)z", "(D)w"], "label": ["B", "C"]}
    assert agieval.judge("gaokao-physics", physics, "B)和(C)。") == ("BC", True)
    assert agieval.judge("gaokao-physics", physics, "B)和(C)。", "strict") == ("BC", True)
    cloze = {"passage": None, "question": "q", "options": None, "answer": "$\\frac{1}{2}$"}
    assert agieval.judge("gaokao-mathcloze", cloze, "所以 $a=\\dfrac{1}{2}$。") == (
        "\\dfrac{1}{2}",
        True,
    )
    with pytest.raises(ValueError, match="reading must be one of bayling1, strict"):
        agieval.judge("lsat-lr", record, "B", "loose")
