"""Test-set contamination: `ContaminationIndex`, an n-gram index of test-set texts over word
and character token streams of normalized text."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from bayling_pipeline.synthesize.hygiene.hashing import _batches, _ids, _span_hashes
from bayling_pipeline.synthesize.hygiene.normalization import (
    _PUNCTUATION,
    _UNSPACED,
    _code_points,
    _script_table,
    normalize,
)

if TYPE_CHECKING:
    import numpy as np

_KIND_SALT = (0x2545F4914F6CDD1D, 0x5851F42D4C957F2D)  # keeps word and char keys apart


class _Stream(NamedTuple):
    """One kind of units (words or characters) of a batch of texts, concatenated."""

    ids: np.ndarray  # uint64 hash per unit, texts one after another
    text: np.ndarray  # int64 text number of each unit
    first: np.ndarray  # int64 index of each text's first unit (len(texts) + 1 entries)
    clause_start: np.ndarray  # bool per unit
    clause_end: np.ndarray  # bool per unit
    begin: np.ndarray  # int64 offset of each unit in the joined normalized texts
    end: np.ndarray  # int64 offset just past each unit


def _stream(
    count: int,
    ids: np.ndarray,
    text: np.ndarray,
    starts: np.ndarray,
    begin: np.ndarray,
    end: np.ndarray,
) -> _Stream:
    import numpy as np

    first = np.searchsorted(text, np.arange(count + 1))
    # A text's first unit starts a clause, so the unit before it (the previous text's
    # last) ends one.
    ends = np.append(starts[1:], True) if len(starts) else starts
    return _Stream(ids, text, first, starts, ends, begin, end)


def _streams(texts: Sequence[str]) -> tuple[_Stream, _Stream, str]:
    """Word and character streams of a batch of texts, and their normalized texts joined by
    newlines (normalize() leaves none inside a text). All in numpy over the joined texts.

    Tokens are maximal runs of characters that are neither spaces nor punctuation (P*, S*,
    Cc). A token holding any character of an unspaced script (Han, Kana, Thai, Lao, Khmer,
    Myanmar, Tibetan) gives its characters to the character stream; every other token is
    one word. A clause of words starts at the start of a text, after punctuation or after
    an unspaced token; a clause of characters starts at every unspaced token. So a Chinese
    sentence quoted in an English instruction still yields its characters in order.
    """
    import numpy as np

    joined = "\n".join(normalize(text) for text in texts)
    points = _code_points(joined)
    flags = _script_table()[points]
    punctuation = (flags & _PUNCTUATION) != 0
    separator = punctuation | (points == 32) | (points == 10)
    before = np.concatenate(([True], separator[:-1]))
    after = np.concatenate((separator[1:], [True]))
    begin = np.flatnonzero(~separator & before)
    end = np.flatnonzero(~separator & after) + 1
    text = np.cumsum(points == 10)[begin] if len(points) else begin
    counts = np.concatenate(([0], np.cumsum(flags & _UNSPACED, dtype=np.int64)))
    unspaced = counts[end] > counts[begin]
    marks = np.concatenate(([0], np.cumsum(punctuation, dtype=np.int64)))
    gap = marks[begin] > marks[np.concatenate(([0], end[:-1]))]  # punctuation before
    new = np.concatenate(([True], text[1:] != text[:-1]))
    start = new | gap | np.concatenate(([False], unspaced[:-1]))
    ids = _ids(joined, 0x632BE59BD9B4E019)
    word = ~unspaced
    word_ids = _span_hashes(ids, begin[word], end[word])
    words = _stream(len(texts), word_ids, text[word], start[word], begin[word], end[word])

    inside = np.zeros(len(points) + 1, dtype=np.int64)  # +1 from an unspaced token's start
    np.add.at(inside, begin[unspaced], 1)
    np.add.at(inside, end[unspaced], -1)
    position = np.flatnonzero(np.cumsum(inside[:-1]) > 0)
    char_start = np.zeros(len(points), dtype=bool)
    char_start[begin[unspaced]] = True
    line = np.cumsum(points == 10)[position] if len(points) else position
    chars = _stream(len(texts), ids[position], line, char_start[position], position, position + 1)
    return words, chars, joined


def _full_windows(stream: _Stream, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(start positions, hashes) of every n-unit window that lies inside one text."""
    import numpy as np

    starts = np.arange(max(len(stream.ids) - n + 1, 0))
    starts = starts[stream.text[starts] == stream.text[starts + n - 1]]
    return starts, _span_hashes(stream.ids, starts, starts + n)


def _clause_windows(stream: _Stream, sizes: Sequence[int]) -> tuple[np.ndarray, ...]:
    """(start positions, sizes, hashes) of windows of the given sizes that start and end on
    a clause boundary inside one text."""
    import numpy as np

    clause = np.flatnonzero(stream.clause_start)
    starts = np.repeat(clause, len(sizes))
    lengths = np.tile(np.asarray(sizes, dtype=np.int64), len(clause))
    ends = starts + lengths
    inside = ends <= len(stream.ids)
    starts, lengths, ends = starts[inside], lengths[inside], ends[inside]
    keep = stream.clause_end[ends - 1] & (stream.text[starts] == stream.text[ends - 1])
    starts, lengths, ends = starts[keep], lengths[keep], ends[keep]
    return starts, lengths, _span_hashes(stream.ids, starts, ends)


