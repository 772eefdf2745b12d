"""Adapter of rule knowledge_fetch_items (see bayling_pipeline.knowledge.items)."""

from bayling_pipeline.download import fetch
from bayling_pipeline.knowledge.items import prepare_suite
from bayling_pipeline.logs import logged

# how to fetch, not what: deliberately no param (see rules/download.smk)
SETTINGS = fetch.Settings.from_config(snakemake.config.get("download"))

with logged(snakemake.log[0]) as log, fetch.using(SETTINGS):
    out = snakemake.output
    params = snakemake.params
    record = prepare_suite(
        params.task, dict(params.files), params.max_items, out.questions, out.manifest
    )
    for subset, entry in record["subsets"].items():
        log.info("%s: %d of %d items", subset, entry["items"], entry["upstream_items"])
