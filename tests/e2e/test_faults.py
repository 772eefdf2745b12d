"""The fault matrix of docs/reliability.md: one test per row, each a real fault on real
processes (kill -9, truncated files, a racing second process, a loopback server that
misbehaves), with the real tiny SmolLM2 model and no mocks.

    .venv/bin/python -m pytest -v tests/e2e/test_faults.py

Each row asserts the outcome the page promises: the rerun falls back or restarts, finishes,
and equals an uninterrupted run; nothing wrong is locked in; nothing is lost.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT

from bayling_pipeline.finetune import checkpoints
from bayling_pipeline.io import read_json, write_json, write_jsonl

pytestmark = pytest.mark.e2e

PACKAGE_PATH = str(ROOT / "workflow_scripts")
TEXT = "".join(f"Zeile {i}: Grüße {i * 7}\n" for i in range(20000)).encode()  # a download


# --- training jobs ---------------------------------------------------------------------------


def _dialogues(n: int) -> list[dict]:
    pairs = [
        ("Save", "Speichern"),
        ("Delete the selected user", "Den ausgewählten Benutzer löschen"),
        ("Log out", "Abmelden"),
        ("Change your password now", "Ändern Sie jetzt Ihr Passwort"),
    ]
    return [
        {
            "messages": [
                {"role": "user", "content": f"Translate into German: {pairs[i % 4][0]}"},
                {"role": "assistant", "content": pairs[i % 4][1]},
            ]
        }
        for i in range(n)
    ]


def _recipe(**extra) -> dict:
    # dropout > 0: every step draws random masks, so a resume that restores the wrong
    # random state (another process's, or none) ends elsewhere than an uninterrupted run
    return {
        "max_steps": 5,
        "batch_size": 2,
        "warmup_steps": 0,
        "seed": 5,
        "log_every": 1,
        "max_length": 64,
        "dev_examples": 2,
        "checkpoint_every": 1,
        "lora": {"r": 2, "alpha": 4, "dropout": 0.1, "target_modules": ["q_proj"]},
        **extra,
    }


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("train-data")
    write_jsonl(folder / "train.jsonl", _dialogues(24))
    write_jsonl(folder / "dev.jsonl", _dialogues(2))
    return folder


def _command(model, data: Path, recipe_path: Path, out: Path, processes: int) -> list[str]:
    arguments = [
        *("-m", "bayling_pipeline.finetune.train", "--base-model", str(model)),
        *("--train", str(data / "train.jsonl"), "--dev", str(data / "dev.jsonl")),
        *("--recipe", str(recipe_path), "--adapter", str(out / "adapter")),
        *("--record", str(out / "training.json"), "--loss-curve", str(out / "loss.tsv")),
        *("--checkpoints", str(out / "checkpoints"), "--threads", "1"),
    ]
    if processes == 1:
        return [sys.executable, *arguments]
    accelerate = Path(sys.executable).parent / "accelerate"
    return [
        str(accelerate),
        "launch",
        "--multi_gpu",  # the torch.distributed launcher; ACCELERATE_USE_CPU keeps it on CPU
        f"--num_processes={processes}",
        "--num_machines=1",
        "--mixed_precision=no",
        "--dynamo_backend=no",
        "--main_process_port=0",
        *arguments,
    ]


def _env() -> dict:
    return {
        **os.environ,
        "PYTHONPATH": PACKAGE_PATH,
        "ACCELERATE_USE_CPU": "true",
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
    }


def _train(model, data, recipe: dict, out: Path, processes: int = 1, kill_at=None) -> dict | None:
    """Run a training job in its own process(es); with ``kill_at`` (a predicate on the
    checkpoint folder), SIGKILL the whole process group as soon as it holds. Returns the
    training record of a completed job, None for a killed one."""
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "recipe.json", recipe)
    command = _command(model, data, out / "recipe.json", out, processes)
    log = open(out / f"job-{time.time_ns()}.log", "w")  # noqa: SIM115 (closed below)
    job = subprocess.Popen(command, env=_env(), stderr=log, stdout=log)
    try:
        deadline = time.time() + 600
        while job.poll() is None:
            if kill_at is not None and kill_at(out / "checkpoints"):
                _kill_tree(job.pid)
                job.wait()
                return None
            assert time.time() < deadline, "the training job hangs"
            time.sleep(0.01)
    finally:
        log.close()
    text = Path(log.name).read_text()
    assert job.returncode == 0, text[-4000:]
    assert kill_at is None, f"the job finished before the fault was injected:\n{text[-2000:]}"
    return {**read_json(out / "training.json"), "log": text}


def _kill_tree(pid: int) -> None:
    """SIGKILL a job and every process under it at once (torchrun's workers leave the
    launcher's process group, so killing the group alone would leave them training)."""
    import psutil

    job = psutil.Process(pid)
    for process in [*job.children(recursive=True), job]:
        try:
            process.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass


def _step_seen(step: int):
    """Kill as soon as checkpoint ``step`` is being written (its temporary) or done."""

    def seen(folder: Path) -> bool:
        return (folder / f".step-{step:08d}.tmp").exists() or (folder / f"step-{step:08d}").exists()

    return seen


def _same_result(ours: dict, theirs: dict, out: Path, reference: Path, tolerance=1e-5) -> None:
    from safetensors.torch import load_file

    assert [p["step"] for p in ours["loss_curve"]] == [p["step"] for p in theirs["loss_curve"]]
    assert [round(p["loss"], 5) for p in ours["loss_curve"]] == [
        round(p["loss"], 5) for p in theirs["loss_curve"]
    ]
    mine = load_file(out / "adapter" / "adapter_model.safetensors")
    other = load_file(reference / "adapter" / "adapter_model.safetensors")
    assert mine.keys() == other.keys()
    assert all((mine[k] - other[k]).abs().max() < tolerance for k in mine)


@pytest.fixture(scope="module")
def uninterrupted(smollm2_dir, data, tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("uninterrupted")
    return _train(smollm2_dir, data, _recipe(), out), out


def test_kill_during_checkpoint_write_then_corrupt_newest_falls_back(
    smollm2_dir, data, uninterrupted, tmp_path
):
    """Row: kill -9 while checkpoint 3 is written, then the newest kept checkpoint
    truncated (as a node crash would leave it): the rerun names and skips it, resumes from
    the older one, sweeps the killed job's temporaries and equals an uninterrupted run."""
    reference, reference_out = uninterrupted
    out = tmp_path / "killed"
    assert _train(smollm2_dir, data, _recipe(), out, kill_at=_step_seen(3)) is None
    folder = out / "checkpoints"
    kept = checkpoints.step_dirs(folder)
    assert len(kept) == 2, kept
    older, newest = kept
    weights = newest / "trainable.pt"
    weights.write_bytes(weights.read_bytes()[:100])  # truncated
    resumed = _train(smollm2_dir, data, _recipe(), out)
    assert f"skipping corrupt checkpoint {newest}: trainable.pt has 100 bytes" in resumed["log"]
    assert f"resuming from checkpoint {older}" in resumed["log"]
    assert "taking over the run lock" in resumed["log"]  # the killed job's, pid gone
    _same_result(resumed, reference, out, reference_out)
    assert not folder.exists(), "checkpoints are removed once the adapter is written"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_changed_recipe_after_a_kill_keeps_its_checkpoints_across_a_second_kill(
    smollm2_dir, data, tmp_path
):
    """Row: killed at step 4; rerun with a changed recipe (smaller batches, as after running
    out of memory) killed again at its step 3: its own checkpoints 1-2 survive the old
    recipe's newer step numbers, and the third run resumes from its step 2."""
    out = tmp_path / "run"
    folder = out / "checkpoints"
    first, changed = _recipe(max_steps=6), _recipe(max_steps=6, batch_size=1)
    assert _train(smollm2_dir, data, first, out, kill_at=_step_seen(5)) is None
    old = {checkpoints.read_manifest(p)["fingerprint"] for p in checkpoints.step_dirs(folder)}
    assert "step-00000004" in {p.name for p in checkpoints.step_dirs(folder)}

    def new_step_3(folder: Path) -> bool:  # the old recipe's step-00000003 is there already
        manifest = checkpoints.read_manifest(folder / "step-00000003")
        return (folder / ".step-00000003.tmp").exists() or (
            manifest is not None and manifest["fingerprint"] not in old
        )

    assert _train(smollm2_dir, data, changed, out, kill_at=new_step_3) is None
    mine = [
        p.name
        for p in checkpoints.step_dirs(folder)
        if checkpoints.read_manifest(p)["fingerprint"] not in old
    ]
    assert "step-00000002" in mine, "rotation deleted the checkpoints it had just written"
    resumed = _train(smollm2_dir, data, changed, out)
    assert f"resuming from checkpoint {folder / mine[-1]}" in resumed["log"]
    assert [p["step"] for p in resumed["loss_curve"]] == list(range(1, 7))
    assert resumed["recipe"]["batch_size"] == 1


def test_two_process_run_killed_and_resumed_equals_an_uninterrupted_one(
    smollm2_dir, data, tmp_path
):
    """Row: a 2-process data-parallel run (gloo on the CPU) killed with every rank after
    checkpoint 2 resumes each rank with its own random state (rng_0.pt, rng_1.pt) and
    ends where the uninterrupted 2-process run ends."""
    recipe = _recipe(max_steps=4)
    reference_out = tmp_path / "reference"
    reference = _train(smollm2_dir, data, recipe, reference_out, processes=2)
    out = tmp_path / "killed"
    assert _train(smollm2_dir, data, recipe, out, processes=2, kill_at=_step_seen(3)) is None
    newest = checkpoints.step_dirs(out / "checkpoints")[-1]
    assert {"rng_0.pt", "rng_1.pt"} <= {p.name for p in newest.iterdir()}
    resumed = _train(smollm2_dir, data, recipe, out, processes=2)
    assert "resuming from checkpoint" in resumed["log"]
    assert resumed["processes"] == 2
    _same_result(resumed, reference, out, reference_out)


def test_a_second_live_job_on_the_same_checkpoints_stops_naming_the_first(
    smollm2_dir, data, tmp_path
):
    """Row: a duplicate submission (Snakemake restarted while its job still runs) stops
    at once naming the live job; the first job finishes undisturbed."""
    out = tmp_path / "run"
    first = subprocess.Popen(
        _command(smollm2_dir, data, _write_recipe(out, _recipe(max_steps=8)), out, 1),
        env=_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 600
    while not (out / "checkpoints" / "step-00000001").exists():
        assert first.poll() is None and time.time() < deadline, first.stderr.read()[-3000:]
        time.sleep(0.05)
    # the first job paused (alive, holding the lock) while the second starts: otherwise a
    # loaded machine may let it finish its 8 steps during the second's model load, and the
    # second would rightly find the folder free
    os.kill(first.pid, signal.SIGSTOP)
    try:
        second = subprocess.run(
            _command(smollm2_dir, data, out / "recipe.json", out, 1),
            env=_env(),
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        os.kill(first.pid, signal.SIGCONT)
    assert second.returncode != 0
    assert f"is in use by pid {first.pid}" in second.stderr
    assert first.wait(timeout=600) == 0, first.stderr.read()[-3000:]
    assert [p["step"] for p in read_json(out / "training.json")["loss_curve"]] == list(range(1, 9))


def _write_recipe(out: Path, recipe: dict) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "recipe.json", recipe)
    return out / "recipe.json"


# --- downloads: two processes, one cache -------------------------------------------------------


def _racing(tmp_path: Path, code: str, extra_env: dict) -> list[subprocess.CompletedProcess]:
    """Start two real processes running ``code`` at once; wait for both."""
    env = {**os.environ, "PYTHONPATH": PACKAGE_PATH, **extra_env}
    env.pop("HF_HUB_OFFLINE", None)
    jobs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )  # fmt: skip
        for _ in range(2)
    ]
    return [subprocess.CompletedProcess(j.args, j.wait(60), *j.communicate()) for j in jobs]


def _cache_leftovers(cache: Path) -> list[str]:
    return sorted(
        p.name for p in cache.rglob("*") if p.is_file() and p.name.startswith(".")
        and not p.name.endswith(".flock")
    )  # fmt: skip


def test_two_processes_fetching_one_url_make_one_transfer(tmp_path):
    """Row: two download jobs want the same unpinned URL at once (two Flores directions
    sharing a language): one transfer, the right file in both, one sane lock entry."""
    import hashlib
    import json

    from fileserver import FaultServer

    www = tmp_path / "www"
    (www / "data").mkdir(parents=True)
    (www / "data" / "de.txt").write_bytes(TEXT)
    with FaultServer(www, slow_seconds=1.0) as server:
        server.faults["/data/de.txt"] = ["slow"]  # the first transfer lasts: they overlap
        url = server.url + "data/de.txt"
        code = (
            "from bayling_pipeline.download import fetch\n"
            "settings = fetch.Settings(cache='cache', lock='lock.json', timeout=10)\n"
            f"with fetch.using(settings):\n    print(fetch.fetch({url!r}))\n"
        )
        results = _racing(tmp_path, code, {})
        gets = [path for path, _ in server.requests]
    assert all(r.returncode == 0 for r in results), [r.stderr[-2000:] for r in results]
    assert gets == ["/data/de.txt"], "one transfer"
    (path,) = {r.stdout.strip() for r in results}
    assert (tmp_path / path).read_bytes() == TEXT
    lock = json.loads((tmp_path / "lock.json").read_text())
    assert lock == {url: {"sha256": hashlib.sha256(TEXT).hexdigest(), "bytes": len(TEXT)}}
    assert _cache_leftovers(tmp_path / "cache") == []


def test_two_processes_fetching_one_hub_file_copy_it_once(tmp_path):
    """Row: the same through the Hugging Face hub client (hf_file, pointed at the loopback
    server by HF_ENDPOINT): one transfer, one complete copy, one lock entry."""
    import hashlib
    import json

    from fileserver import FaultServer

    revision = "a" * 40
    www = tmp_path / "www"
    hub_path = f"datasets/org/data/resolve/{revision}/de.txt"
    (www / hub_path).parent.mkdir(parents=True)
    (www / hub_path).write_bytes(TEXT)
    with FaultServer(www, slow_seconds=1.0) as server:
        server.faults[f"/{hub_path}"] = ["slow"]
        code = (
            "from bayling_pipeline.download import fetch\n"
            "settings = fetch.Settings(cache='cache', lock='lock.json', timeout=10)\n"
            "with fetch.using(settings):\n"
            f"    print(fetch.hf_file('org/data', 'de.txt', {revision!r}))\n"
        )
        results = _racing(tmp_path, code, {"HF_ENDPOINT": server.url.rstrip("/")})
        gets = [path for path, _ in server.requests if path.endswith("de.txt")]
    assert all(r.returncode == 0 for r in results), [r.stderr[-2000:] for r in results]
    assert gets == [f"/{hub_path}"], "one transfer"
    (path,) = {r.stdout.strip() for r in results}
    assert (tmp_path / path).read_bytes() == TEXT
    key = f"hf://datasets/org/data@{revision}/de.txt"
    assert json.loads((tmp_path / "lock.json").read_text())[key]["sha256"] == (
        hashlib.sha256(TEXT).hexdigest()
    )
    assert _cache_leftovers(tmp_path / "cache") == []
