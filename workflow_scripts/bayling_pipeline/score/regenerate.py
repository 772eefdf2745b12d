"""Reproduce published score tables with the project's own scoring (regeneration checks).

WMT22's official automatic scores (``wmt22-news-systems/scores/automatic-scores.tsv``)
from its submissions (``txt/system-outputs``), and the BayLing paper's published outputs
(``exp/translation_benchmark``). Used by ``tests/unit/score/test_regenerate.py`` and
``benchmarks/score_wmt22.py``; by hand::

    python -m bayling_pipeline.score.regenerate ../shared/data/wmt22     # every row, a summary

WMT22's conventions, found by matching their table: BLEU tokenized ``zh`` into Chinese,
``char`` into Japanese (not ``ja-mecab``), ``13a`` otherwise; chrF with sacreBLEU's
defaults; ``bleu-all``/``chrf-all`` against every reference of the direction at once.
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bayling_pipeline.cli import UserError, input_folder, run_cli
from bayling_pipeline.score.files import read_aligned
from bayling_pipeline.score.sacrebleu_metrics import score_systems

# WMT/BayLing short codes -> the project's Flores codes
FLORES = {
    "cs": "ces_Latn",
    "de": "deu_Latn",
    "en": "eng_Latn",
    "fr": "fra_Latn",
    "ja": "jpn_Jpan",
    "ru": "rus_Cyrl",
    "uk": "ukr_Cyrl",
    "zh": "zho_Hans",
}
# scoring.bleu_tokenize as WMT22 scored (the rest: the project's defaults, zh and 13a)
WMT22_BLEU_TOKENIZE = {"jpn_Jpan": "char"}
TESTSET = "generaltest2022"


def flores_pair(pair: str) -> str:
    """``zh-en`` -> ``zho_Hans-eng_Latn``."""
    src, tgt = pair.split("-")
    return f"{FLORES[src]}-{FLORES[tgt]}"


@dataclass(frozen=True)
class Row:
    """One bleu-*/chrf-* row of WMT22's table."""

    pair: str  # zh-en
    system: str
    metric: str  # bleu or chrf
    reference: str  # A, B, C or all
    score: float


def wmt22_rows(data_dir: str | os.PathLike) -> list[Row]:
    """Every BLEU and chrF row of ``<data_dir>/scores/automatic-scores.tsv``."""
    rows = []
    path = Path(data_dir) / "scores" / "automatic-scores.tsv"
    with open(path, encoding="utf-8", newline="") as handle:
        for record in csv.DictReader(handle, delimiter="\t"):
            metric, _, reference = record["metric"].partition("-")
            if metric in ("bleu", "chrf"):
                score = float(record["score"])
                rows.append(Row(record["pair"], record["system"], metric, reference, score))
    return rows


def _references(data_dir: Path, pair: str) -> dict[str, Path]:
    tgt = pair.split("-")[1]
    found = sorted((data_dir / "txt" / "references").glob(f"{TESTSET}.{pair}.ref.*.{tgt}"))
    return {path.name.split(".")[3]: path for path in found}


def hypothesis_path(data_dir: str | os.PathLike, pair: str, system: str) -> Path:
    tgt = pair.split("-")[1]
    return Path(data_dir) / "txt" / "system-outputs" / f"{TESTSET}.{pair}.hyp.{system}.{tgt}"


def score_wmt22(data_dir: str | os.PathLike, rows: Iterable[Row]) -> list[tuple[Row, float]]:
    """Score ``rows`` with the project's scoring: one sacreBLEU reference cache per
    (direction, metric, reference set), every system of the rows through it."""
    data_dir = Path(data_dir)
    groups: dict[tuple[str, str, str], list[Row]] = defaultdict(list)
    for row in rows:
        groups[(row.pair, row.metric, row.reference)].append(row)
    results = []
    for (pair, metric, reference), members in sorted(groups.items()):
        available = _references(data_dir, pair)
        ids = sorted(available) if reference == "all" else [reference]
        systems = {}
        for row in members:
            path = hypothesis_path(data_dir, pair, row.system)
            systems[row.system], refs, _ = read_aligned(path, [available[i] for i in ids])
        tgt = flores_pair(pair).split("-")[1]
        scores = score_systems(metric, systems, refs, tgt, WMT22_BLEU_TOKENIZE)
        results += [(row, scores[row.system]["score"]) for row in members]
    return results


def sample(rows: list[Row]) -> list[Row]:
    """A deterministic sample: every row of the alphabetically first system of each
    direction (14 systems, every metric and reference set)."""
    first = {}
    for row in sorted(rows, key=lambda r: (r.pair, r.system)):
        first.setdefault(row.pair, row.system)
    return [row for row in rows if first[row.pair] == row.system]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="exit status: 0 when every row is within 0.01 of WMT22's, 1 otherwise",
    )
    parser.add_argument(
        "data_dir",
        nargs="?",
        default="../shared/data/wmt22",
        type=input_folder,
        help="a wmt22-news-systems checkout (scores/automatic-scores.tsv, txt/)",
    )
    args = parser.parse_args(argv)
    data_dir = Path(args.data_dir)
    table = data_dir / "scores" / "automatic-scores.tsv"
    if not table.is_file():
        raise UserError(f"{data_dir}: no scores/automatic-scores.tsv; is it wmt22-news-systems?")
    start = time.perf_counter()
    results = score_wmt22(data_dir, wmt22_rows(data_dir))
    bad = [(row, ours) for row, ours in results if abs(ours - row.score) > 0.01]
    for row, ours in bad:
        print(f"MISMATCH {row}: ours {ours:.4f}")
    seconds = time.perf_counter() - start
    print(f"{len(results) - len(bad)}/{len(results)} rows within 0.01 ({seconds:.1f} s)")
    return 1 if bad else 0


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.score.regenerate")
