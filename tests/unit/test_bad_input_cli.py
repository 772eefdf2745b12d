"""Bad inputs a user really produces, given to the command-line tools and the data readers.

    .venv/bin/python -m pytest -v tests/unit/test_bad_input_cli.py

Each case asserts the class of message (it names the argument, or the file and line, and
says what to do), that a user error exits with status 2 and no traceback, and that no
output was written that a rerun would take as done. The commands run as a user runs them,
``python -m bayling_pipeline....`` in a subprocess, on real files; none loads a model.
The table of these cases is in docs/bad-input.md ("Command-line tools and data files").
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from bayling_pipeline import io
from bayling_pipeline.cli import suggest_pair
from bayling_pipeline.download import archives
from bayling_pipeline.logs import logged
from bayling_pipeline.score.files import read_aligned

ENGLISH = [
    "The weather is nice today.",
    "I would like a cup of tea.",
    "Where is the railway station?",
    "The meeting starts at nine o'clock.",
    "Please close the window.",
    "My brother lives in Berlin.",
    "This book is very interesting.",
    "We are going to the cinema tonight.",
]
GERMAN = [
    "Das Wetter ist heute schön.",
    "Ich hätte gern eine Tasse Tee.",
    "Wo ist der Bahnhof?",
    "Die Besprechung beginnt um neun Uhr.",
    "Bitte schließen Sie das Fenster.",
    "Mein Bruder wohnt in Berlin.",
    "Dieses Buch ist sehr interessant.",
    "Wir gehen heute Abend ins Kino.",
]
CHINESE = [
    "今天天气很好。",
    "我想要一杯茶。",
    "火车站在哪里？",
    "会议九点开始。",
    "请关上窗户。",
    "我哥哥住在柏林。",
    "这本书很有意思。",
    "我们今晚去看电影。",
]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "workflow_scripts")}
ENV.pop("BAYLING_TRACEBACK", None)


def run(module: str, *args, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m bayling_pipeline.<module> args`` as a user runs it."""
    command = [sys.executable, "-m", f"bayling_pipeline.{module}", *map(str, args)]
    return subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=120)


def user_error(result: subprocess.CompletedProcess, *patterns: str) -> str:
    """The stderr of a user error: status 2, one ``error:`` line, no traceback, and every
    regular expression of ``patterns`` found in it."""
    import re

    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert "error:" in result.stderr, result.stderr
    for pattern in patterns:
        assert re.search(pattern, result.stderr), (pattern, result.stderr)
    return result.stderr


def nothing_written(folder: Path, *names: str) -> None:
    """Neither the outputs nor a temporary sibling of theirs exist in ``folder``."""
    for name in names:
        assert not (folder / name).exists(), name
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def lines(path: Path, segments: list[str], end: str = "\n") -> Path:
    path.write_bytes("".join(s + end for s in segments).encode("utf-8"))
    return path


@pytest.fixture
def files(tmp_path) -> Path:
    """English sources, German and Chinese references and a German hypothesis file."""
    lines(tmp_path / "en.txt", ENGLISH)
    lines(tmp_path / "de.txt", GERMAN)
    lines(tmp_path / "zh.txt", CHINESE)
    lines(tmp_path / "hyp.de", [s.replace("heute", "heut") for s in GERMAN])
    return tmp_path


def score(files: Path, *args, hyp="hyp.de", ref="de.txt", pair="eng_Latn-deu_Latn"):
    base = ["--metric", "bleu", "--hypothesis", hyp, "--reference", ref, "--pair", pair]
    return run("score", *base, *args, cwd=files)


# --- language pairs -------------------------------------------------------------------------


def test_sacrebleu_style_pair_gets_the_projects_codes_suggested(files):
    result = score(files, "--output", "out.json", ref="zh.txt", hyp="zh.txt", pair="en-zh")
    user_error(result, r"argument --pair: 'en-zh' .*use eng_Latn-zho_Hans")
    nothing_written(files, "out.json")


