"""Sharded, resumable decoding: shard ranges, the partial file of committed batches, the
merge, a decoding killed with SIGKILL and resumed, and the workflow's shard jobs.

    .venv/bin/pytest tests/unit/decode/test_decode_shards.py -q
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from conftest import ROOT, job_counts, run_snakemake, workflow_env

from bayling_pipeline.decode import resume
from bayling_pipeline.decode import shards as decode_shards
from bayling_pipeline.io import read_json, read_lines, write_json, write_lines


@pytest.mark.parametrize(
    "total,count,expected",
    [
        (10, 3, [(0, 4), (4, 7), (7, 10)]),
        (6, 2, [(0, 3), (3, 6)]),
        (2, 3, [(0, 1), (1, 2), (2, 2)]),  # more shards than segments: an empty one
        (5, 1, [(0, 5)]),
    ],
)
def test_shard_range_tiles_the_test_set(total, count, expected):
    assert [decode_shards.shard_range(total, i, count) for i in range(count)] == expected


def test_shard_range_rejects_a_missing_shard():
    with pytest.raises(ValueError, match="shard 3"):
        decode_shards.shard_range(10, 3, 3)


def test_shard_paths_match_the_rule():
    hyp, meta = decode_shards.shard_paths("results/decode/s/t/eng_Latn-deu_Latn.hyp.txt", 1)
    assert str(hyp) == "results/decode/s/t/eng_Latn-deu_Latn.shards/1.hyp.txt"
    assert str(meta) == "results/decode/s/t/eng_Latn-deu_Latn.shards/1.meta.json"


def test_batch_log_keeps_committed_batches_only(tmp_path):
    path = tmp_path / ".out.partial.jsonl"
    log = resume.BatchLog(path, "fp1")
    assert log.load() == {}
    log.commit(0, [3, 1], ["a", "b"])
    log.commit(1, [0, 2], ["c", "d"])
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"batch": 2, "indices": [4')  # the job died while writing this
    assert log.load() == {0: ([3, 1], ["a", "b"]), 1: ([0, 2], ["c", "d"])}
    log.commit(2, [4], ["e"])  # appends on a clean line after the torn one was dropped
    assert resume.BatchLog(path, "fp1").load()[2] == ([4], ["e"])
    # another model, prompt or setting: nothing is reused
    assert resume.BatchLog(path, "fp2").load() == {}
    log.remove()
    assert not path.exists()


def test_fingerprint_changes_with_model_files_prompts_and_settings(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "w.bin").write_bytes(b"1")
    base = resume.fingerprint(tmp_path / "model", None, [[1, 2]], {"num_beams": 1})
    assert base == resume.fingerprint(tmp_path / "model", None, [[1, 2]], {"num_beams": 1})
    assert base != resume.fingerprint(tmp_path / "model", None, [[1, 3]], {"num_beams": 1})
    assert base != resume.fingerprint(tmp_path / "model", None, [[1, 2]], {"num_beams": 5})
    (tmp_path / "model" / "w.bin").write_bytes(b"22")  # retrained in place
    assert base != resume.fingerprint(tmp_path / "model", None, [[1, 2]], {"num_beams": 1})


def _write_shard(folder, index, count, lines, start, total, **changes):
    hyp, meta = folder / f"{index}.hyp.txt", folder / f"{index}.meta.json"
    write_lines(hyp, lines)
    write_json(
        meta,
        {
            "model": "m",
            "adapter": None,
            "pair": "eng_Latn-deu_Latn",
            "template": "bayling-en",
            "settings": {"num_beams": 1},
            "segments": len(lines),
            "postprocess_fixes": {"empty": 1} if "" in lines else {},
            "device": "cpu",
            "seconds": 1.5,
            "shard": {"index": index, "count": count, "start": start, "end": start + len(lines)},
        }
        | changes,
    )
    return hyp, meta


def test_merge_concatenates_shards_in_order(tmp_path):
    write_lines(tmp_path / "src.txt", ["s1", "s2", "s3", "s4", "s5"])
    shards = [
        _write_shard(tmp_path, 0, 2, ["h1", "", "h3"], 0, 5),
        _write_shard(tmp_path, 1, 2, ["h4", "h5"], 3, 5),
    ]
    merged = decode_shards.merge_shards(
        tmp_path / "src.txt",
        [h for h, _ in shards],
        [m for _, m in shards],
        tmp_path / "out.hyp.txt",
        tmp_path / "out.meta.json",
    )
    assert read_lines(tmp_path / "out.hyp.txt") == ["h1", "", "h3", "h4", "h5"]
    assert read_json(tmp_path / "out.meta.json") == merged
    assert merged["segments"] == 5 and merged["seconds"] == 3.0
    assert merged["postprocess_fixes"] == {"empty": 1} and "shard" not in merged
    assert [s["index"] for s in merged["shards"]] == [0, 1]


@pytest.mark.parametrize(
    "problem,message",
    [
        ("swapped", "expected 0 of 2"),
        ("missing", "expected 0..5"),
        ("settings", "settings differs"),
        ("short", "2 lines, expected 3"),
    ],
)
def test_merge_refuses_inconsistent_shards(problem, message, tmp_path):
    write_lines(tmp_path / "src.txt", ["s1", "s2", "s3", "s4", "s5"])
    first = _write_shard(tmp_path, 0, 2, ["h1", "h2", "h3"], 0, 5)
    second = _write_shard(tmp_path, 1, 2, ["h4", "h5"], 3, 5)
    shards = [first, second]
    if problem == "swapped":
        shards = [second, first]
    elif problem == "missing":
        shards = [_write_shard(tmp_path, 0, 1, ["h1", "h2", "h3"], 0, 5)]
    elif problem == "settings":
        shards[1] = _write_shard(tmp_path, 1, 2, ["h4", "h5"], 3, 5, settings={"num_beams": 5})
    elif problem == "short":
        write_lines(first[0], ["h1", "h2"])
    with pytest.raises(ValueError, match=message):
        decode_shards.merge_shards(
            tmp_path / "src.txt",
            [h for h, _ in shards],
            [m for _, m in shards],
            tmp_path / "out.hyp.txt",
            tmp_path / "out.meta.json",
        )
    assert not (tmp_path / "out.hyp.txt").exists()


SOURCES = [
    "Save and continue editing",
    "Delete the selected items",
    "Change your password",
    "Please correct the errors below.",
    "Log out of the site",
    "View the site",
    "Add another item",
    "Select a date",
    "This field is required.",
    "Enter a valid email address.",
    "The password is too short.",
    "Show all results",
    "Filter by date",
    "Recent actions",
    "My actions",
    "None available",
]


def _run_command(model_dir, folder):
    return [
        sys.executable,
        "-m",
        "bayling_pipeline.decode.sharded",
        "run",
        "--shards",
        "2",
        "--model",
        str(model_dir),
        "--source",
        str(folder.parent / "src.txt"),
        "--pair",
        "eng_Latn-deu_Latn",
        "--batch-size",
        "2",
        "--max-new-tokens",
        "8",
        "--threads",
        "1",
        "--output",
        str(folder / "eng_Latn-deu_Latn.hyp.txt"),
        "--meta",
        str(folder / "eng_Latn-deu_Latn.meta.json"),
    ]


def test_killed_decoding_resumes_without_redoing_committed_work(smollm2_dir, tmp_path):
    """kill -9 in shard 1 after its first batch: the rerun skips shard 0, resumes shard 1
    at its second batch, and the merged output equals an uninterrupted run's."""
    write_lines(tmp_path / "src.txt", SOURCES)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "workflow_scripts"), "HF_HUB_OFFLINE": "1"}
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    shard0, _ = decode_shards.shard_paths(killed / "eng_Latn-deu_Latn.hyp.txt", 0)
    shard1, _ = decode_shards.shard_paths(killed / "eng_Latn-deu_Latn.hyp.txt", 1)
    partial = resume.partial_path(shard1)

    process = subprocess.Popen(
        _run_command(smollm2_dir, killed), env=env, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 300
    while not (partial.exists() and len(partial.read_text().splitlines()) >= 2):
        assert process.poll() is None, "decoding ended before it could be killed"
        assert time.time() < deadline, "shard 1 committed no batch within 5 minutes"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert shard0.exists() and not shard1.exists(), "shard outputs must appear whole or not"
    committed = shard0.stat().st_mtime_ns

    rerun = subprocess.run(
        _run_command(smollm2_dir, killed), env=env, capture_output=True, text=True, check=True
    )
    print("\n".join(line for line in rerun.stderr.splitlines() if "INFO" in line))
    assert "shard 0 of 2: committed already, skipped" in rerun.stderr
    assert "resumed 1 of 4 batches" in rerun.stderr or "resumed 2 of 4 batches" in rerun.stderr
    assert shard0.stat().st_mtime_ns == committed, "shard 0 was decoded again"
    assert not partial.exists()

    subprocess.run(
        _run_command(smollm2_dir, whole), env=env, capture_output=True, text=True, check=True
    )
    resumed = read_lines(killed / "eng_Latn-deu_Latn.hyp.txt")
    assert resumed == read_lines(whole / "eng_Latn-deu_Latn.hyp.txt")
    assert len(resumed) == len(SOURCES)
    meta = read_json(killed / "eng_Latn-deu_Latn.meta.json")
    assert meta["segments"] == len(SOURCES) and len(meta["shards"]) == 2


def _tiny_config(tmp_path, **decoding):
    config = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
    config["decoding"].update(decoding)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return config, path


@pytest.mark.parametrize("shards", [1, 3])
def test_workflow_runs_one_job_per_shard_and_merges(shards, tmp_path):
    config, configfile = _tiny_config(tmp_path, shards=shards)
    counts = job_counts(run_snakemake(tmp_path, configfile, "-n", "decode").stdout)
    decoded = len(config["evaluation"]["systems"]) * len(
        config["testsets"]["django-test"]["directions"]
    )
    assert counts["decode_translate"] == decoded  # scoring reads the same files
    assert counts.get("decode_shard", 0) == (decoded * shards if shards > 1 else 0)


@pytest.mark.e2e
def test_workflow_rerun_after_a_killed_shard_job_redoes_only_that_shard(tmp_path):
    """The same through Snakemake: kill -9 the whole run while the second shard decodes;
    the rerun schedules that shard and the merge only, and the first shard's file is
    untouched (Snakemake may run either shard first)."""
    config, configfile = _tiny_config(tmp_path, shards=2, max_new_tokens=8)
    target = "results/decode/smollm2-135m/django-test/eng_Latn-deu_Latn.hyp.txt"
    shards = [decode_shards.shard_paths(tmp_path / target, index)[0] for index in (0, 1)]
    logs = tmp_path / "logs/decode/smollm2-135m/django-test/eng_Latn-deu_Latn.shards"
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]
    command += ["--directory", str(tmp_path), "--configfile", str(configfile)]
    command += ["--cores", "1", target]
    process = subprocess.Popen(
        command,
        env=workflow_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill reaches the job too
    )
    deadline = time.time() + 600
    while True:  # one shard committed, the other's job started (its log exists)
        done = [index for index in (0, 1) if shards[index].exists()]
        if len(done) == 1 and (logs / f"{1 - done[0]}.log").exists():
            break
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.time() < deadline
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    kept, killed = shards[done[0]], shards[1 - done[0]]
    assert not killed.exists()
    committed = kept.stat().st_mtime_ns

    run_snakemake(tmp_path, configfile, "--unlock")  # what a user does after a SIGKILL
    dry_run = run_snakemake(tmp_path, configfile, "-n", target).stdout
    print(dry_run[dry_run.find("Job stats") :].split("\n\n")[0])
    counts = job_counts(dry_run)
    assert counts == {"decode_shard": 1, "decode_translate": 1}
    run_snakemake(tmp_path, configfile, target)
    assert kept.stat().st_mtime_ns == committed
    assert len(read_lines(tmp_path / target)) == len(
        read_lines(tmp_path / "results/download/testsets/django-test/eng_Latn-deu_Latn.source.txt")
    )
