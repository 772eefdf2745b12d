"""Set-up of a fine-tuning run: accelerator, seeds, data, model, optimizer and scheduler.

The first step of :func:`bayling_pipeline.finetune.train.train` (``python -m
bayling_pipeline.finetune ...``): :func:`set_up` turns a resolved recipe into a
:class:`Run`, everything the training loop and the record need, and logs the estimate and
the sizes of data and model. Non-main processes log warnings only, so the progress lines
appear once.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path

from bayling_pipeline.finetune import batching, estimate
from bayling_pipeline.io import DataError, read_json, read_jsonl
from bayling_pipeline.prompts.chat import tokenize_dialogue
from bayling_pipeline.prompts.generation import check_model_folder

log = logging.getLogger(__name__)


@dataclass
class Run:
    """What a training run works with, from :func:`set_up`."""

    base_model: str
    train_path: object
    dev_path: object
    recipe: dict  # resolved
    accelerator: object
    precision: str  # bf16 or fp32
    sharded: bool  # FSDP or DeepSpeed
    attn: str  # the attention kernel in use
    tokenizer: object
    train_examples: list[dict]
    dev_examples: list[dict]
    cost: dict | None  # the up-front estimate
    parameters: dict  # {"total": ..., "trainable": ...}
    wrapper: object  # the loss module, prepared by accelerate
    optimizer: object
    scheduler: object
    batches: object  # this process's share of the batch stream

    @property
    def device(self):
        return self.accelerator.device

    @property
    def processes(self) -> int:
        return self.accelerator.num_processes

    @property
    def pad_id(self) -> int:
        return self.tokenizer.pad_token_id


def load_examples(
    path, tokenizer, max_length: int, limit: int | None = None, chat_format: str = "model"
) -> list[dict]:
    """Tokenize chat records; those with nothing to learn after truncation are skipped.

    Each example keeps ``index``, its line in the file, to tell which process saw it.
    """
    examples = []
    for index, record in enumerate(read_jsonl(path)):
        if not isinstance(record, dict) or not isinstance(record.get("messages"), list):
            raise DataError(
                f"{path}: record {index + 1} has no 'messages' list; training data is chat "
                'JSONL, one {"messages": [{"role": "user", "content": ...}, ...]} per line'
            )
        example = tokenize_dialogue(tokenizer, record["messages"], max_length, chat_format)
        if example is not None:
            examples.append({**example, "index": index})
        if limit is not None and len(examples) >= limit:
            break
    if not examples:
        raise DataError(f"{path}: no trainable examples (empty file or all truncated away)")
    return examples


def run_estimate(base_model, recipe, examples, processes, sharded, precision, **throughput):
    """The up-front estimate for this run, or None for a non-Llama-style config."""
    processed, _ = batching.epoch_tokens(examples, recipe)
    micro_batches = recipe["max_steps"] * recipe["gradient_accumulation"] * processes
    try:
        return estimate.estimate(
            read_json(Path(base_model) / "config.json"),
            method=recipe["method"],
            lora_r=recipe["lora"]["r"],
            target_modules=recipe["lora"]["target_modules"],
            tokens=processed * micro_batches,
            batch_size=recipe["batch_size"],
            max_length=batching.row_length(recipe) if recipe["packing"] else recipe["max_length"],
            gpus=processes,
            sharded=sharded,
            bf16=precision == "bf16",
            gradient_checkpointing=recipe["gradient_checkpointing"],
            **throughput,
        )
    except KeyError as missing:
        log.warning("no estimate: config.json lacks %s (not a Llama-style model)", missing)
        return None


def _accelerator(recipe: dict):
    """The Accelerator of this process, and the resolved precision."""
    import torch
    from accelerate import Accelerator

    from bayling_pipeline.finetune.model import resolve_precision

    cuda = torch.cuda.is_available()
    precision = resolve_precision(
        recipe["precision"], "cuda" if cuda else "cpu", cuda and torch.cuda.is_bf16_supported()
    )
    accelerator = Accelerator(
        mixed_precision="bf16" if precision == "bf16" else "no",
        gradient_accumulation_steps=recipe["gradient_accumulation"],
    )
    return accelerator, precision


def _start(recipe: dict):
    """The accelerator, precision and sharding of this process, with the seeds set."""
    import torch
    from accelerate.utils import DistributedType

    from bayling_pipeline.finetune.model import require_bitsandbytes

    if recipe["method"] == "qlora":
        require_bitsandbytes()  # before anything slow
    accelerator, precision = _accelerator(recipe)
    sharded = accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)
    if not accelerator.is_main_process:
        # one copy of the progress lines, from the main process
        logging.getLogger(__package__).setLevel(logging.WARNING)
    seed = recipe["seed"]
    random.seed(seed)
    torch.manual_seed(seed)
    return accelerator, precision, sharded


def _data(base_model: str, train_path, dev_path, recipe: dict):
    """The tokenizer, the training examples and the dev examples."""
    from transformers import AutoTokenizer

    check_model_folder(base_model, "base model")
    tokenizer = AutoTokenizer.from_pretrained(
        base_model, trust_remote_code=recipe["trust_remote_code"]
    )
    fmt = recipe["chat_format"]
    train_examples = load_examples(train_path, tokenizer, recipe["max_length"], chat_format=fmt)
    dev_examples = load_examples(
        dev_path, tokenizer, recipe["max_length"], limit=recipe["dev_examples"], chat_format=fmt
    )
    return tokenizer, train_examples, dev_examples


def _log_sizes(train_examples, dev_examples, recipe, parameters, precision, attn, accelerator):
    """The log line of data and model sizes, method, precision and placement."""
    trainable, total = parameters["trainable"], parameters["total"]
    log.info(
        "%d training / %d dev examples; %s, %d of %d parameters trainable (%.2f%%); "
        "%s, %s attention, %d process(es) (%s) on %s",
        len(train_examples),
        len(dev_examples),
        recipe["method"],
        trainable,
        total,
        100 * trainable / total,
        precision,
        attn,
        accelerator.num_processes,
        accelerator.distributed_type.value,
        accelerator.device,
    )


def _optimize(accelerator, model, recipe: dict):
    """The loss module and the AdamW optimizer, prepared by accelerate, and the scheduler."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    from bayling_pipeline.finetune.model import loss_module

    wrapper = loss_module(model)
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=recipe["learning_rate"],
        weight_decay=recipe["weight_decay"],
    )
    wrapper, optimizer = accelerator.prepare(wrapper, optimizer)
    # stepped once per optimizer step by hand: accelerate's wrapper would step it once
    # per process
    scheduler = get_linear_schedule_with_warmup(
        optimizer, recipe["warmup_steps"], recipe["max_steps"]
    )
    return wrapper, optimizer, scheduler


