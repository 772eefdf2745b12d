"""Gather score JSONs into one long table, paper-style Markdown tables and bar charts.

Run by the rule ``report_tables``; by hand::

    python -m bayling_pipeline.report results/score/*/django-test/*/*.json \
        --tsv results/report/scores.tsv \
        --markdown results/report/report.md --png-dir results/report \
        --latex results/report/tables.tex --significance results/score/significance/*/*/*.json

One row per (system, testset, pair, metric) with its signature, so that pandas pivots and
plots stay trivial. In the tables, rows are systems and columns translation directions
plus their average, the best score of each column in bold (lowest for TER).
"""

from __future__ import annotations

import argparse
import json
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
        rows.append({k: _scalar(v) for k, v in record.items()})
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


def _metric_rank(metric: str) -> int:
    """Position in METRIC_ORDER; other metrics after those (then by name)."""
    return METRIC_ORDER.index(metric) if metric in METRIC_ORDER else len(METRIC_ORDER)


def _direction(pair: str) -> str:
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
    header = ["System", "Kind", *(_direction(p) for p in pairs), "Avg."]
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
        directions = ", ".join(_direction(p) for p in sorted(rows["pair"].unique()))
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
    lines += _significance_legend(df)
    return "\n".join(lines)


def direction_group(pair: str) -> str:
    """The papers' grouping of directions: into English, out of English, or neither."""
    src, _, tgt = pair.partition("-")
    if tgt == "eng_Latn":
        return "X→English"
    if src == "eng_Latn":
        return "English→X"
    return "non-English"


GROUP_ORDER = ("X→English", "English→X", "non-English")


def _paper_metrics(df) -> list[str]:
    """BLEU and COMET side by side, as in the BayLing tables (chrF when COMET is off)."""
    present = set(df["metric"])
    second = "comet" if "comet" in present else "chrf"
    return [m for m in ("bleu", second) if m in present]


def paper_blocks(df):
    """``(testset, group, metrics, pairs, rows)`` per paper table; rows are ``(kind, system,
    {(pair, metric): (cell text without marks, is_best, note)})`` with the average as pair
    "avg"."""
    metrics = _paper_metrics(df)
    for testset in sorted(df["testset"].unique()):
        block = df[(df["testset"] == testset) & df["metric"].isin(metrics)]
        groups = {direction_group(p) for p in block["pair"]}
        for group in [g for g in GROUP_ORDER if g in groups]:
            part = block[block["pair"].map(direction_group) == group]
            pairs = sorted(part["pair"].unique())
            index = (
                part[["kind", "system"]]
                .drop_duplicates()
                .assign(_k=lambda f: f["kind"].map(KINDS.index))
                .sort_values(["_k", "system"])
            )
            systems = list(zip(index["kind"], index["system"], strict=True))
            cells: dict = {s: {} for s in systems}
            for metric in metrics:
                rows = part[part["metric"] == metric]
                wide = rows.pivot_table(
                    index=["kind", "system"], columns="pair", values="score", aggfunc="first"
                ).reindex(index=systems, columns=pairs)
                wide["avg"] = wide.mean(axis=1).where(wide.notna().all(axis=1))
                notes = _notes(rows, systems, pairs) if "ci95" in rows else {}
                for column in wide.columns:
                    values = wide[column].tolist()
                    marked = _bold_best(values, metric, bold=("<b>", "</b>"))
                    for number, system in enumerate(systems):
                        note = notes.get(column, [""] * len(systems))[number]
                        text = marked[number]
                        best = text.startswith("<b>")
                        plain = text.replace("<b>", "").replace("</b>", "")
                        cells[system][(column, metric)] = (plain, best, note)
            yield testset, group, metrics, [*pairs, "avg"], cells


def paper_markdown(df) -> str:
    """Markdown tables in the papers' layout: one per test set and direction group, systems
    as rows, BLEU and COMET (or chrF) side by side per direction, the best in bold."""
    lines: list[str] = []
    for testset, group, metrics, pairs, cells in paper_blocks(df):
        names = [METRIC_NAMES[m] for m in metrics]
        header = ["System"] + [
            f"{'Avg.' if p == 'avg' else _direction(p)} {n}" for p in pairs for n in names
        ]
        lines += [f"### {testset}: {group}", ""]
        lines += ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
        for (_, system), row in cells.items():
            out = [system]
            for pair in pairs:
                for metric in metrics:
                    plain, best, note = row[(pair, metric)]
                    out.append(f"**{plain}**{note}" if best else f"{plain}{note}")
            lines.append("| " + " | ".join(out) + " |")
        lines.append("")
    lines += _significance_legend(df)
    return "\n".join(lines)


def _latex_escape(text: str) -> str:
    for char, escaped in (
        ("\\", r"\textbackslash{}"),
        ("_", r"\_"),
        ("&", r"\&"),
        ("%", r"\%"),
        ("#", r"\#"),
        ("$", r"\$"),
    ):
        text = text.replace(char, escaped)
    return text