def test_swapped_pair_is_refused_instead_of_picking_the_wrong_tokenizer(files):
    lines(files / "hyp.zh", CHINESE[:4] + CHINESE[5:] + ["我们去电影院。"])
    result = score(
        files, "--output", "out.json", hyp="hyp.zh", ref="zh.txt", pair="zho_Hans-eng_Latn"
    )
    user_error(
        result,
        r"--pair zho_Hans-eng_Latn: the references are written in zho_Hans",
        "Use eng_Latn-zho_Hans",
    )
    nothing_written(files, "out.json")


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("english-german", r"expected e\.g\. 'eng_Latn-deu_Latn' \(every code: "),
        ("eng_Latn-eng_Latn", "source and target are the same language"),
        ("eng_Latn-xyz_Latn", "unknown language code 'xyz_Latn'"),
        ("eng_latn-deu_latn", "use eng_Latn-deu_Latn"),
    ],
    ids=["junk", "same-language", "unknown-code", "wrong-case"],
)
def test_bad_pairs_name_the_argument(files, pair, message):
    user_error(score(files, pair=pair), "argument --pair", message)


def test_decode_and_constrained_check_the_pair_before_loading_anything(files):
    common = ["--model", "no-model", "--output", "o.txt", "--meta", "o.json"]
    result = run("decode", *common, "--source", "en.txt", "--pair", "en-de", cwd=files)
    user_error(result, "use eng_Latn-deu_Latn")
    (files / "set.jsonl").write_text("{}\n")
    result = run(
        "constrained", *common, "--constraints", "set.jsonl", "--pair", "de-zh",
        "--instruction", "eng_Latn", cwd=files,
    )  # fmt: skip
    user_error(result, "use deu_Latn-zho_Hans")
    nothing_written(files, "o.txt", "o.json")


def test_suggestions_map_short_and_iso_codes():
    assert suggest_pair("en-zh") == "eng_Latn-zho_Hans"
    assert suggest_pair("deu-eng") == "deu_Latn-eng_Latn"
    assert suggest_pair("en-en") is None and suggest_pair("xx-yy") is None


# --- score and significance arguments ---------------------------------------------------------


def test_missing_hypothesis_file_names_the_argument(files):
    user_error(score(files, hyp="nope.txt"), r"argument --hypothesis: nope\.txt: no such file")


def test_comet_without_checkpoint_says_what_it_needs(files):
    result = run(
        "score", "--metric", "comet", "--hypothesis", "hyp.de", "--reference", "de.txt",
        "--pair", "eng_Latn-deu_Latn", cwd=files,
    )  # fmt: skip
    user_error(result, "--metric comet needs --checkpoint and --source")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tokenizer", "moses"], r"--tokenizer: unknown sacreBLEU tokenizer 'moses'.*choose"),
        (["--batch-size", "0"], "argument --batch-size: must be at least 1"),
        (["--gpus", "two"], "argument --gpus: expected a whole number"),
    ],
    ids=["tokenizer", "batch-size", "gpus"],
)
def test_bad_score_options(files, args, message):
    user_error(score(files, *args, "--output", "out.json"), message)
    nothing_written(files, "out.json")


def test_tokenizer_with_a_metric_that_has_none_is_refused(files):
    base = ["--metric", "chrf", "--hypothesis", "hyp.de", "--reference", "de.txt"]
    result = run("score", *base, "--pair", "eng_Latn-deu_Latn", "--tokenizer", "13a", cwd=files)
    user_error(result, "--tokenizer is for --metric bleu")


