"""AGIEval as BayLing 1 ran it: the subjects, their items, and the zero-shot prompts.

BayLing 1 (its README, "Standardized Tests") reports the zero-shot accuracy of generated
answers on 18 AGIEval v1 subjects: GaoKao's nine and an "English" table of nine (SAT, LSAT,
AQuA-RAT, LogiQA). Its released inputs (``exp/examination/<system>/inputs/``) show the
prompt; :func:`zero_shot_prompt` rebuilds every one of them byte for byte from the v1 data
(6,269 prompts in 19 files, ``math`` included; tests/unit/knowledge/test_agieval.py)::

    <passage>\\n\\n                      (only when the item has a passage; "" counts)
    Question:\\n<question>\\nChoices:\\n<one option a line>\\n\\nAnswer:\\n
    Output the correct answer in this format: "Answer is choice ()"

in English, and ``问题：``/``选项：``/``答案：`` with ``按照此格式输出正确答案："答案是选项()"``
in Chinese. Cloze questions keep AGIEval's own zero-shot form: ``问题：<q>\\n答案：`` and
``Question: <q>\\nAnswer: The answer is``. The prompt's language is the question's
(gaokao-english is English, logiqa-zh Chinese), not the table's.

Reading a generated answer: :mod:`bayling_pipeline.knowledge.extract`; :func:`judge` puts
the two together per item (see it for the rule of each kind of subject).
"""

from __future__ import annotations

import dataclasses
import os

from bayling_pipeline.knowledge.extract import (
    agieval_letters,
    bayling1_choice,
    cloze_equivalent,
    extract_choice,
    extract_cloze,
)
from bayling_pipeline.knowledge.items import (  # noqa: F401  (released answers: items)
    BenchmarkFileError,
    load_released,
    read_records,
    released_text,
)


@dataclasses.dataclass(frozen=True)
class Subject:
    """An AGIEval subject as BayLing 1 used it."""

    name: str
    language: str  # "zh" or "en": the language of its questions and prompt
    kind: str  # "choice" (option letters) or "cloze" (a written answer)
    table: str  # BayLing 1's table: "gaokao" or "english" ("" if in none)
    multi: bool = False  # several letters may be the answer (gaokao-physics)


def _subjects(table: str, specs: str) -> dict[str, Subject]:
    out = {}
    for spec in specs.split():
        name, language, kind = spec.split(":")
        multi = name == "gaokao-physics"  # the only one of the 18 with lists as labels
        out[name] = Subject(name, language, kind, table, multi)
    return out


# BayLing 1's 18 subjects in the column order of its two tables
SUBJECTS: dict[str, Subject] = _subjects(
    "gaokao",
    "gaokao-chinese:zh:choice gaokao-english:en:choice gaokao-mathqa:zh:choice "
    "gaokao-physics:zh:choice gaokao-chemistry:zh:choice gaokao-biology:zh:choice "
    "gaokao-history:zh:choice gaokao-geography:zh:choice gaokao-mathcloze:zh:cloze",
) | _subjects(
    "english",
    "sat-math:en:choice sat-en:en:choice sat-en-without-passage:en:choice "
    "aqua-rat:en:choice lsat-ar:en:choice lsat-lr:en:choice lsat-rc:en:choice "
    "logiqa-en:en:choice logiqa-zh:zh:choice",
)
# in the released inputs but in neither table (and without released answers)
OTHER_SUBJECTS: dict[str, Subject] = _subjects("", "math:en:cloze")
CHINESE = tuple(name for name, s in SUBJECTS.items() if s.language == "zh")
ENGLISH = tuple(name for name, s in SUBJECTS.items() if s.language == "en")
LETTERS = "ABCDEFG"
# how a generated answer is read (judge): BayLing 1's reading, or the strict one
READINGS = ("bayling1", "strict")
MIN_LETTERS = 4  # A-D: see Item.n_letters


def subject(name: str) -> Subject:
    """The subject called ``name``; KeyError listing the known ones."""
    found = SUBJECTS.get(name) or OTHER_SUBJECTS.get(name)
    if found is None:
        known = ", ".join([*SUBJECTS, *OTHER_SUBJECTS])
        raise KeyError(f"unknown AGIEval subject {name!r} (known: {known})")
    return found


def language_of(name: str) -> str:
    """The language of the subject's questions and prompt: "zh" or "en"."""
    return subject(name).language


@dataclasses.dataclass(frozen=True)
class Item:
    """One AGIEval question: gold is the label letter(s) ("B", "AC") or the cloze answer."""

    question: str
    options: tuple[str, ...]  # "(A)..." as released; empty for cloze questions
    gold: str
    kind: str  # "choice" or "cloze"
    passage: str | None = None  # None and "" differ in the prompt (see zero_shot_prompt)

    @property
    def n_letters(self) -> int:
        """How many letters the options span, A-D at least: every AGIEval choice question
        has four or more options, and fewer in the file means options merged into one line
        (gaokao-biology line 59: "(C)... D. ...") or lost; an option's own label counts too
        ((A), (C), (D) span A-D)."""
        labels = [o[1] for o in self.options if len(o) > 2 and o[0] == "(" and o[2] == ")"]
        known = [LETTERS.index(x) + 1 for x in labels if x in LETTERS]
        return max([MIN_LETTERS, len(self.options), *known])


