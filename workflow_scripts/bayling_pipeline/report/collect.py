"""Gather score JSONs (and paired bootstrap JSONs) into one long table.

One row per (system, testset, pair, metric) with its signature, so that pandas pivots and
plots stay trivial; rows sorted by metric (``METRIC_ORDER``), test set, kind (``KINDS``),
system and pair. Used by ``bayling_pipeline.report.write``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

from bayling_pipeline.io import DataError, read_json

REQUIRED = ("system", "kind", "testset", "pair", "metric", "score", "signature")
KINDS = ("base", "finetuned", "published")  # row order in tables: ours first, then the papers'
METRIC_ORDER = ("bleu", "spbleu", "chrf", "chrf++", "ter", "comet")
SIGNIFICANCE_KEYS = ("testset", "pair", "metric", "baseline", "resamples", "systems")


def collect(score_json_paths: Iterable[str | os.PathLike]):
    """Read score JSONs into a long ``pandas.DataFrame``, one row per file, stably sorted.

    Columns: system, kind, testset, pair, metric, score, signature, then any further
    scalar provenance keys in name order. ValueError names a file lacking a column.
    """
    import pandas as pd

    rows = []
    for path in score_json_paths:
        record = read_json(path)
        missing = [key for key in REQUIRED if key not in record]
        if missing:
            raise DataError(
                f"{path}: not a score record (lacks {', '.join(missing)}); give the JSON "
                "files of python -m bayling_pipeline.score"
            )
        if record["kind"] not in KINDS:
            raise DataError(f"{path}: kind {record['kind']!r} is not one of {KINDS}")
        rows.append({k: _scalar(v) for k, v in record.items()})
    extra = sorted({key for row in rows for key in row} - set(REQUIRED))
    frame = pd.DataFrame(rows, columns=[*REQUIRED, *extra])
    frame["score"] = frame["score"].astype(float)
    if "segments" in frame:
        frame["segments"] = frame["segments"].astype("Int64")  # published rows have none
    keys = ["system", "kind", "testset", "pair", "metric"]
    repeated = frame[frame.duplicated(keys, keep=False)]
    if not repeated.empty:
        raise DataError(
            f"more than one score for {repeated[keys].to_dict('records')}: give each "
            "(system, testset, pair, metric) once"
        )
    frame["_metric"] = frame["metric"].map(metric_rank)
    frame["_kind"] = frame["kind"].map(KINDS.index)
    order = ["_metric", "metric", "testset", "_kind", "system", "pair"]
    frame = frame.sort_values(order, kind="stable").drop(columns=["_metric", "_kind"])
    return frame.reset_index(drop=True)


def _scalar(value):
    """Provenance values as table cells: nested ones (decoding settings) as compact JSON."""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return value


def collect_significance(paths: Iterable[str | os.PathLike]):
    """Read paired bootstrap JSONs (bayling_pipeline.score.significance) into a long frame:
    testset, pair, metric, system, baseline, mean, ci95 (half-width), p_value, resamples."""
    import pandas as pd

    rows = []
    for path in paths:
        record = read_json(path)
        missing = [key for key in SIGNIFICANCE_KEYS if key not in record]
        if missing:
            raise DataError(
                f"{path}: not a paired bootstrap record (lacks {', '.join(missing)}); give "
                "the JSON files of python -m bayling_pipeline.score.significance"
            )
        for system, result in record["systems"].items():
            rows.append(
                {
                    "testset": record["testset"],
                    "pair": record["pair"],
                    "metric": record["metric"],
                    "system": system,
                    "baseline": record["baseline"],
                    "bootstrap_mean": result["mean"],
                    "ci95": result["ci"],
                    "p_value": result["p_value"],
                    "resamples": record["resamples"],
                }
            )
    columns = ["testset", "pair", "metric", "system", "baseline", "bootstrap_mean", "ci95"]
    return pd.DataFrame(rows, columns=[*columns, "p_value", "resamples"])


def attach_significance(df, significance):
    """``df`` with the bootstrap columns of ``significance`` joined on its rows."""
    if significance is None or significance.empty:
        return df
    keys = ["testset", "pair", "metric", "system"]
    merged = df.merge(significance, on=keys, how="left", validate="one_to_one")
    merged["resamples"] = merged["resamples"].astype("Int64")
    return merged


def metric_rank(metric: str) -> int:
    """Position in METRIC_ORDER; other metrics after those (then by name)."""
    return METRIC_ORDER.index(metric) if metric in METRIC_ORDER else len(METRIC_ORDER)
