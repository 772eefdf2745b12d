"""The hygiene of one synthesis shard: filters with a verdict cache and drop counts.

``Hygiene`` applies the checks of :mod:`bayling_pipeline.synthesize.hygiene` within one
shard, batched, and counts what it drops by reason (``merge.DROP_REASONS``);
``read_forbidden`` reads the test-set texts it keeps out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

from bayling_pipeline.io import indexed_files, read_jsonl, read_lines
from bayling_pipeline.synthesize import families as F
from bayling_pipeline.synthesize.recipe import SPLITS


class Hygiene:
    """The filters of one shard, with a bounded cache of verdicts per text and a count per
    reason. Checks run batched (``prepare``, ``duplicates``): one call per chunk of records."""

    CACHE = 200_000  # cached verdicts; cleared when full, so memory stays bounded

    def __init__(self, settings: dict, forbidden_texts: Iterable[str], languages=None):
        from bayling_pipeline.synthesize import hygiene as H

        self.H, self.settings = H, settings
        forbidden = [text for text in forbidden_texts if text.strip()]
        # Test texts too short for the n-gram index (under 3 words or 6 characters of an
        # unspaced script) are kept out by exact match after normalization; a training
        # text can only equal one if it is short too, so only short texts are normalized.
        short = [text for text in forbidden if len(text) <= 40]
        self.forbidden = {H.normalize(text) for text in short}
        self.short_limit = 2 * max(map(len, short), default=0)
        self.contamination = H.ContaminationIndex.from_texts(
            forbidden,
            word_n=settings["contamination_word_n"],
            char_n=settings["contamination_char_n"],
        )
        self.identifier = (
            H.LanguageIdentifier(languages, threshold=settings["min_language_probability"])
            if settings["language_id"]
            else None
        )
        self.drops = {split: Counter() for split in SPLITS}
        self._verdicts: dict = {}
        self._dedup: dict = {}  # split -> (task, unit) -> NearDuplicateIndex
        self._fingerprinter = self._new_index()

    def prepare(self, segments: Iterable[tuple[str | None, str]]) -> None:
        """Judge every not yet judged ``(language, text)`` at once (batched n-gram lookups
        and language identification; a None language is not identified)."""
        wanted = dict.fromkeys(segments)
        if len(self._verdicts) + len(wanted) > self.CACHE:
            # keep what this batch asks for, so callers can read every verdict afterwards
            old = self._verdicts
            self._verdicts = {key: old[key] for key in wanted if key in old}
        todo = [key for key in wanted if key not in self._verdicts]
        if not todo:
            return
        verdicts = dict.fromkeys(todo)
        for key in todo:
            if not key[1].strip():
                verdicts[key] = "empty_turn"
            elif len(key[1]) <= self.short_limit and self.H.normalize(key[1]) in self.forbidden:
                verdicts[key] = "contaminated"
        open_ = [key for key in todo if verdicts[key] is None]
        for key, hit in zip(
            open_, self.contamination.match_many([t for _, t in open_]), strict=True
        ):
            if hit is not None:
                verdicts[key] = "contaminated"
        if self.identifier is not None:
            open_ = [key for key in todo if verdicts[key] is None and key[0] is not None]
            texts, codes = [t for _, t in open_], [c for c, _ in open_]
            for key, ok in zip(open_, self.identifier.agrees_many(texts, codes), strict=True):
                if not ok:
                    verdicts[key] = "wrong_language"
        self._verdicts.update(verdicts)

    def segment_problem(self, code: str, text: str) -> str | None:
        """Why a corpus or teacher text may not be used, or None."""
        self.prepare([(code, text)])
        return self._verdicts[code, text]

    def draft_problem(self, draft: F.Draft, max_chars: int | None = None) -> str | None:
        """The first reason to drop a draft's corpus segments (and free texts), or None
        (they are judged here unless a ``prepare`` call has judged them already);
        ``max_chars``: the most script-weighted characters its messages may have."""
        verdicts = self._verdicts
        for key in draft.segments.items():
            problem = verdicts[key] if key in verdicts else self.segment_problem(*key)
            if problem:
                return problem
        # free texts are long and rarely repeat: their verdicts leave the cache once read,
        # so that it does not hold CACHE whole dialogues
        for key in [(None, text) for text in draft.free_texts]:
            problem = verdicts.pop(key) if key in verdicts else self.segment_problem(*key)
            if problem:
                return problem
        if max_chars is not None:
            # uncached: the cache of weighted_length is sized for corpus sentences
            measure = self.H.weighted_length.__wrapped__
            if sum(measure(message["content"]) for message in draft.messages) > max_chars:
                return "too_long"
        src, tgt = (draft.languages + [None, None])[:2]
        if src in draft.segments and tgt in draft.segments:
            ok = self.H.length_ratio_ok(
                draft.segments[src],
                draft.segments[tgt],
                src,
                tgt,
                max_ratio=self.settings["max_length_ratio"],
            )
            if not ok:
                return "length_ratio"
        return None

    def duplicates(self, split: str, checks: Sequence[tuple[str, str, str]]) -> list:
        """For each ``(task, unit, text)`` in order: "duplicate" / "near_duplicate" if the
        unit has had the text (earlier in the stream or in ``checks``), else None (and the
        unit remembers it). A text checked for several units is fingerprinted once."""
        distinct = list(dict.fromkeys(text for _, _, text in checks))
        indexes = self._dedup.setdefault(split, {})
        for task, unit, _ in checks:
            if (task, unit) not in indexes:
                indexes[task, unit] = self._new_index()
        # every index has the same parameters, so any one fingerprints for all
        fingerprint = dict(zip(distinct, self._fingerprinter.fingerprints(distinct), strict=True))
        reasons = {"exact": "duplicate", "near": "near_duplicate"}
        return [
            reasons.get(indexes[task, unit].check_and_add_fingerprints([fingerprint[text]])[0])
            for task, unit, text in checks
        ]

    def _new_index(self):
        return self.H.NearDuplicateIndex(threshold=self.settings["near_duplicate_threshold"])


def read_forbidden(paths: Iterable[str]) -> list[str]:
    """Test-set texts: every text of a ``.jsonl`` multi-way file, every turn of a BayLing-80
    style dialogue file, or every line of a text file (a pooled fetch's index: of the
    files it lists); sorted, unique."""
    texts: set[str] = set()
    for path in indexed_files(paths):
        if str(path).endswith(".jsonl"):
            for record in read_jsonl(path):
                texts.update(_record_texts(record))
        else:
            texts.update(read_lines(path))
    return sorted(texts)


def _record_texts(record) -> Iterator[str]:
    if isinstance(record, str):
        yield record
    elif isinstance(record, dict):
        for value in record.values():
            yield from _record_texts(value)
    elif isinstance(record, list):
        for value in record:
            yield from _record_texts(value)
