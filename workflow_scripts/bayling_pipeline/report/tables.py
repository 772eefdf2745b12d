"""Tables of the long score table by metric (Markdown), and the cell formatting that the
papers' layout (``bayling_pipeline.report.paper``) shares.

In the tables, rows are systems and columns translation directions plus their average,
the best score of each column in bold (lowest for TER); with bootstrap results every cell
gains its 95% interval and a dagger when significant. Used by
``bayling_pipeline.report.write``.
"""

from __future__ import annotations

import math

from bayling_pipeline.report.collect import metric_rank

METRIC_NAMES = {
    "bleu": "BLEU",
    "spbleu": "spBLEU",
    "chrf": "chrF",
    "chrf++": "chrF++",
    "ter": "TER",
    "comet": "COMET",
}
LOWER_IS_BETTER = {"ter"}
NO_COMET = "no COMET model configured"


def direction_label(pair: str) -> str:
    """``src→tgt`` for the pair ``src-tgt``, as table headers and plot axes show it."""
    src, _, tgt = pair.partition("-")
    return f"{src}→{tgt}"


def _bold_best(values, metric: str, notes=None, bold=("**", "**")) -> list[str]:
    """Format scores with two decimals; the best finite one(s) in bold, missing as an en dash.

    ``notes`` (one string per value, e.g. " ± 1.20†") follow the number, outside the bold.
    """
    finite = [v for v in values if not math.isnan(v)]
    best = (min if metric in LOWER_IS_BETTER else max)(finite) if finite else None
    notes = notes or [""] * len(values)
    cells = []
    for value, note in zip(values, notes, strict=True):
        if math.isnan(value):
            cells.append("–")
        elif f"{value:.2f}" == f"{best:.2f}":  # ties as printed are ties
            cells.append(f"{bold[0]}{value:.2f}{bold[1]}{note}")
        else:
            cells.append(f"{value:.2f}{note}")
    return cells


def _ci_note(ci, p_value, pm: str = " ± ", dagger: str = "†") -> str:
    """`` ± 1.20`` (the 95% half-width), with a dagger when p < 0.05 against the baseline."""
    if ci is None or (isinstance(ci, float) and math.isnan(ci)):
        return ""
    significant = p_value is not None and not math.isnan(p_value) and p_value < 0.05
    return f"{pm}{ci:.2f}{dagger if significant else ''}"


def _table(block, metric: str) -> list[str]:
    """Markdown lines for one metric on one test set: systems x directions + average."""
    wide = block.pivot_table(
        index=["kind", "system"], columns="pair", values="score", aggfunc="first", sort=False
    )
    pairs = sorted(wide.columns)
    wide = wide[pairs]
    # The average is only comparable over the same directions: none for incomplete rows.
    wide["avg"] = wide.mean(axis=1).where(wide.notna().all(axis=1))
    header = ["System", "Kind", *(direction_label(p) for p in pairs), "Avg."]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * 2 + "---:|" * (len(pairs) + 1)]
    notes = _notes(block, wide.index, pairs)
    columns = [
        _bold_best(wide[column].tolist(), metric, notes.get(column)) for column in wide.columns
    ]
    for number, (kind, system) in enumerate(wide.index):
        cells = [system, kind, *(column[number] for column in columns)]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for signature, rows in block.groupby("signature", sort=True):
        systems = ", ".join(sorted(rows["system"].unique()))
        directions = ", ".join(direction_label(p) for p in sorted(rows["pair"].unique()))
        lines.append(f"- `{signature}` ({systems}; {directions})")
    return lines


def _notes(block, index, pairs) -> dict[str, list[str]]:
    """Per direction, the ``± ci†`` note of every (kind, system) row (empty without CIs)."""
    if "ci95" not in block:
        return {}
    by_key = block.set_index(["kind", "system", "pair"])
    notes = {}
    for pair in pairs:
        column = []
        for kind, system in index:
            key = (kind, system, pair)
            if key in by_key.index:
                row = by_key.loc[key]
                column.append(_ci_note(row["ci95"], row["p_value"]))
            else:
                column.append("")
        notes[pair] = column
    return notes


def _significance_legend(df) -> list[str]:
    if "ci95" not in df or df["ci95"].isna().all():
        return []
    rows = df.dropna(subset=["ci95"])
    baseline = ", ".join(sorted(rows["baseline"].dropna().unique()))
    resamples = ", ".join(str(n) for n in sorted(rows["resamples"].dropna().unique()))
    return [
        f"± is the half-width of the 95% confidence interval from paired bootstrap "
        f"resampling ({resamples} resamples); † marks a difference from the baseline "
        f"{baseline} with p < 0.05.",
        "",
    ]


def markdown_tables(df, comet_note: str | None = None) -> str:
    """Paper-style Markdown: one table per metric and test set, signatures underneath.

    When ``df`` has no COMET rows the text says ``COMET: not computed (<comet_note>)``,
    the note defaulting to "no COMET model configured".
    """
    lines: list[str] = []
    metrics = sorted(df["metric"].unique(), key=lambda m: (metric_rank(m), m))
    for metric in metrics:
        for testset, block in df[df["metric"] == metric].groupby("testset", sort=True):
            name = METRIC_NAMES.get(metric, metric)
            better = "lower" if metric in LOWER_IS_BETTER else "higher"
            lines += [f"### {name} on {testset} ({better} is better)", ""]
            lines += _table(block, metric)
            lines.append("")
    if "comet" not in metrics:
        lines += [f"COMET: not computed ({comet_note or NO_COMET})", ""]
    lines += _significance_legend(df)
    return "\n".join(lines)
