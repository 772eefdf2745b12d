"""Adapter of rule judge_published_reviews (see bayling_pipeline.judge.published)."""

from bayling_pipeline.download import fetch
from bayling_pipeline.judge.published import fetch_reviews
from bayling_pipeline.logs import logged

# how to fetch, not what: deliberately no param (see rules/download.smk)
SETTINGS = fetch.Settings.from_config(snakemake.config.get("download"))

with logged(snakemake.log[0]), fetch.using(SETTINGS):
    fetch_reviews(
        dict(snakemake.params.spec),
        snakemake.wildcards.setting,
        snakemake.output.reviews,
        snakemake.output.meta,
        names=dict(snakemake.params.names),
        answer_paths={
            side: snakemake.input[side]
            for side in ("system", "opponent")
            if side in snakemake.input.keys()
        },
    )
