"""Adapter of rule download_corpus (see bayling_pipeline.download)."""

from bayling_pipeline.download import fetch_corpus
from bayling_pipeline.logs import logged

with logged(snakemake.log[0]):
    fetch_corpus(
        snakemake.params.source,
        dict(snakemake.params.options),
        snakemake.output.corpus,
        snakemake.output.manifest,
    )
