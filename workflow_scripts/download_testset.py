"""Adapter of rule download_testset (see bayling_pipeline.download.splits)."""

from bayling_pipeline.download.splits import cut_testset
from bayling_pipeline.logs import logged

with logged(snakemake.log[0]):
    cut_testset(
        snakemake.input.test,
        snakemake.wildcards.pair,
        snakemake.output.source,
        snakemake.output.reference,
        max_segments=snakemake.params.max_segments,
        min_source_words=snakemake.params.min_source_words,
    )
