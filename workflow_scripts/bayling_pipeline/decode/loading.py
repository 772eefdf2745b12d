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

from bayling_pipeline.decode.cost import cost_record, generated_tokens
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
    """A model ready to generate: an HF model (backend ``hf``), a vLLM engine or a
    CTranslate2 engine; what it computes in and how long it took to load."""

    tokenizer: object
    device: str
    model: object = None
    engine: object = None  # a decode.vllm_engine or decode.ctranslate2_backend Engine
    compute_type: str = ""  # float32, bfloat16, int8, ...
    load_seconds: float = 0.0
    generated_tokens: int = 0  # by the last generate_resumable call
    info: dict = dataclasses.field(default_factory=dict)  # the engine, for the metadata


def load(
    model_dir, adapter_dir=None, backend="hf", trust_remote_code=False, compute_type="auto"
) -> Loaded:
    """Load the model for ``backend`` (``hf``, ``vllm`` or ``ctranslate2``; compute_type
    is ctranslate2's, bayling_pipeline.decode.settings.COMPUTE_TYPES)."""
    started = time.perf_counter()
    if backend == "vllm":
        engine = Engine(model_dir, adapter_dir, trust_remote_code)
        loaded = Loaded(
            tokenizer=engine.tokenizer, device="cuda (vllm)", engine=engine, compute_type="bfloat16"
        )
    elif backend == "ctranslate2":
        from bayling_pipeline.decode.ctranslate2_backend import Engine as CT2Engine

        threads = sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None
        engine = CT2Engine(model_dir, adapter_dir, compute_type, threads, trust_remote_code)
        loaded = Loaded(
            tokenizer=engine.tokenizer,
            device=f"{engine.device} (ctranslate2)",
            engine=engine,
            compute_type=engine.compute_type,
            info=engine.info(),
        )
    elif backend == "hf":
        model, tokenizer, device = load_model(model_dir, adapter_dir, trust_remote_code)
        dtype = str(model.dtype).removeprefix("torch.")
        loaded = Loaded(tokenizer=tokenizer, device=str(device), model=model, compute_type=dtype)
    else:
        raise ValueError(f"unknown decoding backend {backend!r}; known: {BACKENDS}")
    loaded.load_seconds = time.perf_counter() - started
    return loaded


def generate_texts(
    loaded: Loaded, prompts: list[list[int]], settings: Settings, batch_log=None
) -> list[str]:
    """Raw generated texts for token-id prompts, in input order, with either backend."""
    if loaded.engine is not None:
        return loaded.engine.generate(prompts, settings, batch_log=batch_log)
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
        batch_tokens=settings.batch_tokens,
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
        fingerprint(
            model_dir,
            adapter_dir,
            prompts,
            dataclasses.asdict(settings),
            # a shard begun in bf16 on a GPU and resumed in fp32 on a CPU would mix both
            {"device": loaded.device, "dtype": loaded.compute_type},
        ),
    )
    started = time.time()
    raw = generate_texts(loaded, prompts, settings, batch_log)
    seconds = time.time() - started
    hypotheses, fixes = clean_all(raw, settings.postprocess)
    loaded.generated_tokens = generated_tokens(loaded.tokenizer, raw)
    return hypotheses, fixes, seconds, batch_log


def job_cost(loaded: Loaded, seconds: float, segments: int) -> dict:
    """The ``cost`` block of a job's metadata (bayling_pipeline.decode.cost): load and
    generation time, throughput of the last generate_resumable call, peak memory."""
    return cost_record(
        loaded.load_seconds,
        seconds,
        segments,
        loaded.generated_tokens,
        torch_allocates=loaded.engine is None,
    )


def recorded_settings(settings: Settings, loaded: Loaded) -> dict:
    """The settings a job's metadata (and so every score row) records; for ctranslate2
    with the compute type it ran in (auto resolved), so a quantized system is never silent."""
    recorded = settings.recorded()
    if settings.backend == "ctranslate2":
        recorded["compute_type"] = loaded.compute_type
    return recorded


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
