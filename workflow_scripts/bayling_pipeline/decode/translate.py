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
normalized by generated length only (tests/unit/decode/test_decode.py checks >= 99% identical).

Every finished batch is appended to a partial file (bayling_pipeline.decode.resume), so a
killed job resumes where it stopped. ``--backend vllm`` hands greedy or sampled generation
to vLLM (bayling_pipeline.decode.vllm_engine) on GPU nodes where it is installed.
"""

from __future__ import annotations

import argparse
import logging

from bayling_pipeline.cli import input_file, pair_argument, run_cli
from bayling_pipeline.decode.loading import (
    Loaded,
    generate_resumable,
    job_cost,
    job_settings,
    load,
    recorded_settings,
)
from bayling_pipeline.decode.settings import (
    Settings,
    add_arguments,
)
from bayling_pipeline.decode.shards import shard_range
from bayling_pipeline.io import DataError, read_lines, write_json, write_lines
from bayling_pipeline.prompts.chat import conversation_prompt_ids

log = logging.getLogger(__name__)


def translation_prompts(tokenizer, sources: list[str], pair: str, settings: Settings):
    """Prompt ids asking to translate each source sentence (template and chat format of
    ``settings``)."""
    from bayling_pipeline.languages import parse_pair
    from bayling_pipeline.prompts.templates import render_translation_prompt

    src, tgt = parse_pair(pair)
    texts = [render_translation_prompt(settings.template, src, tgt, s) for s in sources]
    return [
        conversation_prompt_ids(
            tokenizer,
            [*settings.system_messages(), {"role": "user", "content": text}],
            settings.chat_format,
        )
        for text in texts
    ]


def translate_file(
    model_dir: str,
    adapter_dir: str | None,
    source_path: str,
    pair: str,
    output_path: str,
    meta_path: str,
    settings: Settings = Settings(),  # noqa: B008 (a frozen dataclass: immutable)
    *,
    shard: tuple[int, int] = (0, 1),
    trust_remote_code: bool = False,
    loaded: Loaded | None = None,
) -> dict:
    """Translate one test-set file (or shard ``(index, count)`` of it); write hypotheses and
    a metadata JSON (settings, fixes, time), each atomically."""
    from bayling_pipeline.prompts.templates import get_template

    sources = read_lines(source_path)
    if not sources:
        raise DataError(f"{source_path}: no segments to translate (an empty file)")
    start, end = shard_range(len(sources), *shard)
    sources = sources[start:end]
    loaded = loaded or load(
        model_dir, adapter_dir, settings.backend, trust_remote_code, settings.compute_type
    )
    prompts = translation_prompts(loaded.tokenizer, sources, pair, settings)
    hypotheses, fixes, seconds, batch_log = generate_resumable(
        loaded, prompts, settings, output_path, model_dir, adapter_dir
    )
    write_lines(output_path, hypotheses)
    meta = {
        "model": str(model_dir),
        "adapter": str(adapter_dir) if adapter_dir else None,
        "pair": pair,
        "template": settings.template,
        "template_ref": get_template(settings.template).ref,
        "segments": len(sources),
        "settings": recorded_settings(settings, loaded),
        "postprocess_fixes": fixes,
        "device": loaded.device,
        "seconds": seconds,
        "cost": job_cost(loaded, seconds, len(sources)),
        **({"engine": loaded.info} if loaded.info else {}),
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


def check_job(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """What the parser leaves to the command: the pair, the source file, the shard index
    and the prompt template (``parser.error`` names the option)."""
    from bayling_pipeline.prompts.templates import translation_template_ids

    for option, check in (("--pair", pair_argument), ("--source", input_file)):
        try:
            check(getattr(args, option[2:]))
        except argparse.ArgumentTypeError as error:
            parser.error(f"argument {option}: {error}")
    if getattr(args, "shard", 0) >= getattr(args, "shards", 1):
        parser.error(f"--shard {args.shard}: shards are numbered 0 to {args.shards - 1}")
    known = translation_template_ids()
    if args.template not in known:
        parser.error(f"--template {args.template!r} is unknown; known: {', '.join(known)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Batched translation of a test-set file")
    add_arguments(parser)
    args = parser.parse_args(argv)
    check_job(parser, args)
    settings = job_settings(parser, args)
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
    run_cli(main, "python -m bayling_pipeline.decode")
