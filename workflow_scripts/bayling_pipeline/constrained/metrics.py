"""Metrics of lexically constrained translation, per (system, set, instruction language,
direction):

* ``bleu``: sacreBLEU's corpus BLEU against the set's references, tokenized for the target
  language (``zh`` for Chinese, ``13a`` otherwise; ``scoring.bleu_tokenize`` overrides),
  its signature kept (:mod:`bayling_pipeline.score.sacrebleu_metrics`);
* ``term_hit_rate``: the share of constraint terms found in their hypothesis, in percent;
  a term is found when it occurs in the hypothesis as an exact, case-sensitive substring;
* ``all_terms_rate``: the share of sentences whose hypothesis contains every one of its
  terms, in percent.

The counts behind the rates (sentences, terms, terms found, sentences with every term) go
into the score file too. Run by the rule ``constrained_score``.
"""

from __future__ import annotations

import os

from bayling_pipeline.constrained.sets import OUTPUT_FIELDS, SET_FIELDS, check_sources, read_records
from bayling_pipeline.io import write_json

METRICS = ("bleu", "term_hit_rate", "all_terms_rate")
MATCHING = "exact case-sensitive substring"


def terms_found(hypothesis: str, terms: list[str]) -> int:
    """How many of ``terms`` occur in ``hypothesis`` (exact, case-sensitive substrings)."""
    return sum(term in hypothesis for term in terms)


def constraint_counts(outputs: list[dict]) -> dict:
    """Sentences, terms, terms found and sentences with every term found, over ``outputs``
    (records with ``constraint`` and ``hypo``)."""
    found = [terms_found(o["hypo"], o["constraint"]) for o in outputs]
    return {
        "sentences": len(outputs),
        "terms": sum(len(o["constraint"]) for o in outputs),
        "terms_found": sum(found),
        "sentences_all_terms": sum(
            n == len(o["constraint"]) for n, o in zip(found, outputs, strict=True)
        ),
    }


def score_outputs(outputs: list[dict], tgt: str, tokenizer_overrides: dict | None = None) -> dict:
    """``{"scores": [{metric, score, signature}, ...], **counts}`` of one output file's
    records (``tgt`` the target language code, e.g. ``zho_Hans``)."""
    from bayling_pipeline.score.sacrebleu_metrics import score_sacrebleu

    counts = constraint_counts(outputs)
    bleu = score_sacrebleu(
        "bleu", [o["hypo"] for o in outputs], [o["tgt"] for o in outputs], tgt, tokenizer_overrides
    )

    def percent(part: int, whole: int) -> float:
        return 100.0 * part / whole if whole else float("nan")

    scores = [
        {"metric": "bleu", "score": bleu["score"], "signature": bleu["signature"]},
        {
            "metric": "term_hit_rate",
            "score": percent(counts["terms_found"], counts["terms"]),
            "signature": f"terms:{MATCHING}",
        },
        {
            "metric": "all_terms_rate",
            "score": percent(counts["sentences_all_terms"], counts["sentences"]),
            "signature": f"sentences:every term, {MATCHING}",
        },
    ]
    return {"scores": scores, **counts}


def score_file(
    outputs_path: str | os.PathLike,
    set_path: str | os.PathLike,
    pair: str,
    out: str | os.PathLike,
    tokenizer_overrides: dict | None = None,
    **provenance,
) -> dict:
    """Score one output file against its constraint set (same sources, line by line; the
    set's references and terms) and write the score JSON with ``provenance``."""
    outputs = read_records(outputs_path, OUTPUT_FIELDS)
    constraints = read_records(set_path, SET_FIELDS)
    check_sources(outputs, str(outputs_path), constraints, len(constraints))
    merged = [{**c, "hypo": o["hypo"]} for c, o in zip(constraints, outputs, strict=True)]
    result = score_outputs(merged, pair.split("-")[1], tokenizer_overrides)
    record = {**result, "pair": pair, **provenance}
    write_json(out, record)
    return record
