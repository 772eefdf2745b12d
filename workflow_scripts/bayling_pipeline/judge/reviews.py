"""Reading a judge's review: two scores, or a counted failure (never a guess).

BayLing's released GPT-4 reviews end like FairEval's (github.com/i-Eval/FairEval) format::

    Evaluation evidence: <explanation>

    Score of the Assistant 1: 9
    Score of the Assistant 2: 7

The 1,280 released reviews hold these variants, all read here: ``Score of Assistant 1``
(no "the", 14 reviews), a blank line between the two score lines, ``Evaluation Evidence``,
half points (``8.5``), and the score lines right after the evidence with no blank line.
Judges add more: markdown bold (``**Score of the Assistant 1:** 8``), a full-width colon
(``：``), ``8/10``. FastChat's older reviewer format (a first line of exactly two numbers,
``8 9``) is read as well. Anything else, a score outside 1..10, or two different scores for
one assistant, is *unparseable*: the review is kept and counted, and its item gets no verdict.
"""

from __future__ import annotations

import dataclasses
import re

LOWEST, HIGHEST = 1.0, 10.0

# "Score of (the) Assistant N: X" with the decorations judges add around it
_SCORE_LINE = re.compile(
    r"score\s+of\s+(?:the\s+)?assistant\s*([12])\W{0,4}?\s*[:：]\s*\**\s*"
    r"(\d+(?:\.\d+)?)(?:\s*/\s*10(?!\d))?",
    re.IGNORECASE,
)
_FIRST_LINE_PAIR = re.compile(r"^\s*(\d+(?:\.\d+)?)[ \t,]+(\d+(?:\.\d+)?)\s*$")


@dataclasses.dataclass(frozen=True)
class Parsed:
    """The two scores (Assistant 1, Assistant 2) of a review, or why there are none."""

    scores: tuple[float, float] | None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.scores is not None


def _labelled_scores(text: str) -> dict[str, set[float]]:
    found: dict[str, set[float]] = {"1": set(), "2": set()}
    for match in _SCORE_LINE.finditer(text):
        found[match.group(1)].add(float(match.group(2)))
    return found


def parse_review(text: str | None) -> Parsed:
    """The scores of one review, in the order the assistants were shown."""
    if not text or not text.strip():
        return Parsed(None, "empty review")
    found = _labelled_scores(text)
    if found["1"] or found["2"]:
        for number in ("1", "2"):
            if not found[number]:
                return Parsed(None, f"no score for Assistant {number}")
            if len(found[number]) > 1:
                values = ", ".join(f"{v:g}" for v in sorted(found[number]))
                return Parsed(None, f"several scores for Assistant {number}: {values}")
        scores = (found["1"].pop(), found["2"].pop())
    else:
        pair = _FIRST_LINE_PAIR.match(text.strip().splitlines()[0])
        if not pair:
            return Parsed(None, "no 'Score of the Assistant 1/2: <score>' lines")
        scores = (float(pair.group(1)), float(pair.group(2)))
    outside = [s for s in scores if not LOWEST <= s <= HIGHEST]
    if outside:
        return Parsed(None, f"score {outside[0]:g} outside {LOWEST:g}..{HIGHEST:g}")
    return Parsed(scores)


def verdict(system_score: float, opponent_score: float) -> str:
    """win, tie or loss of the system (BayLing's WIN/TIE/LOSS)."""
    if system_score > opponent_score:
        return "win"
    return "tie" if system_score == opponent_score else "loss"


def combine(parsed: list[Parsed], system_first: list[bool]) -> tuple[float, float] | None:
    """The system's and the opponent's score over every order it was shown in (the mean,
    which cancels a judge's position bias); None unless every review parsed."""
    if not parsed or not all(p.ok for p in parsed):
        return None
    mine = [
        p.scores[0] if first else p.scores[1] for p, first in zip(parsed, system_first, strict=True)
    ]
    theirs = [
        p.scores[1] if first else p.scores[0] for p, first in zip(parsed, system_first, strict=True)
    ]
    return sum(mine) / len(mine), sum(theirs) / len(theirs)
