"""Fine-tuning of a causal LM on chat-format instructions (loss on assistant turns only).

Run by the rule ``finetune_lora``; by hand on a GPU node, the same command::

    python -m bayling_pipeline.finetune --base-model resources/models/smollm2-135m \
        --train results/synthesize/bayling-demo/train.jsonl \
        --dev results/synthesize/bayling-demo/dev.jsonl \
        --recipe results/finetune/bayling-smollm2/recipe.json \
        --adapter results/finetune/bayling-smollm2/adapter \
        --record results/finetune/bayling-smollm2/training.json \
        --loss-curve results/finetune/bayling-smollm2/loss.tsv

On several GPUs of one node, the same arguments after
``accelerate launch --num_processes 8 --config_file profiles/accelerate/fsdp.yaml -m``.

The recipe (a JSON file the workflow writes from config.yaml) holds every setting that
changes the result; it is copied, resolved, into the training record next to the weights
together with the library versions, the seed and an up-front cost estimate. The method
(``lora``, ``qlora``, ``full``: :mod:`bayling_pipeline.finetune.model`) decides what the
output directory holds: a LoRA adapter, or for ``full`` a complete model.

Batches come from :mod:`bayling_pipeline.finetune.batching` (padded or packed, disjoint per
process). The loss of a step is the mean over all its assistant tokens, across
micro-batches and processes. Only the main process writes files.

:func:`train` runs the steps in order: :mod:`~bayling_pipeline.finetune.setup` (data,
tokenization, model, optimizer and scheduler, accelerate),
:mod:`~bayling_pipeline.finetune.loop` (resume from the newest checkpoint, then the
optimizer steps, loss and checkpoints) and :mod:`~bayling_pipeline.finetune.record`
(weights, training record, loss curve).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from bayling_pipeline import durable
from bayling_pipeline.cli import at_least, input_file, run_cli
from bayling_pipeline.finetune import checkpoints, estimate, loop, record, setup
from bayling_pipeline.io import read_json
from bayling_pipeline.prompts import chat_formats
from bayling_pipeline.prompts.generation import check_model_folder

log = logging.getLogger(__name__)

#: Settings a recipe may leave out; config.yaml's schema carries the same defaults.
RECIPE_DEFAULTS = {
    "seed": 1,
    "method": "lora",
    "chat_format": "model",
    "max_steps": 100,
    "batch_size": 8,
    "gradient_accumulation": 1,
    "learning_rate": 1e-3,
    "warmup_steps": 10,
    "weight_decay": 0.0,
    "max_length": 256,
    "packing": False,
    "pack_length": None,
    "precision": "auto",
    "attn_implementation": "sdpa",
    "gradient_checkpointing": False,
    "lora": {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": "all-linear"},
    "trust_remote_code": False,
    "dev_examples": 64,
    "log_every": 10,
    "checkpoint_every": 50,
}


def resolve_recipe(recipe: dict) -> dict:
    """Fill defaults into a recipe (one level deep for ``lora``); pin the chat format's
    version, so the record names the exact format trained on."""
    resolved = {**RECIPE_DEFAULTS, **recipe}
    resolved["lora"] = {**RECIPE_DEFAULTS["lora"], **recipe.get("lora", {})}
    resolved["chat_format"] = chat_formats.resolve(resolved["chat_format"])
    if (resolved["pack_length"] or resolved["max_length"]) < resolved["max_length"]:
        raise ValueError("recipe.pack_length must be at least max_length (an example fills a row)")
    return resolved


def train(
    base_model: str,
    train_path,
    dev_path,
    recipe: dict,
    adapter_dir,
    record_path,
    loss_path,
    checkpoint_dir=None,
    **throughput,
) -> dict:
    """Fine-tune; write the weights, the training record and the loss curve.

    With ``checkpoint_dir``, a checkpoint is written every ``checkpoint_every`` steps and a
    restarted job resumes from the newest valid one made with the same fingerprint
    (recipe, data, base model, libraries, precision, process count); the checkpoints are
    removed once the weights are written. The job holds the folder's run lock meanwhile.
    ``throughput`` (peak_tflops, mfu) overrides the estimate's assumed GPU speed.
    """
    recipe = resolve_recipe(recipe)
    run = setup.set_up(base_model, train_path, dev_path, recipe, **throughput)
    lock = _own_outputs(run, adapter_dir, checkpoint_dir)
    try:
        fingerprint = run_fingerprint(run) if checkpoint_dir is not None else None
        progress = loop.resume(run, checkpoint_dir, fingerprint)
        loop.run_steps(run, progress, checkpoint_dir, lock)
        progress.dev_after = loop.dev_loss(run)
        log.info("dev loss after training: %.4f", progress.dev_after)
        result = record.training_record(run, progress)
        record.write_outputs(run, result, adapter_dir, record_path, loss_path, checkpoint_dir)
    finally:
        if lock is not None:
            lock.release()
    run.accelerator.end_training()
    return result


def run_fingerprint(run) -> str:
    """What a checkpoint must have been made with to be resumed: the resolved recipe and
    precision, attention kernel and process count, the library versions, the base
    model's folder (weights and tokenizer), the training and the dev files."""
    settings = {
        "recipe": run.recipe,
        "processes": run.processes,
        "precision": run.precision,
        "attn": run.attn,
        "versions": record.library_versions(),
    }
    return checkpoints.fingerprint(
        settings, files=(run.train_path, run.dev_path), folders=(run.base_model,)
    )


