"""Adapter of rule download_corpus (see bayling_pipeline.download.corpus)."""

from bayling_pipeline.download import fetch
from bayling_pipeline.download.corpus import fetch_corpus
from bayling_pipeline.logs import logged

# how to fetch, not what: deliberately no param (see rules/download.smk)
SETTINGS = fetch.Settings.from_config(snakemake.config.get("download"))

with logged(snakemake.log[0]), fetch.using(SETTINGS):
    fetch_corpus(
        snakemake.params.source,
        dict(snakemake.params.options),
        snakemake.output.corpus,
        snakemake.output.manifest,
    )
