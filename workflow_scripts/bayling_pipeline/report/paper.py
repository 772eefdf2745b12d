"""The papers' layout of the long score table, in Markdown and LaTeX.

One table per test set and direction group (the config's ``report.groups``, such as
BayLing 1's four main WMT22 directions and its zero-shot multilingual ones; by default into
English, out of English, neither), systems as rows, BLEU and COMET (or chrF) side by side
per direction, the average over the group, the best in bold. With a reference system,
every system's scores also as a percentage of the reference's (the paper's "95% of
GPT-4"). Used by ``bayling_pipeline.report.write``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from bayling_pipeline.report.collect import KINDS
from bayling_pipeline.report.tables import (
    METRIC_NAMES,
    _bold_best,
    _notes,
    _significance_legend,
    direction_label,
)

GROUP_ORDER = ("X→English", "English→X", "non-English")
Groups = Mapping[str, Sequence[str]] | None


def direction_group(pair: str) -> str:
    """The papers' grouping of directions: into English, out of English, or neither."""
    src, _, tgt = pair.partition("-")
    if tgt == "eng_Latn":
        return "X→English"
    if src == "eng_Latn":
        return "English→X"
    return "non-English"


def _paper_metrics(df) -> list[str]:
    """BLEU and COMET side by side, as in the BayLing tables (chrF when COMET is off)."""
    present = set(df["metric"])
    second = "comet" if "comet" in present else "chrf"
    return [m for m in ("bleu", second) if m in present]


def _grouped_pairs(pairs: set[str], groups: Groups) -> list[tuple[str, list[str]]]:
    """``(title, pairs)`` of each table: the configured groups in their order (directions
    as listed, those the test set lacks left out), else the into/out-of-English split."""
    if groups:
        chosen = [(title, [p for p in members if p in pairs]) for title, members in groups.items()]
        return [(title, members) for title, members in chosen if members]
    found = {direction_group(p) for p in pairs}
    return [
        (g, sorted(p for p in pairs if direction_group(p) == g)) for g in GROUP_ORDER if g in found
    ]


def _system_index(part) -> list[tuple[str, str]]:
    index = (
        part[["kind", "system"]]
        .drop_duplicates()
        .assign(_k=lambda f: f["kind"].map(KINDS.index))
        .sort_values(["_k", "system"])
    )
    return list(zip(index["kind"], index["system"], strict=True))


def _wide(rows, systems, pairs):
    """Systems x pairs scores, plus ``avg`` over the pairs (only for complete rows: an
    average is comparable over the same directions only)."""
    wide = rows.pivot_table(
        index=["kind", "system"], columns="pair", values="score", aggfunc="first"
    ).reindex(index=systems, columns=pairs)
    wide["avg"] = wide.mean(axis=1).where(wide.notna().all(axis=1))
    return wide


def paper_blocks(df, groups: Groups = None):
    """``(testset, group, metrics, pairs, rows)`` per paper table; rows are ``(kind, system,
    {(pair, metric): (cell text without marks, is_best, note)})`` with the average as pair
    "avg"."""
    metrics = _paper_metrics(df)
    for testset in sorted(df["testset"].unique()):
        block = df[(df["testset"] == testset) & df["metric"].isin(metrics)]
        for group, pairs in _grouped_pairs(set(block["pair"]), groups):
            part = block[block["pair"].isin(pairs)]
            systems = _system_index(part)
            cells: dict = {s: {} for s in systems}
            for metric in metrics:
                rows = part[part["metric"] == metric]
                wide = _wide(rows, systems, pairs)
                notes = _notes(rows, systems, pairs) if "ci95" in rows else {}
                for column in wide.columns:
                    marked = _bold_best(wide[column].tolist(), metric, bold=("<b>", "</b>"))
                    for number, system in enumerate(systems):
                        note = notes.get(column, [""] * len(systems))[number]
                        text = marked[number]
                        plain = text.replace("<b>", "").replace("</b>", "")
                        cells[system][(column, metric)] = (plain, text.startswith("<b>"), note)
            yield testset, group, metrics, [*pairs, "avg"], cells


