"""Adapter of rule judge_report (see bayling_pipeline.judge.write)."""

from pathlib import Path

from bayling_pipeline.judge.write import write_judging
from bayling_pipeline.logs import logged

with logged(snakemake.log[0]):
    out = snakemake.output
    write_judging(
        snakemake.input.reviews,
        out.tsv,
        out.markdown,
        out.latex,
        {Path(png).stem: png for png in out.plots},
    )
