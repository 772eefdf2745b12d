"""Paired bootstrap resampling of every system against a baseline, with 95% intervals.

BLEU, spBLEU, chrF, chrF++ and TER go through sacreBLEU's own paired bootstrap test
(``sacrebleu.significance.PairedTest``, Koehn 2004, as ``sacrebleu --paired-bs``); COMET
goes through the same resampling over its segment scores: the same seed draws the same
resample indices, the interval and p-value are computed the same way. Run by the rules
``score_significance*``; by hand::

    python -m bayling_pipeline.score.significance --metric bleu --pair eng_Latn-deu_Latn \\
        --reference ref.de --system base=base.de --system tuned=tuned.de [--output out.json]

The first ``--system`` is the baseline. Each result holds the system's score, the mean of
its resampled scores, the half-width of the 95% interval around that mean (``ci``, the
"± x" sacreBLEU prints) and, for every system but the baseline, the p-value of the
difference (small = unlikely by chance).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from bayling_pipeline.cli import UserError, at_least, input_file, pair_argument, run_cli
from bayling_pipeline.io import decode_utf8, split_lines, write_json
from bayling_pipeline.score.files import check_pair_script, read_aligned
from bayling_pipeline.score.sacrebleu_metrics import (
    SACREBLEU_METRICS,
    bleu_tokenizer,
    reference_streams,
    sacrebleu_metric,
)

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 12345  # sacreBLEU's own default


@contextlib.contextmanager
def _sacrebleu_seed(seed: int) -> Iterator[None]:
    # PairedTest reads its seed from the environment only
    old = os.environ.get("SACREBLEU_SEED")
    os.environ["SACREBLEU_SEED"] = str(seed)
    try:
        yield
    finally:
        if old is None:
            del os.environ["SACREBLEU_SEED"]
        else:
            os.environ["SACREBLEU_SEED"] = old


def _record(result, baseline: bool) -> dict:
    return {
        "score": float(result.score),
        "mean": float(result.mean),
        "ci": float(result.ci),
        "p_value": None if baseline else float(result.p_value),
    }


def paired_bootstrap_sacrebleu(
    metric: str,
    systems: Mapping[str, Sequence[str]],
    references: Sequence[str] | Sequence[Sequence[str]],
    tgt: str,
    tokenizer_overrides: dict | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> dict:
    """sacreBLEU's paired bootstrap for ``systems`` (name -> hypotheses, baseline first).

    Returns ``{"metric", "baseline", "resamples", "seed", "signature", "systems": {name:
    {"score", "mean", "ci", "p_value"}}}``; the signature is sacreBLEU's, with ``bs`` and
    ``seed`` added.
    """
    from sacrebleu.significance import PairedTest

    if seed < 1:
        raise ValueError("seed must be a positive integer (sacreBLEU treats 0 as no seed)")
    if resamples < 1:
        raise ValueError(f"resamples must be positive, not {resamples} (sacreBLEU reads 0 as 1000)")
    names = list(systems)
    streams = reference_streams(references)
    scorer = sacrebleu_metric(metric, tgt, tokenizer_overrides)
    with _sacrebleu_seed(seed):
        test = PairedTest(
            [(name, list(systems[name])) for name in names],
            {metric: scorer},
            streams,
            test_type="bs",
            n_samples=resamples,
        )
        signatures, table = test()
    (column,) = [key for key in table if key != "System"]
    results = {
        name: _record(result, baseline=number == 0)
        for number, (name, result) in enumerate(zip(table["System"], table[column], strict=True))
    }
    return {
        "metric": metric,
        "baseline": names[0],
        "resamples": resamples,
        "seed": seed,
        "signature": str(signatures[column]),
        "systems": results,
    }


def paired_bootstrap_segments(
    systems: Mapping[str, Sequence[float]],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    scale: float = 100.0,
) -> dict:
    """The same paired bootstrap over segment scores (COMET): the system score is the mean
    segment score times ``scale``. ``systems`` maps name -> segment scores, baseline first.

    Returns ``{"baseline", "resamples", "seed", "systems": {name: {"score", "mean", "ci",
    "p_value"}}}``, computed exactly as sacreBLEU computes them for BLEU.
    """
    import numpy as np
    from sacrebleu.significance import _compute_p_value, estimate_ci

    names = list(systems)
    matrix = np.array([systems[name] for name in names], dtype="float64") * scale
    segments = matrix.shape[1]
    if segments == 0:
        raise ValueError("nothing to resample: no segments")
    # sacreBLEU draws one index matrix per system from a generator seeded the same way,
    # so every system (and the baseline) sees the same resamples
    indices = np.random.default_rng(seed).choice(segments, size=(resamples, segments))
    samples = matrix[:, indices].mean(axis=2)  # systems x resamples
    scores = matrix.mean(axis=1)
    results = {}
    for number, name in enumerate(names):
        mean, ci = estimate_ci(samples[number])
        p_value = None
        if number:
            diffs = np.abs(samples[number] - samples[0])
            p_value = _compute_p_value(diffs - diffs.mean(), abs(scores[0] - scores[number]))
        results[name] = {
            "score": float(scores[number]),
            "mean": float(mean),
            "ci": float(ci),
            "p_value": p_value,
        }
    return {"baseline": names[0], "resamples": resamples, "seed": seed, "systems": results}


def read_segment_scores(path: str | os.PathLike) -> list[float]:
    """The scores of a ``<metric>.segments.tsv`` file (``segment<TAB>score`` rows, in order)."""
    rows = split_lines(decode_utf8(Path(path).read_bytes(), path))[1:]
    return [float(row.split("\t")[1]) for row in rows if row]


MIN_RESAMPLES = 10


def _named(value: str) -> tuple[str, str]:
    name, sep, path = value.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {value!r}")
    return name, input_file(path)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--metric", choices=SACREBLEU_METRICS, required=True)
    parser.add_argument(
        "--pair", required=True, type=pair_argument, help="src-tgt, e.g. eng_Latn-deu_Latn"
    )
    parser.add_argument(
        "--reference", action="append", required=True, type=input_file, help="repeatable"
    )
    parser.add_argument(
        "--system",
        action="append",
        type=_named,
        required=True,
        help="NAME=hyp file, at least two, names distinct; the first is the baseline",
    )
    parser.add_argument("--tokenizer", help="BLEU tokenizer for the target language")
    parser.add_argument(
        "--resamples",
        type=at_least(MIN_RESAMPLES, "sacreBLEU's own default is 1000"),
        default=DEFAULT_RESAMPLES,
    )
    parser.add_argument(
        "--seed", type=at_least(1, "sacreBLEU treats 0 as no seed"), default=DEFAULT_SEED
    )
    parser.add_argument("--testset", default="cli", help="test set name for the record")
    parser.add_argument("--output", help="the result JSON to write (default: print it)")
    parser.add_argument(
        "--no-script-check", action="store_true", help="skip the swapped --pair check"
    )
    return parser


def _check_systems(parser: argparse.ArgumentParser, systems: list[tuple[str, str]]) -> None:
    names = [name for name, _ in systems]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        parser.error(f"--system: name(s) {', '.join(repeated)} given twice; names must differ")
    if len(systems) < 2:
        parser.error("--system: give at least two (NAME=PATH), the first being the baseline")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _check_systems(parser, args.system)
    tgt = args.pair.split("-")[-1]
    overrides = {tgt: args.tokenizer} if args.tokenizer else None
    if args.metric == "bleu":
        try:
            bleu_tokenizer(tgt, overrides)
        except (ValueError, ImportError) as error:
            raise UserError(f"--tokenizer: {error}") from None
    elif args.tokenizer:
        parser.error(f"--tokenizer is for --metric bleu; {args.metric} has no tokenizer option")
    systems, references = {}, None
    for name, path in args.system:
        systems[name], references, _ = read_aligned(path, args.reference)
    if not args.no_script_check:
        check_pair_script(args.pair, references, option="--pair")
    result = paired_bootstrap_sacrebleu(
        args.metric, systems, references, tgt, overrides, args.resamples, args.seed
    )
    result |= {"testset": args.testset, "pair": args.pair}
    if args.output:
        write_json(args.output, result)
    else:
        print(json.dumps(result, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.score.significance")
