"""The decode stage's backends vs a one-sentence-per-call loop in the style of BayLing's own
scripts/translate.py: same model, same prompts, same sentences, same machine, one run.

    .venv/bin/python benchmarks/decode_vs_loop.py --model resources/models/smollm2-135m \
        --source ../shared/data/wmt22/txt/sources/generaltest2022.en-de.src.en \
        --reference ../shared/data/wmt22/txt/references/generaltest2022.en-de.ref.A.de \
        --segments 32 --max-new-tokens 48 --beams 1 5

Arms, for each beam size:

- ``loop``: what translate.py does per sentence: build the prompt, tokenize it, call
  ``generate(input_ids, do_sample=False, num_beams=...)`` on it alone, decode, join lines;
- ``hf``: the stage's own code (``translate_file``: length-sorted left-padded batches,
  post-processing, the partial file, atomic writes), HF ``generate``, float32;
- ``ct2-float32`` and ``ct2-int8``: the same ``translate_file`` with
  ``decoding.backend: ctranslate2`` (the model converted once, outside the timings).

Model loading is outside every timing and printed apart. Each arm's outputs are compared
with the hf arm's (the reference backend): identical share and BLEU against the reference
translations. An arm is *equivalent* when >= 95% of its outputs are identical to hf's.

The limit: this CPU's float32 matmul throughput (torch, the job's threads; a large square
product and one shaped like a decoding step) against what each arm achieves, counted as
2 x parameters FLOPs per token the model runs: prompt tokens once, each generated token
once per beam (an upper bound for beam search, whose finished beams stop costing).

The last line is the beam-5 speed-up of the fastest equivalent float32 backend over the
loop (loop seconds / its seconds).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow_scripts"))

from bayling_pipeline.decode.convert import convert  # noqa: E402
from bayling_pipeline.decode.loading import load, set_threads  # noqa: E402
from bayling_pipeline.decode.settings import Settings  # noqa: E402
from bayling_pipeline.decode.translate import translate_file  # noqa: E402
from bayling_pipeline.io import read_json, read_lines, write_lines  # noqa: E402
from bayling_pipeline.languages import parse_pair  # noqa: E402
from bayling_pipeline.prompts.chat import generation_prompt_ids  # noqa: E402
from bayling_pipeline.prompts.templates import render_translation_prompt  # noqa: E402

EQUIVALENT = 0.95  # share of outputs identical to the hf arm's


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


def matmul_gflops(threads: int, rows: int, hidden: int, ffn: int) -> dict:
    """Float32 matmul GFLOP/s of torch on this CPU: a 2048^3 product, and a decoding step's
    (``rows`` sequences x hidden @ hidden x ffn), each the best of a few repeats."""
    import torch

    torch.set_num_threads(threads)

    def best(m, k, n, repeats):
        a, b = torch.randn(m, k), torch.randn(k, n)
        a @ b  # warm-up
        fastest = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            for _ in range(repeats):
                a @ b
            fastest = min(fastest, (time.perf_counter() - started) / repeats)
        return 2 * m * k * n / fastest / 1e9

    return {"square": best(2048, 2048, 2048, 3), "decode_step": best(rows, hidden, ffn, 50)}


def model_shape(model) -> dict:
    """Parameters the decoder multiplies by per token (2 FLOPs each): every matrix but the
    input embedding, the output projection counted even when tied to it."""
    config = model.config
    total = sum(p.numel() for p in model.parameters())
    embedding = config.vocab_size * config.hidden_size
    tied = getattr(config, "tie_word_embeddings", False)
    return {
        "matmul_params": total - embedding + (embedding if tied else 0),
        "hidden": config.hidden_size,
        "ffn": config.intermediate_size,
    }


def arm_row(name, beams, seconds, outputs, reference_outputs, references, cost, flops) -> dict:
    """One line of the table; ``cost`` is a translate_file metadata cost block (or None)."""
    import sacrebleu

    same = sum(a.split() == b.split() for a, b in zip(outputs, reference_outputs, strict=True))
    row = {
        "arm": name,
        "beams": beams,
        "seconds": seconds,
        "sent/s": len(outputs) / seconds,
        "tok/s": cost["generated_tokens"] / seconds if cost else None,
        "identical": same / len(outputs),
        "bleu": sacrebleu.corpus_bleu(outputs, [references]).score if references else None,
        "load_s": cost["load_seconds"] if cost else None,
        "peak_rss_mb": cost["peak_rss_mb"] if cost else None,
    }
    if cost:
        work = flops["prompt_tokens"] + cost["generated_tokens"] * beams
        row["gflop/s"] = 2 * flops["matmul_params"] * work / seconds / 1e9
    return row


def run_stage_arm(arm, job, source_path, tmp, name):
    """translate_file with a loaded model: (seconds, outputs, cost block)."""
    output, meta = Path(tmp) / f"{name}.hyp.txt", Path(tmp) / f"{name}.meta.json"
    started = time.perf_counter()
    translate_file(
        arm.model_dir, None, source_path, job.pair, output, meta, job.settings, loaded=arm.loaded
    )
    seconds = time.perf_counter() - started
    return seconds, read_lines(output), read_json(meta)["cost"]


@dataclasses.dataclass
class Arm:
    """A loaded model and the folder it was loaded from."""

    model_dir: str
    loaded: object


@dataclasses.dataclass
class Job:
    """A direction and the decode settings of one arm."""

    pair: str
    settings: Settings


def load_arms(args, tmp) -> dict[str, Arm]:
    """The hf model and the CTranslate2 engines (float32, int8), converted here."""
    arms = {"hf": Arm(args.model, load(args.model))}
    for quantization, compute_type in (("float32", "auto"), ("int8", "int8")):
        folder = Path(args.ct2_dir or tmp) / quantization
        if not folder.exists():
            started = time.perf_counter()
            convert(args.model, None, quantization, folder)
            print(
                f"converted to ctranslate2 {quantization} in {time.perf_counter() - started:.1f} s"
            )
        loaded = load(str(folder), backend="ctranslate2", compute_type=compute_type)
        arms[f"ct2-{quantization}"] = Arm(str(folder), loaded)
    return arms


def run_beam(args, arms, sources, references, tmp, beams, flops) -> list[dict]:
    """Every arm at one beam size; rows of the table."""
    hf = arms["hf"].loaded
    started = time.perf_counter()
    loop = bayling_loop(
        hf.model, hf.tokenizer, sources, args.pair, args.template, args.max_new_tokens, beams
    )
    loop_seconds = time.perf_counter() - started
    settings = Settings(
        template=args.template,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        num_beams=beams,
        postprocess="join_lines",  # as the loop (and translate.py) post-process
    )
    results = {}
    for name, arm in arms.items():
        backend = {"backend": "ctranslate2"} if name.startswith("ct2") else {}
        if name == "ct2-int8":
            backend["compute_type"] = "int8"
        job = Job(args.pair, dataclasses.replace(settings, **backend))
        results[name] = run_stage_arm(arm, job, Path(tmp) / "src.txt", tmp, f"{name}{beams}")
    reference = results["hf"][1]
    rows = [arm_row("loop", beams, loop_seconds, loop, reference, references, None, flops)]
    for name, (seconds, outputs, cost) in results.items():
        rows.append(arm_row(name, beams, seconds, outputs, reference, references, cost, flops))
    return rows


def print_table(rows: list[dict], peak: dict) -> None:
    columns = ["arm", "beams", "seconds", "sent/s", "tok/s", "gflop/s", "identical", "bleu",
               "load_s", "peak_rss_mb"]  # fmt: skip
    print("| " + " | ".join(columns) + " | % of matmul peak |")
    print("|" + "---|" * (len(columns) + 1))
    for row in rows:
        cells = [_cell(row.get(c)) for c in columns]
        share = f"{100 * row['gflop/s'] / peak['square']:.1f}%" if row.get("gflop/s") else ""
        print("| " + " | ".join(cells) + f" | {share} |")


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return "" if value is None else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the HF model folder")
    parser.add_argument("--source", required=True)
    parser.add_argument("--reference", default="", help="reference translations (BLEU)")
    parser.add_argument("--pair", default="eng_Latn-deu_Latn")
    parser.add_argument("--template", default="bayling-en")
    parser.add_argument("--segments", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--beams", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ct2-dir", default="", help="keep the conversions here (default: temp)")
    args = parser.parse_args()

    set_threads(args.threads)
    sources = read_lines(args.source)[: args.segments]
    references = read_lines(args.reference)[: args.segments] if args.reference else None
    with tempfile.TemporaryDirectory() as tmp:
        write_lines(Path(tmp) / "src.txt", sources)
        arms = load_arms(args, tmp)
        hf = arms["hf"].loaded
        shape = model_shape(hf.model)
        prompt_tokens = sum(
            len(generation_prompt_ids(hf.tokenizer, render_translation_prompt(
                args.template, *parse_pair(args.pair), line)))
            for line in sources
        )  # fmt: skip
        flops = {"matmul_params": shape["matmul_params"], "prompt_tokens": prompt_tokens}
        peak = matmul_gflops(args.threads, args.batch_size * 5, shape["hidden"], shape["ffn"])
        set_threads(args.threads)
        print(
            f"{len(sources)} segments, {args.pair}, max_new_tokens {args.max_new_tokens}, "
            f"batch {args.batch_size}, {args.threads} threads, {os.cpu_count()} CPUs, "
            f"{shape['matmul_params'] / 1e6:.0f}M matmul parameters; float32 matmul "
            f"{peak['square']:.1f} GFLOP/s (2048^3), {peak['decode_step']:.1f} GFLOP/s "
            f"({args.batch_size * 5}x{shape['hidden']} @ {shape['hidden']}x{shape['ffn']}); "
            "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
        )
        rows = []
        for beams in args.beams:
            rows += run_beam(args, arms, sources, references, tmp, beams, flops)
            print(f"beam {beams} done, load average {os.getloadavg()[0]:.2f}", flush=True)
    print_table(rows, peak)
    print_ratio(rows)


def print_ratio(rows: list[dict]) -> None:
    """The last line: beam 5, the fastest equivalent float32 arm against the loop."""
    beam5 = [row for row in rows if row["beams"] == 5]
    if not beam5:
        print("no beam-5 arms ran: no ratio")
        return
    loop = next(row for row in beam5 if row["arm"] == "loop")
    candidates = [
        row for row in beam5
        if row["arm"] in ("hf", "ct2-float32") and row["identical"] >= EQUIVALENT
    ]  # fmt: skip
    best = min(candidates, key=lambda row: row["seconds"])
    print(
        f"beam 5, {round(loop['sent/s'] * loop['seconds'])} segments: "
        f"{best['arm']} (fastest equivalent float32) {loop['seconds'] / best['seconds']:.2f}x "
        f"the BayLing loop ({loop['seconds']:.1f} s -> {best['seconds']:.1f} s)"
    )


if __name__ == "__main__":
    main()
