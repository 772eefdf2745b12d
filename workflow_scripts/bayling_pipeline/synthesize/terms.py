"""The term a 'use the term' follow-up of an interactive dialogue asks for (``pick_term``).

A word of >= 4 letters in spaced scripts; a span of 2-4 characters (or one katakana
loanword) in Chinese and Japanese; none in Thai, Lao, Khmer and Burmese.
"""

from __future__ import annotations

import functools
import itertools
import unicodedata

# Scripts written without spaces between words: a term is a span of 2-4 characters there.
# Thai, Lao, Khmer and Burmese are left out (no term): code points there are not characters.
_SPAN_SCRIPTS = {"Hans", "Hant", "Jpan"}
_UNSPACED_SCRIPTS = _SPAN_SCRIPTS | {"Thai", "Laoo", "Khmr", "Mymr"}
_EDGE_PUNCTUATION = "\"'“”‘’«»„‚.,;:!?¡¿()[]{}<>…—–-*_/\\|`~"


def _is_word(token: str) -> bool:
    """Letters and marks only (isalpha() is exactly "letters only": the common case)."""
    return token.isalpha() or all(unicodedata.category(char)[0] in "LM" for char in token)


@functools.lru_cache(maxsize=65536)  # asked for each record's texts in several passes
def pick_term(text: str, code: str) -> str | None:
    """A word or phrase of ``text`` that a 'use the term' follow-up can ask for, or None.

    Spaced scripts: the longest token of >= 4 letters (edge punctuation stripped; tokens
    with digits or symbols, like ``%(name)s``, are skipped; first of equal length).
    Chinese and Japanese (no word boundaries, no segmenter here): text is cut into runs of
    one kind of character (ideographs, katakana; hiragana runs are particles and inflection
    and are skipped); the term is the longest run of 2-4 characters or of katakana (one
    loanword), else the first two characters of the longest run (most Chinese words are two
    characters long).
    """
    script = code.partition("_")[2]
    if script in _SPAN_SCRIPTS:
        runs = [(kind, run) for kind, run in _character_runs(text) if kind != "hiragana"]
        fitting = [
            run for kind, run in runs if 2 <= len(run) and (len(run) <= 4 or kind == "katakana")
        ]
        if fitting:
            return max(fitting, key=len)
        longest = max((run for _, run in runs), key=len, default="")
        return longest[:2] if len(longest) >= 2 else None
    if script in _UNSPACED_SCRIPTS:
        return None
    tokens = [token.strip(_EDGE_PUNCTUATION) for token in text.split()]
    words = [token for token in tokens if len(token) >= 4 and _is_word(token)]
    return max(words, key=len) if words else None


@functools.lru_cache(maxsize=16384)  # one entry per distinct character seen
def _character_kind(char: str) -> str | None:
    if "\u3040" <= char <= "\u309f":
        return "hiragana"
    if "\u30a0" <= char <= "\u30ff" or "\uff66" <= char <= "\uff9f":
        return "katakana"  # the prolonged-sound mark U+30FC included
    # Lo: ideographs and other letters without case; Latin letters ("Django",
    # "%(field)s") and digits in a Chinese string are never the term.
    return "ideograph" if unicodedata.category(char) == "Lo" else None


def _character_runs(text: str) -> list[tuple[str, str]]:
    """``(kind, run)`` for each maximal run of characters of one kind."""
    return [
        (kind, "".join(run))
        for kind, run in itertools.groupby(text, _character_kind)
        if kind is not None
    ]
