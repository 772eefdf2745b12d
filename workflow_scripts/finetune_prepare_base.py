"""Adapter of rule finetune_prepare_base (see bayling_pipeline.finetune.prepare_base; a model
of source delta: bayling_pipeline.finetune.weight_delta)."""

from bayling_pipeline.download import fetch
from bayling_pipeline.finetune.prepare_base import prepare_base_model
from bayling_pipeline.finetune.weight_delta import stage_delta_model
from bayling_pipeline.logs import logged

spec = dict(snakemake.params.spec)
with logged(snakemake.log[0]):
    if spec["source"] == "delta":
        # a hub delta is fetched as the download stage fetches (cache, offline switch), and
        # an unpinned result digest goes to its lock file; like the download adapters, read
        # from config["download"], not a param, so a new mirror reruns nothing
        settings = fetch.Settings.from_config(snakemake.config.get("download"))
        stage_delta_model(spec, snakemake.output[0], snakemake.input.base, settings)
    else:
        prepare_base_model(spec, snakemake.output[0])
