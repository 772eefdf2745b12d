"""Tests of bayling_pipeline.report on score files written from real sacreBLEU results.

.venv/bin/python -m pytest tests/unit/report/test_report.py -q
"""

from __future__ import annotations

import re

import matplotlib.image
import pandas as pd
import pytest

from bayling_pipeline.io import read_json, write_json
from bayling_pipeline.report.collect import (
    REQUIRED,
    attach_significance,
    collect,
    collect_significance,
)
from bayling_pipeline.report.paper import (
    direction_group,
    paper_latex,
    paper_markdown,
    share_markdown,
    share_rows,
)
from bayling_pipeline.report.plots import plot_metric
from bayling_pipeline.report.tables import markdown_tables
from bayling_pipeline.report.write import write_report
from bayling_pipeline.score.files import write_score
from bayling_pipeline.score.sacrebleu_metrics import score_sacrebleu

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REFS = {
    "eng_Latn-deu_Latn": ["Das Passwort ist zu kurz.", "Dieses Feld ist zwingend erforderlich."],
    "eng_Latn-zho_Hans": ["密码太短了。", "这个字段是必填项。"],
}
HYPS = {  # system -> pair -> hypotheses
    "smollm2-135m": {
        "eng_Latn-deu_Latn": ["Passwort zu kurz.", "Das Feld ist notwendig."],
        "eng_Latn-zho_Hans": ["密码短。", "字段必须。"],
    },
    "bayling-smollm2": {
        "eng_Latn-deu_Latn": ["Das Passwort ist zu kurz.", "Dieses Feld ist erforderlich."],
        "eng_Latn-zho_Hans": ["密码太短了。", "此字段是必填项。"],
    },
}
KINDS = {"smollm2-135m": "base", "bayling-smollm2": "finetuned"}


@pytest.fixture
def score_files(tmp_path):
    """Score JSONs for two systems x two directions x BLEU/chrF/TER, and one published row."""
    paths = []
    for system, by_pair in HYPS.items():
        for pair, hyps in by_pair.items():
            for metric in ("bleu", "chrf", "ter"):
                result = score_sacrebleu(metric, hyps, REFS[pair], pair.split("-")[1])
                path = tmp_path / "score" / system / "django-test" / f"{pair}.{metric}.json"
                provenance = {"kind": KINDS[system], "testset": "django-test", "pair": pair}
                write_score(path, result, system=system, run="r1", **provenance)
                paths.append(path)
    published = tmp_path / "score" / "published" / "bayling-7b.bleu.json"
    write_json(
        published,
        {"system": "BayLing-7B", "kind": "published", "testset": "django-test"}
        | {"pair": "eng_Latn-deu_Latn", "metric": "bleu", "score": 99.5}
        | {"signature": "reported in BayLing (2023)"},
    )
    return [*paths, published]


def test_collect_long_table(score_files):
    df = collect(reversed(score_files))
    assert list(df.columns)[:7] == list(REQUIRED)
    assert "run" in df.columns
    assert len(df) == 13
    assert list(df["metric"].unique()) == ["bleu", "chrf", "ter"]
    bleu = df[df["metric"] == "bleu"]
    assert list(bleu["kind"]) == ["base", "base", "finetuned", "finetuned", "published"]
    row = df[(df["system"] == "bayling-smollm2") & (df["metric"] == "chrf")].iloc[0]
    assert row["signature"].startswith("nrefs:1|")
    # same rows in, same order out, whatever the order of the files
    pd.testing.assert_frame_equal(df, collect(score_files))


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"system": "s", "kind": "base", "testset": "t", "pair": "p", "metric": "bleu"}, "score"),
        (
            {"system": "s", "kind": "mine", "testset": "t", "pair": "p", "metric": "bleu"}
            | {"score": 1.0, "signature": "x"},
            "kind 'mine'",
        ),
    ],
)
def test_collect_rejects_bad_records(tmp_path, record, message):
    write_json(tmp_path / "bad.json", record)
    with pytest.raises(ValueError, match=message):
        collect([tmp_path / "bad.json"])


def test_collect_rejects_duplicate_scores(score_files, tmp_path):
    copy = tmp_path / "copy.json"
    write_json(copy, read_json(score_files[0]))
    with pytest.raises(ValueError, match="more than one score"):
        collect([*score_files, copy])


def _table_rows(markdown: str, heading: str) -> dict[str, list[str]]:
    """The body of the table under ``heading``: system -> its cells after System and Kind."""
    block = markdown.split(heading, 1)[1].split("\n\n", 2)[1]
    rows = [line.strip("|").split("|") for line in block.splitlines()[2:]]
    return {cells[0].strip(): [c.strip() for c in cells[2:]] for cells in rows}


