"""Batched translation of a test set with a base model, optionally with LoRA adapters merged in.

Run by the rule ``decode_translate`` (or ``decode_shard``, one shard per job, when
``decoding.shards`` > 1); by hand on a GPU node, the same command::

    python -m bayling_pipeline.decode --model resources/models/smollm2-135m \
        --adapter results/finetune/bayling-smollm2/adapter \
        --source results/download/testsets/django-test/eng_Latn-deu_Latn.source.txt \
        --pair eng_Latn-deu_Latn --template bayling-en --num-beams 5 \
        --output results/decode/bayling-smollm2/django-test/eng_Latn-deu_Latn.hyp.txt \
        --meta results/decode/bayling-smollm2/django-test/eng_Latn-deu_Latn.meta.json

Sentences are sorted by prompt length and left-padded, so a batch wastes little compute on
padding and every prompt ends where generation starts; outputs are written back in the
original order. Batched output equals one-sentence-per-call output (BayLing's own
``scripts/translate.py``) for greedy and beam search alike: the attention mask hides the
padding, position ids are counted from each row's first real token, and beam scores are
normalized by generated length only (tests/test_decode.py checks >= 99% identical).

Every finished batch is appended to a partial file (bayling_pipeline.decode.shards), so a
killed job resumes where it stopped. ``--backend vllm`` hands greedy or sampled generation
to vLLM (bayling_pipeline.decode.vllm_engine) on GPU nodes where it is installed.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from dataclasses import dataclass

from bayling_pipeline.decode.shards import BatchLog, fingerprint, partial_path, shard_range
from bayling_pipeline.io import read_lines, write_json, write_lines
from bayling_pipeline.prompts.chat import conversation_prompt_ids
from bayling_pipeline.prompts.chat_formats import ACCEPTED as CHAT_FORMATS
from bayling_pipeline.prompts.generation import generate, load_model, plan_batches, stopping  # noqa: F401

log = logging.getLogger(__name__)

POSTPROCESS_MODES = ("first_line", "join_lines")
BACKENDS = ("hf", "vllm")


@dataclass(frozen=True)
class Settings:
    """Generation settings (config ``decoding``); each of them may change a hypothesis,
    so all are recorded with the outputs (the template separately, with its version)."""

    template: str = "bayling-en"
    batch_size: int = 16
    max_new_tokens: int = 128
    num_beams: int = 1
    temperature: float = 0.0  # 0 = deterministic (greedy or beam); > 0 samples
    top_p: float = 1.0
    seed: int = 1
    postprocess: str = "first_line"
    chat_format: str = "model"
    backend: str = "hf"

    def recorded(self) -> dict:
        """The settings as the metadata (and so every score row) records them."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "template"}


def check_settings(settings: dict) -> list[str]:
    """Problems of a ``decoding`` config section that the schema cannot express."""
    problems = []
    sampling = settings.get("temperature", 0.0) > 0
    if sampling and settings.get("num_beams", 1) > 1:
        problems.append("decoding: temperature > 0 samples, which needs num_beams: 1")
    if settings.get("backend") == "vllm" and settings.get("num_beams", 1) > 1:
        problems.append(
            "decoding.backend vllm decodes greedily or by sampling: set num_beams: 1 "
            "or backend: hf for beam search"
        )
    return problems


def postprocess(text: str, mode: str = "first_line") -> tuple[str, list[str]]:
    """One segment per line: stripped, TABs as spaces, no cut-off character at the end.

    ``first_line`` keeps the first non-empty line (a model that adds notes after its
    translation is not penalized for them); ``join_lines`` joins all lines with spaces,
    as BayLing's ``scripts/translate.py`` does. Returns the cleaned text and the names of
    the fixes applied (counted in the metadata, since silently truncated outputs would
    otherwise hide a model that rambles).
    """
    if mode not in POSTPROCESS_MODES:
        raise ValueError(f"unknown postprocess mode {mode!r}; known: {POSTPROCESS_MODES}")
    fixes = []
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        fixes.append("extra_lines_dropped" if mode == "first_line" else "lines_joined")
    cleaned = (lines[0] if lines else "") if mode == "first_line" else " ".join(lines)
    if cleaned.endswith("\ufffd"):
        # generation stopped inside a multi-byte character (max_new_tokens reached)
        fixes.append("partial_character_dropped")
        cleaned = cleaned.rstrip("\ufffd").rstrip()
    if "\t" in cleaned:
        fixes.append("tab_replaced")
        cleaned = cleaned.replace("\t", " ")
    if not cleaned:
        fixes.append("empty")
    return cleaned, fixes


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
        from bayling_pipeline.decode import vllm_engine as vllm_backend

        engine = vllm_backend.Engine(model_dir, adapter_dir, trust_remote_code)
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


