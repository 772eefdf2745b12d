"""Adapter of rule score_sacrebleu (see bayling_pipeline.score.sacrebleu_metrics)."""

from pathlib import Path

from bayling_pipeline.io import read_json
from bayling_pipeline.logs import logged
from bayling_pipeline.score.files import read_aligned, score_warnings, write_score
from bayling_pipeline.score.sacrebleu_metrics import score_sacrebleu, use_staged_models

with logged(snakemake.log[0]) as log:
    w, inputs = snakemake.wildcards, snakemake.input
    if inputs.get("spm"):  # spBLEU's SentencePiece model, staged: sacreBLEU never downloads
        use_staged_models(inputs.spm)
    # scoring.references: all -> every reference of the folder (A, B, ...), else the primary
    folder = inputs.get("references")
    refs = sorted(Path(folder).glob("*.txt")) if folder else [inputs.reference]
    hypotheses, references, _ = read_aligned(inputs.hypotheses, refs)
    warnings = score_warnings(hypotheses, references, snakemake.params.references == "all")
    for warning in warnings:
        log.warning("%s: %s", inputs.hypotheses, warning)
    tgt = w.pair.split("-")[1]
    result = score_sacrebleu(
        w.metric, hypotheses, references, tgt, dict(snakemake.params.bleu_tokenize)
    )
    decoding = read_json(inputs.meta)
    write_score(
        snakemake.output[0],
        result,
        system=snakemake.params.label,
        kind=snakemake.params.kind,
        testset=w.testset,
        pair=w.pair,
        template=decoding["template"],
        decoding=decoding["settings"],
        reference_ids=",".join(Path(r).stem for r in refs) if folder else "primary",
        **({"warnings": warnings} if warnings else {}),
    )
    log.info("%s %s %s: %.2f %s", w.system, w.pair, w.metric, result["score"], result["signature"])
