"""XCOPA and Belebele items as lm-evaluation-harness poses them: a context, the options
(each scored after a space, lm-eval's ``target_delimiter``) and the gold option's index.

Built exactly as lm-evaluation-harness v0.4.13 builds them (EleutherAI/lm-evaluation-harness,
zero-shot, no chat template):

* XCOPA: ``lm_eval/tasks/xcopa/utils.py`` and ``default_<lang>.yaml``: the premise, stripped,
  loses its last character (the full stop) and gains the language's connector for "cause"
  or "effect"; each alternative's first character is lower-cased.
* Belebele: ``lm_eval/tasks/belebele/_default_template_yaml``: ``P: <passage>\\nQ:
  <question>\\nA: ...\\nD: ...\\nAnswer:`` with the options ``A`` to ``D``;
  ``correct_answer_num`` ("1" to "4") names the gold one.

tests/unit/knowledge/test_xcopa.py checks both against lm-eval's own task code.
"""

from __future__ import annotations

from typing import NamedTuple

from bayling_pipeline.cli import UserError

# lm_eval/tasks/xcopa/utils.py: doc_to_text_<lang>'s connector by the item's "question"
CONNECTORS = {
    "et": {"cause": "sest", "effect": "seetõttu"},
    "ht": {"cause": "poukisa", "effect": "donk sa"},
    "it": {"cause": "perché", "effect": "quindi"},
    "id": {"cause": "karena", "effect": "maka"},
    "qu": {"cause": "imataq", "effect": "chaymi"},
    "sw": {"cause": "kwa sababu", "effect": "kwa hiyo"},
    "zh": {"cause": "因为", "effect": "所以"},
    "ta": {"cause": "காரணமாக", "effect": "எனவே"},
    "th": {"cause": "เพราะ", "effect": "ดังนั้น"},
    "tr": {"cause": "çünkü", "effect": "bu yüzden"},
    "vi": {"cause": "bởi vì", "effect": "vì vậy"},
}
BELEBELE_LETTERS = ("A", "B", "C", "D")


class Options(NamedTuple):
    """One multiple-choice item: each option is scored as ``" " + option`` after
    ``context``; ``options`` are kept bare since lm-eval's acc_norm divides by their length."""

    context: str
    options: list[str]
    gold: int


def _lower_first(choice: str) -> str:
    # lm_eval/tasks/xcopa/utils.py convert_choice
    return choice[0].lower() + choice[1:]


def xcopa_options(record: dict, language: str) -> Options:
    """An XCOPA item (``premise``, ``choice1``, ``choice2``, ``question``, ``label``) of
    ``language`` (the XCOPA code: et, ht, id, ...)."""
    if language not in CONNECTORS:
        raise UserError(f"XCOPA has no language {language!r}; known: {', '.join(CONNECTORS)}")
    connector = CONNECTORS[language][record["question"]]
    context = record["premise"].strip()[:-1] + f" {connector}"  # drops the full stop
    options = [_lower_first(record["choice1"]), _lower_first(record["choice2"])]
    return Options(context, options, int(record["label"]))


def belebele_options(record: dict) -> Options:
    """A Belebele item (``flores_passage``, ``question``, ``mc_answer1`` to ``4``,
    ``correct_answer_num``), the same prompt in every language."""
    answers = [record[f"mc_answer{n}"] for n in range(1, 5)]
    lines = [f"P: {record['flores_passage']}", f"Q: {record['question'].strip()}"]
    lines += [
        f"{letter}: {answer}" for letter, answer in zip(BELEBELE_LETTERS, answers, strict=True)
    ]
    context = "\n".join(lines) + "\nAnswer:"
    # lm-eval's doc_to_target: ['1', '2', '3', '4'].index(correct_answer_num)
    gold = ["1", "2", "3", "4"].index(str(record["correct_answer_num"]))
    return Options(context, list(BELEBELE_LETTERS), gold)


def options_of(task: str, subset: str, record: dict) -> Options:
    """The item of a task's record; ``subset`` is the XCOPA language (Belebele's prompt does
    not depend on its language)."""
    if task == "xcopa":
        return xcopa_options(record, subset)
    if task == "belebele":
        return belebele_options(record)
    raise ValueError(f"task {task!r} is not ranked by log-likelihood")