def test_markdown_bold_best_per_column(score_files):
    df = collect(score_files)
    text = markdown_tables(df)
    bleu = _table_rows(text, "### BLEU on django-test")
    # columns: eng→deu, eng→zho, Avg.; the published row has only eng→deu
    scores = df[df["metric"] == "bleu"].set_index(["system", "pair"])["score"]
    best_de = scores.xs("eng_Latn-deu_Latn", level="pair").idxmax()
    assert best_de == "BayLing-7B"
    assert bleu["BayLing-7B"] == ["**99.50**", "–", "–"]
    best_zh = scores.xs("eng_Latn-zho_Hans", level="pair").idxmax()
    assert bleu[best_zh][1] == f"**{scores[best_zh, 'eng_Latn-zho_Hans']:.2f}**"
    mean = scores["bayling-smollm2"].mean()
    assert bleu["bayling-smollm2"][2] == f"**{mean:.2f}**"  # best complete average
    assert bleu["smollm2-135m"][2] == f"{scores['smollm2-135m'].mean():.2f}"


def test_markdown_ter_bolds_the_lowest(score_files):
    df = collect(score_files)
    ter = _table_rows(markdown_tables(df), "### TER on django-test")
    scores = df[df["metric"] == "ter"].set_index(["system", "pair"])["score"]
    best = scores.xs("eng_Latn-deu_Latn", level="pair").idxmin()
    assert ter[best][0].startswith("**")
    assert sum(row[0].startswith("**") for row in ter.values()) == 1


def test_markdown_lists_signatures_and_directions(score_files):
    text = markdown_tables(collect(score_files))
    assert "| System | Kind | eng_Latn→deu_Latn | eng_Latn→zho_Hans | Avg. |" in text
    assert re.search(r"`nrefs:1\|case:mixed\|eff:no\|tok:zh\|[^`]*` \(.*eng_Latn→zho_Hans\)", text)
    assert "tok:13a" in text
    assert "`reported in BayLing (2023)` (BayLing-7B; eng_Latn→deu_Latn)" in text


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        (None, "COMET: not computed (no COMET model configured)"),
        ("comet.model is empty", "COMET: not computed (comet.model is empty)"),
    ],
)
def test_markdown_says_comet_missing(score_files, note, expected):
    assert expected in markdown_tables(collect(score_files), note)


def test_markdown_with_comet_has_no_missing_note(score_files, tmp_path):
    path = tmp_path / "c.json"
    result = {"metric": "comet", "score": 81.2, "signature": "model=tiny|comet=2.2.7"}
    write_score(path, result, system="s", kind="base", testset="t", pair="eng_Latn-deu_Latn")
    text = markdown_tables(collect([*score_files, path]))
    assert "### COMET on t" in text
    assert "not computed" not in text
    assert text.index("### BLEU") < text.index("### TER") < text.index("### COMET")


def _assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    height, width, _ = matplotlib.image.imread(path).shape
    assert height > 100 and width > 100


def test_plot_metric_writes_png(score_files, tmp_path):
    png = tmp_path / "plots" / "bleu.png"
    plot_metric(collect(score_files), "bleu", png)
    _assert_png(png)
    assert [p.name for p in png.parent.iterdir()] == ["bleu.png"]


def test_plot_metric_without_scores(score_files, tmp_path):
    with pytest.raises(ValueError, match="comet"):
        plot_metric(collect(score_files), "comet", tmp_path / "comet.png")
    assert not (tmp_path / "comet.png").exists()


def test_write_report_with_png_mapping(score_files, tmp_path):
    out = tmp_path / "report"
    pngs = {m: out / f"{m}.png" for m in ("bleu", "chrf", "ter", "comet")}
    write_report(score_files, out / "scores.tsv", out / "report.md", pngs, "not configured")
    tsv = pd.read_csv(out / "scores.tsv", sep="\t")
    assert list(tsv.columns) == [*REQUIRED, "references", "run", "segments"]
    assert len(tsv) == 13
    assert tsv["segments"].tolist()[:2] == [2, 2]  # counts stay integers beside a missing one
    expected = collect(score_files)["score"].round(4).tolist()
    assert tsv["score"].tolist() == pytest.approx(expected)
    for png in pngs.values():
        _assert_png(png)
    markdown = (out / "report.md").read_text()
    assert "COMET: not computed (not configured)" in markdown
    assert "![BLEU](bleu.png)" in markdown
    assert "![COMET]" not in markdown


def test_write_report_with_png_dir(score_files, tmp_path):
    out = tmp_path / "report"
    write_report(score_files, out / "scores.tsv", out / "report.md", out / "png", None)
    assert sorted(p.name for p in (out / "png").iterdir()) == ["bleu.png", "chrf.png", "ter.png"]
    assert "![TER](png/ter.png)" in (out / "report.md").read_text()
    assert "no COMET model configured" in (out / "report.md").read_text()


# --- significance, paper layout, LaTeX --------------------------------------------------------


