"""Gather score JSONs into one long table, paper-style Markdown tables and bar charts.

Run by the rule ``report_tables``; by hand::

    python -m bayling_pipeline.report results/score/*/*/*.json --tsv results/report/scores.tsv \
        --markdown results/report/report.md --png-dir results/report

One row per (system, testset, pair, metric) with its signature, so that pandas pivots and
plots stay trivial. In the tables, rows are systems and columns translation directions
plus their average, the best score of each column in bold (lowest for TER).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from bayling_pipeline.io import atomic_path, read_json, write_text

REQUIRED = ("system", "kind", "testset", "pair", "metric", "score", "signature")
KINDS = ("base", "finetuned", "published")  # row order in tables: ours first, then the papers'
METRIC_ORDER = ("bleu", "chrf", "ter", "comet")
METRIC_NAMES = {"bleu": "BLEU", "chrf": "chrF", "ter": "TER", "comet": "COMET"}
LOWER_IS_BETTER = {"ter"}
NO_COMET = "no COMET model configured"


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
            raise ValueError(f"{path}: score record lacks {', '.join(missing)}")
        if record["kind"] not in KINDS:
            raise ValueError(f"{path}: kind {record['kind']!r} is not one of {KINDS}")
        rows.append({k: v for k, v in record.items() if not isinstance(v, list | dict)})
    extra = sorted({key for row in rows for key in row} - set(REQUIRED))
    frame = pd.DataFrame(rows, columns=[*REQUIRED, *extra])
    frame["score"] = frame["score"].astype(float)
    if "segments" in frame:
        frame["segments"] = frame["segments"].astype("Int64")  # published rows have none
    keys = ["system", "kind", "testset", "pair", "metric"]
    repeated = frame[frame.duplicated(keys, keep=False)]
    if not repeated.empty:
        raise ValueError(f"more than one score for {repeated[keys].to_dict('records')}")
    frame["_metric"] = frame["metric"].map(_metric_rank)
    frame["_kind"] = frame["kind"].map(KINDS.index)
    order = ["_metric", "metric", "testset", "_kind", "system", "pair"]
    frame = frame.sort_values(order, kind="stable").drop(columns=["_metric", "_kind"])
    return frame.reset_index(drop=True)


def _metric_rank(metric: str) -> int:
    """Position in METRIC_ORDER; other metrics after those (then by name)."""
    return METRIC_ORDER.index(metric) if metric in METRIC_ORDER else len(METRIC_ORDER)


def _direction(pair: str) -> str:
    src, _, tgt = pair.partition("-")
    return f"{src}→{tgt}"


def _bold_best(values, metric: str) -> list[str]:
    """Format scores with two decimals; the best finite one(s) in bold, missing as an en dash."""
    finite = [v for v in values if not math.isnan(v)]
    best = (min if metric in LOWER_IS_BETTER else max)(finite) if finite else None
    cells = []
    for value in values:
        if math.isnan(value):
            cells.append("–")
        elif f"{value:.2f}" == f"{best:.2f}":  # ties as printed are ties
            cells.append(f"**{value:.2f}**")
        else:
            cells.append(f"{value:.2f}")
    return cells


def _table(block, metric: str) -> list[str]:
    """Markdown lines for one metric on one test set: systems x directions + average."""
    wide = block.pivot_table(
        index=["kind", "system"], columns="pair", values="score", aggfunc="first", sort=False
    )
    pairs = sorted(wide.columns)
    wide = wide[pairs]
    # The average is only comparable over the same directions: none for incomplete rows.
    wide["avg"] = wide.mean(axis=1).where(wide.notna().all(axis=1))
    header = ["System", "Kind", *(_direction(p) for p in pairs), "Avg."]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * 2 + "---:|" * (len(pairs) + 1)]
    columns = [_bold_best(wide[column].tolist(), metric) for column in wide.columns]
    for number, (kind, system) in enumerate(wide.index):
        cells = [system, kind, *(column[number] for column in columns)]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for signature, rows in block.groupby("signature", sort=True):
        systems = ", ".join(sorted(rows["system"].unique()))
        directions = ", ".join(_direction(p) for p in sorted(rows["pair"].unique()))
        lines.append(f"- `{signature}` ({systems}; {directions})")
    return lines


def markdown_tables(df, comet_note: str | None = None) -> str:
    """Paper-style Markdown: one table per metric and test set, signatures underneath.

    When ``df`` has no COMET rows the text says ``COMET: not computed (<comet_note>)``,
    the note defaulting to "no COMET model configured".
    """
    lines: list[str] = []
    metrics = sorted(df["metric"].unique(), key=lambda m: (_metric_rank(m), m))
    for metric in metrics:
        for testset, block in df[df["metric"] == metric].groupby("testset", sort=True):
            name = METRIC_NAMES.get(metric, metric)
            better = "lower" if metric in LOWER_IS_BETTER else "higher"
            lines += [f"### {name} on {testset} ({better} is better)", ""]
            lines += _table(block, metric)
            lines.append("")
    if "comet" not in metrics:
        lines += [f"COMET: not computed ({comet_note or NO_COMET})", ""]
    return "\n".join(lines)


def _bars(df, metric: str):
    """Matplotlib figure: directions on x, one bar per system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = df[df["metric"] == metric].copy()
    several = rows["testset"].nunique() > 1
    rows["x"] = [
        f"{t}\n{_direction(p)}" if several else _direction(p)
        for t, p in zip(rows["testset"], rows["pair"], strict=True)
    ]
    rows["label"] = rows["system"] + " (" + rows["kind"] + ")"
    wide = rows.pivot_table(index="x", columns="label", values="score", aggfunc="first", sort=False)
    wide = wide.sort_index()
    width = 0.8 / max(1, len(wide.columns))
    bars = len(wide) * len(wide.columns)
    fig, ax = plt.subplots(figsize=(min(24.0, max(6.0, 2.0 + 0.4 * bars)), 4.5))
    for number, label in enumerate(wide.columns):
        shift = (number - (len(wide.columns) - 1) / 2) * width
        present = [(x + shift, v) for x, v in enumerate(wide[label]) if not math.isnan(v)]
        ax.bar([x for x, _ in present], [v for _, v in present], width=width, label=label)
    # full Flores codes are long: slant them so neighbouring directions never overlap
    ax.set_xticks(range(len(wide)), wide.index, rotation=20, ha="right")
    ax.set_xlabel("translation direction")
    name = METRIC_NAMES.get(metric, metric)
    ax.set_ylabel(f"{name} ({'lower' if metric in LOWER_IS_BETTER else 'higher'} is better)")
    testsets = ", ".join(sorted(rows["testset"].unique()))
    ax.set_title(f"{name} by direction ({testsets})")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def _placeholder(text: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 1.5))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center")
    return fig


