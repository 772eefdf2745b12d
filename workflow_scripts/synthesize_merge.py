"""Adapter of rule synthesize_instructions: merge the shards (bayling_pipeline.synthesize.merge)."""

from bayling_pipeline.io import read_json
from bayling_pipeline.logs import logged
from bayling_pipeline.synthesize.merge import merge_shards

with logged(snakemake.log[0]):
    out = snakemake.output
    shards = sorted(snakemake.input.shards, key=lambda path: int(path.rsplit("/", 1)[-1]))
    merge_shards(
        read_json(snakemake.input.plan), shards, out.train, out.dev, out.stats, out.samples
    )
