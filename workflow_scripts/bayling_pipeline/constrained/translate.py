"""Lexically constrained translation of one constraint set direction, with BayLing's
constrained prompt in one instruction language (:mod:`bayling_pipeline.prompts.constrained`).

Run by the rule ``constrained_translate``; by hand on a GPU node, the same command::

    python -m bayling_pipeline.constrained --model resources/models/smollm2-135m \
        --constraints results/constrained/sets/bayling/eng_Latn-zho_Hans.jsonl \
        --pair eng_Latn-zho_Hans --instruction zho_Hans --num-beams 5 --max-new-tokens 150 \
        --output /tmp/hyp.jsonl --meta /tmp/hyp.meta.json

Model loading, batched generation (length-sorted, left-padded), the backends and the
cleaning of answers are the decode stage's (:mod:`bayling_pipeline.decode.loading`,
:mod:`bayling_pipeline.decode.settings`); every finished batch is kept in a partial file,
so a killed job resumes (:mod:`bayling_pipeline.decode.resume`). The output is BayLing's
format, one JSON object a line: src, tgt, constraint and the hypothesis ``hypo``.
"""

from __future__ import annotations

import argparse
import logging

from bayling_pipeline.cli import at_least, input_file, pair_argument, run_cli
from bayling_pipeline.constrained.sets import read_records
from bayling_pipeline.decode.loading import Loaded, generate_resumable, job_settings, load
from bayling_pipeline.decode.settings import BACKENDS, POSTPROCESS_MODES, Settings
from bayling_pipeline.io import write_json, write_jsonl
from bayling_pipeline.prompts.chat import conversation_prompt_ids
from bayling_pipeline.prompts.constrained import (
    INSTRUCTION_LANGUAGES,
    constrained_template,
    render_constrained_prompt,
)

log = logging.getLogger(__name__)


def prompt_texts(records: list[dict], pair: str, instruction: str) -> list[str]:
    """The user turn of every sentence: translate ``src`` and include its terms."""
    from bayling_pipeline.languages import parse_pair

    src, tgt = parse_pair(pair)
    return [
        render_constrained_prompt(instruction, src, tgt, r["src"], r["constraint"]) for r in records
    ]


def translate_set(
    model_dir: str,
    adapter_dir: str | None,
    constraints_path: str,
    pair: str,
    instruction: str,
    output_path: str,
    meta_path: str,
    settings: Settings,
    *,
    trust_remote_code: bool = False,
    loaded: Loaded | None = None,
) -> dict:
    """Translate every sentence of a constraint set file; write the outputs (the set's
    records with ``hypo``) and a metadata JSON, each atomically."""
    records = read_records(constraints_path)
    texts = prompt_texts(records, pair, instruction)
    loaded = loaded or load(model_dir, adapter_dir, settings.backend, trust_remote_code)
    prompts = [
        conversation_prompt_ids(
            loaded.tokenizer, [{"role": "user", "content": t}], settings.chat_format
        )
        for t in texts
    ]
    hypotheses, fixes, seconds, batch_log = generate_resumable(
        loaded, prompts, settings, output_path, model_dir, adapter_dir
    )
    write_jsonl(output_path, ({**r, "hypo": h} for r, h in zip(records, hypotheses, strict=True)))
    meta = {
        "model": str(model_dir),
        "adapter": str(adapter_dir) if adapter_dir else None,
        "pair": pair,
        "instruction": instruction,
        "template": settings.template,
        "template_ref": constrained_template(instruction).ref,
        "first_prompt": texts[0] if texts else None,
        "segments": len(records),
        "settings": settings.recorded(),
        "postprocess_fixes": fixes,
        "device": loaded.device,
        "seconds": seconds,
    }
    write_json(meta_path, meta)
    batch_log.remove()
    log.info(
        "%s (%s instruction): %d sentences in %.1f s", pair, instruction, len(records), seconds
    )
    return meta


def parser() -> argparse.ArgumentParser:
    """The command line: the decoding job's options, with a constraint set and an
    instruction language in place of a source file and a template."""
    from bayling_pipeline.prompts.chat_formats import ACCEPTED

    defaults = Settings()
    p = argparse.ArgumentParser(description="Lexically constrained translation of one set file")
    p.add_argument("--model", required=True, help="base model checkpoint directory")
    p.add_argument("--adapter", default="", help="LoRA adapter directory to merge ('' = none)")
    p.add_argument(
        "--constraints", required=True, type=input_file, help="JSON Lines: src, tgt, constraint"
    )
    p.add_argument(
        "--pair", required=True, type=pair_argument, help="src-tgt, e.g. eng_Latn-zho_Hans"
    )
    p.add_argument("--instruction", required=True, choices=INSTRUCTION_LANGUAGES)
    p.add_argument("--output", required=True)
    p.add_argument("--meta", required=True)
    p.add_argument("--batch-size", type=at_least(1), default=defaults.batch_size)
    p.add_argument("--max-new-tokens", type=at_least(1), default=defaults.max_new_tokens)
    p.add_argument("--num-beams", type=at_least(1), default=defaults.num_beams)
    p.add_argument("--temperature", type=float, default=defaults.temperature)
    p.add_argument("--top-p", type=float, default=defaults.top_p)
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--postprocess", choices=POSTPROCESS_MODES, default=defaults.postprocess)
    p.add_argument("--chat-format", choices=ACCEPTED, default=defaults.chat_format)
    p.add_argument("--backend", choices=BACKENDS, default=defaults.backend)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--trust-remote-code", action="store_true")
    return p


def main(argv: list[str] | None = None) -> None:
    command = parser()
    args = command.parse_args(argv)
    args.template = constrained_template(args.instruction).id  # recorded with the outputs
    settings = job_settings(command, args)
    translate_set(
        args.model,
        args.adapter or None,
        args.constraints,
        args.pair,
        args.instruction,
        args.output,
        args.meta,
        settings,
        trust_remote_code=args.trust_remote_code,
    )


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.constrained")
