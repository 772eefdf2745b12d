"""Reading generated answers: choice letters (BayLing 1's reading and the strict one) on real
released answers of the six systems, read from ../shared/data at test time, and math cloze
answers with their equivalence check.

.venv/bin/python -m pytest tests/unit/knowledge/test_extract.py -q
"""

from __future__ import annotations

import pytest
from conftest import SHARED_DATA

from bayling_pipeline.knowledge import agieval
from bayling_pipeline.knowledge.extract import (
    agieval_letters,
    bayling1_choice,
    cloze_equivalent,
    extract_choice,
    extract_cloze,
)

EXAMINATION = SHARED_DATA / "bayling" / "exp" / "examination"
V1 = SHARED_DATA / "agieval" / "data" / "v1"
needs_data = pytest.mark.skipif(
    not (EXAMINATION.is_dir() and V1.is_dir()),
    reason="needs ../shared/data/bayling and ../shared/data/agieval (real released answers)",
)


def released(system: str, subject: str, index: int) -> tuple[str, agieval.Item]:
    """Line ``index`` (0-based) of a system's released answers, and its item."""
    (path,) = (EXAMINATION / system).glob(f"predict.*.{subject}.zero-shot.jsonl")
    return agieval.load_released(path)[index], agieval.load_items(V1 / f"{subject}.jsonl")[index]


# (system, subject, line index, BayLing 1's reading, the strict reading): real answers
REAL_CHOICES = [
    # English phrasings
    ("bayling-13b", "lsat-lr", 0, "E", "E"),  # Answer is choice (E)
    ("chatglm-6b", "lsat-lr", 1, "A", "A"),  # Answer is (A) Fewer diseases attach ...
    ("alpaca-7b", "gaokao-biology", 5, "B", "B"),  # Answer is: B
    ("alpaca-7b", "gaokao-biology", 6, "B", "B"),  # Answer is "Option B".
    ("bayling-7b", "aqua-rat", 0, "B", "B"),  # The correct answer is (B) 6(√3 + √2). ...
    ("bayling-7b", "aqua-rat", 4, "B", "B"),  # The cost price of the article is (B) 300.
    ("chatglm-6b", "gaokao-english", 249, "D", "D"),  # The answer is D. To cut the cost ...
    ("gpt-3.5-turbo", "sat-math", 0, "D", "D"),  # D) 10. (AGIEval's prompt, completed)
    ("bayling-13b", "sat-en-without-passage", 54, "B", "B"),  # Based on ... is (B) 77 percent
    # BayLing 1's reading takes a capital letter in a word; the strict one does not
    ("bayling-13b", "sat-en-without-passage", 32, "B", "A"),  # Based on ... answer is (A).
    ("alpaca-7b", "gaokao-chemistry", 90, "C", None),  # Answer is CaCO3.
    ("alpaca-7b", "gaokao-biology", 56, "D", None),  # Answer is: DABBDD $\times$ aaabbdd.
    # Chinese phrasings, full-width brackets
    ("bayling-13b", "gaokao-physics", 0, "C", "C"),  # 答案是选项(C)：原子弹是...
    ("bayling-7b", "gaokao-biology", 54, "B", "B"),  # 答案是选项B，由活细胞...
    ("chatglm-6b", "gaokao-biology", 1, "D", "D"),  # 答案是(D)该菌在...
    ("bayling-13b", "gaokao-mathqa", 134, "A", "A"),  # 答案是（A）440。
    ("bayling-7b", "gaokao-chinese", 8, "B", "B"),  # 答案是（B）文章以...
    ("gpt-3.5-turbo", "gaokao-biology", 35, "D", "D"),  # D)青霉素... (3 options in v1)
    ("bayling-13b", "gaokao-history", 110, "B", "B"),  # 答案是选项(B)和平共处五项原则。
    # several letters to a one-answer question: the first stated one
    ("bayling-7b", "gaokao-biology", 30, "B", "B"),  # 答案是选项(B)和(C)杂交，...
    # no letter at all: unanswered
    ("bayling-7b", "aqua-rat", 1, None, None),  # The original price of the item is $67.40.
    ("alpaca-7b", "gaokao-biology", 43, None, None),  # Answer is "Answer".
]


@needs_data
@pytest.mark.parametrize("system, subject, index, bayling1, strict", REAL_CHOICES)
def test_choice_letters_of_real_answers(system, subject, index, bayling1, strict):
    text, item = released(system, subject, index)
    language = agieval.language_of(subject)
    assert bayling1_choice(text) == bayling1
    assert extract_choice(text, item.n_letters, language) == strict


# gaokao-physics (several right options): (system, line index, AGIEval's, strict multi)
REAL_MULTI = [
    ("gpt-3.5-turbo", 88, "ABC", "BC"),  # B)和(C)。\n\n解析：\n\n(A)不正确。...
    ("gpt-3.5-turbo", 152, "CD", "CD"),  # C)和(D)。...
    ("bayling-13b", 0, "C", "C"),  # 答案是选项(C)：...
    ("alpaca-7b", 179, "ABCD", "A"),  # A) \n(A) \n(B) \n(C) \n(D) ... (one run a line)
]


