"""Adapter of rule synthesize_instructions (see bayling_pipeline.synthesize)."""

from bayling_pipeline.io import read_jsonl
from bayling_pipeline.logs import logged
from bayling_pipeline.synthesize import read_forbidden, write_dataset

with logged(snakemake.log[0]):
    recipe = {k: v for k, v in snakemake.params.recipe.items() if k != "corpus"}
    out = snakemake.output
    write_dataset(
        list(read_jsonl(snakemake.input.train)),
        list(read_jsonl(snakemake.input.dev)),
        recipe,
        snakemake.params.corpus,
        read_forbidden([snakemake.input.test]),
        out.train,
        out.dev,
        out.stats,
        out.samples,
    )
