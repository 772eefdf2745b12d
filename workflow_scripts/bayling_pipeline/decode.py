"""Batched translation of a test set with a base model, optionally with LoRA adapters merged in.

Run by the rule ``decode_translate``; by hand on a GPU node, the same command::

    python -m bayling_pipeline.decode --model resources/models/smollm2-135m \
        --adapter results/finetune/bayling-smollm2/adapter \
        --source results/download/testsets/django-test/eng_Latn-deu_Latn.source.txt \
        --pair eng_Latn-deu_Latn --template bayling-en \
        --output results/decode/bayling-smollm2/django-test/eng_Latn-deu_Latn.hyp.txt \
        --meta results/decode/bayling-smollm2/django-test/eng_Latn-deu_Latn.meta.json

Sentences are sorted by prompt length and left-padded, so a batch wastes little compute on
padding and every prompt ends where generation starts; outputs are written back in the
original order.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from bayling_pipeline.chat import generation_prompt_ids
from bayling_pipeline.io import read_lines, write_json, write_lines

log = logging.getLogger(__name__)


def postprocess(text: str) -> tuple[str, list[str]]:
    """One segment per line: the first non-empty line, stripped, TABs as spaces, no cut-off
    character at the end.

    Returns the cleaned text and the names of the fixes applied (counted in the metadata,
    since silently truncated outputs would otherwise hide a model that rambles).
    """
    fixes = []
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        fixes.append("extra_lines_dropped")
    cleaned = lines[0] if lines else ""
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


def load_model(model_dir: str, adapter_dir: str | None, trust_remote_code: bool = False):
    """(model, tokenizer, device): the base model with the adapter merged, in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    model = AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=dtype, trust_remote_code=trust_remote_code
    )
    if adapter_dir:
        from peft import PeftModel

        # Merging removes the adapter's extra matmuls from every decoding step.
        model = PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
    return model.to(device).eval(), tokenizer, device


def generate(
    model,
    tokenizer,
    device,
    prompts: list[list[int]],
    batch_size: int,
    max_new_tokens: int,
    num_beams: int,
) -> list[str]:
    """Decode token-id prompts in length-sorted, left-padded batches; keep input order."""
    import torch
    from tqdm import tqdm

    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]), reverse=True)
    outputs: list[str] = [""] * len(prompts)
    pad_id = tokenizer.pad_token_id
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    for batch in tqdm(batches, desc="decode", disable=not sys.stderr.isatty()):
        width = max(len(prompts[i]) for i in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, index in enumerate(batch):
            prompt = prompts[index]
            ids[row, width - len(prompt) :] = torch.tensor(prompt)
            mask[row, width - len(prompt) :] = 1
        with torch.no_grad():
            generated = model.generate(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                max_new_tokens=max_new_tokens,
                num_beams=num_beams,
                do_sample=False,
                pad_token_id=pad_id,
                eos_token_id=tokenizer.eos_token_id,
            )
        for row, index in enumerate(batch):
            outputs[index] = tokenizer.decode(generated[row, width:], skip_special_tokens=True)
    return outputs


def translate_file(
    model_dir: str,
    adapter_dir: str | None,
    source_path: str,
    pair: str,
    template: str,
    output_path: str,
    meta_path: str,
    batch_size: int = 16,
    max_new_tokens: int = 128,
    num_beams: int = 1,
    trust_remote_code: bool = False,
) -> dict:
    """Translate one test-set file; write hypotheses and a metadata JSON (settings, fixes)."""
    from bayling_pipeline.languages import parse_pair
    from bayling_pipeline.templates import render_translation_prompt

    src, tgt = parse_pair(pair)
    sources = read_lines(source_path)
    model, tokenizer, device = load_model(model_dir, adapter_dir, trust_remote_code)
    prompts = [
        generation_prompt_ids(tokenizer, render_translation_prompt(template, src, tgt, text))
        for text in sources
    ]
    started = time.time()
    raw = generate(model, tokenizer, device, prompts, batch_size, max_new_tokens, num_beams)
    seconds = time.time() - started
    hypotheses, fixes = [], {}
    for text in raw:
        cleaned, applied = postprocess(text)
        hypotheses.append(cleaned)
        for fix in applied:
            fixes[fix] = fixes.get(fix, 0) + 1
    write_lines(output_path, hypotheses)
    meta = {
        "model": str(model_dir),
        "adapter": str(adapter_dir) if adapter_dir else None,
        "pair": pair,
        "template": template,
        "segments": len(sources),
        "settings": {
            "batch_size": batch_size,
            "max_new_tokens": max_new_tokens,
            "num_beams": num_beams,
        },
        "postprocess_fixes": fixes,
        "device": str(device),
        "seconds": seconds,
    }
    write_json(meta_path, meta)
    log.info("%s: %d segments in %.1f s; fixes %s", pair, len(sources), seconds, fixes)
    return meta


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Batched translation of a test-set file")
    parser.add_argument("--model", required=True, help="base model checkpoint directory")
    parser.add_argument("--adapter", default="", help="LoRA adapter directory to merge ('' = none)")
    parser.add_argument("--source", required=True)
    parser.add_argument("--pair", required=True, help="src-tgt, e.g. eng_Latn-deu_Latn")
    parser.add_argument("--template", required=True, help="prompt template id")
    parser.add_argument("--output", required=True)
    parser.add_argument("--meta", required=True)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--num-beams", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--trust-remote-code", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    translate_file(
        args.model,
        args.adapter or None,
        args.source,
        args.pair,
        args.template,
        args.output,
        args.meta,
        args.batch_size,
        args.max_new_tokens,
        args.num_beams,
        args.trust_remote_code,
    )


if __name__ == "__main__":
    main()
