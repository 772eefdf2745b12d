"""Adapter of rule score_comet_pooled_<testset> (evaluation.pool_directions): COMET of every
direction of one system on one test set with one model load, each record written by the
command the rule score_comet runs (python -m bayling_pipeline.score --metric comet); then
the job's index."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # scoring jobs run offline: the model is staged

from bayling_pipeline.io import write_index  # noqa: E402
from bayling_pipeline.logs import logged  # noqa: E402
from bayling_pipeline.score.cli import main  # noqa: E402

with logged(snakemake.log[0]):
    inputs, params, output = snakemake.input, snakemake.params, snakemake.output
    files = params.files  # by direction
    for index, pair in enumerate(params.pairs):
        main(
            [
                "--metric", "comet",
                "--checkpoint", inputs.checkpoint,
                "--model-label", params.model_label,
                "--source", files["sources"][index],
                "--hypothesis", files["hypotheses"][index],
                "--reference", files["references"][index],
                "--pair", pair,
                "--system", params.label,
                "--kind", params.kind,
                "--testset", params.testset,
                f"--revision={params.revision}",
                f"--cache={params.cache}",
                "--batch-size", str(params.batch_size),
                "--gpus", str(snakemake.resources.gpu),
                "--output", params.scores[index],
            ]
        )  # fmt: skip
    write_index(output.index, [*params.scores, *params.segments])
