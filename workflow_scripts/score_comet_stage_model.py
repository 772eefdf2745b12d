"""Adapter of rule score_comet_stage_model (see bayling_pipeline.score.comet_metric)."""

from pathlib import Path

from bayling_pipeline.logs import logged
from bayling_pipeline.score.comet_metric import stage_comet_model

with logged(snakemake.log[0]) as log:
    # output is <dir>/checkpoints/model.ckpt; the staged model directory is <dir>
    model_dir = Path(snakemake.output[0]).parent.parent
    log.info(
        "staged %s", stage_comet_model(snakemake.params.model, model_dir, snakemake.params.revision)
    )
