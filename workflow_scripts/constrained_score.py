"""Adapter of rule constrained_score (see bayling_pipeline.constrained.metrics)."""

from bayling_pipeline.constrained.metrics import score_file
from bayling_pipeline.io import read_json
from bayling_pipeline.logs import logged

with logged(snakemake.log[0]) as log:
    w, inputs, params = snakemake.wildcards, snakemake.input, snakemake.params
    meta = read_json(inputs.meta)
    record = score_file(
        inputs.outputs,
        inputs.constraints,
        w.pair,
        snakemake.output[0],
        dict(params.bleu_tokenize),
        system=w.system,
        label=params.label,
        kind=params.kind,
        set=w.cset,
        instruction=w.instruction,
        template=meta.get("template_ref", "published"),
        decoding=meta.get("settings"),
        source=meta.get("source") or {"model": meta.get("model"), "adapter": meta.get("adapter")},
    )
    for score in record["scores"]:
        log.info("%s %s %s: %.2f", params.label, w.pair, score["metric"], score["score"])
