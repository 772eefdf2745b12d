"""Training checkpoints that survive a killed job or a crashed node, and resuming from the
newest valid one.

Used by :mod:`bayling_pipeline.finetune.loop` (``python -m bayling_pipeline.finetune ...
--checkpoints DIR``). A checkpoint is a directory ``step-00000050/`` holding the trainable
weights (the adapter, or every weight for full fine-tuning; FSDP/DeepSpeed shards through
accelerate), optimizer, scheduler, one random-number state per process
(``rng_<rank>.pt``), the loss curve so far and, written last, ``manifest.json``: the size
and sha256 of every other file, with the run's fingerprint. It is written under a
dot-prefixed temporary name, flushed to disk (files, then folder) and renamed, so a job
killed while writing one leaves only a temporary that is never read (and that the next
job sweeps), and a node crash cannot leave a named checkpoint with a torn file.

Resuming takes the newest checkpoint whose manifest matches its files and whose
fingerprint is this run's; a corrupt or truncated one is skipped, named in the log, and
the older one kept beside it is used. The fingerprint covers everything that changes the
result: the resolved recipe and precision, the process count, the base model's files
(configs and tokenizer by content, weights by name, size and time), the training and dev
files and the library versions. Rotation keeps the newest ``keep`` checkpoints *of this
fingerprint*: those of another recipe never push out the ones just written.
The data position needs no storage: the batch order is a pure function of the seed, so
resuming replays the order up to the saved step without computing anything.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import shutil
from pathlib import Path

from bayling_pipeline import durable
from bayling_pipeline.io import DataError, read_json, write_json

log = logging.getLogger(__name__)

STEP_DIR = re.compile(r"^step-(\d{8})$")
MANIFEST = "manifest.json"
#: Base-model files up to this size enter the fingerprint by content (configs, tokenizer);
#: larger ones (weights) by name, size and modification time.
HASHED_BYTES = 16 << 20


def _hash_file(digest, path: Path) -> None:
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    _hash_file(digest, Path(path))
    return digest.hexdigest()


def fingerprint(settings: dict, files=(), folders=()) -> str:
    """Hash of ``settings`` (JSON), the bytes of ``files``, and the identity of every file
    in ``folders``: content up to ``HASHED_BYTES``, else name, size and mtime."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for path in files:
        digest.update(f"\nfile {Path(path).name}\n".encode())
        _hash_file(digest, Path(path))
    for folder in folders:
        for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
            stat = path.stat()
            digest.update(f"\n{path.relative_to(folder)} {stat.st_size}\n".encode())
            if stat.st_size <= HASHED_BYTES:
                _hash_file(digest, path)
            else:
                digest.update(str(stat.st_mtime_ns).encode())
    return digest.hexdigest()


def _trainable_state(model) -> dict:
    return {name: p.detach().cpu() for name, p in model.named_parameters() if p.requires_grad}


def _is_sharded(accelerator) -> bool:
    from accelerate.utils import DistributedType

    return accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)


