"""What a fine-tuning run leaves behind: weights, training record and loss curve.

The last step of :func:`bayling_pipeline.finetune.train.train` (``python -m
bayling_pipeline.finetune ...``). The output directory holds the LoRA adapter (or, for
method ``full``, the complete model), the tokenizer and :data:`CHAT_FORMAT_FILE`; the
record (training.json) holds the resolved recipe, the seed, the library versions, the
up-front estimate, the dev losses and the loss curve, and is written last: its presence
means the run completed. Only the main process writes files.
"""

from __future__ import annotations

import logging
import platform
import shutil
import time
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from bayling_pipeline.io import atomic_path, read_json, write_json, write_lines

if TYPE_CHECKING:
    from bayling_pipeline.finetune.loop import Progress
    from bayling_pipeline.finetune.setup import Run

log = logging.getLogger(__name__)

#: Beside the weights: {"chat_format": "<id>"}, the format the model was trained on.
CHAT_FORMAT_FILE = "chat_format.json"

VERSIONED_PACKAGES = (
    "torch",
    "transformers",
    "peft",
    "accelerate",
    "tokenizers",
    "safetensors",
    "bitsandbytes",
    "flash_attn",
    "deepspeed",
)


def library_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def training_record(run: Run, progress: Progress) -> dict:
    """The record of a finished run; every process joins the gather of first-step examples."""
    from accelerate.utils import gather_object

    accelerator, recipe, curve = run.accelerator, run.recipe, progress.curve
    seen = gather_object([progress.first_ids])  # examples of each process's first step in this job
    real_total = sum(p["tokens"] for p in curve)
    padded_total = sum(p["tokens"] / p["non_padding"] for p in curve)
    return {
        "recipe": recipe,
        "seed": recipe["seed"],
        "base_model": str(run.base_model),
        "train": str(run.train_path),
        "dev": str(run.dev_path),
        "examples": {"train": len(run.train_examples), "dev": len(run.dev_examples)},
        "parameters": {
            "total": run.parameters["total"],
            "trainable": run.parameters["trainable"],
        },
        "estimate": run.cost,
        "device": str(run.device),
        "precision": run.precision,
        "attn_implementation": run.attn,
        "processes": run.processes,
        "distributed": accelerator.distributed_type.value,
        "first_step_examples_per_process": seen,
        "non_padding": real_total / max(padded_total, 1),
        "versions": library_versions(),
        "dev_loss": {"before": progress.dev_before, "after": progress.dev_after},
        "train_seconds": time.time() - progress.started,
        "loss_curve": curve,
    }


def _save_weights(accelerator, wrapper, tokenizer, recipe, base_model, out_dir) -> None:
    """Write the adapter (or, for method ``full``, the whole model) from the main process."""
    from accelerate.utils import DistributedType

    sharded = accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)
    # every process joins the gather of sharded weights; only the main one writes
    state = accelerator.get_state_dict(wrapper) if sharded else None
    if not accelerator.is_main_process:
        return
    model = accelerator.unwrap_model(wrapper).model
    if state is not None:
        state = {k.removeprefix("model."): v for k, v in state.items()}
    if recipe["method"] == "full":
        import torch

        # store in the base model's dtype: training kept fp32 master weights
        config = read_json(Path(base_model) / "config.json")
        dtype = getattr(torch, config.get("dtype") or config.get("torch_dtype") or "float32")
        state = {k: v.to(dtype) for k, v in (state or model.state_dict()).items()}
    with atomic_path(out_dir) as tmp:
        model.save_pretrained(tmp, state_dict=state, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        # decoding must write prompts the way training wrote dialogues
        write_json(tmp / CHAT_FORMAT_FILE, {"chat_format": recipe["chat_format"]})
    log.info("rank %d wrote %s", accelerator.process_index, out_dir)


def write_outputs(run: Run, record: dict, adapter_dir, record_path, loss_path, checkpoint_dir):
    """Write the weights, the loss curve (TSV) and the record; remove the checkpoints."""
    accelerator = run.accelerator
    accelerator.wait_for_everyone()
    _save_weights(accelerator, run.wrapper, run.tokenizer, run.recipe, run.base_model, adapter_dir)
    if accelerator.is_main_process:
        write_lines(
            loss_path,
            ["step\tloss\ttokens\tnon_padding\tlr\tseconds"]
            + [
                f"{p['step']}\t{p['loss']:.6f}\t{p['tokens']}\t{p['non_padding']:.4f}"
                f"\t{p['lr']:.3e}\t{p['seconds']:.2f}"
                for p in record["loss_curve"]
            ],
        )
        write_json(record_path, record)  # written last: its presence means the run completed
        if checkpoint_dir is not None:
            shutil.rmtree(checkpoint_dir, ignore_errors=True)  # the weights supersede them
    accelerator.wait_for_everyone()
