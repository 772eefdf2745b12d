"""The training loop of a fine-tuning run: resume, optimizer steps, loss, checkpoints.

Steps of :func:`bayling_pipeline.finetune.train.train` (``python -m
bayling_pipeline.finetune ...``) after :func:`bayling_pipeline.finetune.setup.set_up`:
:func:`resume` starts from the newest checkpoint (replaying the data order up to it) or
from scratch, :func:`run_steps` trains to ``max_steps``, checkpointing every
``checkpoint_every`` steps. The loss of a step is the mean over all its assistant tokens,
across micro-batches and processes.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bayling_pipeline.finetune import batching, checkpoints
from bayling_pipeline.prompts.chat import IGNORE_INDEX

if TYPE_CHECKING:
    from bayling_pipeline.finetune.setup import Run

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """Where a run stands: filled by :func:`resume` and :func:`run_steps`."""

    fingerprint: str | None  # train.run_fingerprint; None without checkpoints
    first_step: int
    curve: list[dict]  # one point per step: step, loss, tokens, non_padding, lr, seconds
    dev_before: float
    started: float = 0.0  # time.time() of step 0 (earlier when resumed)
    first_ids: list | None = None  # examples of this process's first step in this job
    dev_after: float | None = None


def mean_loss(loss_fn, examples: list[dict], batch_size: int, pad_id: int, device) -> float:
    """Token-averaged loss over ``examples`` (assistant tokens only).

    ``loss_fn(ids, mask, labels)`` returns the summed loss of a padded batch.
    """
    import torch

    total, tokens = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(examples), batch_size):
            ids, mask, labels = batching.collate(examples[start : start + batch_size], pad_id)
            total += loss_fn(ids.to(device), mask.to(device), labels.to(device)).item()
            tokens += int((labels[:, 1:] != IGNORE_INDEX).sum())
    return total / max(tokens, 1)


def dev_loss(run: Run) -> float:
    """The mean loss on the run's dev examples, in eval mode; leaves the model training."""
    wrapper = run.wrapper
    wrapper.eval()
    value = mean_loss(wrapper, run.dev_examples, run.recipe["batch_size"], run.pad_id, run.device)
    wrapper.train()
    return value


def _newest_valid(run: Run, checkpoint_dir, fingerprint: str):
    """The checkpoint every process resumes from: the main process's choice (it alone
    verifies the files), broadcast so that no two processes pick different ones."""
    from accelerate.utils import broadcast_object_list

    chosen = [None]
    if run.accelerator.is_main_process:
        found = checkpoints.latest(checkpoint_dir, fingerprint)
        chosen = [str(found) if found is not None else None]
    if run.processes > 1:
        broadcast_object_list(chosen)
    return Path(chosen[0]) if chosen[0] is not None else None


def resume(run: Run, checkpoint_dir, fingerprint: str | None = None) -> Progress:
    """Restore the newest valid checkpoint made with the same ``fingerprint``
    (``train.run_fingerprint``), and replay the data order up to it; without one, start
    at step 1 after a dev loss."""
    recipe = run.recipe
    resume_from = None
    if checkpoint_dir is not None:
        resume_from = _newest_valid(run, checkpoint_dir, fingerprint)
    if resume_from is not None:
        state = checkpoints.restore(
            resume_from, run.accelerator, run.wrapper, run.optimizer, run.scheduler
        )
        progress = Progress(fingerprint, state["step"] + 1, state["curve"], state["dev_before"])
        for _ in range(state["step"] * recipe["gradient_accumulation"]):
            next(run.batches)  # replay the data order up to the checkpoint (no compute)
        log.info(
            "resuming from checkpoint %s (step %d of %d)",
            resume_from,
            state["step"],
            recipe["max_steps"],
        )
    else:
        progress = Progress(fingerprint, 1, [], dev_loss(run))
    log.info("dev loss before training: %.4f", progress.dev_before)
    return progress


