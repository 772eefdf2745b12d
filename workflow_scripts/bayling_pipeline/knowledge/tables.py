"""The knowledge-benchmark tables of the report: a long TSV (one row per system x suite x
subset, with its interval, signature and provenance), and Markdown and LaTeX with systems as
rows and subsets as columns (accuracy in %, the subsets' plain mean last), one table per
suite; with ``layout: bayling1-agieval`` also BayLing 1's two AGIEval tables as printed.

Run by the rule ``knowledge_report``; by hand::

    python -c "from bayling_pipeline.knowledge.tables import write_tables; import glob; \
        write_tables(sorted(glob.glob('results/knowledge/scores/*/*.json')), \
        'knowledge.tsv', 'knowledge.md', 'knowledge.tex')"
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

from bayling_pipeline.constrained.tables import latex_escape
from bayling_pipeline.io import read_json, write_text

KINDS = ("base", "finetuned", "published")  # row order: ours first, then the papers'
COLUMNS = (
    "suite", "subset", "system", "label", "kind", "task", "protocol", "accuracy", "ci_low",
    "ci_high", "items", "answered", "correct", "signature", "provenance",
)  # fmt: skip
LEGEND = (
    "Accuracy in % per subset; Mean: plain mean of the subsets shown. Intervals (TSV): 95% "
    "percentile bootstrap over items. Generated answers without a readable choice count as "
    "wrong (the TSV's answered column counts the readable ones)."
)


def long_rows(score_paths: Iterable[str | os.PathLike]) -> list[dict]:
    """One row per (suite, subset, system), in table order."""
    rows = []
    for path in score_paths:
        record = read_json(path)
        for score in record["rows"]:
            row = {**record, **score}
            rows.append({key: _cell(row.get(key)) for key in COLUMNS})
    first: dict = {}
    for row in rows:
        for key in ("suite", "system", "subset"):
            first.setdefault((key, row[key]), len(first))
    return sorted(
        rows,
        key=lambda r: (
            first["suite", r["suite"]],
            KINDS.index(r["kind"]) if r["kind"] in KINDS else len(KINDS),
            first["system", r["system"]],
            first["subset", r["subset"]],
        ),
    )


def _cell(value):
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return value


def tsv_text(rows: list[dict]) -> str:
    def text(key, value):
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:.4f}"
        return str(value).replace("\t", " ").replace("\n", " ")

    lines = ["\t".join(COLUMNS)]
    lines += ["\t".join(text(key, row[key]) for key in COLUMNS) for row in rows]
    return "\n".join(lines) + "\n"


def grids(rows: list[dict]) -> list[tuple[str, list[str], list[str], dict]]:
    """Per suite: (suite, subsets, system labels, {(label, subset): accuracy})."""
    out = []
    for suite in dict.fromkeys(r["suite"] for r in rows):
        mine = [r for r in rows if r["suite"] == suite]
        subsets = list(dict.fromkeys(r["subset"] for r in mine))
        labels = list(dict.fromkeys(r["label"] for r in mine))
        scores = {(r["label"], r["subset"]): r["accuracy"] for r in mine}
        out.append((suite, subsets, labels, scores))
    return out


def _line(label: str, subsets: list[str], scores: dict) -> list[str]:
    values = [scores.get((label, s)) for s in subsets]
    cells = ["" if v is None else f"{100 * v:.1f}" for v in values]
    present = [v for v in values if v is not None]
    mean = f"{100 * sum(present) / len(present):.1f}" if len(present) == len(values) else ""
    return [label, *cells, mean]


def markdown(rows: list[dict], layout: str | None = None) -> str:
    parts = ["# Knowledge and understanding benchmarks", "", LEGEND, ""]
    for suite, subsets, labels, scores in grids(rows):
        head = ["System", *subsets, "Mean"]
        parts += [f"## {suite}", "", "| " + " | ".join(head) + " |"]
        parts.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
        parts += ["| " + " | ".join(_line(label, subsets, scores)) + " |" for label in labels]
        signatures = sorted({r["signature"] for r in rows if r["suite"] == suite})
        parts += ["", *(f"Signature: `{s}`" for s in signatures), ""]
    if layout == "bayling1-agieval":
        from bayling_pipeline.knowledge.bayling1_tables import paper_markdown

        parts += [paper_markdown(rows), ""]
    return "\n".join(parts)


def latex(rows: list[dict]) -> str:
    parts = [f"% Knowledge and understanding benchmarks. {LEGEND}", ""]
    for suite, subsets, labels, scores in grids(rows):
        head = ["System", *subsets, "Mean"]
        parts += [
            r"\begin{table}[t]",
            r"\centering",
            f"\\caption{{{latex_escape(suite)}: accuracy (\\%)}}",
            f"\\begin{{tabular}}{{l{'r' * (len(head) - 1)}}}",
            r"\toprule",
            " & ".join(latex_escape(h) for h in head) + r" \\",
            r"\midrule",
            *(
                " & ".join(latex_escape(c) for c in _line(label, subsets, scores)) + r" \\"
                for label in labels
            ),
            r"\bottomrule",
            r"\end{tabular}",
            r"\end{table}",
            "",
        ]
    return "\n".join(parts)


def write_tables(
    score_paths: Iterable[str | os.PathLike],
    out_tsv: str | os.PathLike,
    out_md: str | os.PathLike,
    out_tex: str | os.PathLike,
    layout: str | None = None,
) -> list[dict]:
    """Write the long TSV, the Markdown and the LaTeX tables of the score files."""
    rows = long_rows(score_paths)
    write_text(out_tsv, tsv_text(rows))
    write_text(out_md, markdown(rows, layout))
    write_text(out_tex, latex(rows))
    return rows
