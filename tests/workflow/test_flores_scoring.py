"""A Flores-200-layout test set through Snakemake, offline: a direction generator, a cut to
the first segments (max_segments), published outputs cut alike, and BLEU, spBLEU and
chrF++ scored with the SentencePiece model the download stage staged.

    .venv/bin/python -m pytest -q tests/workflow/test_flores_scoring.py

The tarball, the outputs and the (tiny, real) SentencePiece model are built here and served
from local mirror folders of their upstream URLs with download.offline on, as a compute
node sees a cache filled on the login node. The scores are compared with sacreBLEU's own
API in a fresh interpreter that only knows $SACREBLEU, the folder the workflow staged.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest
import yaml
from conftest import job_counts, run_snakemake
from flores_tiny import flores_tarball, train_tiny_spm

from bayling_pipeline.io import read_lines, write_lines
from bayling_pipeline.workflow import evaluation_queries as EQ

LINES = {
    "eng_Latn": ["The password is too short.", "Save and add another.", "Delete the file."],
    "tha_Thai": ["รหัสผ่านสั้นเกินไป", "บันทึกและเพิ่มรายการใหม่", "ลบไฟล์"],
    "deu_Latn": ["Das Passwort ist zu kurz.", "Sichern und neu hinzufügen.", "Datei löschen."],
}
OUTPUTS = {
    "tha_Thai": ["รหัสผ่านสั้นไป", "บันทึกและเพิ่มอีกรายการ", "ลบแฟ้ม"],
    "deu_Latn": ["Das Kennwort ist zu kurz.", "Speichern und neu hinzufügen.", "Datei weg."],
}
PAIRS = ["eng_Latn-tha_Thai", "eng_Latn-deu_Latn"]


@pytest.fixture(scope="module")
def flores_run(tmp_path_factory):
    """`snakemake score` on the Flores-layout set: (workdir, dry-run stdout, staged model)."""
    root = tmp_path_factory.mktemp("flores-run")
    www, spm_mirror = root / "www", root / "spm"
    flores_tarball(www, LINES)
    (www / "outputs").mkdir()
    for tgt, lines in OUTPUTS.items():  # the whole test set, as a paper releases it
        write_lines(www / "outputs" / f"eng_Latn-{tgt}.txt", lines)
    model = train_tiny_spm(LINES["tha_Thai"] + OUTPUTS["tha_Thai"])
    spm_mirror.mkdir()
    (spm_mirror / "flores200sacrebleuspm").write_bytes(model)
    config = {
        "testsets": {
            "flores": {
                "download": {"source": "flores200", "split": "devtest"},
                "directions": {
                    "hubs": ["eng_Latn"],
                    "languages": ["tha_Thai", "deu_Latn"],
                    "ways": "out_of_hubs",
                },
                "max_segments": 2,
            }
        },
        "published": {"web-mt": {"testset": "flores", "label": "Web MT"}},
        "download": {
            "offline": True,
            "lock": None,
            "mirrors": {
                "https://dl.fbaipublicfiles.com/": f"{www}/",
                "https://tinyurl.com/": f"{spm_mirror}/",
            },
            "published": {
                "web-mt": {
                    "testset": "flores",
                    "url": "https://dl.fbaipublicfiles.com/outputs/{src_code}-{tgt_code}.txt",
                }
            },
        },
        "evaluation": {"systems": ["web-mt"], "testsets": ["flores"]},
        "scoring": {
            "metrics": ["bleu", "spbleu", "chrf++"],
            "flores200_spm": {"sha256": hashlib.sha256(model).hexdigest()},
        },
    }
    configfile = root / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    dry = run_snakemake(root, configfile, "-n", "score").stdout
    run_snakemake(root, configfile, "score")
    return root, dry, model


def test_jobs_of_the_generated_directions(flores_run):
    _, dry, _ = flores_run
    counts = job_counts(dry)
    assert counts["download_fetch_testset"] == 2
    assert counts["download_flores200_spm"] == 1
    assert counts["score_sacrebleu"] == 2 * 3


def test_testset_cut_and_recorded_outputs_cut_alike(flores_run):
    root, _, _ = flores_run
    folder = root / "results" / "download" / "testsets" / "flores"
    manifest = json.loads((folder / "eng_Latn-tha_Thai.manifest.json").read_text())
    assert (manifest["segments"], manifest["segments_total"], manifest["max_segments"]) == (
        2,
        3,
        2,
    )
    assert read_lines(folder / "eng_Latn-tha_Thai.source.txt") == LINES["eng_Latn"][:2]
    hypotheses = root / "results" / "decode" / "web-mt" / "flores" / "eng_Latn-tha_Thai.hyp.txt"
    assert read_lines(hypotheses) == OUTPUTS["tha_Thai"][:2]


def sacrebleu_api(root, metric_call: str, pair: str) -> tuple[float, str]:
    """sacreBLEU's API on the run's files, in a fresh interpreter whose $SACREBLEU is the
    folder the workflow staged (no network: a missing model cannot be downloaded)."""
    hyp = root / "results" / "decode" / "web-mt" / "flores" / f"{pair}.hyp.txt"
    ref = root / "results" / "download" / "testsets" / "flores" / f"{pair}.reference.txt"
    code = (
        "import json, sys, sacrebleu\n"
        "hyps = open(sys.argv[1], encoding='utf-8').read().splitlines()\n"
        "refs = open(sys.argv[2], encoding='utf-8').read().splitlines()\n"
        f"metric = sacrebleu.metrics.{metric_call}\n"
        "print(json.dumps([metric.corpus_score(hyps, [refs]).score, str(metric.get_signature())]))"
    )
    env = {**os.environ, "SACREBLEU": str(root / "resources" / "sacrebleu")}
    result = subprocess.run(
        [sys.executable, "-c", code, str(hyp), str(ref)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return tuple(json.loads(result.stdout))


@pytest.mark.parametrize(
    ("pair", "metric", "call", "marker"),
    [
        ("eng_Latn-tha_Thai", "spbleu", "BLEU(tokenize='flores200')", "tok:flores200"),
        ("eng_Latn-deu_Latn", "spbleu", "BLEU(tokenize='flores200')", "tok:flores200"),
        ("eng_Latn-tha_Thai", "bleu", "BLEU(tokenize='flores200')", "tok:flores200"),
        ("eng_Latn-deu_Latn", "bleu", "BLEU(tokenize='13a')", "tok:13a"),
        ("eng_Latn-tha_Thai", "chrf++", "CHRF(word_order=2)", "nw:2"),
    ],
)
def test_scores_equal_sacrebleu_with_the_staged_model(flores_run, pair, metric, call, marker):
    root, _, model = flores_run
    staged = root / "resources" / "sacrebleu" / "models" / "flores200sacrebleuspm"
    assert staged.read_bytes() == model
    row = json.loads(
        (root / "results" / "score" / "web-mt" / "flores" / pair / f"{metric}.json").read_text()
    )
    score, signature = sacrebleu_api(root, call, pair)
    assert (row["score"], row["signature"]) == (score, signature)
    assert marker in row["signature"] and row["system"] == "Web MT"


@pytest.mark.parametrize(
    ("metric", "pair", "overrides", "needed"),
    [
        ("spbleu", "eng_Latn-deu_Latn", {}, True),
        ("bleu", "eng_Latn-tha_Thai", {}, True),
        ("bleu", "eng_Latn-mya_Mymr", {"mya_Mymr": "char"}, False),
        ("bleu", "eng_Latn-deu_Latn", {"deu_Latn": "flores200"}, True),
        ("bleu", "tha_Thai-eng_Latn", {}, False),
        ("chrf++", "eng_Latn-tha_Thai", {}, False),
    ],
)
def test_which_scores_need_the_staged_model(metric, pair, overrides, needed):
    config = {"scoring": {"bleu_tokenize": overrides}}
    assert EQ.needs_flores200_spm(config, metric, pair) is needed


def test_fetch_spec_carries_max_segments_only_when_set():
    download = {"source": "flores200", "split": "devtest"}
    config = {"testsets": {"f": {"download": download, "max_segments": None}}}
    assert EQ.testset_fetch_spec(config, "f") == download  # as before: no rerun
    assert EQ.fetched_max_segments(config, "f") is None
    config["testsets"]["f"]["max_segments"] = 5
    assert EQ.testset_fetch_spec(config, "f") == {**download, "max_segments": 5}
    assert EQ.fetched_max_segments(config, "f") == 5
    cut = {"testsets": {"c": {"corpus": "django", "max_segments": 5}}}
    assert EQ.fetched_max_segments(cut, "c") is None  # its outputs translate the cut set
