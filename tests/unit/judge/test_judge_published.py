"""BayLing's figures from its released GPT-4 reviews, through the stage's functions: the
released files fetched from a loopback mirror of ../shared/data (bayling_pipeline.download.
fetch, pinned digests), normalized, aggregated and drawn.

    .venv/bin/python -m pytest -q tests/unit/judge/test_judge_published.py

The expected numbers are read off the paper's figures (BayLing's README, "General Tasks
with GPT-4 Evaluation"): win/tie/loss counts printed on assets/battle.{en,zh,multiturn.en,
multiturn.zh}.png, and the "89% of GPT-3.5-turbo" of the BayLing paper's abstract.
"""

from __future__ import annotations

import hashlib

import pytest
from conftest import SHARED_DATA

from bayling_pipeline.download import fetch
from bayling_pipeline.io import read_jsonl
from bayling_pipeline.judge.published import fetch_answers, fetch_reviews
from bayling_pipeline.judge.write import write_judging

BAYLING = SHARED_DATA / "bayling"
pytestmark = pytest.mark.skipif(
    not (BAYLING / "exp" / "general_tasks").is_dir(), reason="needs ../shared/data/bayling"
)
UPSTREAM = "https://raw.githubusercontent.com/ictnlp/BayLing/main/"
GENERAL = UPSTREAM + "exp/general_tasks/"

# (wins, ties, losses) of BayLing-13B, as printed on the bars of each chart
BATTLE_CHARTS = {
    "singleturn.en": {  # assets/battle.en.png, "English single-turn instruction"
        "Alpaca-7B": (72, 2, 6),
        "ChatGLM-6B": (66, 4, 10),
        "Vicuna-13B": (44, 10, 26),
        "GPT-3.5-turbo": (31, 8, 41),
    },
    "singleturn.zh": {  # assets/battle.zh.png, "Chinese single-turn instruction"
        "Alpaca-7B": (76, 1, 3),
        "ChatGLM-6B": (42, 10, 28),
        "Vicuna-13B": (52, 8, 20),
        "GPT-3.5-turbo": (26, 12, 42),
    },
    "multiturn.en": {  # assets/battle.multiturn.en.png, "English multi-turn instruction"
        "Alpaca-7B": (75, 1, 4),
        "ChatGLM-6B": (69, 1, 10),
        "Vicuna-13B": (48, 5, 27),
        "GPT-3.5-turbo": (32, 11, 37),
    },
    "multiturn.zh": {  # assets/battle.multiturn.zh.png, "Chinese multi-turn instruction"
        "Alpaca-7B": (76, 1, 3),
        "ChatGLM-6B": (46, 5, 29),
        "Vicuna-13B": (58, 5, 17),
        "GPT-3.5-turbo": (28, 8, 44),
    },
}
# the paper's opponents: (answer folder, name in the review files, label on the charts)
OPPONENTS = [
    ("alpaca-7b", "alpaca", "Alpaca-7B"),
    ("chatglm-6b", "chatglm", "ChatGLM-6B"),
    ("vicuna-13b-1.1", "vicuna", "Vicuna-13B"),
    ("gpt-3.5-turbo", "gpt-3.5-turbo", "GPT-3.5-turbo"),
]
# Mean score per category on the radar charts assets/Cap.BayLing.vs.chatgpt.{en,zh,multiturn.
# en,multiturn.zh}.png, read off the pixels (radius 1 at the centre to 10 at the rim, 101.5
# px per point at 2321x2316: where the BayLing-13B and GPT-3.5-turbo lines cross each axis);
# a reading is good to about 0.05. (BayLing-13B, GPT-3.5-turbo); None: the lines overlap.
RADAR_READINGS = {
    "singleturn.en": {
        "generic": (9.11, 8.15),
        "fermi": (4.90, 8.70),
        "coding": (5.84, 8.57),
        "math": (5.00, 9.82),
        "writing": (8.46, 9.30),
        "counterfactual": (8.56, None),
    },
    "singleturn.zh": {
        "generic": (8.90, 8.05),
        "roleplay": (7.50, 8.74),
        "fermi": (4.50, 7.50),
        "counterfactual": (6.77, 8.50),
        "coding": (6.14, 9.71),
        "math": (5.67, 9.67),
    },
    "multiturn.en": {
        "knowledge": (9.33, 8.74),
        "common-sense": (9.31, 8.04),
        "fermi": (5.40, 8.59),
        "math": (4.69, 9.68),
        "coding": (5.86, 9.43),
        "roleplay": (8.39, 9.18),
    },
    "multiturn.zh": {
        "generic": (9.01, 8.40),
        "counterfactual": (6.09, 8.59),
        "fermi": (4.70, 7.30),
        "math": (6.34, 9.67),
        "writing": (8.70, 8.41),
        "roleplay": (7.34, 8.48),
    },
}
SETTINGS = list(BATTLE_CHARTS)


