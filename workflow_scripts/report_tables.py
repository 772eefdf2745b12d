"""Adapter of rule report_tables (see bayling_pipeline.report.write)."""

from pathlib import Path

from bayling_pipeline.io import indexed_files
from bayling_pipeline.logs import logged
from bayling_pipeline.report.write import write_report

with logged(snakemake.log[0]):
    out = snakemake.output
    write_report(
        indexed_files(snakemake.input.scores),  # a pooled job's index: its files
        out.tsv,
        out.markdown,
        {Path(png).stem: png for png in out.plots},
        comet_note=snakemake.params.comet_note,
        significance_paths=indexed_files(snakemake.input.significance),
        out_tex=out.latex,
        groups=snakemake.params.groups,
        reference=snakemake.params.reference,
    )
