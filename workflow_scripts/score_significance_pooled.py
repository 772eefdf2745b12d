"""Adapter of rule score_significance_pooled_<testset> (evaluation.pool_directions): the
paired bootstrap of every direction of a test set and every metric in one job, each record
as the per-direction rules write it (bayling_pipeline.score.directions)."""

from bayling_pipeline.io import write_index
from bayling_pipeline.logs import logged
from bayling_pipeline.score.directions import write_significance
from bayling_pipeline.score.sacrebleu_metrics import use_staged_models

with logged(snakemake.log[0]):
    inputs, params = snakemake.input, snakemake.params
    if inputs.get("spm"):  # spBLEU's SentencePiece model, staged: sacreBLEU never downloads
        use_staged_models(inputs.spm)
    outputs = iter(params.results)  # in the rule's order: direction, then metric
    for pair, systems in params.systems.items():
        files = params.files[pair]
        for metric in params.metrics:
            kind = "comet" if metric == "comet" else "hypotheses"
            write_significance(
                next(outputs),
                metric,
                dict(zip(systems, files[kind], strict=True)),
                files["reference"],
                files.get("references"),
                testset=params.testset,
                pair=pair,
                bleu_tokenize=params.bleu_tokenize,
                settings=params.settings,
            )
    write_index(snakemake.output.index, params.results)
