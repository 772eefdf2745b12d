"""The BayLing 1 presets: the full experiment evaluates exactly what the comparison preset
scores (same test sets, published systems, pins), so their tables line up; every pinned
digest of the comparison preset is the digest of the released file."""

from __future__ import annotations

import hashlib

import pytest
import yaml
from conftest import ROOT, SHARED_DATA

COMPARISON = yaml.safe_load((ROOT / "presets" / "bayling1-comparison.yaml").read_text())
FULL = yaml.safe_load((ROOT / "presets" / "bayling1.yaml").read_text())
BAYLING = "https://raw.githubusercontent.com/ictnlp/BayLing/main/"


@pytest.mark.parametrize(
    "path",
    [
        ("testsets",),
        ("published",),
        ("download", "published"),
        ("scoring", "comet"),
        ("report",),
        ("constrained", "sets"),
        ("constrained", "published"),
        ("judging", "published_answers"),
        ("judging", "dialogue_sets"),
        ("evaluation", "dialogue_sets"),
    ],
    ids=".".join,
)
def test_the_full_preset_evaluates_what_the_comparison_scores(path):
    comparison, full = COMPARISON, FULL
    for key in path:
        comparison, full = comparison[key], full[key]
    assert full == comparison


def test_the_full_preset_keeps_every_published_system_and_pairing():
    assert set(COMPARISON["evaluation"]["systems"]) <= set(FULL["evaluation"]["systems"])
    assert all(p in FULL["judging"]["pairings"] for p in COMPARISON["judging"]["pairings"])


def _released_files():
    """(url, pinned digest) of every BayLing file the comparison preset pins."""
    for spec in COMPARISON["download"]["published"].values():
        short = {"zho_Hans": "zh", "eng_Latn": "en", "deu_Latn": "de", "ces_Latn": "cs"}
        short |= {"jpn_Jpan": "ja", "rus_Cyrl": "ru", "ukr_Cyrl": "uk", "fra_Latn": "fr"}
        for pair, digest in spec["sha256"].items():
            src, tgt = (short[code] for code in pair.split("-"))
            yield spec["url"].format(src=src, tgt=tgt), digest
    for files in COMPARISON["constrained"]["sets"].values():
        yield from ((f["url"], f["sha256"]) for f in files["files"].values())
    for system in COMPARISON["constrained"]["published"].values():
        for by_instruction in system["files"].values():
            yield from ((f["url"], f["sha256"]) for f in by_instruction.values())
    for answers in COMPARISON["judging"]["published_answers"].values():
        for lang, digest in answers["sha256"].items():
            yield answers["url"].format(lang=lang), digest


@pytest.mark.skipif(not (SHARED_DATA / "bayling").is_dir(), reason="needs ../shared/data")
def test_every_pin_is_the_released_file():
    checked = 0
    for url, digest in _released_files():
        if not url.startswith(BAYLING):
            continue  # WMT's official outputs: pinned the same way, checked by the download tests
        local = SHARED_DATA / "bayling" / url.removeprefix(BAYLING)
        assert hashlib.sha256(local.read_bytes()).hexdigest() == digest, url
        checked += 1
    assert checked == 152 + 2 + 22 + 12
