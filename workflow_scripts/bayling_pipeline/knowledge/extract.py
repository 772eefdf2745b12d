"""Reading a generated answer: the choice letter(s), or a math cloze answer, or nothing.

An answer with nothing readable is *unanswered* (None): counted, scored wrong. Texts are
read after Unicode NFKC normalization, so full-width letters, brackets and colons
(``（Ｂ）``, ``答案：``) read like their ASCII forms. Two readings of choice letters:

* :func:`bayling1_choice`, BayLing 1's (reconstructed; its script is unpublished): the
  words "answer" and "choice" (any case: the words of the requested format "Answer is
  choice ()") deleted, then the first capital letter A-F, as AGIEval's zero-shot reading
  (``find_first_capital_letter``) takes it. With AGIEval's rule for multi-answer subjects
  (:func:`agieval_letters`) it gives 101 of the 102 choice cells of BayLing 1's two tables
  for the six released systems (tests/unit/knowledge/test_published_agieval.py). It reads
  a letter anywhere, even inside a word ("Based on ..." reads B, "CaCO3" reads C).
* :func:`extract_choice`, strict: only a letter that is given as an answer. The earliest
  of (1) a stated answer: ``Answer is choice (B)``, ``The correct answer is B``, ``Answer:
  "C"``, ``Answer is Option (B)``, ``答案是选项(D)``, ``答案是D``, ``答案为 B``, ``故选C``;
  (2) a bracketed letter: ``... is (B) 300.``; (3) a letter standing alone (not inside a
  word), the English article ``A`` (``A careful analysis``) excepted: ``B) 6(√3 + √2)``.
  With ``multi`` (several right options) a run of letters: ``AB``, ``(B)和(C)``, ``A, C``;
  without it glued letters (``答案是AB``) read nothing and a list its first letter.

Only the letters of the question's options count (A-D for four options).
:func:`agieval_letters` is AGIEval's reading of multi-answer questions: every letter A-F
anywhere in the text, as a set (``parse_qa_multiple_answer`` in AGIEval's
``src/post_process.py`` at commit 3680910); BayLing 1's gaokao-physics column follows it.

Cloze answers (:func:`extract_cloze`, :func:`cloze_equivalent`) follow AGIEval's reading of
zero-shot math answers (the last ``\\boxed{}``, else the last ``$...$``, else what follows
the last ``=``, else the last number) and compare after LaTeX normalization (``$``,
``\\dfrac``, ``\\left``, spaces, units, a final dot), then as numbers (relative tolerance
1e-6); several blanks (``$5$;$10$``) compare blank by blank. AGIEval's own comparison keeps
the ``$`` of gold answers such as ``$\\frac{1}{2}$``, so it never finds them: BayLing 1's
gaokao-mathcloze column misses right answers that this one counts.
"""

from __future__ import annotations

import re
import unicodedata

LETTERS = "ABCDEFG"
NUMERIC_TOLERANCE = 1e-6


def _letter_class(n_options: int) -> str:
    if not 1 <= n_options <= len(LETTERS):
        raise ValueError(f"n_options must be 1..{len(LETTERS)}, not {n_options}")
    return f"[A-{LETTERS[n_options - 1]}]"


# what precedes a stated answer ("Answer is choice", "答案是选项"); the letters: _run_at
_STATED = re.compile(
    r"(?i:answer(?:\s+is)?(?:\s+(?:choice|option))?|correct\s+(?:choice|option)(?:\s+is)?)"
    r"|答案(?:应该|应)?(?:是|为)?(?:选项|选)?|正确(?:的)?(?:选项|答案)(?:是|为)?|(?:故|应|所以)选(?:择)?"
)
_OPENERS = " \t:：\"'“‘*(["
_SEPARATORS = re.compile(r"[ \t]*(?:[,，、&/和与及]|and)?[ \t]*")  # not across lines


def _run_at(text: str, pos: int, letter: str, multi: bool) -> str | None:
    """The letter(s) at ``pos``: one letter standing alone, or with ``multi`` a run of
    letters (``AB``, ``A, C``, ``(B)和(C)``); None if there is none."""
    found = []
    while True:
        match = re.compile(rf"\(?({letter}+)\)?(?![A-Za-z])").match(text, pos)
        if match is None or (pos > 0 and text[pos - 1].isascii() and text[pos - 1].isalpha()):
            break
        found.append(match.group(1))
        if not multi:
            break
        pos = _SEPARATORS.match(text, match.end()).end()
    if not found:
        return None
    letters = "".join(found)
    if not multi and len(letters) > 1:
        return None  # "AB" to a one-answer question: read nothing here
    return "".join(sorted(set(letters)))


def _stated(text: str, letter: str, multi: bool) -> tuple[int, str] | None:
    for match in _STATED.finditer(text):
        pos = match.end()
        while pos < len(text) and pos - match.end() < 6 and text[pos] in _OPENERS:
            pos += 1
        run = _run_at(text, pos, letter, multi)
        if run:
            return match.start(), run
    return None


def _bracketed(text: str, letter: str, multi: bool) -> tuple[int, str] | None:
    for match in re.finditer(rf"\(({letter})\)", text):
        run = _run_at(text, match.start(), letter, multi)
        if run:
            return match.start(), run
    return None


def _standing_alone(text: str, letter: str, multi: bool) -> tuple[int, str] | None:
    for match in re.finditer(rf"(?<![A-Za-z])({letter})(?![A-Za-z])", text):
        if match.group(1) == "A" and re.match(r"A [a-z]", text[match.start() :]):
            continue  # the English article, not an answer
        run = _run_at(text, match.start(), letter, multi)
        if run:
            return match.start(), run
    return None


