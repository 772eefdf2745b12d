"""Adapter of rule decode_pooled_<testset> with decoding.shards > 1
(bayling_pipeline.decode.pooled.merge_pooled_shards): shard files -> per-direction files
(params), then the index listing them (the rule's output)."""

from bayling_pipeline.decode.pooled import merge_pooled_shards
from bayling_pipeline.io import write_index
from bayling_pipeline.logs import logged

with logged(snakemake.log[0]):
    merge_pooled_shards(
        list(snakemake.input.records),
        list(snakemake.input.metas),
        list(snakemake.params.pairs),
        list(snakemake.params.hypotheses),
        list(snakemake.params.metas),
    )
    write_index(snakemake.output.index, [*snakemake.params.hypotheses, *snakemake.params.metas])
