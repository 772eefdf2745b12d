"""Adapter of rule knowledge_report (see bayling_pipeline.knowledge.tables)."""

from bayling_pipeline.knowledge.tables import write_tables
from bayling_pipeline.logs import logged

with logged(snakemake.log[0]) as log:
    out = snakemake.output
    rows = write_tables(
        snakemake.input.scores, out.tsv, out.markdown, out.latex, snakemake.params.layout
    )
    log.info("%d rows from %d score files", len(rows), len(snakemake.input.scores))
