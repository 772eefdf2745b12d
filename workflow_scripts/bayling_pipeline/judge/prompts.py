"""The judge's prompt: two assistants' answers to one question (or one dialogue), reviewed
in the format of BayLing's released GPT-4 reviews (``bayling_pipeline.judge.reviews``).

Written for this project in the style of the reviewer prompts of the time (FastChat's
``[Question]`` / ``[The Start of Assistant 1's Answer]`` framing; FairEval's evidence first,
then one score line per assistant), which the released reviews' wording follows. The
prompt is English for Chinese items too, as the released reviews are English throughout.
``PROMPT_ID`` names this text: it goes into every review record and the judge's params, so
editing the prompt means bumping it, and the judge jobs rerun.
"""

from __future__ import annotations

PROMPT_ID = "bayling-pairwise@v1"

SYSTEM = "You are a helpful, precise and impartial reviewer of the answers of AI assistants."

_CRITERIA = (
    "Rate the helpfulness, relevance, accuracy and level of detail of {what}. Each assistant "
    "receives one overall score from 1 to 10; a higher score means better overall performance."
)
_FORMAT = (
    "First give your evaluation evidence: a thorough explanation that compares the two "
    "assistants. Be impartial: neither the order in which the assistants are shown nor the "
    "length of their answers alone may decide your judgement.\n"
    "Then write the two scores, each on a line of its own, exactly in this format:\n\n"
    "Evaluation evidence: <your explanation>\n"
    "Score of the Assistant 1: <score>\n"
    "Score of the Assistant 2: <score>"
)

SINGLE_TASK = (
    "We would like your feedback on how well the two AI assistants above answered the user's "
    "question.\n" + _CRITERIA.format(what="their answers") + "\n" + _FORMAT
)
MULTI_TASK = (
    "Both AI assistants above held the same conversation with a user: the user's turns are "
    "identical, each assistant saw only its own earlier answers. We would like your feedback "
    "on the whole conversation, in particular on how well each assistant follows up on the "
    "user's later turns.\n" + _CRITERIA.format(what="their answers over all turns") + "\n" + _FORMAT
)


def single_turn_prompt(question: str, answer_1: str, answer_2: str) -> str:
    """The user message judging two answers to one question."""
    return (
        f"[Question]\n{question}\n\n"
        f"[The Start of Assistant 1's Answer]\n{answer_1}\n[The End of Assistant 1's Answer]\n\n"
        f"[The Start of Assistant 2's Answer]\n{answer_2}\n[The End of Assistant 2's Answer]\n\n"
        f"[System]\n{SINGLE_TASK}\n"
    )


def _dialogue(number: int, turns: list[str], answers: list[str]) -> str:
    lines = [f"[The Start of the Conversation with Assistant {number}]"]
    for index, (turn, answer) in enumerate(zip(turns, answers, strict=True), start=1):
        lines += [f"User (turn {index}):\n{turn}", f"Assistant {number} (turn {index}):\n{answer}"]
    lines.append(f"[The End of the Conversation with Assistant {number}]")
    return "\n\n".join(lines)


def multi_turn_prompt(turns: list[str], answers_1: list[str], answers_2: list[str]) -> str:
    """The user message judging two assistants' answers to every turn of one dialogue."""
    return (
        f"{_dialogue(1, turns, answers_1)}\n\n{_dialogue(2, turns, answers_2)}\n\n"
        f"[System]\n{MULTI_TASK}\n"
    )


def conversation(turns: list[str], answers_1: list[str], answers_2: list[str]) -> list[dict]:
    """The chat messages sent to the judge: single-turn when there is one turn."""
    if len(turns) == 1:
        user = single_turn_prompt(turns[0], answers_1[0], answers_2[0])
    else:
        user = multi_turn_prompt(turns, answers_1, answers_2)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
