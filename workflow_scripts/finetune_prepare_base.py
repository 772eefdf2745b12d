"""Adapter of rule finetune_prepare_base (see bayling_pipeline.finetune.prepare_base)."""

from bayling_pipeline.finetune.prepare_base import prepare_base_model
from bayling_pipeline.logs import logged

with logged(snakemake.log[0]):
    prepare_base_model(dict(snakemake.params.spec), snakemake.output[0])