@pytest.fixture
def significance_files(tmp_path):
    """Paired bootstrap JSONs for BLEU on both directions: bayling-smollm2 vs the base."""
    from bayling_pipeline.score.significance import paired_bootstrap_sacrebleu

    paths = []
    for pair, refs in REFS.items():
        systems = {name: HYPS[name][pair] * 5 for name in ("smollm2-135m", "bayling-smollm2")}
        result = paired_bootstrap_sacrebleu("bleu", systems, refs * 5, pair.split("-")[1])
        path = tmp_path / "significance" / "django-test" / pair / "bleu.json"
        write_json(path, result | {"testset": "django-test", "pair": pair})
        paths.append(path)
    return paths


def test_significance_columns_and_marks(score_files, significance_files):
    df = attach_significance(collect(score_files), collect_significance(significance_files))
    bleu = df[(df["metric"] == "bleu") & (df["kind"] != "published")]
    assert bleu["ci95"].notna().all() and (bleu["ci95"] >= 0).all()
    assert bleu[bleu["system"] == "smollm2-135m"]["p_value"].isna().all()  # the baseline
    assert bleu[bleu["system"] == "bayling-smollm2"]["p_value"].between(0, 1).all()
    assert df[df["metric"] == "chrf"]["ci95"].isna().all()
    text = markdown_tables(df)
    table = _table_rows(text, "### BLEU on django-test")
    # eng→deu: the published 99.5 is best; eng→zho: bayling-smollm2 is, the note after the bold
    assert re.fullmatch(r"\d+\.\d\d ± \d+\.\d\d†?", table["bayling-smollm2"][0])
    assert re.fullmatch(r"\*\*\d+\.\d\d\*\* ± \d+\.\d\d†?", table["bayling-smollm2"][1])
    assert table["BayLing-7B"][0] == "**99.50**"  # no interval for a reported score
    assert "95% confidence interval" in text and "baseline smollm2-135m" in text


def test_paper_tables_side_by_side(score_files, significance_files, tmp_path):
    df = attach_significance(collect(score_files), collect_significance(significance_files))
    text = paper_markdown(df)
    # no COMET here: BLEU and chrF side by side, one table for the English->X group
    assert "### django-test: English→X" in text
    header = "| System | eng_Latn→deu_Latn BLEU | eng_Latn→deu_Latn chrF |"
    assert header in text
    assert text.count("**") >= 2 * 6  # a best cell per column
    latex = paper_latex(df)
    assert r"\begin{tabular}{l" in latex and r"\multicolumn{2}{c}" in latex
    assert r"\textbf{" in latex and r"$\pm$" in latex and "bayling-smollm2" in latex
    assert latex.count(r"\begin{table}") == 1
    out = tmp_path / "out"
    write_report(
        score_files, out / "s.tsv", out / "s.md", out, None, significance_files, out / "t.tex"
    )
    assert (out / "t.tex").read_text() == latex
    tsv = pd.read_csv(out / "s.tsv", sep="\t")
    assert {"ci95", "p_value", "baseline", "resamples"} <= set(tsv.columns)
    _assert_png(out / "bleu.png")


@pytest.mark.parametrize(
    ("pair", "group"),
    [
        ("deu_Latn-eng_Latn", "X→English"),
        ("eng_Latn-zho_Hans", "English→X"),
        ("deu_Latn-fra_Latn", "non-English"),
    ],
)
def test_direction_group(pair, group):
    assert direction_group(pair) == group


def test_configured_groups_keep_their_order_and_titles(score_files):
    df = collect(score_files)
    groups = {"Main": ["eng_Latn-zho_Hans", "eng_Latn-deu_Latn"], "Absent": ["deu_Latn-fra_Latn"]}
    text = paper_markdown(df, groups)
    assert "### django-test: Main" in text and "Absent" not in text
    header = next(line for line in text.splitlines() if line.startswith("| System"))
    # the config's order, not sorted: zho before deu
    assert header.index("eng_Latn→zho_Hans") < header.index("eng_Latn→deu_Latn")
    assert r"\caption{BLEU and chrF on django-test, Main}" in paper_latex(df, groups)


def test_share_of_the_reference_system(score_files):
    df = collect(score_files)
    rows = {(r[2], r[3]): r[4:] for r in share_rows(df, "smollm2-135m")}
    bleu = df[df["metric"] == "bleu"].set_index(["system", "pair"])["score"]
    mean = {s: bleu[s].mean() for s in ("smollm2-135m", "bayling-smollm2")}
    share, directions = rows[("bleu", "bayling-smollm2")]
    assert share == pytest.approx(100 * mean["bayling-smollm2"] / mean["smollm2-135m"])
    assert directions == 2 and rows[("bleu", "smollm2-135m")] == (pytest.approx(100.0), 2)
    # the published system has one of the two directions: a share over that one, starred
    published, n = rows[("bleu", "BayLing-7B")]
    assert n == 1
    assert published == pytest.approx(100 * 99.5 / bleu["smollm2-135m", "eng_Latn-deu_Latn"])
    text = share_markdown(df, "smollm2-135m")
    assert "### django-test: share of smollm2-135m's score (%)" in text
    assert f"| BayLing-7B | {published:.1f}* |" in text
    assert share_markdown(df, None) == "" and share_markdown(df, "nobody") == ""