def translation_prompts(tokenizer, sources: list[str], pair: str, settings: Settings):
    """Prompt ids asking to translate each source sentence (template and chat format of
    ``settings``)."""
    from bayling_pipeline.languages import parse_pair
    from bayling_pipeline.prompts.templates import render_translation_prompt

    src, tgt = parse_pair(pair)
    texts = [render_translation_prompt(settings.template, src, tgt, s) for s in sources]
    return [
        conversation_prompt_ids(
            tokenizer, [{"role": "user", "content": text}], settings.chat_format
        )
        for text in texts
    ]


def clean_all(texts: list[str], mode: str) -> tuple[list[str], dict[str, int]]:
    """Post-process every text; return the cleaned texts and the count of each fix."""
    cleaned, fixes = [], {}
    for text in texts:
        line, applied = postprocess(text, mode)
        cleaned.append(line)
        for fix in applied:
            fixes[fix] = fixes.get(fix, 0) + 1
    return cleaned, fixes


def translate_file(
    model_dir: str,
    adapter_dir: str | None,
    source_path: str,
    pair: str,
    output_path: str,
    meta_path: str,
    settings: Settings = Settings(),
    *,
    shard: tuple[int, int] = (0, 1),
    trust_remote_code: bool = False,
    loaded: Loaded | None = None,
) -> dict:
    """Translate one test-set file (or shard ``(index, count)`` of it); write hypotheses and
    a metadata JSON (settings, fixes, time), each atomically."""
    from bayling_pipeline.prompts.templates import get_template

    sources = read_lines(source_path)
    start, end = shard_range(len(sources), *shard)
    sources = sources[start:end]
    loaded = loaded or load(model_dir, adapter_dir, settings.backend, trust_remote_code)
    prompts = translation_prompts(loaded.tokenizer, sources, pair, settings)
    batch_log = BatchLog(
        partial_path(output_path),
        fingerprint(model_dir, adapter_dir, prompts, dataclasses.asdict(settings)),
    )
    started = time.time()
    raw = generate_texts(loaded, prompts, settings, batch_log)
    seconds = time.time() - started
    hypotheses, fixes = clean_all(raw, settings.postprocess)
    write_lines(output_path, hypotheses)
    meta = {
        "model": str(model_dir),
        "adapter": str(adapter_dir) if adapter_dir else None,
        "pair": pair,
        "template": settings.template,
        "template_ref": get_template(settings.template).ref,
        "segments": len(sources),
        "settings": settings.recorded(),
        "postprocess_fixes": fixes,
        "device": loaded.device,
        "seconds": seconds,
    }
    if shard != (0, 1):
        meta["shard"] = {"index": shard[0], "count": shard[1], "start": start, "end": end}
    write_json(meta_path, meta)
    batch_log.remove()
    log.info(
        "%s [%d:%d]: %d segments in %.1f s; fixes %s",
        pair,
        start,
        end,
        len(sources),
        seconds,
        fixes,
    )
    return meta


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line options of a decoding job (shared with decode_shards' ``run``)."""
    defaults = Settings()
    parser.add_argument("--model", required=True, help="base model checkpoint directory")
    parser.add_argument("--adapter", default="", help="LoRA adapter directory to merge ('' = none)")
    parser.add_argument("--source", required=True)
    parser.add_argument("--pair", required=True, help="src-tgt, e.g. eng_Latn-deu_Latn")
    parser.add_argument("--template", default=defaults.template, help="prompt template id")
    parser.add_argument("--output", required=True)
    parser.add_argument("--meta", required=True)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--max-new-tokens", type=int, default=defaults.max_new_tokens)
    parser.add_argument("--num-beams", type=int, default=defaults.num_beams)
    parser.add_argument(
        "--temperature",
        type=float,
        default=defaults.temperature,
        help="0 = greedy/beam search; > 0 samples",
    )
    parser.add_argument("--top-p", type=float, default=defaults.top_p)
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of sampling")
    parser.add_argument("--postprocess", choices=POSTPROCESS_MODES, default=defaults.postprocess)
    parser.add_argument("--chat-format", choices=CHAT_FORMATS, default=defaults.chat_format)
    parser.add_argument("--backend", choices=BACKENDS, default=defaults.backend)
    parser.add_argument("--shard", type=int, default=0, help="which shard to decode (0-based)")
    parser.add_argument("--shards", type=int, default=1, help="number of shards")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--trust-remote-code", action="store_true")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The Settings that the command-line options give."""
    fields = {f.name for f in dataclasses.fields(Settings)}
    return Settings(**{k: v for k, v in vars(args).items() if k in fields})


def set_threads(threads: int | None) -> None:
    """Torch intra-op threads: the job's share of the node, not every core it can see."""
    if threads:
        import torch

        torch.set_num_threads(threads)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Batched translation of a test-set file")
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    settings = settings_from_args(args)
    problems = check_settings(dataclasses.asdict(settings))
    if problems:
        parser.error("; ".join(problems))
    set_threads(args.threads)
    translate_file(
        args.model,
        args.adapter or None,
        args.source,
        args.pair,
        args.output,
        args.meta,
        settings,
        shard=(args.shard, args.shards),
        trust_remote_code=args.trust_remote_code,
    )


if __name__ == "__main__":
    main()
