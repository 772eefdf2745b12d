"""Adapter of rule score_pooled_<testset> (evaluation.pool_directions): every direction of
one system on one test set, with every sacreBLEU metric, each record as the rule
score_sacrebleu writes it (bayling_pipeline.score.directions); then the job's index."""

from bayling_pipeline.io import write_index
from bayling_pipeline.logs import logged
from bayling_pipeline.score.directions import write_sacrebleu_score
from bayling_pipeline.score.sacrebleu_metrics import use_staged_models

with logged(snakemake.log[0]):
    inputs, params, output = snakemake.input, snakemake.params, snakemake.output
    if inputs.get("spm"):  # spBLEU's SentencePiece model, staged: sacreBLEU never downloads
        use_staged_models(inputs.spm)
    files = params.files  # by direction
    scores = iter(params.scores)  # in the rule's order: direction, then metric
    for index, pair in enumerate(params.pairs):
        for metric in params.metrics:
            write_sacrebleu_score(
                next(scores),
                metric,
                files["hypotheses"][index],
                files["metas"][index],
                files["references"][index],
                files["references_folders"][index],
                system=params.label,
                kind=params.kind,
                testset=params.testset,
                pair=pair,
                bleu_tokenize=params.bleu_tokenize,
            )
    write_index(output.index, params.scores)
