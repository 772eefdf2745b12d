"""Paper-style tables of the long score table: Markdown by metric, Markdown and LaTeX in the
papers' layout.

In the tables, rows are systems and columns translation directions plus their average,
the best score of each column in bold (lowest for TER); with bootstrap results every cell
gains its 95% interval and a dagger when significant. Used by
``bayling_pipeline.report.write``.
"""

from __future__ import annotations

import math

from bayling_pipeline.report.collect import KINDS, metric_rank

METRIC_NAMES = {"bleu": "BLEU", "chrf": "chrF", "ter": "TER", "comet": "COMET"}
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
            f"{'Avg.' if p == 'avg' else direction_label(p)} {n}" for p in pairs for n in names
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
            label = (
                "Avg." if pair == "avg" else direction_label(pair).replace("→", r"$\rightarrow$")
            )
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
