"""Stable 64-bit hashing of texts and spans in numpy, and the batching of vectorized paths.

Every hash is a stable function of the text (blake2b, or numpy uint64 arithmetic on code
points), never Python's `hash()`, so results do not depend on PYTHONHASHSEED.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from bayling_pipeline.synthesize.hygiene.normalization import _code_points

if TYPE_CHECKING:
    import numpy as np

# ------------------------------------------------------------------------------------------
# Stable 64-bit hashing in numpy (uint64 arithmetic wraps modulo 2**64, as intended)
# ------------------------------------------------------------------------------------------

_BASE = 0x9E3779B97F4A7C15  # odd, so it has an inverse modulo 2**64
_BASE_INVERSE = pow(_BASE, -1, 1 << 64)


def _mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer, elementwise: a bijection on uint64 that spreads every bit."""
    import numpy as np

    z = values ^ (values >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@functools.cache
def _powers(size: int) -> tuple[np.ndarray, np.ndarray]:
    """BASE**i and BASE**-i modulo 2**64 for i < size (size a power of two)."""
    import numpy as np

    steps = np.full(size, _BASE, dtype=np.uint64)
    steps[0] = 1
    forward = np.cumprod(steps, dtype=np.uint64)
    steps[1:] = _BASE_INVERSE
    return forward, np.cumprod(steps, dtype=np.uint64)


def _prefix(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prefix sums of ids[i] * BASE**i (length len+1), and the BASE**-i table."""
    import numpy as np

    forward, inverse = _powers(max(1024, 1 << len(ids).bit_length()))
    prefix = np.zeros(len(ids) + 1, dtype=np.uint64)
    np.cumsum(ids * forward[: len(ids)], out=prefix[1:])
    return prefix, inverse


def _span_hashes(ids: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Hash of each span ids[starts[k]:ends[k]], independent of where the span sits.

    (prefix[end] - prefix[start]) is sum(window) * BASE**start; BASE**-start removes the
    position. The span length is mixed in, so spans of different lengths differ.
    """
    import numpy as np

    prefix, inverse = _prefix(ids)
    spans = (prefix[ends] - prefix[starts]) * inverse[starts]
    return _mix64(spans + (ends - starts).astype(np.uint64))


def _digest(text: str) -> int:
    data = text.encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def _ids(text: str, salt: int) -> np.ndarray:
    """One well-mixed uint64 per code point."""
    import numpy as np

    return _mix64(_code_points(text).astype(np.uint64) + np.uint64(salt))


# A batch of the vectorized paths holds at most this many characters (and at least one
# text), so a few very long documents cannot make its arrays huge.
_BATCH_CHARS = 1 << 20


def _batches(texts: Sequence[str], count: int) -> Iterable[Sequence[str]]:
    """Consecutive slices of `texts`: at most `count` texts and `_BATCH_CHARS` characters."""
    begin = 0
    while begin < len(texts):
        end, chars = begin, 0
        while end < len(texts) and end - begin < count:
            chars += len(texts[end])
            if chars > _BATCH_CHARS and end > begin:
                break
            end += 1
        yield texts[begin:end]
        begin = end
