"""Checkpoint manifests, resuming from the newest valid checkpoint, rotation by fingerprint,
per-process random states, and the durable-write ground floor (run lock, sweep, commit).

    .venv/bin/pytest -q tests/unit/finetune/test_checkpoints.py

Real files and real processes; the training runs that kill and resume live in
tests/e2e/test_faults.py.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import time

import pytest

from bayling_pipeline import durable
from bayling_pipeline.finetune import checkpoints


def _checkpoint(root, step: int, fingerprint: str, payload: bytes = b"weights") -> object:
    folder = root / f"step-{step:08d}"
    folder.mkdir(parents=True)
    (folder / "trainable.pt").write_bytes(payload * 100)
    (folder / "rng_0.pt").write_bytes(b"rng")
    (folder / "state.json").write_text(json.dumps({"step": step, "fingerprint": fingerprint}))
    checkpoints.write_manifest(folder, step, fingerprint)
    return folder


def test_manifest_names_a_truncated_or_changed_file(tmp_path):
    folder = _checkpoint(tmp_path, 2, "fp")
    manifest = checkpoints.read_manifest(folder)
    assert set(manifest["files"]) == {"trainable.pt", "rng_0.pt", "state.json"}
    assert checkpoints.problem(folder, manifest) is None
    data = (folder / "trainable.pt").read_bytes()
    (folder / "trainable.pt").write_bytes(data[:10])
    assert "trainable.pt has 10 bytes, 700 were written" in checkpoints.problem(folder, manifest)
    (folder / "trainable.pt").write_bytes(b"X" + data[1:])  # same size, other bytes
    assert "sha256 differs" in checkpoints.problem(folder, manifest)
    (folder / "rng_0.pt").unlink()
    (folder / "trainable.pt").write_bytes(data)
    assert checkpoints.problem(folder, manifest) == "rng_0.pt is missing"


@pytest.mark.parametrize(
    "damage,reason",
    [
        (lambda f: (f / "trainable.pt").write_bytes(b""), "trainable.pt has 0 bytes"),
        (lambda f: (f / "state.json").write_text("{"), "state.json has 1 bytes"),
        (lambda f: (f / "manifest.json").write_text(""), "manifest is missing or unreadable"),
        (lambda f: (f / "manifest.json").unlink(), "manifest is missing or unreadable"),
    ],
    ids=["zero-length-weights", "torn-state", "empty-manifest", "no-manifest"],
)
def test_latest_skips_a_corrupt_newest_checkpoint_and_names_it(tmp_path, caplog, damage, reason):
    older = _checkpoint(tmp_path, 2, "fp")
    newest = _checkpoint(tmp_path, 4, "fp")
    damage(newest)
    with caplog.at_level("WARNING"):
        assert checkpoints.latest(tmp_path, "fp") == older
    assert str(newest) in caplog.text and reason in caplog.text


def test_latest_ignores_other_fingerprints_and_unmanifested_folders(tmp_path, caplog):
    _checkpoint(tmp_path, 2, "other")
    (tmp_path / "step-00000003").mkdir()  # a checkpoint of the format before manifests
    (tmp_path / ".step-00000005.tmp").mkdir()  # a killed job's temporary
    with caplog.at_level("WARNING"):
        assert checkpoints.latest(tmp_path, "fp") is None
    assert "another recipe" in caplog.text


def test_rotation_keeps_the_newest_of_this_fingerprint_only(tmp_path):
    """After a kill, a changed recipe (smaller batches) writes steps below the old run's:
    rotation must not delete what it has just written."""
    for step in (3, 4, 5, 6):
        _checkpoint(tmp_path, step, "old-recipe")
    mine = [_checkpoint(tmp_path, step, "new-recipe") for step in (1, 2)]
    (tmp_path / "step-00000007").mkdir()  # unreadable manifest: never resumable
    checkpoints.rotate(tmp_path, "new-recipe", keep=2)
    assert all(p.is_dir() for p in mine)
    _checkpoint(tmp_path, 0, "new-recipe")  # an older step of this recipe: rotated away
    checkpoints.rotate(tmp_path, "new-recipe", keep=2)
    names = sorted(p.name for p in checkpoints.step_dirs(tmp_path))
    assert names == [f"step-{s:08d}" for s in (1, 2, 3, 4, 5, 6)]


def test_fingerprint_covers_settings_files_and_model_folder(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "tokenizer.json").write_text("{}")
    train, dev = tmp_path / "train.jsonl", tmp_path / "dev.jsonl"
    train.write_text("a\n")
    dev.write_text("b\n")

    def fp(settings=None):
        return checkpoints.fingerprint(settings or {"p": "fp32"}, (train, dev), (model,))

    base = fp()
    assert fp() == base
    assert fp({"p": "bf16"}) != base
    dev.write_text("c\n")
    assert fp() != base
    dev.write_text("b\n")
    (model / "tokenizer.json").write_text('{"x": 1}')
    assert fp() != base


def test_random_states_round_trip_through_weights_only_load(tmp_path):
    import torch

    random.seed(11)
    torch.manual_seed(11)
    torch.save(checkpoints.rng_state(), tmp_path / "rng_0.pt")
    expected = (random.random(), torch.rand(3))
    random.seed(0)
    torch.manual_seed(0)
    checkpoints.set_rng_state(torch.load(tmp_path / "rng_0.pt", weights_only=True))
    assert random.random() == expected[0] and torch.equal(torch.rand(3), expected[1])


# --- durable: run lock, sweep, commit ------------------------------------------------------


def test_run_lock_refuses_a_live_holder_and_takes_over_a_dead_ones(tmp_path, caplog):
    holder = subprocess.Popen(["sleep", "60"])
    try:
        lock = tmp_path / ".run.lock"
        lock.write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname(), "job": "42"}))
        with pytest.raises(durable.LockedError, match=f"pid {holder.pid} on .*job 42"):
            durable.RunLock(tmp_path).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with caplog.at_level("WARNING"), durable.RunLock(tmp_path):
        held = json.loads(lock.read_text())
        assert held["pid"] == os.getpid() and held["host"] == socket.gethostname()
    assert f"its process {holder.pid} is gone" in caplog.text
    assert not lock.exists(), "released on exit"


def test_run_lock_of_another_host_is_stale_only_when_not_refreshed(tmp_path):
    lock = tmp_path / ".run.lock"
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere-node", "job": None}))
    with pytest.raises(durable.LockedError, match="elsewhere-node"):
        durable.RunLock(tmp_path, stale_seconds=60).acquire()
    old = time.time() - 120
    os.utime(lock, (old, old))
    durable.RunLock(tmp_path, stale_seconds=60).acquire().release()
    lock.write_text("{torn")  # a crash while writing it: nobody holds it
    durable.RunLock(tmp_path).acquire().release()


def test_sweep_removes_only_matching_leftovers(tmp_path):
    (tmp_path / ".step-00000002.tmp").mkdir()
    (tmp_path / ".step-00000002.tmp" / "trainable.pt").write_bytes(b"x" * 10)
    (tmp_path / ".adapter.abc.tmp").write_text("x")
    (tmp_path / "step-00000001").mkdir()
    removed = durable.sweep(tmp_path, ".step-*")
    assert [p.name for p in removed] == [".step-00000002.tmp"]
    assert (tmp_path / ".adapter.abc.tmp").exists() and (tmp_path / "step-00000001").exists()


def test_commit_replaces_a_folder_whole_and_unique_names_differ(tmp_path):
    final = tmp_path / "step-00000002"
    final.mkdir()
    (final / "old.pt").write_text("old")
    staged = durable.unique_temp(final)
    assert staged != durable.unique_temp(final) and staged.name.startswith(".step-00000002.")
    staged.mkdir()
    (staged / "new.pt").write_text("new")
    durable.commit(staged, final)
    assert [p.name for p in final.iterdir()] == ["new.pt"] and not staged.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["step-00000002"]
