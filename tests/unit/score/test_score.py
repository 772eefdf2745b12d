"""Tests of bayling_pipeline.score against the real sacreBLEU and a tiny real COMET model.

.venv/bin/python -m pytest tests/unit/score/test_score.py -q
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import shutil

import comet
import pytest
import sacrebleu
from comet_tiny import build_tiny_comet

from bayling_pipeline.download import fetch
from bayling_pipeline.io import read_json, write_json, write_lines
from bayling_pipeline.score.cli import main
from bayling_pipeline.score.comet_metric import score_comet
from bayling_pipeline.score.comet_stage import CometDigestError, stage_comet_model
from bayling_pipeline.score.files import read_aligned, write_score
from bayling_pipeline.score.sacrebleu_metrics import bleu_tokenizer, score_sacrebleu

SOURCES = [
    "The password is too short.",
    "Save and add another",
    "This field is required.",
    "Delete selected items",
    "Enter a valid email address.",
]
GERMAN = [
    "Das Passwort ist zu kurz.",
    "Sichern und neu hinzufügen",
    "Dieses Feld ist zwingend erforderlich.",
    "Ausgewählte Einträge löschen",
    "Bitte gültige E-Mail-Adresse eingeben.",
]
GERMAN_HYP = [
    "Das Passwort ist zu kurz.",
    "Speichern und weitere hinzufügen",
    "Dieses Feld ist erforderlich.",
    "Ausgewählte Elemente löschen",
    "Geben Sie eine gültige E-Mail-Adresse ein.",
]
CHINESE = [
    "密码太短了。",
    "保存并增加另一个",
    "这个字段是必填项。",
    "删除所选项目",
    "输入一个有效的邮件地址。",
]
CHINESE_HYP = [
    "密码太短。",
    "保存并添加另一个",
    "此字段为必填项。",
    "删除选定的项目",
    "请输入有效的电子邮件地址。",
]


@pytest.fixture(scope="session")
def tiny_comet(tmp_path_factory):
    return build_tiny_comet(tmp_path_factory.mktemp("tiny-comet"))


# --- tokenizer choice -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tgt", "overrides", "expected"),
    [
        ("deu_Latn", None, "13a"),
        ("eng_Latn", None, "13a"),
        ("rus_Cyrl", {}, "13a"),
        ("zho_Hans", None, "zh"),
        ("zho_Hant", None, "zh"),
        ("deu_Latn", {"deu_Latn": "intl"}, "intl"),
        ("zho_Hans", {"zho_Hans": "char"}, "char"),
        ("zho_Hans", {"zho_Hant": "char"}, "zh"),  # an override for another code does not leak
        ("jpn_Jpan", {"jpn_Jpan": "char"}, "char"),
        ("kor_Hang", {"kor_Hang": "none"}, "none"),
    ],
)
def test_bleu_tokenizer(tgt, overrides, expected):
    assert bleu_tokenizer(tgt, overrides) == expected


@pytest.mark.parametrize(("tgt", "expected"), [("jpn_Jpan", "ja-mecab"), ("kor_Hang", "ko-mecab")])
def test_bleu_tokenizer_names_mecab_without_checking(tgt, expected):
    assert bleu_tokenizer(tgt, check=False) == expected


@pytest.mark.parametrize(
    ("tgt", "module", "package"),
    [("jpn_Jpan", "MeCab", "mecab-python3"), ("kor_Hang", "mecab_ko", "mecab-ko")],
)
def test_bleu_tokenizer_mecab_missing_names_the_package(tgt, module, package):
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed")
    with pytest.raises(ImportError, match=package):
        bleu_tokenizer(tgt)


def test_bleu_tokenizer_rejects_unknown_override():
    with pytest.raises(ValueError, match="no-such-tok"):
        bleu_tokenizer("deu_Latn", {"deu_Latn": "no-such-tok"})


# --- sacreBLEU ------------------------------------------------------------------------------


@pytest.mark.parametrize(("metric", "perfect"), [("bleu", 100.0), ("chrf", 100.0), ("ter", 0.0)])
@pytest.mark.parametrize(("tgt", "refs"), [("deu_Latn", GERMAN), ("zho_Hans", CHINESE)])
def test_identical_hypotheses_score_perfectly(metric, perfect, tgt, refs):
    result = score_sacrebleu(metric, refs, refs, tgt)
    assert result["score"] == pytest.approx(perfect)
    assert result["segments"] == len(refs)
    assert result["metric"] == metric


@pytest.mark.parametrize(
    ("metric", "reference_call"),
    [
        ("bleu", lambda h, r: sacrebleu.corpus_bleu(h, [r], tokenize="13a")),
        ("chrf", lambda h, r: sacrebleu.corpus_chrf(h, [r])),
        ("ter", lambda h, r: sacrebleu.corpus_ter(h, [r])),
    ],
)
def test_scores_match_sacrebleu(metric, reference_call):
    result = score_sacrebleu(metric, GERMAN_HYP, GERMAN, "deu_Latn")
    expected = reference_call(GERMAN_HYP, GERMAN).score
    assert result["score"] == pytest.approx(expected, abs=1e-9)
    assert 0 < result["score"] < 100
    assert result["signature"].endswith(f"version:{sacrebleu.__version__}")


def test_chinese_target_uses_zh_tokenizer():
    result = score_sacrebleu("bleu", CHINESE_HYP, CHINESE, "zho_Hans")
    assert "tok:zh" in result["signature"]
    assert result["score"] == pytest.approx(
        sacrebleu.corpus_bleu(CHINESE_HYP, [CHINESE], tokenize="zh").score
    )
    # 13a sees each unsegmented sentence as one token: nearly every sentence is a miss
    as_13a = sacrebleu.corpus_bleu(CHINESE_HYP, [CHINESE], tokenize="13a").score
    assert result["score"] != pytest.approx(as_13a)
    assert result["score"] > as_13a


def test_override_wins_in_signature_and_score():
    result = score_sacrebleu(
        "bleu", CHINESE_HYP, CHINESE, "zho_Hans", tokenizer_overrides={"zho_Hans": "char"}
    )
    assert "tok:char" in result["signature"]
    expected = sacrebleu.corpus_bleu(CHINESE_HYP, [CHINESE], tokenize="char").score
    assert result["score"] == pytest.approx(expected)


@pytest.mark.parametrize("metric", ["bleu", "chrf", "ter"])
def test_tab_in_hypothesis_scores(metric, tmp_path):
    hyps = [*GERMAN_HYP[:-1], "Geben Sie eine\tgültige E-Mail-Adresse ein."]
    write_lines(tmp_path / "hyp.txt", hyps)
    write_lines(tmp_path / "ref.txt", GERMAN)
    read_hyps, refs, _ = read_aligned(tmp_path / "hyp.txt", tmp_path / "ref.txt")
    assert read_hyps == hyps
    result = score_sacrebleu(metric, read_hyps, refs, "deu_Latn")
    assert math.isfinite(result["score"])
    # every sacreBLEU metric treats a TAB as white space
    assert result["score"] == pytest.approx(
        score_sacrebleu(metric, GERMAN_HYP, GERMAN, "deu_Latn")["score"]
    )


@pytest.mark.parametrize(
    ("hyps", "refs", "message"),
    [(GERMAN_HYP[:3], GERMAN, "segment counts differ"), ([], [], "no segments")],
)
def test_score_sacrebleu_rejects_bad_input(hyps, refs, message):
    with pytest.raises(ValueError, match=message):
        score_sacrebleu("bleu", hyps, refs, "deu_Latn")


def test_score_sacrebleu_rejects_unknown_metric():
    with pytest.raises(ValueError, match="meteor"):
        score_sacrebleu("meteor", GERMAN, GERMAN, "deu_Latn")


# --- reading aligned files ------------------------------------------------------------------


def test_read_aligned_count_mismatch_names_paths_and_counts(tmp_path):
    hyp, ref = tmp_path / "sys.hyp.txt", tmp_path / "test.ref.txt"
    write_lines(hyp, GERMAN_HYP[:4])
    write_lines(ref, GERMAN)
    with pytest.raises(ValueError) as error:
        read_aligned(hyp, ref)
    text = str(error.value)
    assert f"{hyp} has 4 lines" in text
    assert f"{ref} has 5 lines" in text


def test_read_aligned_with_sources(tmp_path):
    for name, lines in [("h", GERMAN_HYP), ("r", GERMAN), ("s", SOURCES)]:
        write_lines(tmp_path / name, lines)
    hyps, refs, srcs = read_aligned(tmp_path / "h", tmp_path / "r", tmp_path / "s")
    assert (hyps, refs, srcs) == (GERMAN_HYP, GERMAN, SOURCES)
    write_lines(tmp_path / "s", SOURCES[:2])
    with pytest.raises(ValueError, match="has 2 lines"):
        read_aligned(tmp_path / "h", tmp_path / "r", tmp_path / "s")


@pytest.mark.parametrize("separator", ["\u2028", "\x0c", "\x1c", "\x85"])
def test_read_aligned_splits_on_newlines_only(tmp_path, separator):
    hyps = ["eins", f"zwei{separator}drei", "vier"]
    write_lines(tmp_path / "h", hyps)
    write_lines(tmp_path / "r", ["eins", "zwei drei", "vier"])
    assert read_aligned(tmp_path / "h", tmp_path / "r")[0] == hyps


def test_read_aligned_keeps_empty_segments(tmp_path):
    write_lines(tmp_path / "h", ["", "zwei", ""])
    write_lines(tmp_path / "r", ["eins", "zwei", "drei"])
    assert read_aligned(tmp_path / "h", tmp_path / "r")[0] == ["", "zwei", ""]


# --- writing scores -------------------------------------------------------------------------


def test_write_score_with_provenance(tmp_path):
    result = score_sacrebleu("chrf", GERMAN_HYP, GERMAN, "deu_Latn")
    path = tmp_path / "eng_Latn-deu_Latn.chrf.json"
    write_score(path, result, system="s", kind="base", testset="t", pair="eng_Latn-deu_Latn")
    assert read_json(path) == {
        **result,
        "system": "s",
        "kind": "base",
        "testset": "t",
        "pair": "eng_Latn-deu_Latn",
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_write_score_puts_segment_scores_beside(tmp_path):
    result = {"metric": "comet", "score": 55.0, "signature": "model=x|comet=2.2.7"}
    result |= {"segments": 3, "segment_scores": [0.5, 0.25, 0.9]}
    path = tmp_path / "eng_Latn-deu_Latn.comet.json"
    write_score(path, result, system="s")
    record = read_json(path)
    assert "segment_scores" not in record
    assert record["segment_scores_file"] == "eng_Latn-deu_Latn.comet.segments.tsv"
    rows = (tmp_path / record["segment_scores_file"]).read_text().splitlines()
    assert rows == ["segment\tscore", "1\t0.5", "2\t0.25", "3\t0.9"]


def test_write_score_refuses_clashing_provenance(tmp_path):
    with pytest.raises(ValueError, match="score"):
        write_score(tmp_path / "x.json", {"metric": "bleu", "score": 1.0}, score=2.0)


def test_cli_writes_a_bleu_score(tmp_path):
    write_lines(tmp_path / "hyp.txt", CHINESE_HYP)
    write_lines(tmp_path / "ref.txt", CHINESE)
    out = tmp_path / "score" / "eng_Latn-zho_Hans.bleu.json"
    argv = ["--metric", "bleu", "--hypothesis", str(tmp_path / "hyp.txt")]
    argv += ["--reference", str(tmp_path / "ref.txt"), "--pair", "eng_Latn-zho_Hans"]
    argv += ["--output", str(out), "--system", "sys", "--kind", "finetuned", "--testset", "t"]
    assert main(argv) == 0
    record = json.loads(out.read_text())
    assert record["score"] == pytest.approx(
        sacrebleu.corpus_bleu(CHINESE_HYP, [CHINESE], tokenize="zh").score
    )
    assert "tok:zh" in record["signature"]
    assert (record["pair"], record["kind"]) == ("eng_Latn-zho_Hans", "finetuned")


# --- COMET ----------------------------------------------------------------------------------

COMET_SRC = (SOURCES * 4)[:20]
COMET_REF = (GERMAN * 4)[:20]
COMET_HYP = (GERMAN_HYP * 4)[:20]
COMET_RANDOM = [f"zufällig {n} Quark {n * 7} Wörter" for n in range(20)]


def test_comet_scores_are_finite_and_deterministic(tiny_comet):
    first = score_comet(tiny_comet, COMET_SRC, COMET_HYP, COMET_REF, model_label="tiny")
    again = score_comet(tiny_comet, COMET_SRC, COMET_HYP, COMET_REF, model_label="tiny")
    assert first == again
    assert first["metric"] == "comet"
    assert first["segments"] == len(first["segment_scores"]) == 20
    assert all(math.isfinite(s) for s in first["segment_scores"])
    mean = sum(first["segment_scores"]) / 20
    assert first["score"] == pytest.approx(100 * mean)
    assert first["signature"] == f"model=tiny|comet={comet.__version__}"


def test_comet_tells_hypotheses_apart(tiny_comet):
    same = score_comet(tiny_comet, COMET_SRC, COMET_REF, COMET_REF)
    random = score_comet(tiny_comet, COMET_SRC, COMET_RANDOM, COMET_REF)
    assert same["score"] != pytest.approx(random["score"], abs=1e-6)
    # segments keep their input order: repeated identical inputs score identically
    assert same["segment_scores"][0] == pytest.approx(same["segment_scores"][5])
    assert same["signature"].startswith(f"model={tiny_comet}|")


def test_comet_rejects_misaligned_input(tiny_comet):
    with pytest.raises(ValueError, match="segment counts differ"):
        score_comet(tiny_comet, COMET_SRC[:3], COMET_HYP, COMET_REF)


@pytest.mark.parametrize("given", ["checkpoint", "directory"])
def test_stage_local_comet_model(tiny_comet, tmp_path, given):
    model = tiny_comet if given == "checkpoint" else tiny_comet.parent.parent
    staged = stage_comet_model(str(model), tmp_path / "comet" / "tiny")
    assert staged == tmp_path / "comet" / "tiny" / "checkpoints" / "model.ckpt"
    assert staged.read_bytes() == tiny_comet.read_bytes()
    assert (staged.parent.parent / "hparams.yaml").is_file()
    assert read_json(staged.parent.parent / "staged.json")["model"] == str(model)
    assert [p.name for p in (tmp_path / "comet").iterdir()] == ["tiny"]  # no temporaries left
    original = score_comet(tiny_comet, COMET_SRC[:4], COMET_HYP[:4], COMET_REF[:4])
    moved = score_comet(staged, COMET_SRC[:4], COMET_HYP[:4], COMET_REF[:4])
    assert moved["segment_scores"] == original["segment_scores"]


def test_stage_comet_model_missing_local_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        stage_comet_model(str(tmp_path / "nope" / "model.ckpt"), tmp_path / "out")
    (tmp_path / "empty" / "checkpoints").mkdir(parents=True)
    (tmp_path / "empty" / "checkpoints" / "model.ckpt").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="hparams.yaml"):
        stage_comet_model(str(tmp_path / "empty"), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_staged_checkpoint_is_verified(tiny_comet, tmp_path):
    settings = fetch.Settings(lock=str(tmp_path / "lock.json"))
    first = stage_comet_model(str(tiny_comet), tmp_path / "a", settings=settings)
    digest = hashlib.sha256(tiny_comet.read_bytes()).hexdigest()
    assert read_json(first.parent.parent / "staged.json")["sha256"] == digest
    key = f"comet:{tiny_comet}"
    assert read_json(tmp_path / "lock.json")[key]["sha256"] == digest  # first seen: recorded
    # a pin that differs, or a checkpoint that changed since the lock recorded it, stops
    with pytest.raises(CometDigestError, match="scoring.comet.sha256"):
        stage_comet_model(str(tiny_comet), tmp_path / "b", sha256="0" * 64)
    copy = tmp_path / "changed" / "checkpoints" / "model.ckpt"
    shutil.copytree(tiny_comet.parent.parent, copy.parent.parent)
    with open(copy, "ab") as handle:
        handle.write(b"\0")
    lock = read_json(tmp_path / "lock.json")
    write_json(tmp_path / "lock.json", lock | {f"comet:{copy}": lock[key]})
    with pytest.raises(CometDigestError, match="lock file"):
        stage_comet_model(str(copy), tmp_path / "c", settings=settings)
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()
    assert stage_comet_model(str(tiny_comet), tmp_path / "d", sha256=digest).is_file()


def test_cli_writes_a_comet_score(tiny_comet, tmp_path):
    for name, lines in [("src", SOURCES), ("hyp", GERMAN_HYP), ("ref", GERMAN)]:
        write_lines(tmp_path / f"{name}.txt", lines)
    out = tmp_path / "eng_Latn-deu_Latn.comet.json"
    argv = ["--metric", "comet", "--checkpoint", str(tiny_comet), "--model-label", "tiny"]
    argv += ["--source", str(tmp_path / "src.txt"), "--hypothesis", str(tmp_path / "hyp.txt")]
    argv += ["--reference", str(tmp_path / "ref.txt"), "--pair", "eng_Latn-deu_Latn"]
    argv += ["--output", str(out), "--system", "s", "--kind", "base", "--testset", "t"]
    assert main(argv) == 0
    record = read_json(out)
    expected = score_comet(tiny_comet, SOURCES, GERMAN_HYP, GERMAN)["score"]
    assert record["score"] == pytest.approx(expected)
    assert (tmp_path / record["segment_scores_file"]).is_file()


# --- several references, the command line without the workflow -------------------------------

GERMAN_B = [
    "Das Kennwort ist zu kurz.",
    "Speichern und weiteres hinzufügen",
    "Dieses Feld ist erforderlich.",
    "Ausgewählte Objekte löschen",
    "Geben Sie eine gültige E-Mail-Adresse ein.",
]


@pytest.mark.parametrize("metric", ["bleu", "chrf", "ter"])
def test_several_references_match_sacrebleu(metric):
    result = score_sacrebleu(metric, GERMAN_HYP, [GERMAN, GERMAN_B], "deu_Latn")
    call = {"bleu": sacrebleu.corpus_bleu, "chrf": sacrebleu.corpus_chrf}
    expected = call.get(metric, sacrebleu.corpus_ter)(GERMAN_HYP, [GERMAN, GERMAN_B]).score
    assert result["score"] == pytest.approx(expected, abs=1e-9)
    assert result["signature"].startswith("nrefs:2|") and result["references"] == 2
    single = score_sacrebleu(metric, GERMAN_HYP, GERMAN, "deu_Latn")
    assert single["signature"].startswith("nrefs:1|") and single["references"] == 1


def test_several_references_count_mismatch():
    with pytest.raises(ValueError, match=r"references\[1\]"):
        score_sacrebleu("bleu", GERMAN_HYP, [GERMAN, GERMAN_B[:3]], "deu_Latn")


def test_read_aligned_several_references(tmp_path):
    for name, lines in [("h", GERMAN_HYP), ("a", GERMAN), ("b", GERMAN_B[:4])]:
        write_lines(tmp_path / name, lines)
    with pytest.raises(ValueError) as error:
        read_aligned(tmp_path / "h", [tmp_path / "a", tmp_path / "b"])
    assert f"{tmp_path / 'b'} has 4 lines" in str(error.value)
    assert f"{tmp_path / 'h'} has 5 lines" in str(error.value)


def test_cli_scores_hypothesis_files_without_the_workflow(tmp_path, capsys):
    for name, lines in [("hyp", GERMAN_HYP), ("a", GERMAN), ("b", GERMAN_B)]:
        write_lines(tmp_path / name, lines)
    argv = ["--metric", "chrf", "--hypothesis", str(tmp_path / "hyp"), "--pair"]
    argv += ["eng_Latn-deu_Latn", "--reference", str(tmp_path / "a")]
    argv += ["--reference", str(tmp_path / "b")]
    assert main(argv) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["score"] == pytest.approx(
        sacrebleu.corpus_chrf(GERMAN_HYP, [GERMAN, GERMAN_B]).score
    )
    assert record["signature"].startswith("nrefs:2|")
    assert record["reference_files"] == [str(tmp_path / "a"), str(tmp_path / "b")]


@pytest.mark.parametrize(("tgt", "tokenizer"), [("jpn_Jpan", "ja-mecab"), ("kor_Hang", "ko-mecab")])
def test_mecab_tokenizers_installed(tgt, tokenizer):
    hyps = {"jpn_Jpan": ["今日はいい天気です。"], "kor_Hang": ["오늘은 날씨가 좋습니다."]}[tgt]
    refs = {"jpn_Jpan": ["今日はいい天気ですね。"], "kor_Hang": ["오늘은 날씨가 좋네요."]}[tgt]
    result = score_sacrebleu("bleu", hyps, refs, tgt)
    assert f"tok:{tokenizer}" in result["signature"]
    assert result["score"] == pytest.approx(
        sacrebleu.corpus_bleu(hyps, [refs], tokenize=tokenizer).score
    )


# --- the COMET segment cache ----------------------------------------------------------------


@pytest.fixture
def count_predictions(monkeypatch):
    """Count the segments the COMET model is asked to score, across every loaded model."""
    from comet.models.base import CometModel

    calls = []
    original = CometModel.predict

    def spy(self, samples, *args, **kwargs):
        calls.append(len(samples))
        return original(self, samples, *args, **kwargs)

    monkeypatch.setattr(CometModel, "predict", spy)
    return calls


def test_comet_cache_second_run_calls_no_model(tiny_comet, tmp_path, count_predictions):
    cache = tmp_path / "cache"
    first = score_comet(
        tiny_comet, COMET_SRC, COMET_HYP, COMET_REF, model_label="tiny", cache_dir=cache
    )
    # 20 segments, 5 distinct (src, hyp, ref) triples: each scored once
    assert count_predictions == [5] and first["computed_segments"] == 5
    again = score_comet(
        tiny_comet, COMET_SRC, COMET_HYP, COMET_REF, model_label="tiny", cache_dir=cache
    )
    assert count_predictions == [5], "the second run called the model"
    assert again["computed_segments"] == 0
    assert again["segment_scores"] == first["segment_scores"]
    assert again["score"] == first["score"]
    uncached = score_comet(tiny_comet, COMET_SRC, COMET_HYP, COMET_REF, model_label="tiny")
    assert uncached["segment_scores"] == pytest.approx(first["segment_scores"], abs=1e-6)


def test_comet_cache_scores_only_new_segments(tiny_comet, tmp_path, count_predictions):
    cache = tmp_path / "cache"
    score_comet(tiny_comet, SOURCES, GERMAN_HYP, GERMAN, cache_dir=cache)
    new_system = [*GERMAN_HYP[:3], "Etwas ganz anderes.", "Noch etwas."]
    result = score_comet(tiny_comet, SOURCES, new_system, GERMAN, cache_dir=cache)
    assert count_predictions == [5, 2] and result["computed_segments"] == 2
    # another model revision is another key: everything is scored again
    score_comet(tiny_comet, SOURCES, GERMAN_HYP, GERMAN, revision="r2", cache_dir=cache)
    assert count_predictions == [5, 2, 5]
    from bayling_pipeline.score.comet_cache import SegmentCache

    shards = SegmentCache(cache).shards()
    assert len(shards) == 3
    merged = SegmentCache(cache).compact()
    assert SegmentCache(cache).shards() == [merged]
    assert len(merged.read_text().splitlines()) == 12


def test_comet_signature_names_revision(tiny_comet):
    result = score_comet(
        tiny_comet, SOURCES[:2], GERMAN_HYP[:2], GERMAN[:2], model_label="m", revision="abc"
    )
    assert result["signature"] == f"model=m|revision=abc|comet={comet.__version__}"