def significance(files: Path, *args):
    base = ["--metric", "bleu", "--pair", "eng_Latn-deu_Latn", "--reference", "de.txt"]
    return run("score.significance", *base, *args, cwd=files)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--resamples", "0"], r"argument --resamples: must be at least 10.*1000"),
        (["--seed", "0"], "argument --seed: must be at least 1"),
        (["--system", "a=hyp.de", "--system", "a=de.txt"], "name\\(s\\) a given twice"),
        (["--system", "a=hyp.de"], "give at least two"),
        (["--system", "hyp.de", "--system", "b=de.txt"], "expected NAME=PATH"),
        (["--system", "a=hyp.de", "--system", "b=missing.de"], r"missing\.de: no such file"),
    ],
    ids=["resamples-0", "seed-0", "duplicate-names", "one-system", "no-name", "missing-file"],
)
def test_bad_significance_arguments(files, args, message):
    if not any(a.startswith("--system") for a in args):
        args = [*args, "--system", "a=hyp.de", "--system", "b=de.txt"]
    user_error(significance(files, *args, "--output", "sig.json"), message)
    nothing_written(files, "sig.json")


def test_significance_writes_its_record_with_output(files):
    result = significance(
        files, "--system", "a=hyp.de", "--system", "b=de.txt", "--resamples", "20",
        "--output", "sig.json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    record = json.loads((files / "sig.json").read_text())
    assert record["resamples"] == 20 and record["pair"] == "eng_Latn-deu_Latn"


# --- segment files: one reader, one line splitting -------------------------------------------


def test_counts_that_differ_name_both_files_and_counts(files):
    lines(files / "short.de", GERMAN[:-1])
    result = score(files, "--output", "out.json", hyp="short.de")
    user_error(result, r"short\.de has 7 lines, de\.txt has 8 lines", "aligned")
    nothing_written(files, "out.json")


def test_invalid_utf8_names_file_line_and_byte(files):
    data = "".join(s + "\n" for s in GERMAN).encode("utf-8").replace("schön".encode(), b"sch\xf6n")
    (files / "latin1.de").write_bytes(data)
    result = score(files, hyp="latin1.de")
    user_error(result, r"latin1\.de: line 1 is not valid UTF-8 \(at byte offset 24", "iconv")


def test_utf16_file_is_recognized(files):
    (files / "utf16.de").write_bytes("".join(s + "\n" for s in GERMAN).encode("utf-16"))
    user_error(score(files, hyp="utf16.de"), r"utf16\.de: line 1 .*looks like UTF-16")


def test_nul_byte_names_file_and_line(files):
    lines(files / "nul.de", GERMAN[:2] + ["Wo ist\x00 der Bahnhof?"] + GERMAN[3:])
    user_error(score(files, hyp="nul.de"), r"nul\.de: line 3 holds a NUL byte")


def test_absurdly_long_line_names_file_and_line(files):
    lines(files / "long.de", GERMAN[:5] + ["Bitte " * 200_000] + GERMAN[6:])
    user_error(score(files, hyp="long.de"), r"long\.de: line 6: line of 1,200,000 bytes")


def test_bom_is_dropped_as_the_workflow_drops_it(files):
    (files / "bom.de").write_bytes(b"\xef\xbb\xbf" + (files / "hyp.de").read_bytes())
    plain, bom = score(files), score(files, hyp="bom.de")
    assert plain.returncode == bom.returncode == 0, bom.stderr
    assert json.loads(plain.stdout)["score"] == json.loads(bom.stdout)["score"]


def test_windows_line_ends_are_tolerated(files):
    lines(files / "crlf.de", [s.replace("heute", "heut") for s in GERMAN], end="\r\n")
    plain, crlf = score(files), score(files, hyp="crlf.de")
    assert crlf.returncode == 0 and "WARNING" not in crlf.stderr, crlf.stderr
    assert json.loads(plain.stdout)["score"] == json.loads(crlf.stdout)["score"]


SEPARATORS = ["\f", "\v", "\u2028", "\u2029", "\x85", "\x1c", "\r"]


@pytest.mark.parametrize("separator", SEPARATORS, ids=[hex(ord(s)) for s in SEPARATORS])
def test_other_line_breaks_never_change_the_segment_count(tmp_path, separator, caplog):
    """Download, decoding and scoring read the same file into the same segments."""
    path = lines(tmp_path / "src.txt", [*ENGLISH[:3], f"Left{separator}right", *ENGLISH[3:]])
    with caplog.at_level(logging.WARNING):
        downloaded = archives.text_lines(path.read_bytes(), str(path))
        decoded = io.read_lines(path)  # decode.translate and decode.shards
        scored, _, _ = read_aligned(path, path)
    assert len(downloaded) == len(decoded) == len(scored) == len(ENGLISH) + 1
    assert decoded[3] == ("Left right" if separator == "\r" else f"Left{separator}right")
    assert f"{path}:" in caplog.text and "first on line 4" in caplog.text


def test_other_line_breaks_are_counted_in_the_cli_log(files):
    lines(files / "ls.de", ["Das Wetter\u2028ist heute schön.", *GERMAN[1:]])
    result = score(files, hyp="ls.de")
    assert result.returncode == 0, result.stderr
    assert "ls.de: U+2028 line separator x1 (first on line 1)" in result.stderr


# --- warnings: legal but suspicious -------------------------------------------------------------


def test_all_empty_hypotheses_are_scored_with_a_warning(files):
    lines(files / "empty.de", [""] * len(GERMAN))
    result = score(files, "--output", "out.json", hyp="empty.de")
    assert result.returncode == 0, result.stderr
    assert "WARNING" in result.stderr and "every hypothesis is empty" in result.stderr
    record = json.loads((files / "out.json").read_text())
    assert record["score"] == 0.0
    assert record["warnings"] == ["every hypothesis is empty (8 segments): did decoding fail?"]


def test_an_empty_hypothesis_file_is_a_count_error(files):
    (files / "zero.de").write_bytes(b"")
    user_error(score(files, hyp="zero.de"), r"zero\.de has 0 lines, de\.txt has 8 lines")


def test_report_lists_the_warnings_of_its_score_records(files):
    lines(files / "empty.de", [""] * len(GERMAN))
    assert (
        score(files, "--output", "empty.json", "--system", "broken", hyp="empty.de").returncode == 0
    )
    assert score(files, "--output", "ok.json", "--system", "fine").returncode == 0
    result = run(
        "report", "empty.json", "ok.json", "--tsv", "s.tsv", "--markdown", "s.md",
        "--png-dir", "png", cwd=files,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = (files / "s.md").read_text()
    assert "## Warnings" in report
    assert "- broken, cli, eng_Latn-deu_Latn, bleu: every hypothesis is empty" in report


# --- report inputs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"score": 1.0, "metric": "bleu"}', r"bad\.json: not a score record \(lacks system"),
        ('{"system": "a",\n "score": }', r"bad\.json: line 2, column \d+: not valid JSON"),
    ],
    ids=["not-a-score", "malformed"],
)
def test_report_refuses_what_is_not_a_score_record(files, content, message):
    (files / "bad.json").write_text(content)
    result = run(
        "report", "bad.json", "--tsv", "s.tsv", "--markdown", "s.md", "--png-dir", "png",
        cwd=files,
    )  # fmt: skip
    user_error(result, message)
    nothing_written(files, "s.tsv", "s.md", "png")


