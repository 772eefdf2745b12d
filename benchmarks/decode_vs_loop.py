"""Batched decoding (the decode stage) vs one sentence per generate() call, as in BayLing's
own scripts/translate.py: same model, prompts, beam and machine, in one run.

    .venv/bin/python benchmarks/decode_vs_loop.py --model resources/models/smollm2-135m \
        --source results/download/testsets/django-test/eng_Latn-deu_Latn.source.txt

Prints seconds per mode and, as its last line, the speed-up ratios (loop time / batched).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow_scripts"))

from bayling_pipeline.chat import generation_prompt_ids  # noqa: E402
from bayling_pipeline.decode import generate, load_model  # noqa: E402
from bayling_pipeline.io import read_lines  # noqa: E402
from bayling_pipeline.templates import render_translation_prompt  # noqa: E402


def one_at_a_time(model, tokenizer, prompts, max_new_tokens, num_beams):
    """The baseline: BayLing's translate.py loop, one prompt per generate() call."""
    import torch

    outputs = []
    for prompt in prompts:
        ids = torch.tensor([prompt])
        with torch.no_grad():
            out = model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_new_tokens,
                num_beams=num_beams,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
        outputs.append(tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True))
    return outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--pair", default="eng_Latn-deu_Latn")
    parser.add_argument("--segments", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--beams", type=int, nargs="+", default=[1, 5])
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    src, tgt = args.pair.split("-")
    model, tokenizer, device = load_model(args.model, None)
    sources = read_lines(args.source)[: args.segments]
    prompts = [
        generation_prompt_ids(tokenizer, render_translation_prompt("bayling-en", src, tgt, s))
        for s in sources
    ]
    ratios = []
    for beams in args.beams:
        started = time.perf_counter()
        loop = one_at_a_time(model, tokenizer, prompts, args.max_new_tokens, beams)
        loop_seconds = time.perf_counter() - started
        started = time.perf_counter()
        batched = generate(
            model, tokenizer, device, prompts, args.batch_size, args.max_new_tokens, beams
        )
        batched_seconds = time.perf_counter() - started
        same = sum(a.strip() == b.strip() for a, b in zip(loop, batched, strict=True))
        print(
            f"beam {beams}: loop {loop_seconds:.1f} s, batched {batched_seconds:.1f} s, "
            f"identical outputs {same}/{len(prompts)}"
        )
        ratios.append(f"beam {beams} {loop_seconds / batched_seconds:.2f}x")
    print(
        f"decoding speed-up, {len(prompts)} segments, batch {args.batch_size}: " + ", ".join(ratios)
    )


if __name__ == "__main__":
    main()
