"""Adapter of rule download_fetch_testset (see bayling_pipeline.download.testsets)."""

from bayling_pipeline.download import fetch
from bayling_pipeline.download.testsets import fetch_testset
from bayling_pipeline.logs import logged

# how to fetch, not what: deliberately no param (see rules/download.smk)
SETTINGS = fetch.Settings.from_config(snakemake.config.get("download"))

with logged(snakemake.log[0]), fetch.using(SETTINGS):
    out = snakemake.output
    spec = dict(snakemake.params.spec)
    max_segments = spec.pop("max_segments", None)  # the test set's, not the source's
    fetch_testset(
        spec,
        snakemake.wildcards.pair,
        out.source,
        out.reference,
        out.references,
        out.manifest,
        max_segments=max_segments,
    )
