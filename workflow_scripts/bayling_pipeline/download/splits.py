"""Split a multi-way corpus into train/dev/test without leaks, and cut test sets from it.

    python -m bayling_pipeline.download.splits resources/corpus/django.jsonl \
        resources/splits/django \
        --dev-fraction 0.05 --test-fraction 0.1 --seed 1

A record's split is a hash of (seed, its normalized English text), so one English string
always lands in the same split, whatever else is in the corpus. Held-out records that share
any text (same language, normalized) with a training record are then dropped, so no test
string is ever trained on.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from bayling_pipeline import languages
from bayling_pipeline.cli import UserError, input_file, run_cli
from bayling_pipeline.io import read_jsonl, write_json, write_jsonl, write_lines

PIVOT = "eng_Latn"
SPLITS = ("train", "dev", "test")
# Written without spaces between words: "words" are counted as characters / 2 for them.
UNSPACED = frozenset({"zho", "yue", "jpn", "tha", "lao", "khm", "mya", "bod"})


class LeakError(ValueError):
    """A held-out text also occurs in the training data."""


def normalize_key(text: str) -> str:
    """The text as compared for splitting and leaks: casefolded, whitespace collapsed."""
    return " ".join(text.casefold().split())


def assign_split(record: dict, dev_fraction: float, test_fraction: float, seed: int) -> str:
    """The split ("train", "dev" or "test") the record's hash puts it in, before leak removal.

    Hashes the normalized English text; a record without English hashes its id instead.
    """
    key = normalize_key(record["texts"][PIVOT]) if PIVOT in record["texts"] else record["id"]
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
    if position < test_fraction:
        return "test"
    if position < test_fraction + dev_fraction:
        return "dev"
    return "train"


def _texts(record: dict) -> Iterable[tuple[str, str]]:
    return ((code, normalize_key(text)) for code, text in record["texts"].items())


def _check_fractions(dev_fraction: float, test_fraction: float) -> None:
    if dev_fraction < 0 or test_fraction < 0 or dev_fraction + test_fraction >= 1:
        raise UserError(
            f"dev_fraction={dev_fraction} and test_fraction={test_fraction} must be >= 0 "
            "and sum to less than 1"
        )


def split_records(
    records: Iterable[dict], dev_fraction: float, test_fraction: float, seed: int
) -> dict[str, list[dict]]:
    """Split records into {"train", "dev", "test"}, each ordered by id.

    Dev/test records sharing a normalized text in any language with a training record are
    dropped (not moved to train: their English differs from every training string, so they
    are not duplicates, only near ones). The number dropped is
    ``len(records) - sum(len(split) for split in result.values())``.
    """
    _check_fractions(dev_fraction, test_fraction)
    splits: dict[str, list[dict]] = {name: [] for name in SPLITS}
    for record in sorted(records, key=lambda record: record["id"]):
        splits[assign_split(record, dev_fraction, test_fraction, seed)].append(record)
    seen = {pair for record in splits["train"] for pair in _texts(record)}
    for name in ("dev", "test"):
        splits[name] = [r for r in splits[name] if seen.isdisjoint(_texts(r))]
    return splits


def assert_no_leak(train_records: Iterable[dict], heldout_records: Iterable[dict]) -> None:
    """Raise LeakError if a held-out text (normalized, same language) occurs in training."""
    seen = {pair for record in train_records for pair in _texts(record)}
    leaks = [
        (record["id"], code, text)
        for record in heldout_records
        for code, text in _texts(record)
        if (code, text) in seen
    ]
    if leaks:
        examples = "; ".join(f"{code}: {text!r} (record {rid})" for rid, code, text in leaks[:3])
        raise LeakError(
            f"{len(leaks)} held-out text(s) in {len({rid for rid, _, _ in leaks})} record(s) "
            f"also occur in training, e.g. {examples}"
        )


def _language_counts(records: list[dict]) -> dict[str, int]:
    return dict(sorted(Counter(code for record in records for code in record["texts"]).items()))


def write_splits(
    corpus_jsonl: str | os.PathLike,
    out: dict[str, str | os.PathLike],
    summary_path: str | os.PathLike,
    dev_fraction: float,
    test_fraction: float,
    seed: int,
) -> dict:
    """Split ``corpus_jsonl`` into the JSONL files ``out["train"|"dev"|"test"]``.

    Also writes (and returns) a summary: parameters, record counts per split, segment
    counts per split and language, and how many held-out records were dropped as leaks.
    """
    if set(out) != set(SPLITS):
        raise ValueError(f"out must name exactly the splits {list(SPLITS)}, not {sorted(out)}")
    records = list(read_jsonl(corpus_jsonl))
    splits = split_records(records, dev_fraction, test_fraction, seed)
    assert_no_leak(splits["train"], splits["dev"] + splits["test"])
    assigned = Counter(assign_split(r, dev_fraction, test_fraction, seed) for r in records)
    for name in SPLITS:
        write_jsonl(out[name], splits[name])
    summary = {
        "corpus": str(corpus_jsonl),
        "seed": seed,
        "dev_fraction": dev_fraction,
        "test_fraction": test_fraction,
        "records": {name: len(splits[name]) for name in SPLITS},
        "languages": {name: _language_counts(splits[name]) for name in SPLITS},
        "dropped": {name: assigned[name] - len(splits[name]) for name in ("dev", "test")},
    }
    summary["dropped"]["total"] = sum(summary["dropped"].values())
    write_json(summary_path, summary)
    return summary


def source_words(text: str, code: str) -> float:
    """Length of ``text`` in words; for unspaced scripts (Chinese, Japanese, Thai, ...)
    non-space characters / 2, a rough equivalent of one word per two characters."""
    if code.split("_")[0] in UNSPACED:
        return sum(not char.isspace() for char in text) / 2
    return len(text.split())


def build_testset(
    records: Iterable[dict],
    src: str,
    tgt: str,
    max_segments: int | None = None,
    min_source_words: int = 0,
) -> tuple[list[str], list[str]]:
    """Line-aligned (sources, references) of the records that have both languages.

    Keeps sources of at least ``min_source_words`` words (see ``source_words``), orders by
    record id and keeps the first ``max_segments`` (None: all).
    """
    chosen = [
        record
        for record in sorted(records, key=lambda record: record["id"])
        if src in record["texts"]
        and tgt in record["texts"]
        and source_words(record["texts"][src], src) >= min_source_words
    ]
    if max_segments is not None:
        chosen = chosen[:max_segments]
    return [r["texts"][src] for r in chosen], [r["texts"][tgt] for r in chosen]


def cut_testset(
    test_jsonl: str | os.PathLike,
    pair: str,
    source_path: str | os.PathLike,
    reference_path: str | os.PathLike,
    max_segments: int | None = None,
    min_source_words: int = 0,
) -> int:
    """Cut the test set of ``pair`` (``src-tgt``) from a corpus test split: write its source
    and reference files; return the count."""
    src, tgt = languages.parse_pair(pair)
    sources, references = build_testset(
        read_jsonl(test_jsonl), src, tgt, max_segments, min_source_words
    )
    if not sources:
        raise ValueError(
            f"{pair}: no segments in {test_jsonl} have both {src} and {tgt} with at least "
            f"{min_source_words} source words"
        )
    write_lines(source_path, sources)
    write_lines(reference_path, references)
    return len(sources)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus_jsonl", type=input_file)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--dev-fraction", type=float, default=0.05)
    parser.add_argument("--test-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    out = {name: args.out_dir / f"{name}.jsonl" for name in SPLITS}
    summary = write_splits(
        args.corpus_jsonl,
        out,
        args.out_dir / "summary.json",
        args.dev_fraction,
        args.test_fraction,
        args.seed,
    )
    print(summary["records"], "dropped:", summary["dropped"])


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.download.splits")
