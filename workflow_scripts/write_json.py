"""Adapter of the rules that turn a config section into a file (params.recipe -> output)."""

import json

from bayling_pipeline.io import write_json
from bayling_pipeline.logs import logged

with logged(snakemake.log[0]) as log:
    # round-trip through JSON: snakemake hands over its own mapping types
    write_json(snakemake.output[0], json.loads(json.dumps(snakemake.params.recipe)))
    log.info("wrote %s", snakemake.output[0])
