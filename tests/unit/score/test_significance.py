"""Paired bootstrap resampling (bayling_pipeline.score.significance) against sacreBLEU's own.

.venv/bin/python -m pytest tests/unit/score/test_significance.py -q
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.significance import PairedTest

from bayling_pipeline.io import write_lines
from bayling_pipeline.score import significance

REFS = [f"Das ist der Satz Nummer {n} mit etwas mehr Text." for n in range(30)]
BASE = [f"Dies ist Satz {n} mit Text." for n in range(30)]
TUNED = [f"Das ist der Satz Nummer {n} mit mehr Text." for n in range(30)]


@pytest.mark.parametrize(("metric", "scorer"), [("bleu", BLEU), ("chrf", CHRF)])
def test_same_numbers_as_sacrebleu_paired_bs(metric, scorer, monkeypatch):
    ours = significance.paired_bootstrap_sacrebleu(
        metric, {"base": BASE, "tuned": TUNED}, REFS, "deu_Latn", resamples=200, seed=7
    )
    monkeypatch.setenv("SACREBLEU_SEED", "7")
    test = PairedTest(
        [("base", BASE), ("tuned", TUNED)], {metric: scorer()}, [REFS], "bs", n_samples=200
    )
    _, table = test()
    (column,) = [key for key in table if key != "System"]
    for name, theirs in zip(table["System"], table[column], strict=True):
        assert ours["systems"][name]["score"] == pytest.approx(theirs.score)
        assert ours["systems"][name]["ci"] == pytest.approx(theirs.ci)
        assert ours["systems"][name]["mean"] == pytest.approx(theirs.mean)
    assert ours["systems"]["base"]["p_value"] is None
    assert ours["systems"]["tuned"]["p_value"] < 0.05
    assert "bs:200" in ours["signature"] and "seed:7" in ours["signature"]


def test_segment_bootstrap_reproduces_the_resampling():
    rng = np.random.default_rng(3)
    base, tuned = rng.random(40), rng.random(40) * 0.5 + 0.5
    result = significance.paired_bootstrap_segments(
        {"base": base, "tuned": tuned}, resamples=500, seed=11
    )
    indices = np.random.default_rng(11).choice(40, size=(500, 40))
    samples = 100 * tuned[indices].mean(axis=1)
    lower, upper = np.sort(samples)[[500 // 40, 500 - 500 // 40 - 1]]
    assert result["systems"]["tuned"]["ci"] == pytest.approx((upper - lower) / 2)
    assert result["systems"]["tuned"]["score"] == pytest.approx(100 * tuned.mean())
    assert result["systems"]["tuned"]["p_value"] < 0.05
    same = significance.paired_bootstrap_segments({"a": base, "b": base}, resamples=100)
    assert same["systems"]["b"]["ci"] == pytest.approx(same["systems"]["a"]["ci"])


def test_seed_zero_is_refused():
    with pytest.raises(ValueError, match="seed"):
        significance.paired_bootstrap_sacrebleu("bleu", {"a": BASE}, REFS, "deu_Latn", seed=0)


def test_cli(tmp_path, capsys):
    for name, lines in [("ref", REFS), ("base", BASE), ("tuned", TUNED)]:
        write_lines(tmp_path / name, lines)
    argv = ["--metric", "bleu", "--pair", "eng_Latn-deu_Latn", "--reference", str(tmp_path / "ref")]
    argv += ["--system", f"base={tmp_path / 'base'}", "--system", f"tuned={tmp_path / 'tuned'}"]
    assert significance.main([*argv, "--resamples", "50"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["baseline"] == "base" and set(result["systems"]) == {"base", "tuned"}
