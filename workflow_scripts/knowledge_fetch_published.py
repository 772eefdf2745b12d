"""Adapter of rule knowledge_fetch_published (see bayling_pipeline.knowledge.items)."""

from bayling_pipeline.download import fetch
from bayling_pipeline.knowledge.items import prepare_published
from bayling_pipeline.logs import logged

# how to fetch, not what: deliberately no param (see rules/download.smk)
SETTINGS = fetch.Settings.from_config(snakemake.config.get("download"))

with logged(snakemake.log[0]) as log, fetch.using(SETTINGS):
    out = snakemake.output
    record = prepare_published(
        dict(snakemake.params.files), snakemake.input.questions, out.answers, out.meta
    )
    for subset, entry in record["subsets"].items():
        log.info("%s: %d answers of %d released", subset, entry["answers"], entry["released"])
