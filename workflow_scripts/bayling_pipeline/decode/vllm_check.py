"""Agreement of the vLLM backend (:mod:`bayling_pipeline.decode.vllm_engine`) with the HF
backend, to run on a GPU node with vLLM.

Before trusting it for a paper table, check on the GPU node that it agrees with the HF
backend (BLEU of vLLM's outputs against HF's on a fixed subset, greedy)::

    python -m bayling_pipeline.decode.vllm_check check --model resources/models/llama-7b \
        --adapter results/finetune/bayling-7b/adapter \
        --source results/download/testsets/wmt22/zho_Hans-eng_Latn.source.txt \
        --pair zho_Hans-eng_Latn --segments 200 --min-bleu 90

It prints BLEU, chrF and the share of identical outputs, and exits with status 1 when BLEU
is below ``--min-bleu``. bf16 kernels differ between the two, so a few greedy paths split
late; a low BLEU means a real difference (template, stop tokens, adapter, dtype).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys

from bayling_pipeline.cli import at_least, input_file, pair_argument, run_cli
from bayling_pipeline.decode.loading import generate_texts, load
from bayling_pipeline.decode.settings import Settings, clean_all, settings_from_args
from bayling_pipeline.decode.translate import translation_prompts
from bayling_pipeline.io import read_lines, write_json


def agreement(hf_texts: list[str], vllm_texts: list[str]) -> dict:
    """How close vLLM's outputs are to HF's: BLEU and chrF with HF's as the reference, and
    the share of identical outputs."""
    import sacrebleu

    if len(hf_texts) != len(vllm_texts):
        raise ValueError(f"{len(hf_texts)} HF outputs but {len(vllm_texts)} vLLM outputs")
    bleu = sacrebleu.metrics.BLEU()
    chrf = sacrebleu.metrics.CHRF()
    return {
        "segments": len(hf_texts),
        "bleu": bleu.corpus_score(vllm_texts, [hf_texts]).score,
        "chrf": chrf.corpus_score(vllm_texts, [hf_texts]).score,
        "identical": sum(a == b for a, b in zip(hf_texts, vllm_texts, strict=True))
        / max(len(hf_texts), 1),
        "signature": str(bleu.get_signature()),
    }


def check_equivalence(args: argparse.Namespace) -> dict:
    """Decode the first ``--segments`` sentences greedily with both backends; compare."""
    settings = dataclasses.replace(settings_from_args(args), temperature=0.0, num_beams=1)
    sources = read_lines(args.source)[: args.segments]
    outputs = {}
    for backend in ("hf", "vllm"):
        loaded = load(args.model, args.adapter or None, backend, args.trust_remote_code)
        prompts = translation_prompts(loaded.tokenizer, sources, args.pair, settings)
        raw = generate_texts(loaded, prompts, dataclasses.replace(settings, backend=backend))
        outputs[backend] = clean_all(raw, settings.postprocess)[0]
        del loaded  # free the GPU for the other backend
    result = agreement(outputs["hf"], outputs["vllm"])
    result["min_bleu"] = args.min_bleu
    result["passed"] = result["bleu"] >= args.min_bleu
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="vLLM backend checks")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="BLEU of vLLM vs HF outputs on a fixed subset")
    check.add_argument("--model", required=True)
    check.add_argument("--adapter", default="")
    check.add_argument("--source", required=True, type=input_file)
    check.add_argument("--pair", required=True, type=pair_argument)
    check.add_argument("--template", default=Settings.template)
    check.add_argument("--chat-format", default=Settings.chat_format)
    check.add_argument("--postprocess", default=Settings.postprocess)
    check.add_argument("--batch-size", type=at_least(1), default=32)
    check.add_argument("--max-new-tokens", type=at_least(1), default=256)
    check.add_argument("--segments", type=at_least(1), default=200, help="first N sentences")
    check.add_argument("--min-bleu", type=float, default=90.0)
    check.add_argument("--trust-remote-code", action="store_true")
    check.add_argument("--output", help="write the result JSON here (default: print it)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    result = check_equivalence(args)
    if args.output:
        write_json(args.output, result)
    else:
        print(json.dumps(result, indent=2))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.decode.vllm_check")
