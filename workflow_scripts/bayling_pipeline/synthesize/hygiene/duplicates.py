"""Exact and near-duplicate detection: `NearDuplicateIndex` (MinHash + LSH on character
shingles of normalized text)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from bayling_pipeline.synthesize.hygiene.hashing import (
    _batches,
    _digest,
    _ids,
    _mix64,
    _powers,
    _span_hashes,
)
from bayling_pipeline.synthesize.hygiene.normalization import normalize

if TYPE_CHECKING:
    import numpy as np


class NearDuplicateIndex:
    """Exact and near-duplicate detection over a stream (MinHash + LSH on character shingles).

    A text's shingles are its overlapping ``shingle``-character windows of `normalize`d
    text (the whole text when shorter), each a stable 64-bit hash. The MinHash signature is
    one-permutation hashing with optimal densification (Shrivastava, ICML 2017): the high
    32 bits of a shingle's hash pick one of `num_perm` bins, the low 32 bits are its value,
    each bin keeps its minimum, and an empty bin copies the bin that a fixed pseudo-random
    sequence (seeded by `seed`) first hits non-empty. Two texts agree on a bin with
    probability equal to their Jaccard similarity, as with `num_perm` separate (a*x + b)
    permutations, but at one hash per shingle instead of `num_perm`, which is what makes
    50,000 texts/s reachable. Measured on 2,873 one-word edits of ALMA German lines: the
    Jaccard estimate has RMSE 0.044 (0.047 for 64 permutations); 10,000 lines take 19 µs
    each batched, against 128 µs one at a time with 64 permutations.

    LSH: the first ``bands * rows`` values (rows = num_perm // bands) are cut into `bands`
    bands; a kept text sharing a whole band is a candidate, and a candidate is a
    near-duplicate when the fraction of equal signature values (the Jaccard estimate) is
    >= `threshold`. Default bands=10, rows=6: a pair with Jaccard 0.8 becomes a candidate
    with probability 1 - (1 - 0.8**6)**10 = 0.95, with 0.5 only 0.15.

    Memory per kept text: its signature (4 bytes per bin, rows of one numpy array), `bands`
    entries of one dict (64-bit band key -> row) and a 64-bit exact hash in a set: 1.4 KB
    with the defaults (measured with tracemalloc over the 29,522 ALMA de + zh lines).
    """

    def __init__(
        self,
        *,
        threshold: float = 0.8,
        num_perm: int = 64,
        bands: int = 10,
        shingle: int = 5,
        seed: int = 1,
    ) -> None:
        import numpy as np

        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        if not 1 <= bands <= num_perm:
            raise ValueError(f"bands must be in [1, num_perm={num_perm}], got {bands}")
        self.threshold, self.num_perm, self.shingle = threshold, num_perm, shingle
        self.bands, self.rows = bands, num_perm // bands
        rng = np.random.Generator(np.random.PCG64(seed))
        # donors[i, attempt]: the bin an empty bin i borrows from, tried in order
        self._donors = rng.integers(0, num_perm, (num_perm, num_perm), dtype=np.int64)
        self._band_salts = rng.integers(0, 1 << 63, bands, dtype=np.uint64)
        self._shingle_salt = int(rng.integers(0, 1 << 63, dtype=np.uint64))
        self._row_powers = _powers(1024)[0][: self.rows]
        self._exact: set[int] = set()
        self._bands: dict[int, int] = {}  # band key -> row of a kept text
        self._signatures = np.empty((1024, num_perm), dtype=np.uint32)
        self._count = 0

    def __len__(self) -> int:
        """Number of texts kept (added) so far."""
        return self._count

    def signature(self, text: str) -> np.ndarray:
        """The MinHash signature of `text` (uint32, `num_perm` values)."""
        return self._signatures_of([normalize(text)])[0]

    def _signatures_of(self, normalized: Sequence[str]) -> np.ndarray:
        """Signatures of several normalized texts, in one vectorized pass."""
        import numpy as np

        count, bins = len(normalized), self.num_perm
        lengths = np.fromiter(map(len, normalized), dtype=np.int64, count=count)
        ids = _ids("".join(normalized), self._shingle_salt)
        first = np.cumsum(lengths) - lengths
        owner = np.repeat(np.arange(count), lengths)
        starts = np.arange(max(len(ids) - self.shingle + 1, 0))
        starts = starts[owner[starts] == owner[starts + self.shingle - 1]]
        short = np.flatnonzero((lengths > 0) & (lengths < self.shingle))
        starts = np.concatenate((starts, first[short]))
        ends = np.concatenate(
            (starts[: len(starts) - len(short)] + self.shingle, first[short] + lengths[short])
        )
        hashes = _span_hashes(ids, starts, ends)
        slot = owner[starts] * bins + (
            (hashes >> np.uint64(32)) * np.uint64(bins) >> np.uint64(32)
        ).astype(np.int64)
        minima = np.full(count * bins, 0xFFFFFFFF, dtype=np.uint32)
        np.minimum.at(minima, slot, (hashes & np.uint64(0xFFFFFFFF)).astype(np.uint32))
        filled = np.zeros(count * bins, dtype=bool)
        filled[slot] = True
        return self._densify(minima.reshape(count, bins), filled.reshape(count, bins))

    def _densify(self, minima: np.ndarray, filled: np.ndarray) -> np.ndarray:
        """Fill empty bins from their donor sequence; a text with no shingle keeps all-max."""
        signatures = minima.copy()
        rows, bins = (~filled & filled.any(axis=1)[:, None]).nonzero()
        for attempt in range(self.num_perm):
            if not len(rows):
                break
            donors = self._donors[bins, attempt]
            found = filled[rows, donors]
            signatures[rows[found], bins[found]] = minima[rows[found], donors[found]]
            rows, bins = rows[~found], bins[~found]
        if len(rows):  # a donor sequence missed every filled bin: take the first filled bin
            signatures[rows, bins] = minima[rows, filled[rows].argmax(axis=1)]
        return signatures

    def _band_keys(self, signatures: np.ndarray) -> list[list[int]]:
        import numpy as np

        used = signatures[:, : self.bands * self.rows].astype(np.uint64)
        used = used.reshape(len(signatures), self.bands, self.rows)
        keys = (used * self._row_powers).sum(axis=2, dtype=np.uint64) ^ self._band_salts
        return _mix64(keys).tolist()

    def _decide(self, exact: int, signature: np.ndarray, keys: list[int]) -> str | None:
        import numpy as np

        if exact in self._exact:
            return "exact"
        # Band keys carry their band's salt, so one dict serves every band. A key maps to
        # the latest kept text with that band: any one candidate per band is enough.
        get = self._bands.get
        for row in {row for row in map(get, keys) if row is not None}:
            agreement = np.count_nonzero(self._signatures[row] == signature) / self.num_perm
            if agreement >= self.threshold:
                return "near"
        if self._count == len(self._signatures):
            grown = np.empty((2 * self._count, self.num_perm), dtype=np.uint32)
            grown[: self._count] = self._signatures
            self._signatures = grown
        self._signatures[self._count] = signature
        self._bands.update(dict.fromkeys(keys, self._count))
        self._exact.add(exact)
        self._count += 1
        return None

    def check_and_add(self, text: str) -> str | None:
        """Check `text` against the kept texts: "exact" if its normalized form was kept,
        "near" if a kept text's estimated Jaccard similarity is >= threshold; else keep it
        and return None."""
        return self.check_and_add_many([text])[0]

    def check_and_add_many(self, texts: Sequence[str], *, batch: int = 512) -> list[str | None]:
        """`check_and_add` for each text in order (same results), signatures batched."""
        return self.check_and_add_fingerprints(self.fingerprints(texts, batch=batch))

    def fingerprints(self, texts: Sequence[str], *, batch: int = 512) -> list[tuple]:
        """What the index judges a text by (exact hash, signature, band keys), batched.

        They depend on ``num_perm``, ``bands``, ``shingle`` and ``seed`` only, so several
        indexes built with the same values (thresholds may differ) can share them: a text
        checked against many indexes is fingerprinted once.
        """
        found: list[tuple] = []
        for chunk in _batches(texts, batch):
            normalized = [normalize(text) for text in chunk]
            signatures = self._signatures_of(normalized)
            keys = self._band_keys(signatures)
            found += zip(map(_digest, normalized), signatures, keys, strict=True)
        return found

    def check_and_add_fingerprints(self, fingerprints: Iterable[tuple]) -> list[str | None]:
        """`check_and_add` for each of `fingerprints` in order (from `fingerprints`)."""
        return [self._decide(*fingerprint) for fingerprint in fingerprints]
