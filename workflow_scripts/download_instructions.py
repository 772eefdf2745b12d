"""Adapter of rule download_instructions (see bayling_pipeline.download.instructions)."""

from bayling_pipeline.download import fetch
from bayling_pipeline.download.instructions import fetch_instructions
from bayling_pipeline.logs import logged

# how to fetch, not what: deliberately no param (see rules/download.smk)
SETTINGS = fetch.Settings.from_config(snakemake.config.get("download"))

with logged(snakemake.log[0]) as log, fetch.using(SETTINGS):
    out = snakemake.output
    count = fetch_instructions(dict(snakemake.params.spec), out.records, out.manifest)
    log.info("%s: %d records", snakemake.wildcards.instructions, count)
