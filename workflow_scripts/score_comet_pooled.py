"""Adapter of rule score_comet_pooled_<testset> (evaluation.pool_directions): COMET of every
direction of one system on one test set with one model load, each record written by the
command the rule score_comet runs (python -m bayling_pipeline.score --metric comet)."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # scoring jobs run offline: the model is staged

from bayling_pipeline.logs import logged  # noqa: E402
from bayling_pipeline.score.cli import main  # noqa: E402

with logged(snakemake.log[0]):
    inputs, params = snakemake.input, snakemake.params
    for index, pair in enumerate(params.pairs):
        main(
            [
                "--metric", "comet",
                "--checkpoint", inputs.checkpoint,
                "--model-label", params.model_label,
                "--source", inputs.sources[index],
                "--hypothesis", inputs.hypotheses[index],
                "--reference", inputs.references[index],
                "--pair", pair,
                "--system", params.label,
                "--kind", params.kind,
                "--testset", params.testset,
                f"--revision={params.revision}",
                f"--cache={params.cache}",
                "--batch-size", str(params.batch_size),
                "--gpus", str(snakemake.resources.gpu),
                "--output", snakemake.output.scores[index],
            ]
        )  # fmt: skip