def _own_outputs(run, adapter_dir, checkpoint_dir) -> durable.RunLock | None:
    """On the main process, with checkpoints: take the run lock of the checkpoint folder
    (two live jobs never write the same checkpoints: a duplicate submission stops, naming
    the job that holds it; a dead job's lock is taken over) and sweep the temporaries a
    killed job left there and beside the weights. All processes wait for it."""
    lock = None
    if checkpoint_dir is not None and run.accelerator.is_main_process:
        lock = durable.RunLock(checkpoint_dir).acquire()
        checkpoints.sweep(checkpoint_dir)
        adapter = Path(adapter_dir)
        durable.sweep(adapter.parent, f".{adapter.name}.*.tmp")
        durable.sweep(adapter.parent, f".{adapter.name}.*.old")
    run.accelerator.wait_for_everyone()
    return lock


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fine-tuning on chat-format JSONL")
    parser.add_argument("--base-model", required=True, help="the staged base model's folder")
    parser.add_argument("--train", required=True, type=input_file, help="chat-format JSONL")
    parser.add_argument("--dev", required=True, type=input_file, help="chat-format JSONL")
    parser.add_argument(
        "--recipe", required=True, type=input_file, help="JSON file with the training recipe"
    )
    parser.add_argument("--adapter", required=True, help="output directory of the weights")
    parser.add_argument("--record", required=True, help="output JSON: config, versions, curve")
    parser.add_argument("--loss-curve", required=True, help="output TSV: step, loss, ...")
    parser.add_argument(
        "--checkpoints", default=None, help="directory for resumable checkpoints (kept on failure)"
    )
    parser.add_argument("--threads", type=at_least(1), default=None, help="CPU threads for torch")
    parser.add_argument(
        "--peak-tflops",
        type=float,
        default=estimate.DEFAULT_PEAK_TFLOPS,
        help="per-GPU peak the estimate assumes",
    )
    parser.add_argument(
        "--mfu", type=float, default=estimate.DEFAULT_MFU, help="utilization the estimate assumes"
    )
    args = parser.parse_args(argv)
    check_model_folder(args.base_model, "--base-model")
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    train(
        args.base_model,
        Path(args.train),
        Path(args.dev),
        read_json(args.recipe),
        args.adapter,
        args.record,
        args.loss_curve,
        checkpoint_dir=args.checkpoints,
        peak_tflops=args.peak_tflops,
        mfu=args.mfu,
    )


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.finetune")
