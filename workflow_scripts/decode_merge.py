"""Adapter of rule decode_translate with decoding.shards > 1 (bayling_pipeline.decode.shards)."""

from bayling_pipeline.decode.shards import merge_shards
from bayling_pipeline.logs import logged

with logged(snakemake.log[0]):
    merge_shards(
        snakemake.input.source,
        list(snakemake.input.hypotheses),
        list(snakemake.input.metas),
        snakemake.output.hypotheses,
        snakemake.output.meta,
    )