def gold_letters(record: dict) -> str:
    """The label of a choice record as sorted letters: "C", ["A", "C"] and "A C" -> "AC"."""
    label = record.get("label")
    parts = label if isinstance(label, list) else [label or ""]
    letters = "".join(sorted({ch for part in parts for ch in str(part) if not ch.isspace()}))
    if not letters or any(ch not in LETTERS for ch in letters):
        raise ValueError(f"not a choice label: {label!r}")
    return letters


def item_of(record: dict) -> Item:
    """An AGIEval v1 record as an Item; ValueError saying what is wrong with it."""
    question, options = record.get("question"), record.get("options")
    if not isinstance(question, str):
        raise ValueError("'question' is not a string")
    passage = record.get("passage")
    if passage is not None and not isinstance(passage, str):
        raise ValueError("'passage' is neither a string nor null")
    if options:
        if not all(isinstance(o, str) for o in options):
            raise ValueError("'options' is not a list of strings")
        return Item(question, tuple(options), gold_letters(record), "choice", passage)
    answer = record.get("answer")
    if not isinstance(answer, str) or not answer.strip():
        raise ValueError("no 'options' and no 'answer': neither a choice nor a cloze item")
    return Item(question, (), answer, "cloze", passage)


def load_items(path: str | os.PathLike) -> list[Item]:
    """The items of an AGIEval v1 subject file (one JSON object a line), in file order;
    a bad line is a BenchmarkFileError naming the file and line."""
    items = []
    records = read_records(path, ("question",))  # sat-* lines have no "answer" field
    for number, record in enumerate(records, start=1):  # read_records allows no blank line
        try:
            items.append(item_of(record))
        except ValueError as error:
            raise BenchmarkFileError(f"{path}:{number}: {error}") from None
    return items


_CHOICE_FORMS = {
    "en": ("Question:\n", "\nChoices:\n", "\n\nAnswer:\n", "Answer is choice ()"),
    "zh": ("问题：\n", "\n选项：\n", "\n\n答案：\n", "答案是选项()"),
}
_CHOICE_ASK = {
    "en": 'Output the correct answer in this format: "{}"',
    "zh": '按照此格式输出正确答案："{}"',
}


def zero_shot_prompt(item: Item | dict, subject_name: str) -> str:
    """The zero-shot prompt of BayLing's released inputs for ``item`` (an Item or its v1
    record) of ``subject_name``."""
    item = item_of(item) if isinstance(item, dict) else item
    language = language_of(subject_name)
    if item.kind == "cloze":  # AGIEval's own zero-shot cloze prompt, passage first if any
        passage = item.passage or ""
        if language == "en":
            return f"{passage}Question: {item.question}\nAnswer: The answer is"
        return f"{passage}问题：{item.question}\n答案："
    question, choices, answer, form = _CHOICE_FORMS[language]
    # BayLing's script tested the passage against None: an empty passage ("" in
    # gaokao-chinese and sat-math) still gets the blank line, as the released inputs show
    head = "" if item.passage is None else item.passage + "\n\n"
    options = "\n".join(item.options)
    ask = _CHOICE_ASK[language].format(form)
    return f"{head}{question}{item.question}{choices}{options}{answer}{ask}"


def judge(
    subject_name: str, item: Item | dict, text: str, reading: str = "bayling1"
) -> tuple[str | None, bool]:
    """(what was read from ``text``, or None if nothing; correct) for one item (an Item or
    its v1 record), by one of :data:`READINGS`:

    * ``bayling1`` (BayLing 1's table): choice subjects by
      :func:`~bayling_pipeline.knowledge.extract.bayling1_choice`, multi-answer subjects
      (gaokao-physics) by AGIEval's rule
      (:func:`~bayling_pipeline.knowledge.extract.agieval_letters`);
    * ``strict``: :func:`~bayling_pipeline.knowledge.extract.extract_choice` (``multi``
      for multi-answer subjects);

    right when the letters are the label's. Cloze subjects, in both:
    :func:`~bayling_pipeline.knowledge.extract.extract_cloze`, then
    :func:`~bayling_pipeline.knowledge.extract.cloze_equivalent` with the answer.
    """
    if reading not in READINGS:
        raise ValueError(f"reading must be one of {', '.join(READINGS)}, not {reading!r}")
    item = item_of(item) if isinstance(item, dict) else item
    found = subject(subject_name)
    if item.kind == "cloze":
        answer = extract_cloze(text)
        return answer, answer is not None and cloze_equivalent(answer, item.gold)
    if reading == "strict":
        letters = extract_choice(text, item.n_letters, found.language, multi=found.multi)
    elif found.multi:
        letters = agieval_letters(text)
    else:
        letters = bayling1_choice(text)  # A-F whatever the options, as AGIEval reads
    return letters, letters is not None and letters == item.gold
