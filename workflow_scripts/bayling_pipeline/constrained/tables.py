"""The constrained-translation table of the report: a long TSV with provenance, and Markdown
and LaTeX in the paper's shape (systems as rows, direction x metric as columns, one block
per constraint set and instruction language, the best of each column in bold).

Run by the rule ``constrained_report``; by hand::

    python -c "from bayling_pipeline.constrained.tables import write_tables; import glob; \
        write_tables(sorted(glob.glob('results/constrained/score/*/*/*/*.json')), \
        'constrained.tsv', 'constrained.md', 'constrained.tex')"
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable

from bayling_pipeline.constrained.metrics import MATCHING, METRICS
from bayling_pipeline.constrained.queries import INSTRUCTION_LANGUAGES
from bayling_pipeline.io import read_json, write_text

KINDS = ("base", "finetuned", "published")  # row order: ours first, then the papers'
SHORT_NAMES = {"bleu": "BLEU", "term_hit_rate": "Hit", "all_terms_rate": "All"}
COLUMNS = (
    "set", "instruction", "pair", "system", "label", "kind", "metric", "score", "signature",
    "sentences", "terms", "terms_found", "sentences_all_terms", "template", "decoding", "source",
)  # fmt: skip
LEGEND = (
    "BLEU: sacreBLEU corpus BLEU (signatures below); Hit: share of constraint terms found in "
    f"the hypothesis ({MATCHING}), in %; All: share of sentences whose hypothesis contains "
    "every one of its terms, in %."
)


def long_rows(score_paths: Iterable[str | os.PathLike]) -> list[dict]:
    """One row per (set, instruction, direction, system, metric), in table order."""
    rows = []
    for path in score_paths:
        record = read_json(path)
        for score in record["scores"]:
            row = {**record, **score}
            rows.append({key: _cell(row.get(key)) for key in COLUMNS})
    first = {}
    for row in rows:  # the order systems, sets and directions first appear in
        for key in ("set", "system", "pair"):
            first.setdefault((key, row[key]), len(first))

    def order(row):
        return (
            first["set", row["set"]],
            INSTRUCTION_LANGUAGES.index(row["instruction"]),
            KINDS.index(row["kind"]),
            first["system", row["system"]],
            first["pair", row["pair"]],
            METRICS.index(row["metric"]),
        )

    return sorted(rows, key=order)


def _cell(value):
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return value


def tsv_text(rows: list[dict]) -> str:
    def text(key, value):
        if value is None:
            return ""
        if key == "score":
            return f"{value:.4f}"
        return str(value).replace("\t", " ").replace("\n", " ")

    lines = ["\t".join(COLUMNS)]
    lines += ["\t".join(text(key, row[key]) for key in COLUMNS) for row in rows]
    return "\n".join(lines) + "\n"


def direction_label(pair: str, arrow: str = "→") -> str:
    """``Zh→En`` for ``zho_Hans-eng_Latn``: the papers' short codes."""
    from bayling_pipeline.languages import is_known, locale_of

    def short(code):
        return (locale_of(code) if is_known(code) else "").split("_")[0].capitalize() or code

    src, _, tgt = pair.partition("-")
    return f"{short(src)}{arrow}{short(tgt)}"


def blocks(rows: list[dict]):
    """``(set, instruction, pairs, labels, {(label, pair, metric): score}, signatures)`` per
    table block, in row order; a system appears in a block only where it has scores."""
    keys = list(dict.fromkeys((r["set"], r["instruction"]) for r in rows))
    for name, instruction in keys:
        part = [r for r in rows if (r["set"], r["instruction"]) == (name, instruction)]
        pairs = list(dict.fromkeys(r["pair"] for r in part))
        labels = list(dict.fromkeys(r["label"] for r in part))
        scores = {(r["label"], r["pair"], r["metric"]): r["score"] for r in part}
        signatures = {
            (r["signature"], r["pair"]) for r in part if r["metric"] == "bleu" and r["signature"]
        }
        yield name, instruction, pairs, labels, scores, sorted(signatures)


def _cells(labels, scores, pair, metric) -> list[tuple[str, bool]]:
    """(text, is best) of one column; a missing score is an en dash."""
    values = [scores.get((label, pair, metric)) for label in labels]
    finite = [v for v in values if v is not None and not math.isnan(v)]
    best = f"{max(finite):.2f}" if len(finite) > 1 else None  # no contest, no bold
    return [
        ("–", False) if v is None or math.isnan(v) else (f"{v:.2f}", f"{v:.2f}" == best)
        for v in values
    ]


def block_title(name: str, instruction: str) -> str:
    from bayling_pipeline.languages import english_name

    return f"{name}: instruction in {english_name(instruction)}"


def markdown(rows: list[dict]) -> str:
    lines = ["# Lexically constrained translation", "", LEGEND, ""]
    for name, instruction, pairs, labels, scores, signatures in blocks(rows):
        header = ["System"] + [
            f"{direction_label(p)} {SHORT_NAMES[m]}" for p in pairs for m in METRICS
        ]
        lines += [f"## {block_title(name, instruction)}", ""]
        lines += ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
        columns = [_cells(labels, scores, p, m) for p in pairs for m in METRICS]
        for number, label in enumerate(labels):
            cells = [f"**{t}**" if best else t for t, best in (c[number] for c in columns)]
            lines.append("| " + " | ".join([label, *cells]) + " |")
        lines.append("")
        lines += [f"- `{sig}` ({direction_label(pair)})" for sig, pair in signatures]
        lines.append("")
    return "\n".join(lines)


LATEX_SPECIAL = {c: "\\" + c for c in "&%$#_{}"} | {"~": r"\textasciitilde{}", "^": r"\^{}"}


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIAL.get(c, c) for c in text.replace("\\", r"\textbackslash{}"))


def latex(rows: list[dict]) -> str:
    parts = [f"% Lexically constrained translation. {LEGEND}", ""]
    for name, instruction, pairs, labels, scores, _ in blocks(rows):
        width, title = len(METRICS), block_title(name, instruction)
        spec = "l" + ("r" * width) * len(pairs)
        arrow = r"$\to$"
        heads = [f"\\multicolumn{{{width}}}{{c}}{{{direction_label(p, arrow)}}}" for p in pairs]
        rules = "".join(
            f"\\cmidrule(lr){{{2 + i * width}-{1 + (i + 1) * width}}}" for i in range(len(pairs))
        )
        metrics = " & ".join(SHORT_NAMES[m] for m in METRICS)
        columns = [_cells(labels, scores, p, m) for p in pairs for m in METRICS]
        body = []
        for number, label in enumerate(labels):
            cells = [f"\\textbf{{{t}}}" if b else t for t, b in (c[number] for c in columns)]
            body.append(" & ".join([latex_escape(label), *cells]) + r" \\")
        parts += [
            r"\begin{table}[t]",
            r"\centering",
            f"\\caption{{Lexically constrained translation, {latex_escape(title)}}}",
            f"\\begin{{tabular}}{{{spec}}}",
            r"\toprule",
            " & ".join(["", *heads]) + r" \\",
            rules,
            " & ".join(["System", *([metrics] * len(pairs))]) + r" \\",
            r"\midrule",
            *body,
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
) -> list[dict]:
    """Write the long TSV, the Markdown and the LaTeX tables of the score files."""
    rows = long_rows(score_paths)
    write_text(out_tsv, tsv_text(rows))
    write_text(out_md, markdown(rows))
    write_text(out_tex, latex(rows))
    return rows