# --- commands whose --help failed, and folders ------------------------------------------------


@pytest.mark.parametrize("module", ["score.regenerate", "score.comet_cache"])
def test_help_works(tmp_path, module):
    result = run(module, "--help", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("usage:"), result.stderr
    assert not (tmp_path / "--help").exists()


def test_regenerate_on_a_folder_that_is_not_wmt22(tmp_path):
    user_error(run("score.regenerate", tmp_path, cwd=tmp_path), "no scores/automatic-scores.tsv")


def test_comet_cache_on_a_missing_folder(tmp_path):
    user_error(run("score.comet_cache", "nope", cwd=tmp_path), "nope: no such folder")


# --- models: a folder that is not a checkpoint ------------------------------------------------


def decode(files: Path, model: str, *args):
    common = ["--model", model, "--pair", "eng_Latn-deu_Latn", "--output", "o.txt"]
    return run("decode", *common, "--meta", "o.json", "--source", "en.txt", *args, cwd=files)


def test_model_folder_without_tokenizer_or_weights(files):
    (files / "model").mkdir()
    (files / "model" / "config.json").write_text("{}")
    result = decode(files, "model")
    user_error(result, r"model model: not a complete checkpoint, it lacks a tokenizer", "weights")
    nothing_written(files, "o.txt", "o.json")


def test_hub_id_instead_of_a_folder(files):
    result = decode(files, "HuggingFaceTB/SmolLM2-135M-Instruct")
    user_error(result, "no such folder; a hub id", "finetune_prepare_base")


def test_adapter_folder_without_adapter_files(files):
    (files / "adapter").mkdir()
    result = run(
        "finetune.merge_adapter", "--base-model", files, "--adapter", "adapter",
        "--output", "merged", cwd=files,
    )  # fmt: skip
    user_error(result, "--base-model .*lacks config.json")
    (files / "base").mkdir()
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        (files / "base" / name).write_text("{}")
    result = run(
        "finetune.merge_adapter", "--base-model", "base", "--adapter", "adapter",
        "--output", "merged", cwd=files,
    )  # fmt: skip
    user_error(result, "--adapter adapter: not a complete adapter, it lacks adapter_config.json")
    nothing_written(files, "merged")


def test_finetune_base_model_is_checked_before_training(files):
    (files / "train.jsonl").write_text('{"messages": []}\n')
    (files / "recipe.json").write_text("{}")
    result = run(
        "finetune", "--base-model", "resources/models/none", "--train", "train.jsonl",
        "--dev", "train.jsonl", "--recipe", "recipe.json", "--adapter", "a",
        "--record", "r.json", "--loss-curve", "l.tsv", cwd=files,
    )  # fmt: skip
    user_error(result, "--base-model resources/models/none: no such folder")
    nothing_written(files, "a", "r.json", "l.tsv")


# --- decode arguments and sources --------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shard", "2", "--shards", "2"], "--shard 2: shards are numbered 0 to 1"),
        (["--template", "bayling-xx"], "--template 'bayling-xx' is unknown; known: .*bayling-en"),
        (["--num-beams", "0"], "argument --num-beams: must be at least 1"),
    ],
    ids=["shard", "template", "beams"],
)
def test_bad_decode_options(files, args, message):
    user_error(decode(files, "model", *args), message)
    nothing_written(files, "o.txt", "o.json")


