"""Adapter of rule synthesize_plan (see bayling_pipeline.synthesize.plan)."""

from bayling_pipeline.io import write_json
from bayling_pipeline.logs import logged
from bayling_pipeline.synthesize.plan import plan_from_files

with logged(snakemake.log[0]):
    inputs = snakemake.input
    instructions = inputs.instructions if "instructions" in inputs.keys() else None
    plan = plan_from_files(snakemake.params.recipe, inputs.train, inputs.dev, instructions)
    write_json(snakemake.output[0], plan)
