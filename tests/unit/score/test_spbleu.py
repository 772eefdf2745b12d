"""spBLEU and chrF++ against sacreBLEU's own API, with a staged SentencePiece model.

    .venv/bin/python -m pytest -q tests/unit/score/test_spbleu.py

sacreBLEU's flores200 tokenizer downloads its model on first use; here a tiny real
SentencePiece model is trained in the test, staged by the download stage's code through a
local mirror with the network off, and read by sacreBLEU itself (in a fresh interpreter
with only $SACREBLEU set) and by the score stage: the scores must be identical.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest
import sacrebleu
from flores_tiny import train_tiny_spm

from bayling_pipeline.download import fetch
from bayling_pipeline.download.sacrebleu_models import FLORES200_SPM_URL, stage_spm_model
from bayling_pipeline.io import DataError
from bayling_pipeline.score.sacrebleu_metrics import (
    score_sacrebleu,
    tokenizer_name,
    use_staged_models,
)

THAI_REFERENCES = [
    "รหัสผ่านสั้นเกินไป",
    "บันทึกและเพิ่มรายการใหม่",
    "ต้องกรอกข้อมูลในช่องนี้",
    "ลบรายการที่เลือก",
    "กรุณากรอกที่อยู่อีเมลที่ถูกต้อง",
]
THAI_HYPOTHESES = [
    "รหัสผ่านสั้นไป",
    "บันทึกและเพิ่มอีกรายการ",
    "ต้องกรอกข้อมูลในช่องนี้",
    "ลบรายการที่ถูกเลือก",
    "กรุณาใส่อีเมลที่ถูกต้อง",
]


@pytest.fixture(autouse=True)
def sacrebleu_dir_restored(monkeypatch):
    """use_staged_models points this process's sacreBLEU elsewhere: undo it after each test."""
    import sacrebleu.tokenizers.tokenizer_spm as tokenizer_spm
    import sacrebleu.utils

    monkeypatch.setattr(sacrebleu.utils, "SACREBLEU_DIR", sacrebleu.utils.SACREBLEU_DIR)
    monkeypatch.setattr(tokenizer_spm, "SACREBLEU_DIR", tokenizer_spm.SACREBLEU_DIR)
    monkeypatch.setenv("SACREBLEU", os.environ.get("SACREBLEU", ""))
    if not os.environ["SACREBLEU"]:
        monkeypatch.delenv("SACREBLEU")


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """The tiny model staged as the download stage does: fetched from a local-folder mirror
    of sacreBLEU's URL, offline, pinned; returns the staged file."""
    root = tmp_path_factory.mktemp("spm")
    model = train_tiny_spm(THAI_REFERENCES + THAI_HYPOTHESES)
    mirror = root / "mirror"
    mirror.mkdir()
    (mirror / "flores200sacrebleuspm").write_bytes(model)
    settings = fetch.Settings(
        cache=str(root / "cache"),
        lock=None,
        offline=True,
        mirrors={"https://tinyurl.com/": f"{mirror}/"},
    )
    out = root / "resources" / "sacrebleu" / "models" / "flores200sacrebleuspm"
    with fetch.using(settings):
        record = stage_spm_model(
            FLORES200_SPM_URL, hashlib.sha256(model).hexdigest(), out, root / "manifest.json"
        )
    assert 10 < record["pieces"] <= 60 and record["pinned"] == "config"
    assert out.read_bytes() == model
    assert json.loads((root / "manifest.json").read_text())["url"] == FLORES200_SPM_URL
    return out


def sacrebleu_in_fresh_process(staged_model, metric: str) -> tuple[float, str]:
    """sacreBLEU's API in a new interpreter that only knows $SACREBLEU (no network here: a
    model not found where sacreBLEU looks would fail to download)."""
    call = {
        "spbleu": "sacrebleu.metrics.BLEU(tokenize='flores200')",
        "chrf++": "sacrebleu.metrics.CHRF(word_order=2)",
    }[metric]
    code = (
        "import json, sys, sacrebleu\n"
        "hyps, refs = json.loads(sys.argv[1])\n"
        f"metric = {call}\n"
        "score = metric.corpus_score(hyps, [refs])\n"
        "print(json.dumps([score.score, str(metric.get_signature())]))\n"
    )
    env = {**os.environ, "SACREBLEU": str(staged_model.parent.parent)}
    data = json.dumps([THAI_HYPOTHESES, THAI_REFERENCES])
    result = subprocess.run(
        [sys.executable, "-c", code, data], capture_output=True, text=True, env=env, check=True
    )
    score, signature = json.loads(result.stdout)
    return score, signature


