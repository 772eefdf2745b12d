"""Published systems: their outputs enter the decode stage, scoring and the report like any
system's; the config's cross-reference checks name the offending key.

.venv/bin/python -m pytest tests/unit/decode/test_published.py -q
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import yaml
from conftest import ROOT, run_snakemake

from bayling_pipeline.decode.published import import_published
from bayling_pipeline.io import read_json, read_lines
from bayling_pipeline.workflow import checks as configcheck
from bayling_pipeline.workflow import queries


def test_import_normalizes_and_records(tmp_path):
    published = tmp_path / "en-de.hypo"
    published.write_bytes("\ufeffeins\r\nzwei\tdrei\r\nvier\n".encode())
    source = tmp_path / "src.txt"
    source.write_text("one\ntwo three\nfour\n")
    meta = import_published(published, source, tmp_path / "h.txt", tmp_path / "m.json", "X")
    assert read_lines(tmp_path / "h.txt") == ["eins", "zwei\tdrei", "vier"]  # TAB kept
    assert read_json(tmp_path / "m.json") == meta
    assert meta["kind"] == "published" and meta["segments"] == 3 and meta["label"] == "X"
    assert meta["template"] is None and len(meta["sha256"]) == 64


def test_import_count_mismatch_names_both(tmp_path):
    (tmp_path / "h").write_text("a\nb\n")
    (tmp_path / "s").write_text("a\nb\nc\n")
    with pytest.raises(ValueError) as error:
        import_published(tmp_path / "h", tmp_path / "s", tmp_path / "o", tmp_path / "m")
    assert f"{tmp_path / 'h'} has 2 lines" in str(error.value)
    assert f"{tmp_path / 's'} has 3 lines" in str(error.value)
    assert not (tmp_path / "o").exists()


def _config(**published):
    config = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
    config["published"] = published
    config.setdefault("download", {"published": {}})
    config["scoring"].setdefault("significance", {"baseline": None})
    return config


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"testset": "nope", "path": "x"}, "published.gpt-4.testset: 'nope' is not defined"),
        ({"testset": "django-test", "path": "{lang}.txt"}, "published.gpt-4.path: unknown"),
        (
            {"testset": "django-test", "path": "resources/published/{system}/{pair}.hyp.txt"},
            "download.published has no entry",
        ),
        (
            {"testset": "django-test", "path": "x", "directions": ["eng_Latn-fra_Latn"]},
            "published.gpt-4.directions[0]: eng_Latn-fra_Latn is not a direction",
        ),
    ],
)
def test_config_errors_name_the_key(entry, message):
    errors = configcheck.config_errors(_config(**{"gpt-4": entry}))
    assert any(message in error for error in errors), errors


def test_published_name_must_be_unique_and_baseline_known():
    config = _config(**{"smollm2-135m": {"testset": "django-test", "path": "x"}})
    config["scoring"]["significance"] = {"baseline": "gpt-9"}
    errors = configcheck.config_errors(config)
    assert any(e.startswith("published.smollm2-135m: the name is also") for e in errors)
    assert any(e.startswith("scoring.significance.baseline: 'gpt-9'") for e in errors)


def test_published_path_and_directions():
    config = _config(
        gpt={
            "testset": "django-test",
            "path": "out/{src2}{tgt2}/{system}.{tgt}",
            "directions": ["eng_Latn-zho_Hans", "eng_Latn-deu_Latn"],
        }
    )
    assert configcheck.config_errors(config) == []
    assert queries.published_path(config, "gpt", "eng_Latn-zho_Hans") == "out/enzh/gpt.zho_Hans"
    assert queries.system_kind(config, "gpt") == "published"
    # in the test set's order, only the listed ones; all of them for a model
    assert queries.system_directions(config, "gpt", "django-test") == [
        "eng_Latn-deu_Latn",
        "eng_Latn-zho_Hans",
    ]
    assert len(queries.system_directions(config, "smollm2-135m", "django-test")) == 4


@pytest.mark.e2e
def test_published_systems_through_score_and_report(tmp_path):
    """Two published systems (a copy of the reference, and the source itself) on the tiny
    test set: decode_published, sacreBLEU, paired bootstrap, tables and the HTML report."""
    config = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    run_snakemake(tmp_path, configfile, "download")
    testsets = tmp_path / "results" / "download" / "testsets" / "django-test"
    outputs = tmp_path / "outputs"
    for pair in config["testsets"]["django-test"]["directions"]:
        (outputs / "oracle").mkdir(parents=True, exist_ok=True)
        (outputs / "copy").mkdir(parents=True, exist_ok=True)
        lines = (testsets / f"{pair}.reference.txt").read_text().splitlines()
        # a TAB and Windows line ends, as published files have
        text = "\r\n".join(line.replace(" ", "\t", 1) for line in lines) + "\r\n"
        (outputs / "oracle" / f"{pair}.hyp").write_text(text, newline="")
        shutil.copy(testsets / f"{pair}.source.txt", outputs / "copy" / f"{pair}.hyp")
    config["published"] = {
        name: {"testset": "django-test", "path": str(outputs / name / "{pair}.hyp")}
        for name in ("oracle", "copy")
    }
    config["evaluation"]["systems"] = ["copy", "oracle"]
    config["scoring"]["significance"] = {"baseline": "copy", "resamples": 100}
    configfile.write_text(yaml.safe_dump(config))
    result = run_snakemake(tmp_path, configfile)
    assert "finetune_lora" not in result.stdout + result.stderr  # no model is needed
    scores = pd.read_csv(tmp_path / "results/report/scores.tsv", sep="\t")
    assert set(scores["kind"]) == {"published"} and len(scores) == 2 * 4 * 2
    oracle = scores[scores["system"] == "oracle"]
    assert (oracle["score"] == 100).all()  # TABs and CRLF do not cost a point
    assert oracle["p_value"].notna().all() and scores["ci95"].notna().all()
    assert scores[scores["system"] == "copy"]["p_value"].isna().all()  # the baseline
    meta = read_json(tmp_path / "results/decode/oracle/django-test/eng_Latn-deu_Latn.meta.json")
    assert meta["kind"] == "published"
    tex = (tmp_path / "results/report/tables.tex").read_text()
    assert r"\textbf{100.00}" in tex
    html = tmp_path / "report.html"
    run_snakemake(tmp_path, configfile, "--report", str(html))
    assert html.stat().st_size > 10_000
