"""Adapter of rules score_significance and score_significance_comet (see
bayling_pipeline.score.directions): every system against the baseline (the first) on one
(testset, direction), for one metric."""

from bayling_pipeline.logs import logged
from bayling_pipeline.score.directions import write_significance
from bayling_pipeline.score.sacrebleu_metrics import use_staged_models

with logged(snakemake.log[0]):
    w, inputs, params = snakemake.wildcards, snakemake.input, snakemake.params
    if inputs.get("spm"):  # spBLEU's SentencePiece model, staged: sacreBLEU never downloads
        use_staged_models(inputs.spm)
    comet = "scores" in inputs.keys()
    files = inputs.scores if comet else inputs.hypotheses
    write_significance(
        snakemake.output[0],
        "comet" if comet else w.metric,
        dict(zip(params.systems, files, strict=True)),
        inputs.get("reference"),
        inputs.get("references"),
        testset=w.testset,
        pair=w.pair,
        bleu_tokenize=params.get("bleu_tokenize", {}),
        settings=params.settings,
    )
