"""Adapter of rule judge_published_answers (see bayling_pipeline.judge.published)."""

from bayling_pipeline.download import fetch
from bayling_pipeline.judge.published import fetch_answers
from bayling_pipeline.logs import logged

# how to fetch, not what: deliberately no param (see rules/download.smk)
SETTINGS = fetch.Settings.from_config(snakemake.config.get("download"))

with logged(snakemake.log[0]), fetch.using(SETTINGS):
    fetch_answers(
        dict(snakemake.params.spec),
        snakemake.wildcards.lang,
        snakemake.output.answers,
        snakemake.output.manifest,
    )
