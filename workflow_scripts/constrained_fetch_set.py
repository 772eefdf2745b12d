"""Adapter of rule constrained_fetch_set (see bayling_pipeline.constrained.sets)."""

from bayling_pipeline.constrained.sets import prepare_set
from bayling_pipeline.download import fetch
from bayling_pipeline.logs import logged

# how to fetch, not what: deliberately no param (see rules/download.smk)
SETTINGS = fetch.Settings.from_config(snakemake.config.get("download"))

with logged(snakemake.log[0]) as log, fetch.using(SETTINGS):
    out = snakemake.output
    record = prepare_set(
        dict(snakemake.params.spec), snakemake.params.max_segments, out.constraints, out.manifest
    )
    log.info(
        "%s %s: %d of %d sentences, %d terms",
        snakemake.wildcards.cset,
        snakemake.wildcards.pair,
        record["segments"],
        record["upstream_segments"],
        record["terms"],
    )