@pytest.mark.parametrize(("metric", "tok"), [("spbleu", "tok:flores200"), ("chrf++", "nw:2")])
def test_stage_scores_equal_sacrebleu_api_with_the_staged_model(staged, metric, tok):
    use_staged_models(staged)
    ours = score_sacrebleu(metric, THAI_HYPOTHESES, THAI_REFERENCES, "tha_Thai")
    theirs, signature = sacrebleu_in_fresh_process(staged, metric)
    assert ours["score"] == theirs
    assert ours["signature"] == signature
    assert tok in ours["signature"]
    assert 0 < ours["score"] < 100


def test_spbleu_tokenizes_with_the_staged_model(staged):
    import sentencepiece

    use_staged_models(staged)
    processor = sentencepiece.SentencePieceProcessor(model_file=str(staged))
    bleu = sacrebleu.metrics.BLEU(tokenize="flores200")
    line = THAI_REFERENCES[3]
    assert bleu.tokenizer(line) == " ".join(processor.encode(line, out_type=str))


def test_bleu_into_thai_is_spbleu_and_other_metrics_keep_their_tokenizer(staged):
    use_staged_models(staged)
    bleu = score_sacrebleu("bleu", THAI_HYPOTHESES, THAI_REFERENCES, "tha_Thai")
    spbleu = score_sacrebleu("spbleu", THAI_HYPOTHESES, THAI_REFERENCES, "tha_Thai")
    assert bleu["score"] == spbleu["score"] and "tok:flores200" in bleu["signature"]
    chrf = score_sacrebleu("chrf", THAI_HYPOTHESES, THAI_REFERENCES, "tha_Thai")
    assert "nw:0" in chrf["signature"]
    german = score_sacrebleu("bleu", ["Das ist gut ."], ["Das ist gut ."], "deu_Latn")
    assert "tok:13a" in german["signature"]


@pytest.mark.parametrize(
    ("metric", "tgt", "overrides", "expected"),
    [
        ("spbleu", "deu_Latn", None, "flores200"),
        ("bleu", "deu_Latn", None, "13a"),
        ("bleu", "khm_Khmr", None, "flores200"),
        ("bleu", "khm_Khmr", {"khm_Khmr": "char"}, "char"),
        ("bleu", "zho_Hans", None, "zh"),
        ("chrf++", "tha_Thai", None, None),
        ("ter", "tha_Thai", None, None),
    ],
)
def test_tokenizer_names_without_sacrebleu(metric, tgt, overrides, expected):
    assert tokenizer_name(metric, tgt, overrides) == expected


def test_staging_refuses_what_is_not_a_model(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "flores200sacrebleuspm").write_text("<html>moved</html>")
    settings = fetch.Settings(
        cache=str(tmp_path / "cache"),
        lock=None,
        offline=True,
        mirrors={"https://tinyurl.com/": f"{mirror}/"},
    )
    digest = hashlib.sha256(b"<html>moved</html>").hexdigest()
    out = tmp_path / "models" / "flores200sacrebleuspm"
    with fetch.using(settings), pytest.raises(DataError, match="not a SentencePiece model"):
        stage_spm_model(FLORES200_SPM_URL, digest, out)
    assert not out.exists()


def test_use_staged_models_refuses_a_file_sacrebleu_would_not_find(tmp_path):
    wrong = tmp_path / "models" / "spm.model"
    wrong.parent.mkdir()
    wrong.write_bytes(b"x")
    with pytest.raises(ValueError, match="<root>/models/<name>"):
        use_staged_models(wrong)
    with pytest.raises(FileNotFoundError):
        use_staged_models(tmp_path / "models" / "flores200sacrebleuspm")
