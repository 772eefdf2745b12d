"""Adapter of rule judge_pairwise (see bayling_pipeline.judge.pairwise). The API key is read
by the judge client from the environment variable the spec names, at each request."""

from bayling_pipeline.judge.pairwise import judge_setting
from bayling_pipeline.logs import logged

with logged(snakemake.log[0]):
    params = snakemake.params
    judge_setting(
        dict(params.spec),
        params.cache,
        snakemake.wildcards.setting,
        snakemake.input.dialogues,
        snakemake.input.system,
        snakemake.input.opponent,
        snakemake.output.reviews,
        snakemake.output.meta,
        names=dict(params.names),
        max_items=params.max_items,
        both_orders=params.both_orders,
    )