class ContaminationIndex:
    """n-gram index of test-set texts; a training text sharing any long n-gram is contaminated.

    Texts are compared after `normalize`, as token streams (`_streams`), punctuation not
    counted. Words of spaced scripts give ``word_n``-word n-grams; characters of unspaced
    scripts (Han, Kana, Thai, ...) give ``char_n``-character n-grams. A text can have both
    streams (a Chinese sentence inside an English prompt); each is matched on its own.

    Short test texts (the exact rule): a test text's stream of ``min_words <= m < word_n``
    words (``min_chars <= m < char_n`` characters) is indexed whole, as one m-gram. It
    contaminates a training text that holds those m units as a clause: starting and ending
    at the text's edges, at punctuation or at a unit of the other stream ("Ich bin froh."
    inside "Er sagte: ich bin froh!" matches; inside "Ich bin froh darüber" it does not,
    which keeps phrases common in news from flagging ordinary sentences). Shorter streams
    ("Yes.", "谢谢") are not indexed. Measured with all WMT22 sources and references
    indexed: 0 of 14,211 ALMA German lines match, 6 of 14,211 English ones (quotes of the
    WMT22 segments "How dare you", "Time is running out", ...), and 36 of 15,406 English
    and 20 of 15,406 Chinese lines of ALMA zh-en, through set phrases such as "socialism
    with Chinese characteristics in the new era" (a true shared 8-gram).

    Memory: one sorted numpy array of 64-bit hashes, 8 bytes per distinct n-gram; the
    matched n-gram's text is cut from the training text when reported.
    """

    def __init__(
        self,
        keys: np.ndarray,
        short: tuple[tuple[int, ...], tuple[int, ...]],
        *,
        word_n: int,
        char_n: int,
    ) -> None:
        self._keys = keys
        self._short = short  # lengths of the short test texts indexed, per kind
        self.word_n, self.char_n = word_n, char_n

    @classmethod
    def from_texts(
        cls,
        texts: Iterable[str],
        *,
        word_n: int = 8,
        char_n: int = 16,
        min_words: int = 3,
        min_chars: int = 6,
        batch: int = 4096,
    ) -> ContaminationIndex:
        """Index test texts; see the class docstring for what is indexed."""
        import numpy as np

        parts: list[np.ndarray] = []
        short: tuple[set[int], set[int]] = (set(), set())
        pending = texts if isinstance(texts, Sequence) else list(texts)
        for chunk in _batches(pending, batch):
            streams = _streams(chunk)[:2]
            for kind, stream in enumerate(streams):
                size, floor = (word_n, char_n)[kind], (min_words, min_chars)[kind]
                salt = np.uint64(_KIND_SALT[kind])
                parts.append(_full_windows(stream, size)[1] ^ salt)
                counts = np.diff(stream.first)
                whole = np.flatnonzero((counts >= floor) & (counts < size))
                first = stream.first
                parts.append(_span_hashes(stream.ids, first[whole], first[whole + 1]) ^ salt)
                short[kind].update(counts[whole].tolist())
        keys = np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.uint64)
        lengths = (tuple(sorted(short[0])), tuple(sorted(short[1])))
        return cls(keys, lengths, word_n=word_n, char_n=char_n)

    def __len__(self) -> int:
        """Number of distinct n-gram keys."""
        return len(self._keys)

    def match(self, text: str) -> str | None:
        """The first n-gram `text` shares with the index, as its span of the normalized
        text (punctuation between the units included), or None. "First": words before
        characters, full n-grams before short test texts (longer first), left to right."""
        return self.match_many([text])[0]

    def match_many(self, texts: Sequence[str], *, batch: int = 2048) -> list[str | None]:
        """`match` for each text (same results), a batch of texts at a time."""
        results: list[str | None] = []
        for chunk in _batches(texts, batch):
            results.extend(self._match_batch(chunk))
        return results

    def _match_batch(self, texts: Sequence[str]) -> list[str | None]:
        import numpy as np

        results: list[str | None] = [None] * len(texts)
        if not len(self._keys) or not len(texts):
            return results
        words, chars, joined = _streams(texts)
        best: dict[int, tuple[int, int, int]] = {}  # text -> (kind, -size, start) of a hit
        for kind, (stream, n) in enumerate(((words, self.word_n), (chars, self.char_n))):
            starts, hashes = _full_windows(stream, n)
            sizes = np.full(len(starts), n, dtype=np.int64)
            if self._short[kind]:
                short = _clause_windows(stream, self._short[kind])
                starts = np.concatenate((starts, short[0]))
                sizes = np.concatenate((sizes, short[1]))
                hashes = np.concatenate((hashes, short[2]))
            if not len(hashes):
                continue
            # Sorted queries walk the key array in order: several times faster to search.
            order = np.argsort(hashes ^ np.uint64(_KIND_SALT[kind]))
            queries = hashes[order] ^ np.uint64(_KIND_SALT[kind])
            where = np.searchsorted(self._keys, queries)
            where[where == len(self._keys)] = 0
            for hit in order[self._keys[where] == queries].tolist():
                start = int(starts[hit])
                number, rank = int(stream.text[start]), (kind, -int(sizes[hit]), start)
                if rank < best.get(number, (2, 0, 0)):
                    best[number] = rank
        for number, (kind, negative_size, start) in best.items():
            stream = (words, chars)[kind]
            last = start - negative_size - 1
            results[number] = joined[int(stream.begin[start]) : int(stream.end[last])]
        return results
