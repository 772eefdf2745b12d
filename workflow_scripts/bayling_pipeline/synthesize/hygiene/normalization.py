"""Unicode classes and text normalization for hygiene: `normalize`, the per-code-point
script table (unspaced scripts, Han, Kana, Hangul, punctuation) and code point arrays.

`normalize` is the form texts are compared in for duplicates and contamination; numpy is
imported on first use.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


# Scripts written without spaces between words: their texts are compared by characters.
_UNSPACED_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x0F00, 0x0FFF),  # Tibetan
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x19E0, 0x19FF),  # Khmer symbols
    (0x2E80, 0x2FDF),  # CJK and Kangxi radicals
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xA9E0, 0xA9FF),  # Myanmar extended-B
    (0xAA60, 0xAA7F),  # Myanmar extended-A
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # halfwidth Katakana
    (0x20000, 0x323AF),  # CJK extensions B-H
)
_HAN = ((0x2E80, 0x2FDF), (0x3005, 0x3007), (0x3400, 0x4DBF), (0x4E00, 0x9FFF))
_HAN += ((0xF900, 0xFAFF), (0x20000, 0x323AF))
_KANA = ((0x3040, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9F))
_HANGUL = ((0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF))
# Punctuation and symbols outside the BMP: emoji, pictographs, game and musical symbols,
# tag characters. Listed as blocks because a regex class of the exact astral code points
# (about 90 ranges) makes `re` scan them linearly for every character (5x slower).
_ASTRAL_PUNCTUATION = ((0x1D000, 0x1D24F), (0x1D300, 0x1D37F), (0x1F000, 0x1FBFF))
_ASTRAL_PUNCTUATION += ((0xE0000, 0xE007F),)


def _class(ranges: Iterable[tuple[int, int]]) -> str:
    escape = re.escape
    return "".join(
        escape(chr(lo)) + (f"-{escape(chr(hi))}" if hi > lo else "") for lo, hi in ranges
    )


@functools.cache
def _punctuation_ranges() -> tuple[tuple[int, int], ...]:
    """Code point ranges of punctuation: categories P*, S* and controls (Cc), not whitespace.

    Built once from unicodedata over the BMP (about 0.1 s), so every script's punctuation
    counts, not only ASCII's; unassigned code points inside a run are absorbed into it.
    Format characters (Cf: ZWJ, ZWNJ) are not punctuation: Persian and Indic words hold them.
    """
    ranges: list[tuple[int, int]] = []
    for code in range(0x10000):
        char = chr(code)
        category = unicodedata.category(char)
        extends = category == "Cn" and ranges and ranges[-1][1] == code - 1
        if extends or (category[0] in "PS" or category == "Cc") and not char.isspace():
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return tuple(ranges) + _ASTRAL_PUNCTUATION


@functools.cache
def _edge() -> re.Pattern[str]:
    """A leading run of spaces and punctuation (used on the reversed text for the end: an
    anchored match is much faster than a search for a run before "$")."""
    return re.compile(f"[ {_class(_punctuation_ranges())}]+")


# Bit flags of `_script_table`.
_UNSPACED, _DENSE, _PUNCTUATION = 1, 2 | 4 | 8, 16


@functools.cache
def _script_table() -> np.ndarray:
    """uint8 flags per code point: 1 unspaced script, 2 Han, 4 Kana, 8 Hangul, 16 punctuation."""
    import numpy as np

    table = np.zeros(0x110000, dtype=np.uint8)
    groups = (_UNSPACED_RANGES, _HAN, _KANA, _HANGUL, _punctuation_ranges())
    for flag, ranges in zip((1, 2, 4, 8, 16), groups, strict=True):
        for low, high in ranges:
            table[low : high + 1] |= flag
    return table


def _code_points(text: str) -> np.ndarray:
    import numpy as np

    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def normalize(text: str) -> str:
    """The text as compared for duplicates and contamination (see `_normalize`).

    A text is checked for contamination and for duplicates, often in several units, so
    short texts (most sentences) are remembered: a bounded cache of about 10 MB.
    """
    return _normalize_short(text) if len(text) <= 512 else _normalize(text)


def _normalize(text: str) -> str:
    """The text as compared for duplicates and contamination.

    Exactly: Unicode NFKC (full-width forms, ligatures and compatibility characters fold to
    their plain forms), then `str.casefold`, then every run of whitespace becomes one space,
    then leading and trailing runs of spaces, punctuation (P*), symbols (S*) and control
    characters are removed. Punctuation inside the text is kept: "Hello, world" and "Hello
    world" differ here (the near-duplicate index catches such pairs).
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    collapsed = " ".join(folded.split())
    if lead := _edge().match(collapsed):
        collapsed = collapsed[lead.end() :]
    if trail := _edge().match(collapsed[::-1]):
        collapsed = collapsed[: len(collapsed) - trail.end()]
    return collapsed


_normalize_short = functools.lru_cache(maxsize=16384)(_normalize)
