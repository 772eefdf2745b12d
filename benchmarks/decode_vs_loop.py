"""The decode stage vs a one-sentence-per-call loop in the style of BayLing's own
scripts/translate.py: same model, same prompts, same beam, same machine, one run.

    .venv/bin/python benchmarks/decode_vs_loop.py --model resources/models/smollm2-135m \
        --source ../shared/data/wmt22/txt/sources/generaltest2022.en-de.src.en \
        --segments 48 --max-new-tokens 48 --beams 1 5

The batched arm is the stage's own code (``translate_file`` with the model already
loaded: prompts, length-sorted batches, post-processing, the partial file, atomic writes).
The loop arm does what translate.py does per sentence: build the prompt, tokenize it, call
``generate(input_ids, do_sample=False, num_beams=...)`` on it alone, decode, strip and join
lines. Model loading is outside both timings. Prints sentences/s per arm, how many outputs
are identical, and as its last line the speed-up (loop time / batched time) per beam size.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow_scripts"))

from bayling_pipeline.decode.loading import load, set_threads  # noqa: E402
from bayling_pipeline.decode.settings import Settings  # noqa: E402
from bayling_pipeline.decode.translate import translate_file  # noqa: E402
from bayling_pipeline.io import read_lines, write_lines  # noqa: E402
from bayling_pipeline.languages import parse_pair  # noqa: E402
from bayling_pipeline.prompts.chat import generation_prompt_ids  # noqa: E402
from bayling_pipeline.prompts.templates import render_translation_prompt  # noqa: E402


def bayling_loop(model, tokenizer, sources, pair, template, max_new_tokens, num_beams):
    """BayLing's scripts/translate.py, one sentence per generate() call."""
    import torch

    src, tgt = parse_pair(pair)
    outputs = []
    for line in sources:
        ids = generation_prompt_ids(tokenizer, render_translation_prompt(template, src, tgt, line))
        input_ids = torch.as_tensor([ids])
        with torch.inference_mode():
            output_ids = model.generate(
                input_ids,
                attention_mask=torch.ones_like(input_ids),  # no padding: all ones, as implied
                do_sample=False,
                num_beams=num_beams,
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
            )
        text = tokenizer.decode(output_ids[0][len(ids) :], skip_special_tokens=True)
        outputs.append(text.strip().replace("\n", " "))
    return outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--pair", default="eng_Latn-deu_Latn")
    parser.add_argument("--template", default="bayling-en")
    parser.add_argument("--segments", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--beams", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    set_threads(args.threads)
    loaded = load(args.model)
    sources = read_lines(args.source)[: args.segments]
    print(
        f"{len(sources)} segments, {args.pair}, max_new_tokens {args.max_new_tokens}, "
        f"batch {args.batch_size}, {args.threads} threads, load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        write_lines(Path(tmp) / "src.txt", sources)
        for beams in args.beams:
            started = time.perf_counter()
            loop = bayling_loop(
                loaded.model, loaded.tokenizer, sources, args.pair, args.template,
                args.max_new_tokens, beams,
            )  # fmt: skip
            loop_seconds = time.perf_counter() - started
            settings = Settings(
                template=args.template,
                batch_size=args.batch_size,
                max_new_tokens=args.max_new_tokens,
                num_beams=beams,
                postprocess="join_lines",  # as the loop (and translate.py) post-process
            )
            started = time.perf_counter()
            translate_file(
                args.model, None, Path(tmp) / "src.txt", args.pair,
                Path(tmp) / f"beam{beams}.hyp.txt", Path(tmp) / f"beam{beams}.meta.json",
                settings, loaded=loaded,
            )  # fmt: skip
            batched_seconds = time.perf_counter() - started
            batched = read_lines(Path(tmp) / f"beam{beams}.hyp.txt")
            # translate.py turns a blank line into two spaces, join_lines into one; the
            # metrics split on whitespace, so compare whitespace-normalized outputs
            same = 0
            for index, (a, b) in enumerate(zip(loop, batched, strict=True)):
                if a.split() == b.split():
                    same += 1
                else:
                    print(f"  differs at {index}:\n    loop    {a!r}\n    batched {b!r}")
            print(
                f"beam {beams}: loop {loop_seconds:.1f} s ({len(sources) / loop_seconds:.2f} "
                f"sent/s), batched {batched_seconds:.1f} s "
                f"({len(sources) / batched_seconds:.2f} sent/s), "
                f"identical outputs {same}/{len(sources)} (up to spaces), load average "
                + " ".join(f"{x:.2f}" for x in os.getloadavg())
            )
            ratios.append(f"beam {beams} {loop_seconds / batched_seconds:.2f}x")
    print(
        f"decoding speed-up, {len(sources)} segments, batch {args.batch_size}: " + ", ".join(ratios)
    )


if __name__ == "__main__":
    main()
