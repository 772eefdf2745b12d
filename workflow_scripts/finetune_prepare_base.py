"""Adapter of rule finetune_prepare_base (see bayling_pipeline.modelprep)."""

from bayling_pipeline.logs import logged
from bayling_pipeline.modelprep import prepare_base_model

with logged(snakemake.log[0]):
    prepare_base_model(dict(snakemake.params.spec), snakemake.output[0])
