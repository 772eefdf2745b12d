"""Which backend generates: a model loaded for backend ``hf`` (transformers, the adapter
merged in) or ``vllm`` (:mod:`bayling_pipeline.decode.vllm_engine`), the raw texts it
generates for token-id prompts, and the torch threads of a job."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from dataclasses import dataclass

from bayling_pipeline.decode.resume import BatchLog, fingerprint, partial_path
from bayling_pipeline.decode.settings import (
    BACKENDS,
    Settings,
    check_settings,
    clean_all,
    settings_from_args,
)
from bayling_pipeline.decode.vllm_engine import Engine
from bayling_pipeline.prompts.generation import generate, load_model


@dataclass
class Loaded:
    """A model ready to generate: an HF model (backend ``hf``) or a vLLM engine."""

    tokenizer: object
    device: str
    model: object = None
    engine: object = None  # bayling_pipeline.decode.vllm_engine.Engine


def load(model_dir, adapter_dir=None, backend="hf", trust_remote_code=False) -> Loaded:
    """Load the model for ``backend`` (``hf`` or ``vllm``)."""
    if backend == "vllm":
        engine = Engine(model_dir, adapter_dir, trust_remote_code)
        return Loaded(tokenizer=engine.tokenizer, device="cuda (vllm)", engine=engine)
    if backend != "hf":
        raise ValueError(f"unknown decoding backend {backend!r}; known: {BACKENDS}")
    model, tokenizer, device = load_model(model_dir, adapter_dir, trust_remote_code)
    return Loaded(tokenizer=tokenizer, device=str(device), model=model)


def generate_texts(
    loaded: Loaded, prompts: list[list[int]], settings: Settings, batch_log=None
) -> list[str]:
    """Raw generated texts for token-id prompts, in input order, with either backend."""
    if loaded.engine is not None:
        return loaded.engine.generate(prompts, settings)
    return generate(
        loaded.model,
        loaded.tokenizer,
        loaded.device,
        prompts,
        settings.batch_size,
        settings.max_new_tokens,
        settings.num_beams,
        temperature=settings.temperature,
        top_p=settings.top_p,
        seed=settings.seed,
        chat_format=settings.chat_format,
        batch_log=batch_log,
    )


def generate_resumable(
    loaded: Loaded,
    prompts: list[list[int]],
    settings: Settings,
    output_path,
    model_dir,
    adapter_dir,
) -> tuple[list[str], dict, float, BatchLog]:
    """Generate for ``prompts``, resuming the batches a killed job logged beside
    ``output_path`` (kept only for the same model, prompts and settings), and clean the
    answers: ``(hypotheses, postprocess fixes, seconds of generation, batch log)``; the
    caller removes the batch log once its outputs are written."""
    batch_log = BatchLog(
        partial_path(output_path),
        fingerprint(model_dir, adapter_dir, prompts, dataclasses.asdict(settings)),
    )
    started = time.time()
    raw = generate_texts(loaded, prompts, settings, batch_log)
    seconds = time.time() - started
    hypotheses, fixes = clean_all(raw, settings.postprocess)
    return hypotheses, fixes, seconds, batch_log


def set_threads(threads: int | None) -> None:
    """Torch intra-op threads: the job's share of the node, not every core it can see."""
    if threads:
        import torch

        torch.set_num_threads(threads)


def job_settings(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Settings:
    """What every decoding command does first: log to stderr, read the settings of the
    command line (a problem stops it with the parser's error) and set torch's threads."""
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    settings = settings_from_args(args)
    problems = check_settings(dataclasses.asdict(settings))
    if problems:
        parser.error("; ".join(problems))
    set_threads(args.threads)
    return settings