def sha256(relative: str) -> str:
    return hashlib.sha256((BAYLING / relative).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """Every released answer and review file of the four pairings, through the stage."""
    from fileserver import FaultServer

    out = tmp_path_factory.mktemp("judging")
    with FaultServer(BAYLING) as server:
        mirrors = {UPSTREAM: server.url}
        settings = fetch.Settings(cache=str(out / "cache"), lock=None, mirrors=mirrors)
        with fetch.using(settings):
            paths, metas = _fetch_all(out)
    rows = write_judging(paths, out / "judging.tsv", out / "judging.md", out / "judging.tex", out)
    return out, rows, metas


def _fetch_all(out):
    answers = {}
    for folder in ["bayling-13b", *(o[0] for o in OPPONENTS)]:
        for lang in ("en", "zh"):
            name = f"{folder}/res.bayling-80.multiturn.{{lang}}.jsonl"
            pin = sha256("exp/general_tasks/" + name.format(lang=lang))
            spec = {"url": GENERAL + name, "sha256": {lang: pin}}
            answers[folder, lang] = out / "answers" / folder / f"{lang}.jsonl"
            fetch_answers(spec, lang, answers[folder, lang], out / f"{folder}.{lang}.manifest.json")
    paths, metas = [], []
    for folder, short, label in OPPONENTS:
        name = f"GPT4-REVIEW/bayling-13b.vs.{short}.{{turns}}turn.{{lang}}.jsonl"
        pins = {
            s: sha256("exp/general_tasks/" + name.format(turns=s.split("turn")[0], lang=s[-2:]))
            for s in SETTINGS
        }
        spec = {"url": GENERAL + name, "sha256": pins}
        names = {
            "source": "published",
            "judge_label": "GPT-4 (released)",
            "system": "bayling-13b",
            "system_label": "BayLing-13B",
            "opponent": folder,
            "opponent_label": label,
        }
        for setting in SETTINGS:
            lang = setting.split(".")[1]
            path = out / "published" / folder / f"{setting}.reviews.jsonl"
            sides = {"system": answers["bayling-13b", lang], "opponent": answers[folder, lang]}
            metas.append(
                fetch_reviews(
                    spec,
                    setting,
                    path,
                    path.with_name(f"{setting}.meta.json"),
                    names={**names, "dialogue_set": f"bayling80-{lang}"},
                    answer_paths=sides,
                )
            )
            paths.append(path)
    return paths, metas


def _value(rows, opponent_label, setting, metric, category="all"):
    (value,) = [
        r["value"]
        for r in rows
        if (r["opponent_label"], r["setting"], r["metric"], r["category"])
        == (opponent_label, setting, metric, category)
    ]
    return value


@pytest.mark.parametrize("setting", SETTINGS)
def test_battle_charts_exactly(released, setting):
    _, rows, _ = released
    for label, counts in BATTLE_CHARTS[setting].items():
        got = tuple(_value(rows, label, setting, m) for m in ("wins", "ties", "losses"))
        assert got == counts, (setting, label)
        assert _value(rows, label, setting, "unparseable_reviews") == 0


def test_89_percent_of_gpt_35_turbo(released):
    """The paper's "89% of GPT-3.5-turbo": BayLing-13B's score sum as a share of GPT-3.5-
    turbo's, averaged over the four settings (89.2%)."""
    _, rows, _ = released
    ratios = [_value(rows, "GPT-3.5-turbo", s, "score_ratio") for s in SETTINGS]
    assert [round(100 * r, 1) for r in ratios] == [90.9, 86.2, 91.8, 87.9]
    mean = _value(rows, "GPT-3.5-turbo", "mean", "score_ratio_mean")
    assert mean == pytest.approx(sum(ratios) / 4) and round(100 * mean) == 89
    assert _value(rows, "GPT-3.5-turbo", "singleturn.en", "score_sum_system") == 631.0
    assert _value(rows, "GPT-3.5-turbo", "singleturn.en", "score_sum_opponent") == 694.0


def test_35_and_45_percent(released):
    """The README's "BayLing-13B outperforms GPT3.5-turbo in 35% of cases [...] and is not
    worse than GPT-3.5-turbo in 45% of cases": the Chinese multi-turn setting."""
    _, rows, _ = released
    wins, ties, items = (
        _value(rows, "GPT-3.5-turbo", "multiturn.zh", m) for m in ("wins", "ties", "items")
    )
    assert (wins / items, (wins + ties) / items) == (0.35, 0.45)


@pytest.mark.parametrize("setting", SETTINGS)
def test_radar_charts_within_reading_precision(released, setting):
    _, rows, _ = released
    for category, (mine, theirs) in RADAR_READINGS[setting].items():
        got = _value(rows, "GPT-3.5-turbo", setting, "mean_system", category)
        assert got == pytest.approx(mine, abs=0.1), (setting, category)
        if theirs is not None:
            got = _value(rows, "GPT-3.5-turbo", setting, "mean_opponent", category)
            assert got == pytest.approx(theirs, abs=0.1), (setting, category)


def test_released_files_agree_with_themselves(released):
    """The parsed review texts give the released score and result fields, and the answers
    the reviews quote are the released answers (single-turn: the first turn's)."""
    _, _, metas = released
    assert len(metas) == 16
    for meta in metas:
        assert meta["released_fields_disagreeing"] == {"score_field": 0, "result_field": 0}
        assert meta["answers_match_released"] == {"system": 80, "opponent": 80}
        assert meta["items"] == meta["judged_items"] == 80 and meta["pinned"] == "config"


def test_report_files(released):
    out, rows, _ = released
    markdown = (out / "judging.md").read_text()
    row = (
        "| BayLing-13B vs GPT-3.5-turbo | 31 / 8 / 41 | 26 / 12 / 42 | 32 / 11 / 37 | 28 / 8 / 44 |"
    )
    assert row in markdown
    assert "| 89.2% |" in markdown and "Reviews read: 1280; unparseable: 0" in markdown
    assert "\\toprule" in (out / "judging.tex").read_text()
    header = (out / "judging.tsv").read_text().splitlines()[0].split("\t")
    assert header[:3] == ["source", "judge", "system"] and "provenance" in header
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["battle.published.png"] + sorted(
        f"radar.published.bayling-13b.vs.{o[0]}.png" for o in OPPONENTS
    )
    assert all((out / name).stat().st_size > 20_000 for name in pngs)
    records = list(read_jsonl(out / "published/gpt-3.5-turbo/multiturn.zh.reviews.jsonl"))
    assert len(records[0]["turns"]) == 2 and len(records[0]["answers"]["opponent"]) == 2
