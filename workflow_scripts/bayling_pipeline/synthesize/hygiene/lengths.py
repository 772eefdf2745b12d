"""Length ratio check of a source and its translation: `length_ratio_ok`, `weighted_length`."""

from __future__ import annotations

import functools

from bayling_pipeline import languages as language_table
from bayling_pipeline.synthesize.hygiene.normalization import _code_points, _script_table

# Latin characters per character of a dense script (whitespace not counted). Han 3.3: the
# median of (English non-space characters) / (Han characters) over the 11,854 ALMA zh-en
# pairs (shared/data/alma/human_written_data/zhen) whose Chinese side is >= 80% Han is 3.33.
# Kana 1.4: least squares of English length on (Han, Kana) counts over WMT22 ja-en and
# en-ja gave 1.25-1.63 per Kana character (and 3.3-3.9 per Han one). Hangul 2.0: an estimate,
# shared/ has no Korean (a syllable block holds 2-3 letters).
_DENSITY = {2: 3.3, 4: 1.4, 8: 2.0}
_FIRST_DENSE = "\u1100"  # Hangul Jamo: no character below has a _DENSITY flag (tested)
# Relative verbosity against English (median non-space character ratio over aligned
# pairs): German 1.15 (ALMA de-en); Russian measured 1.00 (WMT22 ru-en); others 1.0.
_VERBOSITY = {"deu_Latn": 1.15}
# Added to both lengths, so very short pairs ("OK" / "好的") are not judged on noise.
_LENGTH_SMOOTHING = 5.0


@functools.lru_cache(maxsize=65536)  # a text is weighed once for every pair it is in
def weighted_length(text: str) -> float:
    """Length of `text` in Latin-character equivalents: non-space characters, a Han
    character counting 3.3, Kana 1.4, Hangul 2.0 (see `_DENSITY` for the measurements)."""
    import numpy as np

    length = float(sum(map(len, text.split())))  # split() cuts at exactly the isspace chars
    if not text.isascii() and max(text) >= _FIRST_DENSE:  # Latin, Cyrillic...: no lookup
        flags = _script_table()[_code_points(text)]
        for flag, density in _DENSITY.items():
            length += (density - 1.0) * float(np.count_nonzero(flags & flag))
    return length


@functools.lru_cache(maxsize=1024)
def _verbosity(code: str) -> float:
    if not language_table.is_known(code):
        raise ValueError(f"unknown language code {code!r}")
    return _VERBOSITY.get(code, 1.0)


def length_ratio_ok(
    source: str, target: str, source_code: str, target_code: str, *, max_ratio: float = 3.0
) -> bool:
    """Whether `target` is a plausible translation of `source` by length.

    Each side's `weighted_length`, divided by its language's verbosity (German 1.15, others
    1.0), plus 5; the larger over the smaller must be at most `max_ratio`. Codes must be
    known (ValueError otherwise).
    """
    a = weighted_length(source) / _verbosity(source_code) + _LENGTH_SMOOTHING
    b = weighted_length(target) / _verbosity(target_code) + _LENGTH_SMOOTHING
    return max(a, b) <= max_ratio * min(a, b)
