"""Adapter of rule download_fetch_testset (see bayling_pipeline.testsets)."""

from bayling_pipeline import fetch
from bayling_pipeline.logs import logged
from bayling_pipeline.testsets import write_testset

# how to fetch, not what: deliberately no param (see rules/download.smk)
SETTINGS = fetch.Settings.from_config(snakemake.config.get("download"))

with logged(snakemake.log[0]), fetch.using(SETTINGS):
    out = snakemake.output
    write_testset(
        dict(snakemake.params.spec),
        snakemake.wildcards.pair,
        out.source,
        out.reference,
        out.references,
        out.manifest,
    )
