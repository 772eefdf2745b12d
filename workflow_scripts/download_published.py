"""Adapter of rule download_published (see bayling_pipeline.download.testsets)."""

from bayling_pipeline.download import fetch
from bayling_pipeline.download.testsets import fetch_published
from bayling_pipeline.io import read_json
from bayling_pipeline.logs import logged

# how to fetch, not what: deliberately no param (see rules/download.smk)
SETTINGS = fetch.Settings.from_config(snakemake.config.get("download"))

with logged(snakemake.log[0]), fetch.using(SETTINGS):
    spec = dict(snakemake.params.spec)
    spec["label"] = spec.get("label") or snakemake.wildcards.published
    # the whole test set's count: a test set cut by max_segments keeps its first lines only
    testset = read_json(snakemake.input.testset_manifest)
    fetch_published(
        spec,
        snakemake.wildcards.pair,
        snakemake.input.source,
        snakemake.output.hypotheses,
        snakemake.output.manifest,
        segments=testset.get("segments_total", testset["segments"]),
    )
