"""Adapter of rule score_sacrebleu (see bayling_pipeline.score.directions)."""

from bayling_pipeline.logs import logged
from bayling_pipeline.score.directions import write_sacrebleu_score
from bayling_pipeline.score.sacrebleu_metrics import use_staged_models

with logged(snakemake.log[0]):
    w, inputs = snakemake.wildcards, snakemake.input
    if inputs.get("spm"):  # spBLEU's SentencePiece model, staged: sacreBLEU never downloads
        use_staged_models(inputs.spm)
    write_sacrebleu_score(
        snakemake.output[0],
        w.metric,
        inputs.hypotheses,
        inputs.meta,
        inputs.reference,
        inputs.get("references"),
        system=snakemake.params.label,
        kind=snakemake.params.kind,
        testset=w.testset,
        pair=w.pair,
        bleu_tokenize=snakemake.params.bleu_tokenize,
    )
