"""Adapter of rules score_significance and score_significance_comet (see
bayling_pipeline.score.significance): every system against the baseline (the first) on one
(testset, direction), for one metric."""

from pathlib import Path

from bayling_pipeline.io import write_json
from bayling_pipeline.logs import logged
from bayling_pipeline.score.files import read_aligned
from bayling_pipeline.score.sacrebleu_metrics import use_staged_models
from bayling_pipeline.score.significance import (
    paired_bootstrap_sacrebleu,
    paired_bootstrap_segments,
    read_segment_scores,
)

with logged(snakemake.log[0]) as log:
    w, inputs, params = snakemake.wildcards, snakemake.input, snakemake.params
    if inputs.get("spm"):  # spBLEU's SentencePiece model, staged: sacreBLEU never downloads
        use_staged_models(inputs.spm)
    settings = params.settings
    names = list(params.systems)
    if "scores" in inputs.keys():  # COMET: resample the segment scores
        segments = {n: read_segment_scores(p) for n, p in zip(names, inputs.scores, strict=True)}
        result = paired_bootstrap_segments(segments, settings["resamples"], settings["seed"])
        result["metric"] = "comet"
    else:
        references = inputs.get("references")
        refs = sorted(Path(references).glob("*.txt")) if references else inputs.reference
        systems = {}
        for name, path in zip(names, inputs.hypotheses, strict=True):
            systems[name], reference_lines, _ = read_aligned(path, refs)
        tgt = w.pair.split("-")[1]
        result = paired_bootstrap_sacrebleu(
            w.metric,
            systems,
            reference_lines,
            tgt,
            dict(params.bleu_tokenize),
            settings["resamples"],
            settings["seed"],
        )
    result |= {"testset": w.testset, "pair": w.pair}
    write_json(snakemake.output[0], result)
    for name, row in result["systems"].items():
        log.info("%s: %.2f ± %.2f (p=%s)", name, row["score"], row["ci"], row["p_value"])