def _train_step(accelerator, wrapper, optimizer, prepared: list) -> tuple[float, int, int]:
    """One optimizer step over this process's micro-batches (``batching.model_batch``
    tuples); returns the step's loss over all processes, real and padded tokens."""
    import torch

    device = accelerator.device
    local = sum(int((labels[:, 1:] != IGNORE_INDEX).sum()) for _, labels, _, _ in prepared)
    counts = torch.tensor(
        [local, sum(p[2] for p in prepared), sum(p[3] for p in prepared)], device=device
    )
    learned, real, padded = accelerator.reduce(counts, "sum").tolist()
    # this process's summed loss / every learned token of the step, times what DDP's
    # averaging and accelerate's division by the accumulation steps take away: the
    # gradient is that of the mean over all assistant tokens of all micro-batches and
    # processes, however they are shared out
    scale = accelerator.num_processes * len(prepared) / max(learned, 1)
    step_sum = torch.zeros((), device=device)
    for inputs, labels, _, _ in prepared:
        with accelerator.accumulate(wrapper):
            inputs = {k: v.to(device) for k, v in inputs.items()}
            loss_sum = wrapper(
                inputs["input_ids"],
                inputs.get("attention_mask"),
                labels.to(device),
                position_ids=inputs.get("position_ids"),
            )
            accelerator.backward(loss_sum * scale)
            step_sum += loss_sum.detach()
            if accelerator.sync_gradients:
                accelerator.clip_grad_norm_(wrapper.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    return accelerator.reduce(step_sum, "sum").item() / max(learned, 1), real, padded


def _checkpoint(run: Run, progress: Progress, step: int, checkpoint_dir) -> None:
    """Write checkpoint ``step`` when one is due (never after the last step)."""
    recipe, steps = run.recipe, run.recipe["max_steps"]
    if (
        checkpoint_dir is not None
        and recipe["checkpoint_every"]
        and (step % recipe["checkpoint_every"] == 0 and step < steps)
    ):
        state = {
            "fingerprint": progress.fingerprint,
            "curve": progress.curve,
            "dev_before": progress.dev_before,
        }
        path = checkpoints.save(
            checkpoint_dir, step, run.accelerator, run.wrapper, run.optimizer, run.scheduler, state
        )
        log.info("checkpoint %s", path)


def run_steps(run: Run, progress: Progress, checkpoint_dir, lock=None) -> None:
    """Train from ``progress.first_step`` to ``max_steps``, extending the loss curve;
    ``lock`` (a ``durable.RunLock``) is refreshed as the steps go, to show the job lives."""
    recipe, wrapper, scheduler = run.recipe, run.wrapper, run.scheduler
    steps, accumulation = recipe["max_steps"], recipe["gradient_accumulation"]
    curve = progress.curve
    started = progress.started = time.time() - (curve[-1]["seconds"] if curve else 0.0)
    wrapper.train()
    for step in range(progress.first_step, steps + 1):
        micro = [next(run.batches) for _ in range(accumulation)]
        if progress.first_ids is None:
            rows = [r if recipe["packing"] else [r] for b in micro for r in b]
            progress.first_ids = sorted(e["index"] for row in rows for e in row)
        prepared = [batching.model_batch(b, recipe, run.pad_id, run.attn) for b in micro]
        step_loss, real, padded = _train_step(run.accelerator, wrapper, run.optimizer, prepared)
        scheduler.step()
        if not math.isfinite(step_loss):
            raise FloatingPointError(f"loss became {step_loss} at step {step}")
        curve.append(
            {
                "step": step,
                "loss": step_loss,
                "tokens": int(real),
                "non_padding": real / padded,
                "lr": scheduler.get_last_lr()[0],
                "seconds": time.time() - started,
            }
        )
        _checkpoint(run, progress, step, checkpoint_dir)
        if lock is not None:
            lock.refresh()
        if step % recipe["log_every"] == 0 or step == steps:
            log.info(
                "step %d/%d loss %.4f, %.1f%% non-padding (%.2f s/step)",
                step,
                steps,
                step_loss,
                100 * real / padded,
                (time.time() - started) / step,
            )
