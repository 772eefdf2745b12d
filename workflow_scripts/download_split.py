"""Adapter of rule download_split (see bayling_pipeline.download.splits)."""

from bayling_pipeline.download.splits import write_splits
from bayling_pipeline.logs import logged

with logged(snakemake.log[0]):
    out = snakemake.output
    write_splits(
        snakemake.input.corpus,
        {"train": out.train, "dev": out.dev, "test": out.test},
        out.summary,
        **snakemake.params.split,
    )
