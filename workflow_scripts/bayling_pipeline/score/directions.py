"""One direction's score and significance records, as the workflow writes them.

The per-direction rules (``score_sacrebleu``, ``score_significance``) write one record per
job; with ``evaluation.pool_directions`` the rules ``score_pooled_<testset>``,
``score_comet_pooled_<testset>`` and ``score_significance_pooled_<testset>`` write every
direction's records in one job. Both call these functions, so a pooled job's files equal
the per-direction jobs' files (tests/unit/score/test_pooled_scoring.py).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from bayling_pipeline.io import read_json, write_json
from bayling_pipeline.score.files import read_aligned, score_warnings, write_score
from bayling_pipeline.score.sacrebleu_metrics import score_sacrebleu
from bayling_pipeline.score.significance import (
    paired_bootstrap_sacrebleu,
    paired_bootstrap_segments,
    read_segment_scores,
)

log = logging.getLogger(__name__)


def reference_files(reference, folder) -> list:
    """scoring.references: all -> every reference of the folder (A, B, ...), else the
    primary one."""
    return sorted(Path(folder).glob("*.txt")) if folder else [reference]


def write_sacrebleu_score(
    output: str | os.PathLike,
    metric: str,
    hypotheses_path,
    meta_path,
    reference,
    references_folder,
    *,
    system: str,
    kind: str,
    testset: str,
    pair: str,
    bleu_tokenize: dict,
) -> dict:
    """Score one direction's hypotheses with one sacreBLEU metric and write the record
    (signature, decoding settings of its metadata, references used, warnings)."""
    refs = reference_files(reference, references_folder)
    hypotheses, references, _ = read_aligned(hypotheses_path, refs)
    warnings = score_warnings(hypotheses, references, bool(references_folder))
    for warning in warnings:
        log.warning("%s: %s", hypotheses_path, warning)
    tgt = pair.split("-")[1]
    result = score_sacrebleu(metric, hypotheses, references, tgt, dict(bleu_tokenize))
    decoding = read_json(meta_path)
    write_score(
        output,
        result,
        system=system,
        kind=kind,
        testset=testset,
        pair=pair,
        template=decoding["template"],
        decoding=decoding["settings"],
        reference_ids=",".join(Path(r).stem for r in refs) if references_folder else "primary",
        **({"warnings": warnings} if warnings else {}),
    )
    log.info("%s %s %s: %.2f %s", system, pair, metric, result["score"], result["signature"])
    return result


def write_significance(
    output: str | os.PathLike,
    metric: str,
    systems: dict[str, str | os.PathLike],
    reference,
    references_folder,
    *,
    testset: str,
    pair: str,
    bleu_tokenize: dict,
    settings: dict,
) -> dict:
    """Paired bootstrap of every system against the first (the baseline) on one direction:
    ``systems`` maps the recorded name to its hypotheses, or for ``comet`` to its segment
    scores."""
    if metric == "comet":  # resample the segment scores
        segments = {name: read_segment_scores(path) for name, path in systems.items()}
        result = paired_bootstrap_segments(segments, settings["resamples"], settings["seed"])
        result["metric"] = "comet"
    else:
        refs = reference_files(reference, references_folder) if references_folder else reference
        hypotheses = {}
        for name, path in systems.items():
            hypotheses[name], reference_lines, _ = read_aligned(path, refs)
        result = paired_bootstrap_sacrebleu(
            metric,
            hypotheses,
            reference_lines,
            pair.split("-")[1],
            dict(bleu_tokenize),
            settings["resamples"],
            settings["seed"],
        )
    result |= {"testset": testset, "pair": pair}
    write_json(output, result)
    for name, row in result["systems"].items():
        log.info("%s %s: %.2f ± %.2f (p=%s)", pair, name, row["score"], row["ci"], row["p_value"])
    return result
