"""Adapter of rule download_testset (see bayling_pipeline.splits)."""

from bayling_pipeline.logs import logged
from bayling_pipeline.splits import write_testset

with logged(snakemake.log[0]):
    write_testset(
        snakemake.input.test,
        snakemake.wildcards.pair,
        snakemake.output.source,
        snakemake.output.reference,
        max_segments=snakemake.params.max_segments,
        min_source_words=snakemake.params.min_source_words,
    )