def paper_latex(df) -> str:
    """The same tables as LaTeX (booktabs): a two-level header, direction over metric."""
    out: list[str] = []
    for testset, group, metrics, pairs, cells in paper_blocks(df):
        group_tex = _latex_escape(group).replace("→", r"$\rightarrow$")
        out += [r"\begin{table}[t]", r"\centering", r"\small"]
        out.append(r"\begin{tabular}{l" + "r" * len(metrics) * len(pairs) + "}")
        out.append(r"\toprule")
        tops = []
        for pair in pairs:
            label = "Avg." if pair == "avg" else _direction(pair).replace("→", r"$\rightarrow$")
            tops.append(rf"\multicolumn{{{len(metrics)}}}{{c}}{{{_latex_escape(label)}}}")
        out.append(" & ".join(["", *tops]) + r" \\")
        names = [METRIC_NAMES[m] for m in metrics] * len(pairs)
        out.append(" & ".join(["System", *names]) + r" \\")
        out.append(r"\midrule")
        for (_, system), row in cells.items():
            values = [_latex_escape(system)]
            for pair in pairs:
                for metric in metrics:
                    plain, best, note = row[(pair, metric)]
                    note = note.replace(" ± ", r"$\pm$").replace("†", r"$^\dagger$")
                    values.append(rf"\textbf{{{plain}}}{note}" if best else f"{plain}{note}")
            out.append(" & ".join(values) + r" \\")
        out += [r"\bottomrule", r"\end{tabular}"]
        names = " and ".join(METRIC_NAMES[m] for m in metrics)
        out += [rf"\caption{{{names} on {_latex_escape(testset)}, {group_tex}}}"]
        out += [r"\end{table}", ""]
    return "\n".join(out)


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
    ci = None
    if "ci95" in rows and rows["ci95"].notna().any():  # 95% intervals as error bars
        ci = rows.pivot_table(index="x", columns="label", values="ci95", aggfunc="first")
        ci = ci.reindex(index=wide.index, columns=wide.columns)
    width = 0.8 / max(1, len(wide.columns))
    bars = len(wide) * len(wide.columns)
    fig, ax = plt.subplots(figsize=(min(24.0, max(6.0, 2.0 + 0.4 * bars)), 4.5))
    for number, label in enumerate(wide.columns):
        shift = (number - (len(wide.columns) - 1) / 2) * width
        present = [(x + shift, v) for x, v in enumerate(wide[label]) if not math.isnan(v)]
        errors = None
        if ci is not None and label in ci:
            spread = [e for e, v in zip(ci[label], wide[label], strict=True) if not math.isnan(v)]
            errors = [0.0 if math.isnan(e) else e for e in spread]
        ax.bar(
            [x for x, _ in present],
            [v for _, v in present],
            width=width,
            label=label,
            yerr=errors,
            capsize=2 if errors else 0,
        )
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
    significance_paths: Iterable[str | os.PathLike] = (),
    out_tex: str | os.PathLike | None = None,
) -> None:
    """Write the long TSV, the Markdown report, the LaTeX tables and one bar chart per metric.

    ``pngs`` is a directory (``<metric>.png`` for every metric present) or a mapping
    metric -> PNG path; a mapped metric without scores (COMET not configured) gets a
    placeholder image saying so, so that every declared output exists. With
    ``significance_paths`` (paired bootstrap JSONs) every row gains its 95% interval and
    p-value against the baseline, shown in the tables and as error bars.
    """
    df = attach_significance(collect(score_json_paths), collect_significance(significance_paths))
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
    lines = ["# Translation quality", "", "## Paper layout", "", paper_markdown(df)]
    lines += ["## By metric", "", markdown_tables(df, comet_note)]
    for metric, path in targets.items():
        if (df["metric"] == metric).any():
            relative = os.path.relpath(path, out_md.parent)
            lines.append(f"![{METRIC_NAMES.get(metric, metric)}]({relative})")
    write_text(out_md, "\n".join(lines).rstrip("\n") + "\n")
    if out_tex is not None:
        write_text(out_tex, paper_latex(df))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scores", nargs="+", help="score JSON files")
    parser.add_argument("--tsv", required=True)
    parser.add_argument("--markdown", required=True)
    parser.add_argument("--png-dir", required=True)
    parser.add_argument("--latex", help="LaTeX tables in the papers' layout")
    parser.add_argument("--significance", nargs="*", default=[], help="bootstrap JSONs")
    parser.add_argument("--comet-note", help="why COMET is missing, when it is")
    args = parser.parse_args(argv)
    write_report(
        args.scores,
        args.tsv,
        args.markdown,
        args.png_dir,
        args.comet_note,
        args.significance,
        args.latex,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