def paper_markdown(df, groups: Groups = None) -> str:
    """Markdown tables in the papers' layout (see the module docstring)."""
    lines: list[str] = []
    for testset, group, metrics, pairs, cells in paper_blocks(df, groups):
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


def share_rows(df, reference: str, groups: Groups = None):
    """``(testset, group, metric, system, share, directions)``: each system's average over
    the group's directions it shares with ``reference`` (a system label) as a percentage of
    the reference's average over the same directions."""
    for testset in sorted(df["testset"].unique()):
        block = df[df["testset"] == testset]
        for group, pairs in _grouped_pairs(set(block["pair"]), groups):
            for metric in _paper_metrics(block):
                rows = block[(block["metric"] == metric) & block["pair"].isin(pairs)]
                wide = rows.pivot_table(
                    index="system", columns="pair", values="score", aggfunc="first"
                )
                if reference not in wide.index:
                    continue
                ref = wide.loc[reference]
                for system in _system_index(rows):
                    mine = wide.loc[system[1]]
                    common = [p for p in pairs if not (math.isnan(mine[p]) or math.isnan(ref[p]))]
                    if common:
                        share = 100.0 * mine[common].mean() / ref[common].mean()
                        yield testset, group, metric, system[1], share, len(common)


def share_markdown(df, reference: str | None, groups: Groups = None) -> str:
    """One table per test set: systems x (group, metric), each cell the system's share (%)
    of ``reference``'s score; a share over fewer directions than the group's is starred."""
    if not reference:
        return ""
    rows = list(share_rows(df, reference, groups))
    lines: list[str] = []
    for testset in sorted({r[0] for r in rows}):
        mine = [r for r in rows if r[0] == testset]
        columns = list(dict.fromkeys((r[1], r[2]) for r in mine))
        sizes = {group: len(pairs) for group, pairs in _grouped_pairs(set(df["pair"]), groups)}
        header = ["System", *(f"{g} {METRIC_NAMES[m]}" for g, m in columns)]
        lines += [f"### {testset}: share of {reference}'s score (%)", ""]
        lines += ["| " + " | ".join(header) + " |", "|---|" + "---:|" * len(columns)]
        for system in dict.fromkeys(r[3] for r in mine):
            cells = {(r[1], r[2]): (r[4], r[5]) for r in mine if r[3] == system}
            out = [system]
            for column in columns:
                if column not in cells:
                    out.append("–")
                    continue
                share, n = cells[column]
                out.append(f"{share:.1f}" + ("*" if n < sizes.get(column[0], n) else ""))
            lines.append("| " + " | ".join(out) + " |")
        lines += ["", "\\* over the directions the system has outputs for.", ""]
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


def _latex_header(metrics, pairs) -> list[str]:
    tops = []
    for pair in pairs:
        label = "Avg." if pair == "avg" else direction_label(pair).replace("→", r"$\rightarrow$")
        tops.append(rf"\multicolumn{{{len(metrics)}}}{{c}}{{{_latex_escape(label)}}}")
    names = [METRIC_NAMES[m] for m in metrics] * len(pairs)
    return [" & ".join(["", *tops]) + r" \\", " & ".join(["System", *names]) + r" \\"]


def paper_latex(df, groups: Groups = None) -> str:
    """The same tables as LaTeX (booktabs): a two-level header, direction over metric."""
    out: list[str] = []
    for testset, group, metrics, pairs, cells in paper_blocks(df, groups):
        group_tex = _latex_escape(group).replace("→", r"$\rightarrow$")
        out += [r"\begin{table}[t]", r"\centering", r"\small"]
        out.append(r"\begin{tabular}{l" + "r" * len(metrics) * len(pairs) + "}")
        out += [r"\toprule", *_latex_header(metrics, pairs), r"\midrule"]
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