def _save(fig, png_path: str | os.PathLike) -> None:
    import matplotlib.pyplot as plt

    try:
        with atomic_path(png_path) as tmp:
            fig.savefig(tmp, format="png", dpi=120)  # the temporary name has no .png suffix
    finally:
        plt.close(fig)


def plot_metric(df, metric: str, png_path: str | os.PathLike) -> None:
    """Grouped bar chart of ``metric`` as a PNG; ValueError when ``df`` has none of it."""
    if not (df["metric"] == metric).any():
        raise ValueError(f"no {metric!r} scores to plot")
    _save(_bars(df, metric), png_path)


def write_report(
    score_json_paths: Iterable[str | os.PathLike],
    out_tsv: str | os.PathLike,
    out_md: str | os.PathLike,
    pngs: str | os.PathLike | Mapping[str, str | os.PathLike],
    comet_note: str | None = None,
) -> None:
    """Write the long TSV, the Markdown report and one bar chart per metric.

    ``pngs`` is a directory (``<metric>.png`` for every metric present) or a mapping
    metric -> PNG path; a mapped metric without scores (COMET not configured) gets a
    placeholder image saying so, so that every declared output exists.
    """
    df = collect(score_json_paths)
    tsv = df.copy()
    tsv["score"] = tsv["score"].round(4)
    write_text(out_tsv, tsv.to_csv(sep="\t", index=False, lineterminator="\n"))

    if isinstance(pngs, Mapping):
        targets = {metric: Path(path) for metric, path in pngs.items()}
    else:
        metrics = sorted(df["metric"].unique(), key=lambda m: (_metric_rank(m), m))
        targets = {metric: Path(pngs) / f"{metric}.png" for metric in metrics}
    for metric, path in targets.items():
        if (df["metric"] == metric).any():
            plot_metric(df, metric, path)
        else:
            reason = (comet_note or NO_COMET) if metric == "comet" else "no scores"
            _save(
                _placeholder(f"{METRIC_NAMES.get(metric, metric)}: not computed ({reason})"), path
            )

    out_md = Path(out_md)
    lines = ["# Translation quality", "", markdown_tables(df, comet_note)]
    for metric, path in targets.items():
        if (df["metric"] == metric).any():
            relative = os.path.relpath(path, out_md.parent)
            lines.append(f"![{METRIC_NAMES.get(metric, metric)}]({relative})")
    write_text(out_md, "\n".join(lines).rstrip("\n") + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scores", nargs="+", help="score JSON files")
    parser.add_argument("--tsv", required=True)
    parser.add_argument("--markdown", required=True)
    parser.add_argument("--png-dir", required=True)
    parser.add_argument("--comet-note", help="why COMET is missing, when it is")
    args = parser.parse_args(argv)
    write_report(args.scores, args.tsv, args.markdown, args.png_dir, args.comet_note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
