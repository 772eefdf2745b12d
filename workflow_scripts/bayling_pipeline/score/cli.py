"""Score translations: BLEU, chrF and TER with sacreBLEU, COMET with unbabel-comet.

Run by the rules of ``rules/score.smk``; by hand (COMET on a GPU node: add ``--gpus 1``)::

    python -m bayling_pipeline.score --metric comet \
        --checkpoint resources/comet/wmt22-da/checkpoints/model.ckpt --model-label wmt22-da \
        --source results/download/testsets/django-test/eng_Latn-deu_Latn.source.txt \
        --hypothesis results/decode/bayling-smollm2/django-test/eng_Latn-deu_Latn.hyp.txt \
        --reference results/download/testsets/django-test/eng_Latn-deu_Latn.target.txt \
        --pair eng_Latn-deu_Latn --system bayling-smollm2 --kind finetuned --testset django-test \
        --output results/score/bayling-smollm2/django-test/eng_Latn-deu_Latn.comet.json

Scoring files by hand, without the workflow (one or more references; the JSON goes to
stdout without ``--output``)::

    python -m bayling_pipeline.score --metric bleu --pair eng_Latn-deu_Latn \
        --hypothesis sys.de --reference ref.A.de --reference ref.B.de

Every score carries its provenance: the sacreBLEU signature, or the COMET model, revision
and library version. Segment files are read as the workflow reads them (UTF-8, BOM dropped,
only ``\\n`` separates segments) and aligned line by line; a count mismatch is an error,
never a silent truncation. ``--pair`` takes the project's codes (``eng_Latn-zho_Hans``, not
sacreBLEU's ``en-zh``: the target language picks the BLEU tokenizer), and a pair whose
references are in the source language's script is refused as swapped. Suspicious but legal
inputs (empty hypotheses) are logged and listed under ``warnings`` in the record. COMET
segment scores can be cached (``--cache DIR``, see ``bayling_pipeline.score.comet_cache``):
unchanged segments are never scored twice.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence

from bayling_pipeline.cli import UserError, at_least, input_file, pair_argument, run_cli
from bayling_pipeline.score.comet_metric import score_comet
from bayling_pipeline.score.files import (
    check_pair_script,
    read_aligned,
    score_warnings,
    write_score,
)
from bayling_pipeline.score.sacrebleu_metrics import (
    SACREBLEU_METRICS,
    bleu_tokenizer,
    score_sacrebleu,
)

log = logging.getLogger(__name__)

METRICS = (*SACREBLEU_METRICS, "comet")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--metric", choices=METRICS, required=True)
    parser.add_argument("--hypothesis", required=True, type=input_file, help="one segment per line")
    parser.add_argument(
        "--reference",
        required=True,
        action="append",
        type=input_file,
        help="one segment per line; repeat for several references (COMET takes the first)",
    )
    parser.add_argument("--source", type=input_file, help="one segment per line (COMET)")
    parser.add_argument(
        "--pair", required=True, type=pair_argument, help="src-tgt, e.g. eng_Latn-deu_Latn"
    )
    parser.add_argument("--output", help="the score JSON to write (default: print it)")
    parser.add_argument("--system", default="cli", help="system name for the record")
    parser.add_argument("--kind", default="published", choices=("base", "finetuned", "published"))
    parser.add_argument("--testset", default="cli", help="test set name for the record")
    parser.add_argument("--tokenizer", help="BLEU tokenizer for this pair's target language")
    parser.add_argument("--checkpoint", type=input_file, help="COMET model.ckpt")
    parser.add_argument("--model-label", help="COMET model name for the signature")
    parser.add_argument("--revision", help="COMET model revision for the signature and cache")
    parser.add_argument("--cache", help="COMET segment score cache directory")
    parser.add_argument("--batch-size", type=at_least(1), default=8)
    parser.add_argument("--gpus", type=at_least(0), default=0)
    parser.add_argument(
        "--no-script-check",
        action="store_true",
        help="score even when the references look like the source language (swapped --pair)",
    )
    return parser


def _check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """What argparse cannot check alone: COMET's inputs, the tokenizer, the output path."""
    if args.metric == "comet" and (args.checkpoint is None or args.source is None):
        parser.error("--metric comet needs --checkpoint and --source")
    if args.metric != "comet" and args.checkpoint:
        parser.error(f"--checkpoint is for --metric comet, not {args.metric}")
    if args.tokenizer and args.metric != "bleu":
        parser.error(f"--tokenizer is for --metric bleu; {args.metric} has no tokenizer option")
    if args.output and args.output.endswith(("/", ".segments.tsv")):
        parser.error(f"--output {args.output}: give the score JSON file to write")
    if args.metric == "bleu":
        tgt = args.pair.split("-")[1]
        try:
            bleu_tokenizer(tgt, {tgt: args.tokenizer} if args.tokenizer else None)
        except (ValueError, ImportError) as error:
            raise UserError(f"--tokenizer: {error}") from None


def _score(args: argparse.Namespace, hyps, refs, srcs) -> dict:
    if args.metric == "comet":
        result = score_comet(
            args.checkpoint,
            srcs,
            hyps,
            refs[0],
            args.batch_size,
            args.gpus,
            args.model_label,
            args.revision or None,
            args.cache or None,
        )
        log.info("COMET: %d of %d segments computed", result["computed_segments"], len(hyps))
        return result
    tgt = args.pair.split("-")[1]
    overrides = {tgt: args.tokenizer} if args.tokenizer else None
    return score_sacrebleu(args.metric, hyps, refs, tgt, overrides)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    _check_arguments(parser, args)
    hyps, refs, srcs = read_aligned(args.hypothesis, args.reference, args.source)
    if not args.no_script_check:
        check_pair_script(args.pair, refs, srcs, "--pair")
    warnings = score_warnings(hyps, refs)
    for warning in warnings:
        log.warning("%s: %s", args.hypothesis, warning)
    result = _score(args, hyps, refs, srcs)
    log.info("%s %s: %.4f (%s)", args.pair, args.metric, result["score"], result["signature"])
    provenance = {"system": args.system, "kind": args.kind, "testset": args.testset}
    provenance |= {"pair": args.pair, "reference_files": [str(r) for r in args.reference]}
    if warnings:
        provenance["warnings"] = warnings
    if args.output:
        write_score(args.output, result, **provenance)
    else:
        record = {k: v for k, v in result.items() if k != "segment_scores"}
        print(json.dumps({**record, **provenance}, ensure_ascii=False, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.score")
