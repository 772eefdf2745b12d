"""Training checkpoints that survive a killed job, and resuming from the newest complete one.

Used by :mod:`bayling_pipeline.finetune.loop` (``python -m bayling_pipeline.finetune ...
--checkpoints DIR``). A checkpoint is a directory ``step-00000050/`` holding the trainable
weights (the adapter, or every weight for full fine-tuning; FSDP/DeepSpeed shards through
accelerate), optimizer, scheduler, random-number states and the loss curve so far. It is
written under a temporary name and renamed when complete, so a job killed while writing
one leaves only a dot-prefixed temporary that is never read. Each checkpoint carries a
fingerprint of the recipe, the process count and the training data: after a change to
any, old checkpoints are ignored.
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

from bayling_pipeline.io import atomic_path, read_json, write_json

log = logging.getLogger(__name__)

STEP_DIR = re.compile(r"^step-(\d{8})$")


def fingerprint(recipe: dict, *files) -> str:
    """Hash of the resolved recipe and the bytes of the given input files."""
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode())
    for path in files:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _trainable_state(model) -> dict:
    return {name: p.detach().cpu() for name, p in model.named_parameters() if p.requires_grad}


def _is_sharded(accelerator) -> bool:
    from accelerate.utils import DistributedType

    return accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)


def save(
    root, step: int, accelerator, wrapper, optimizer, scheduler, state: dict, keep: int = 2
) -> Path:
    """Write checkpoint ``step`` atomically under ``root``; keep the newest ``keep``.

    Every process calls this. Unsharded (one process, DDP), the main process writes the
    trainable weights -- the adapter, or every weight for full fine-tuning -- and the
    optimizer. Sharded (FSDP, DeepSpeed), each process writes its shards through
    ``accelerator.save_state`` into a shared dot-prefixed temporary that the main process
    renames once all are done.
    """
    import torch

    root = Path(root)
    final = root / f"step-{step:08d}"
    if _is_sharded(accelerator):
        tmp = root / f".{final.name}.sharded.tmp"
        if accelerator.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)  # a leftover of a killed job
            tmp.mkdir(parents=True)
        accelerator.wait_for_everyone()
        accelerator.save_state(str(tmp))
        accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        with atomic_path(final) as staged:
            if _is_sharded(accelerator):
                tmp.rename(staged)
            else:
                staged.mkdir(parents=True)
                model = accelerator.unwrap_model(wrapper).model
                torch.save(_trainable_state(model), staged / "trainable.pt")
                torch.save(optimizer.state_dict(), staged / "optimizer.pt")
            torch.save(scheduler.state_dict(), staged / "scheduler.pt")
            rng = {"python": random.getstate(), "torch": torch.get_rng_state()}
            if torch.cuda.is_available():
                rng["cuda"] = torch.cuda.get_rng_state_all()
            torch.save(rng, staged / "rng.pt")
            write_json(staged / "state.json", {**state, "step": step})  # last: completeness
        for old in complete_checkpoints(root)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def complete_checkpoints(root) -> list[Path]:
    """Complete checkpoint directories under ``root``, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if STEP_DIR.match(p.name) and (p / "state.json").is_file()]
    return sorted(found, key=lambda p: p.name)


def latest(root, expected_fingerprint: str) -> Path | None:
    """The newest complete checkpoint made with the same recipe and data, if any."""
    for path in reversed(complete_checkpoints(root)):
        if read_json(path / "state.json").get("fingerprint") == expected_fingerprint:
            return path
        log.warning("ignoring %s: made with another recipe or other data", path)
    return None


def restore(path, accelerator, wrapper, optimizer, scheduler) -> dict:
    """Load a checkpoint into the live objects, on every process; return its saved state
    (step, curve...)."""
    import torch

    path = Path(path)
    if _is_sharded(accelerator):
        accelerator.load_state(str(path))
    else:
        model = accelerator.unwrap_model(wrapper).model
        weights = torch.load(path / "trainable.pt", map_location="cpu")
        missing = set(weights) - {n for n, p in model.named_parameters() if p.requires_grad}
        if missing:
            raise ValueError(
                f"{path}: checkpoint has parameters the model lacks: {sorted(missing)[:3]}"
            )
        model.load_state_dict(weights, strict=False)
        optimizer.load_state_dict(torch.load(path / "optimizer.pt", map_location="cpu"))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt"))
    rng = torch.load(path / "rng.pt", weights_only=False)
    random.setstate(rng["python"])
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    return read_json(path / "state.json")