@needs_data
@pytest.mark.parametrize("system, index, agieval_rule, strict", REAL_MULTI)
def test_several_letters_of_real_answers(system, index, agieval_rule, strict):
    text, _ = released(system, "gaokao-physics", index)
    assert agieval_letters(text) == agieval_rule
    assert extract_choice(text, 4, "zh", multi=True) == strict


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Answer is choice (B)", "B"),
        ("The answer is B", "B"),
        ("(B)", "B"),
        ("answer: **C**", "C"),
        ("The correct option is D.", "D"),
        ("A careful reading gives (C).", "C"),  # the article A is no answer
        ("A", "A"),
        ("答案是选项(D)", "D"),
        ("答案是D", "D"),
        ("答案为 B。", "B"),
        ("故选C", "C"),
        ("答案是选项（Ｄ）", "D"),  # full-width brackets and letter
        ("正确答案：Ｂ", "B"),
        ("Answer is choice (F)", None),  # no option F among four
        ("I cannot answer this question.", None),
        ("", None),
        ("答案是AB", None),  # two glued letters to a one-answer question: neither
    ],
)
def test_extract_choice(text, expected):
    assert extract_choice(text, 4, "en") == expected
    assert extract_choice(text, 4, "zh") == expected  # both languages read in either


@pytest.mark.parametrize(
    "text, expected",
    [
        ("答案是AB", "AB"),
        ("答案是选项(B)(C)", "BC"),
        ("答案是选项B、D", "BD"),
        ("Answer is choice (A) and (C)", "AC"),
        ("答案是选项(C)", "C"),
        ("没有答案", None),
    ],
)
def test_extract_choice_with_several_letters(text, expected):
    assert extract_choice(text, 4, "zh", multi=True) == expected


def test_extract_choice_checks_its_arguments():
    with pytest.raises(ValueError, match="language"):
        extract_choice("B", 4, "de")
    with pytest.raises(ValueError, match="n_options"):
        extract_choice("B", 0, "en")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Answer is choice (B)", "B"),
        ("Based on the passage, (C)", "B"),  # BayLing 1's reading: the B of "Based"
        ("答案是选项（Ｄ）", "D"),
        ("Answer is option()", None),
        ("ANSWER: CHOICE", None),  # the format words, in any case, are no answer
    ],
)
def test_bayling1_choice(text, expected):
    assert bayling1_choice(text) == expected


# (system, line index, extracted, gold of that line): gaokao-mathcloze, real answers
REAL_CLOZE = [
    ("gpt-3.5-turbo", 7, "\\frac{1}{2}", True),  # ... 解得$a=\frac{1}{2}$。所以，$a=\frac{1}{2}$。
    ("alpaca-7b", 13, "2\\sqrt{3}", True),  # $\left|z_{1}-z_{2}\right|=2\sqrt{3}$.
    ("alpaca-7b", 90, "1", True),  # a = 1
    ("bayling-7b", 80, "0.98", True),  # ... = 0.98\n\n因此，... 估计值为 0.98。
    ("alpaca-7b", 0, "-3", False),  # a = -3 (gold 2)
]


@needs_data
@pytest.mark.parametrize("system, index, extracted, right", REAL_CLOZE)
def test_cloze_answers_of_real_answers(system, index, extracted, right):
    text, item = released(system, "gaokao-mathcloze", index)
    assert extract_cloze(text) == extracted
    assert cloze_equivalent(extract_cloze(text), item.gold) is right


@pytest.mark.parametrize(
    "text, expected",
    [
        ("so $x = \\boxed{\\frac{3}{4}}$ in the end", "\\frac{3}{4}"),
        ("first $a=1$, then $b = 2$", "2"),
        ("The answer is 12 apples", "12"),
        ("y = 2x + 1.\nDone", "2x + 1"),
        ("no number here", None),
        ("   ", None),
    ],
)
def test_extract_cloze(text, expected):
    assert extract_cloze(text) == expected


@pytest.mark.parametrize(
    "predicted, gold, same",
    [
        ("\\dfrac{1}{2}", "$\\frac{1}{2}$", True),
        ("0.5", "\\frac{1}{2}", True),
        ("1/2", "$\\frac12$", True),
        ("\\boxed{3}", "3", True),
        ("3.", "3", True),
        ("5 \\text{ cm}", "5", True),
        ("60^{\\circ}", "60", True),
        ("x = 3", "3", True),
        ("\\left(1, 2\\right)", "(1,2)", True),
        ("0.333", "\\frac{1}{3}", False),  # beyond the tolerance (relative 1e-6)
        ("0.3333333", "\\frac{1}{3}", True),
        ("5;10", "$5$;$10$", True),
        ("5, 10", "$5$;$10$", True),
        ("5", "$5$;$10$", False),
        ("2", "3", False),
        (None, "3", False),
        ("", "", False),
    ],
)
def test_cloze_equivalent(predicted, gold, same):
    assert cloze_equivalent(predicted, gold) is same