def test_empty_source_file(files):
    (files / "model").mkdir()
    (files / "en.txt").write_bytes(b"")
    user_error(decode(files, "model"), r"en\.txt: no segments to translate")


def test_published_output_with_a_missing_line(files):
    lines(files / "pub.de", GERMAN[:-1])
    result = run("decode.published", "pub.de", "en.txt", "h.txt", "m.json", cwd=files)
    user_error(result, r"pub\.de has 7 lines, en\.txt has 8 lines")
    nothing_written(files, "h.txt", "m.json")


# --- download: local corpora, specs, offline ---------------------------------------------------


def corpus(files: Path, options) -> subprocess.CompletedProcess:
    text = options if isinstance(options, str) else json.dumps(options)
    return run("download", "local_parallel", "c.jsonl", "m.json", "--options", text, cwd=files)


@pytest.mark.parametrize(
    ("german", "message"),
    [
        (b"Das Wetter\n\xe4 falsch\n", r"de\.bad: line 2 is not valid UTF-8 \(at byte offset 11"),
        (b"Das Wetter\nWo ist\x00\n", r"de\.bad: line 2 holds a NUL byte"),
        (b"Das Wetter\n" + b"x" * 1_500_000 + b"\n", r"de\.bad: line 2: line of 1,500,000"),
    ],
    ids=["utf8", "nul", "long-line"],
)
def test_local_corpus_faults_name_file_and_line(files, german, message):
    (files / "de.bad").write_bytes(german)
    result = corpus(files, {"files": {"eng_Latn": "en.txt", "deu_Latn": "de.bad"}})
    user_error(result, message)
    nothing_written(files, "c.jsonl", "m.json")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("{files: en.txt}", r"argument --options: not valid JSON .*quote the object"),
        ({"files": {"eng_Latn": "en.txt", "deu_Latn": "nope.txt"}}, r"nope\.txt: no such file"),
        ({"files": {"en": "en.txt", "deu_Latn": "de.txt"}}, r"unknown language code\(s\) \['en'\]"),
        ({"file": {}}, r"unknown option\(s\) \['file'\]; allowed: \['files'\]"),
    ],
    ids=["not-json", "missing-file", "short-code", "misspelled-option"],
)
def test_bad_corpus_options(files, options, message):
    user_error(corpus(files, options), message)
    nothing_written(files, "c.jsonl", "m.json")


