"""Adapter of rule decode_published (see bayling_pipeline.decode.published)."""

from bayling_pipeline.decode.published import import_published
from bayling_pipeline.logs import logged

with logged(snakemake.log[0]) as log:
    meta = import_published(
        snakemake.input.published,
        snakemake.input.source,
        snakemake.output.hypotheses,
        snakemake.output.meta,
        label=snakemake.params.label,
        max_segments=snakemake.params.max_segments,
    )
    log.info("%s: %d segments from %s", snakemake.wildcards.system, meta["segments"], meta["path"])
