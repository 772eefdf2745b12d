"""Adapter of rule score_comet_stage_model (see bayling_pipeline.score.comet_stage)."""

from pathlib import Path

from bayling_pipeline.download import fetch
from bayling_pipeline.logs import logged
from bayling_pipeline.score.comet_stage import stage_comet_model

# the lock file of first-seen digests is the download stage's (config["download"], not a
# param: how to fetch is not what is staged)
SETTINGS = fetch.Settings.from_config(snakemake.config.get("download"))

with logged(snakemake.log[0]):
    # output is <dir>/checkpoints/model.ckpt; the staged model directory is <dir>
    model_dir = Path(snakemake.output[0]).parent.parent
    params = snakemake.params
    stage_comet_model(
        params.model,
        model_dir,
        params.revision,
        sha256=params.sha256,
        encoder_revision=params.encoder_revision,
        settings=SETTINGS,
    )