def rng_state() -> dict:
    """This process's random-number states as tensors and plain values (loadable with
    ``torch.load(weights_only=True)``)."""
    import torch

    version, internal, gauss = random.getstate()
    state = {"python": [version, list(internal), gauss], "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` saved."""
    import torch

    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(
    root, step: int, accelerator, wrapper, optimizer, scheduler, state: dict, keep: int = 2
) -> Path:
    """Write checkpoint ``step`` durably under ``root``; keep the newest ``keep`` of this
    fingerprint (``state["fingerprint"]``).

    Every process calls this and writes its random-number state into a shared temporary
    (sharded runs, FSDP or DeepSpeed: its shards too, through ``accelerator.save_state``);
    the main process adds the trainable weights and optimizer (unsharded), scheduler,
    state and, last, the manifest, then renames the temporary into place. The run lock of
    ``root`` (see :mod:`bayling_pipeline.finetune.train`) makes the temporary's fixed name
    one job's own.
    """
    import torch

    root = Path(root)
    final = root / f"step-{step:08d}"
    staged = root / f".{final.name}.tmp"
    if accelerator.is_main_process:
        shutil.rmtree(staged, ignore_errors=True)  # a leftover of a killed job
        staged.mkdir(parents=True)
    accelerator.wait_for_everyone()
    if _is_sharded(accelerator):
        accelerator.save_state(str(staged))
    torch.save(rng_state(), staged / f"rng_{accelerator.process_index}.pt")
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        if not _is_sharded(accelerator):
            model = accelerator.unwrap_model(wrapper).model
            torch.save(_trainable_state(model), staged / "trainable.pt")
            torch.save(optimizer.state_dict(), staged / "optimizer.pt")
        torch.save(scheduler.state_dict(), staged / "scheduler.pt")
        write_json(staged / "state.json", {**state, "step": step})
        write_manifest(staged, step, state["fingerprint"])  # last: completeness
        durable.commit(staged, final)
        rotate(root, state["fingerprint"], keep)
    accelerator.wait_for_everyone()
    return final


def write_manifest(folder, step: int, fingerprint_: str | None) -> None:
    """Record the size and sha256 of every file under ``folder``."""
    folder = Path(folder)
    files = {
        str(p.relative_to(folder)): {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    write_json(folder / MANIFEST, {"step": step, "fingerprint": fingerprint_, "files": files})


def read_manifest(path) -> dict | None:
    """The manifest of checkpoint ``path``, or None when missing or unreadable."""
    try:
        manifest = read_json(Path(path) / MANIFEST)
    except (FileNotFoundError, DataError):
        return None
    return manifest if isinstance(manifest, dict) and "files" in manifest else None


def problem(path, manifest: dict) -> str | None:
    """Why checkpoint ``path`` does not match its manifest (a missing, truncated or
    changed file), or None when every file is as written."""
    path = Path(path)
    for name, expected in sorted(manifest["files"].items()):
        file = path / name
        if not file.is_file():
            return f"{name} is missing"
        if file.stat().st_size != expected["bytes"]:
            return f"{name} has {file.stat().st_size} bytes, {expected['bytes']} were written"
        if sha256_file(file) != expected["sha256"]:
            return f"{name} changed since it was written (sha256 differs)"
    return None


def step_dirs(root) -> list[Path]:
    """Checkpoint directories under ``root`` (complete or not), oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if STEP_DIR.match(p.name)), key=lambda p: p.name)


def latest(root, expected_fingerprint: str) -> Path | None:
    """The newest valid checkpoint made with this fingerprint, if any; each newer one
    skipped (corrupt, or another recipe) is named in the log."""
    for path in reversed(step_dirs(root)):
        manifest = read_manifest(path)
        if manifest is None:
            log.warning("skipping checkpoint %s: its manifest is missing or unreadable", path)
            continue
        if manifest.get("fingerprint") != expected_fingerprint:
            log.warning("ignoring %s: made with another recipe, data or libraries", path)
            continue
        why = problem(path, manifest)
        if why is not None:
            log.warning("skipping corrupt checkpoint %s: %s; trying an older one", path, why)
            continue
        return path
    return None


def rotate(root, fingerprint_: str, keep: int) -> None:
    """Remove all but the newest ``keep`` checkpoints of ``fingerprint_``, and those whose
    manifest is unreadable; checkpoints of other fingerprints stay."""
    mine = []
    for path in step_dirs(root):
        manifest = read_manifest(path)
        if manifest is None:
            log.warning("removing checkpoint %s: its manifest is missing or unreadable", path)
            shutil.rmtree(path, ignore_errors=True)
        elif manifest.get("fingerprint") == fingerprint_:
            mine.append(path)
    for old in mine[: max(len(mine) - keep, 0)]:
        shutil.rmtree(old, ignore_errors=True)


def sweep(root) -> None:
    """Remove the temporaries a killed job left under ``root`` (call under its run lock)."""
    durable.sweep(root, ".step-*")


def restore(path, accelerator, wrapper, optimizer, scheduler) -> dict:
    """Load a checkpoint into the live objects, on every process (each its own random
    states); return its saved state (step, curve...)."""
    import torch

    path = Path(path)
    if _is_sharded(accelerator):
        accelerator.load_state(str(path))
    else:
        model = accelerator.unwrap_model(wrapper).model
        weights = torch.load(path / "trainable.pt", map_location="cpu", weights_only=True)
        missing = set(weights) - {n for n, p in model.named_parameters() if p.requires_grad}
        if missing:
            raise ValueError(
                f"{path}: checkpoint has parameters the model lacks: {sorted(missing)[:3]}"
            )
        model.load_state_dict(weights, strict=False)
        optimizer.load_state_dict(
            torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True)
        )
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
    rank = accelerator.process_index
    set_rng_state(torch.load(path / f"rng_{rank}.pt", weights_only=True))
    return read_json(path / "state.json")