def test_testset_spec_with_an_unknown_source(files):
    (files / "spec.json").write_text('{"source": "wmt"}')
    result = run("download.testsets", "testset", "spec.json", "eng_Latn-deu_Latn", "out", cwd=files)
    user_error(result, "unknown source 'wmt'; choose one of")
    nothing_written(files, "out")


def test_offline_download_says_where_to_stage_the_file_once(files):
    result = run("download.fetch", "https://example.org/data/de.txt", "--offline", cwd=files)
    stderr = user_error(result, "downloads are off", "pre-stage it at resources/downloads/")
    assert stderr.count("pre-stage it at") == 1


def test_workflow_jobs_log_a_user_error_once_without_traceback(tmp_path, capsys):
    from bayling_pipeline.download import fetch

    log = tmp_path / "job.log"
    settings = fetch.Settings(cache=str(tmp_path / "cache"), lock=None, offline=True)
    with pytest.raises(SystemExit) as stopped, logged(str(log)), fetch.using(settings):
        fetch.fetch("https://example.org/de.txt", None)
    assert stopped.value.code == 2
    text = log.read_text()
    assert text.count("pre-stage it at") == 1 and "Traceback" not in text
    assert capsys.readouterr().err.count("pre-stage it at") == 1


# --- training data ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            '{"messages": [{"role": "user", "content": "a\\u0000b"}]}',
            r"t\.jsonl:2: a text holds a NUL",
        ),
        ('{"messages": "' + "x" * 1_100_000 + '"}', r"t\.jsonl:2: line of 1,100,\d{3} bytes"),
        ('{"messages": [}', r"t\.jsonl:2: not valid JSON"),
    ],
    ids=["nul", "long-line", "syntax"],
)
def test_training_jsonl_faults_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "t.jsonl"
    path.write_text('{"messages": []}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(io.DataError, match=message):
        list(io.read_jsonl(path))


def test_teacher_prompts_without_messages(files):
    (files / "spec.json").write_text('{"backend": "openai"}')
    (files / "p.jsonl").write_text('{"text": "hello"}\n')
    result = run(
        "synthesize.teacher", "--spec", "spec.json", "--prompts", "p.jsonl",
        "--output", "r.jsonl", cwd=files,
    )  # fmt: skip
    user_error(result, r"p\.jsonl: record 1 has neither 'messages' nor 'prompt'")
    nothing_written(files, "r.jsonl")


def test_estimate_config_that_is_not_json(files):
    (files / "config.json").write_text("{'hidden_size': 576}")
    result = run("finetune.estimate", "--config", "config.json", "--tokens", "1e6", cwd=files)
    user_error(result, r"config\.json: line 1, column 2: not valid JSON")


def test_judge_report_names_a_missing_review_file(tmp_path):
    result = run(
        "judge", "report", "nope.reviews.jsonl", "--tsv", "j.tsv", "--markdown", "j.md",
        "--latex", "j.tex", "--png-dir", "png", cwd=tmp_path,
    )  # fmt: skip
    user_error(result, r"argument reviews: nope\.reviews\.jsonl: no such file")
    nothing_written(tmp_path, "j.tsv", "j.md", "j.tex", "png")