def extract_choice(text: str, n_options: int, language: str, multi: bool = False) -> str | None:
    """The option letter(s) a generated ``text`` gives (sorted, e.g. "B" or "AC"), or None.

    ``language`` ("en" or "zh") is the prompt's; both languages' phrasings are read in
    either (models answer an English prompt in Chinese and the other way round)."""
    if language not in ("en", "zh"):
        raise ValueError(f"language must be 'en' or 'zh', not {language!r}")
    if not text:
        return None
    text = unicodedata.normalize("NFKC", text)
    letter = _letter_class(n_options)
    found = [reading(text, letter, multi) for reading in (_stated, _bracketed, _standing_alone)]
    found = [f for f in found if f]
    return min(found)[1] if found else None


_FORMAT_WORDS = re.compile(r"(?i:answer|choice)")


def bayling1_choice(text: str, n_options: int = 6) -> str | None:
    """BayLing 1's reading (reconstructed, see the module): the first capital letter among
    the options' (A-F by default) once the words "answer" and "choice" are deleted."""
    allowed = LETTERS[: len(LETTERS) if n_options > len(LETTERS) else n_options]
    text = _FORMAT_WORDS.sub("", unicodedata.normalize("NFKC", text or ""))
    return next((ch for ch in text if ch in allowed), None)


def agieval_letters(text: str) -> str | None:
    """AGIEval's reading of a multi-answer question: every letter A-F in ``text`` (bracketed
    or not, inside words too), as sorted unique letters; None if there is none."""
    letters = set(re.findall(r"[A-F]", text or ""))
    return "".join(sorted(letters)) or None


def _last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (or ``\\fbox{...}``), braces balanced."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    opening = text.find("{", start)
    if opening < 0:
        return None
    depth = 0
    for pos in range(opening, len(text)):
        depth += {"{": 1, "}": -1}.get(text[pos], 0)
        if depth == 0:
            return text[opening + 1 : pos]
    return None


def _after_equals(answer: str) -> str:
    return answer.rsplit("=", 1)[-1].strip() if "=" in answer else answer.strip()


def extract_cloze(text: str) -> str | None:
    """The answer a generated math ``text`` gives (AGIEval's zero-shot reading), or None:
    the last ``\\boxed{}``; else the last ``$...$`` of a line; else what follows the last
    ``=`` on its line; else the last number. The part after an ``=`` inside them is kept."""
    if not text or not text.strip():
        return None
    boxed = _last_boxed(text)
    if boxed is not None:
        return _after_equals(boxed) or None
    dollars = re.findall(r"\$(.*)\$", text)  # greedy within a line, as AGIEval reads it
    if dollars and _after_equals(dollars[-1]):
        return _after_equals(dollars[-1])
    if "=" in text:
        tail = text.rsplit("=", 1)[-1].strip().split("\n")[0].strip().rstrip("。.")
        if tail:
            return tail
    numbers = re.findall(r"-?\d+(?:\.\d+)?", text)
    return numbers[-1] if numbers else None


_DROP = (
    "\\left", "\\right", "\\!", "\\,", "\\;", "\\quad", "^{\\circ}", "^\\circ", "\\%", "%",
    "$", "\\displaystyle",
)  # fmt: skip


def _normalized(answer: str) -> str:
    """A math answer in one spelling: LaTeX decorations, units and spaces dropped."""
    text = unicodedata.normalize("NFKC", answer).strip()
    boxed = _last_boxed(text)
    text = boxed if boxed is not None else text
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    for mark in _DROP:
        text = text.replace(mark, "")
    text = re.sub(r"\\(?:text|mathrm|mbox)\{\s*[^{}]*\}\s*$", "", text)  # a trailing unit
    text = re.sub(r"\\(?:text|mathrm|mbox)\{([^{}]*)\}", r"\1", text)
    text = re.sub(r"\s+", "", text).rstrip("。.").strip()
    if re.match(r"^[A-Za-z]\w{0,2}=", text):  # "x=3" -> "3"
        text = text.split("=", 1)[1]
    text = re.sub(r"\\frac(\d)(\d)", r"\\frac{\1}{\2}", text)
    text = re.sub(r"\\sqrt(\w)", r"\\sqrt{\1}", text)
    text = re.sub(r"^(-?\d+)/(\d+)$", r"\\frac{\1}{\2}", text)
    return "0" + text if text.startswith(".") else text


def _number(text: str) -> float | None:
    """The value of a plain number or fraction (``-3``, ``0.25``, ``\\frac{1}{4}``)."""
    match = re.fullmatch(r"(-?)\\frac\{(-?\d+(?:\.\d+)?)\}\{(-?\d+(?:\.\d+)?)\}", text)
    if match:
        denominator = float(match.group(3))
        if denominator == 0:
            return None
        sign = -1.0 if match.group(1) else 1.0
        return sign * float(match.group(2)) / denominator
    try:
        return float(text)
    except ValueError:
        return None


def _same(predicted: str, gold: str) -> bool:
    left, right = _normalized(predicted), _normalized(gold)
    if left == right:
        return bool(left)
    a, b = _number(left), _number(right)
    if a is None or b is None:
        return False
    return abs(a - b) <= NUMERIC_TOLERANCE * max(1.0, abs(a), abs(b))


def cloze_equivalent(predicted: str | None, gold: str) -> bool:
    """Whether ``predicted`` is the ``gold`` math answer, after normalization of both;
    a gold answer of several blanks (``$5$;$10$``) needs as many, in order."""
    if predicted is None or not str(predicted).strip():
        return False
    blanks = [b for b in gold.split(";") if b.strip()]
    if len(blanks) <= 1:
        return _same(predicted, gold)
    parts = [p for p in re.split(r"[;；]|,\s*", predicted) if p.strip()]
    return len(parts) == len(blanks) and all(map(_same, parts, blanks))
