"""Adapter of rule constrained_fetch_published (see bayling_pipeline.constrained.sets)."""

from bayling_pipeline.constrained.sets import prepare_published
from bayling_pipeline.download import fetch
from bayling_pipeline.logs import logged

# how to fetch, not what: deliberately no param (see rules/download.smk)
SETTINGS = fetch.Settings.from_config(snakemake.config.get("download"))

with logged(snakemake.log[0]) as log, fetch.using(SETTINGS):
    inputs, out = snakemake.input, snakemake.output
    record = prepare_published(
        dict(snakemake.params.spec),
        snakemake.params.label,
        inputs.constraints,
        inputs.manifest,
        out.outputs,
        out.meta,
    )
    log.info(
        "%s: %d sentences from %s", snakemake.params.label, record["segments"], record["source"]
    )