def set_up(base_model: str, train_path, dev_path, recipe: dict, **throughput) -> Run:
    """Everything a run of the resolved ``recipe`` needs, in the order that fixes its
    random numbers: seeds, data, model (LoRA initialization), optimizer, batch stream."""
    from bayling_pipeline.finetune.model import (
        build_model,
        load_settings,
        resolve_attn_implementation,
    )

    accelerator, precision, sharded = _start(recipe)
    device, processes = accelerator.device, accelerator.num_processes
    tokenizer, train_examples, dev_examples = _data(base_model, train_path, dev_path, recipe)
    attn = resolve_attn_implementation(recipe["attn_implementation"], device.type, precision)
    settings = load_settings(recipe["method"], precision, attn, sharded)
    cost = run_estimate(
        base_model, recipe, train_examples, processes, sharded, precision, **throughput
    )
    if cost is not None:
        log.info(estimate.summary(cost))
    model = build_model(base_model, recipe, None if sharded else device, settings)
    parameters = {
        "total": sum(p.numel() for p in model.parameters()),
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }
    _log_sizes(train_examples, dev_examples, recipe, parameters, precision, attn, accelerator)
    wrapper, optimizer, scheduler = _optimize(accelerator, model, recipe)
    batches = batching.shard_stream(
        batching.training_stream(train_examples, recipe), processes, accelerator.process_index
    )
    return Run(
        base_model=base_model,
        train_path=train_path,
        dev_path=dev_path,
        recipe=recipe,
        accelerator=accelerator,
        precision=precision,
        sharded=sharded,
        attn=attn,
        tokenizer=tokenizer,
        train_examples=train_examples,
        dev_examples=dev_examples,
        cost=cost,
        parameters=parameters,
        wrapper=wrapper,
        optimizer=optimizer,
        scheduler=scheduler,
        batches=batches,
    )
