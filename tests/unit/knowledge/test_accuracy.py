"""Accuracy and its percentile-bootstrap interval (seeded, numpy).

.venv/bin/python -m pytest tests/unit/knowledge/test_accuracy.py -q
"""

from __future__ import annotations

import numpy as np
import pytest

from bayling_pipeline.knowledge.accuracy import accuracy, bootstrap_interval, summary


@pytest.mark.parametrize(
    "correct, expected",
    [([True], 1.0), ([False], 0.0), ([True, False, False, True], 0.5), ([1, 0, 0], 1 / 3)],
)
def test_accuracy(correct, expected):
    assert accuracy(correct) == pytest.approx(expected)


def test_accuracy_of_no_items_is_an_error():
    with pytest.raises(ValueError, match="no items"):
        accuracy([])


def test_the_interval_is_seeded_and_holds_the_accuracy():
    correct = [True] * 105 + [False] * 141  # GPT-3.5-turbo on gaokao-chinese: 105/246
    low, high = bootstrap_interval(correct, resamples=1000, seed=7)
    assert (low, high) == bootstrap_interval(correct, resamples=1000, seed=7)
    assert low < accuracy(correct) < high
    assert (low, high) != bootstrap_interval(correct, resamples=1000, seed=8)
    # the normal approximation: about +-1.96 standard errors
    se = (accuracy(correct) * (1 - accuracy(correct)) / len(correct)) ** 0.5
    assert high - low == pytest.approx(2 * 1.96 * se, rel=0.1)


def test_the_interval_agrees_with_resampling_the_items():
    """Drawing the resamples' accuracies from a binomial is resampling the items: the same
    percentiles (within Monte Carlo error) as index resampling."""
    correct = np.array([True] * 60 + [False] * 140)
    rng = np.random.default_rng(0)
    indices = rng.integers(0, len(correct), size=(20000, len(correct)))
    expected = np.percentile(correct[indices].mean(axis=1), [2.5, 97.5])
    low, high = bootstrap_interval(list(correct), resamples=20000, seed=1)
    assert low == pytest.approx(expected[0], abs=0.01)
    assert high == pytest.approx(expected[1], abs=0.01)


def test_the_interval_narrows_with_more_items_and_a_lower_level():
    small = bootstrap_interval([True, False] * 20, seed=3)
    large = bootstrap_interval([True, False] * 2000, seed=3)
    lower = bootstrap_interval([True, False] * 20, seed=3, level=0.5)
    assert small[1] - small[0] > large[1] - large[0] > 0
    assert small[1] - small[0] > lower[1] - lower[0]
    assert bootstrap_interval([True] * 10) == (1.0, 1.0)


@pytest.mark.parametrize("kwargs", [{"level": 1.0}, {"level": 0}, {"resamples": 0}])
def test_the_interval_checks_its_arguments(kwargs):
    with pytest.raises(ValueError):
        bootstrap_interval([True, False], **kwargs)


def test_summary():
    row = summary([True, False, False, True], answered=[True, True, False, True], seed=5)
    assert {k: row[k] for k in ("items", "answered", "correct", "accuracy")} == {
        "items": 4,
        "answered": 3,
        "correct": 2,
        "accuracy": 0.5,
    }
    assert (row["ci_low"], row["ci_high"]) == bootstrap_interval([1, 0, 0, 1], seed=5)
    assert summary([True, False])["answered"] == 2
    with pytest.raises(ValueError, match="answered flags"):
        summary([True, False], answered=[True])
