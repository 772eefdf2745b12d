"""Adapter of rule knowledge_score (see bayling_pipeline.knowledge.scoring)."""

from bayling_pipeline.knowledge.scoring import score_answers
from bayling_pipeline.logs import logged

with logged(snakemake.log[0]) as log:
    params = snakemake.params
    record = score_answers(
        snakemake.input.questions,
        snakemake.input.answers,
        snakemake.input.meta,
        params.task,
        snakemake.output[0],
        suite=snakemake.wildcards.suite,
        system=snakemake.wildcards.system,
        label=params.label,
        kind=params.kind,
        bootstrap=dict(params.bootstrap),
        reading=params.reading,
    )
    for row in record["rows"]:
        log.info("%s: accuracy %.4f of %d items", row["subset"], row["accuracy"], row["items"])
