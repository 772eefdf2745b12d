"""Adapter of rule score_pooled_<testset> (evaluation.pool_directions): every direction of
one system on one test set, with every sacreBLEU metric, each record as the rule
score_sacrebleu writes it (bayling_pipeline.score.directions)."""

from bayling_pipeline.logs import logged
from bayling_pipeline.score.directions import write_sacrebleu_score
from bayling_pipeline.score.sacrebleu_metrics import use_staged_models

with logged(snakemake.log[0]):
    inputs, params = snakemake.input, snakemake.params
    if inputs.get("spm"):  # spBLEU's SentencePiece model, staged: sacreBLEU never downloads
        use_staged_models(inputs.spm)
    folders = list(inputs.get("references_folders", [])) or [None] * len(params.pairs)
    outputs = iter(snakemake.output)  # in the rule's order: direction, then metric
    for index, pair in enumerate(params.pairs):
        for metric in params.metrics:
            write_sacrebleu_score(
                next(outputs),
                metric,
                inputs.hypotheses[index],
                inputs.metas[index],
                inputs.references[index],
                folders[index],
                system=params.label,
                kind=params.kind,
                testset=params.testset,
                pair=pair,
                bleu_tokenize=params.bleu_tokenize,
            )
