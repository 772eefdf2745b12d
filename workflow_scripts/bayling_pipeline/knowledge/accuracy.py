"""Accuracy over items and its percentile-bootstrap confidence interval.

The interval resamples the items with replacement ``resamples`` times (seeded, so the same
verdicts always give the same interval) and takes the ``(1 - level) / 2`` and
``(1 + level) / 2`` percentiles of the resampled accuracies. The accuracy of a resample of
n items with k right is Binomial(n, k/n) / n, which is drawn directly: the same
distribution as resampling item indices, in O(resamples) instead of O(resamples x n).
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 12345
DEFAULT_LEVEL = 0.95


def accuracy(correct: Sequence[bool]) -> float:
    """The share of True verdicts (0..1); ValueError for no items."""
    if len(correct) == 0:
        raise ValueError("accuracy of no items")
    return sum(map(bool, correct)) / len(correct)


def bootstrap_interval(
    correct: Sequence[bool],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = DEFAULT_LEVEL,
) -> tuple[float, float]:
    """(low, high): the percentile-bootstrap interval of the accuracy at ``level``."""
    import numpy as np  # here, not at the top: rules import this package at parse time

    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, not {level}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, not {resamples}")
    n = len(correct)
    share = accuracy(correct)
    rng = np.random.default_rng(seed)
    means = rng.binomial(n, share, size=resamples) / n
    low, high = np.percentile(means, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(low), float(high)


def summary(
    correct: Sequence[bool],
    answered: Sequence[bool] | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = DEFAULT_LEVEL,
) -> dict:
    """items, answered, correct, accuracy, ci_low, ci_high of one set of verdicts;
    ``answered`` (per item: something readable was given) defaults to every item."""
    if answered is not None and len(answered) != len(correct):
        raise ValueError(f"{len(answered)} answered flags for {len(correct)} verdicts")
    low, high = bootstrap_interval(correct, resamples, seed, level)
    return {
        "items": len(correct),
        "answered": len(correct) if answered is None else sum(map(bool, answered)),
        "correct": sum(map(bool, correct)),
        "accuracy": accuracy(correct),
        "ci_low": low,
        "ci_high": high,
    }
