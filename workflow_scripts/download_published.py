"""Adapter of rule download_published (see bayling_pipeline.testsets)."""

from bayling_pipeline import fetch
from bayling_pipeline.logs import logged
from bayling_pipeline.testsets import write_published

# how to fetch, not what: deliberately no param (see rules/download.smk)
SETTINGS = fetch.Settings.from_config(snakemake.config.get("download"))

with logged(snakemake.log[0]), fetch.using(SETTINGS):
    spec = dict(snakemake.params.spec)
    spec["label"] = spec.get("label") or snakemake.wildcards.published
    write_published(
        spec,
        snakemake.wildcards.pair,
        snakemake.input.source,
        snakemake.output.hypotheses,
        snakemake.output.manifest,
    )
