"""Gather score JSONs into one long table, paper-style Markdown tables and bar charts.

Run by the rule ``report_tables``; by hand::

    python -m bayling_pipeline.report results/score/*/django-test/*/*.json \
        --tsv results/report/scores.tsv \
        --markdown results/report/report.md --png-dir results/report \
        --latex results/report/tables.tex --significance results/score/significance/*/*/*.json

One row per (system, testset, pair, metric) with its signature, so that pandas pivots and
plots stay trivial. In the tables, rows are systems and columns translation directions
plus their average, the best score of each column in bold (lowest for TER). ``write_report``
writes them all: ``collect`` (the long table), ``tables`` (Markdown, LaTeX), ``plots`` (PNGs).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from bayling_pipeline.cli import input_file, run_cli
from bayling_pipeline.io import write_text
from bayling_pipeline.report.collect import (
    attach_significance,
    collect,
    collect_significance,
    metric_rank,
)
from bayling_pipeline.report.paper import paper_latex, paper_markdown, share_markdown
from bayling_pipeline.report.plots import placeholder_figure, plot_metric, save_png
from bayling_pipeline.report.tables import METRIC_NAMES, NO_COMET, markdown_tables


def write_report(
    score_json_paths: Iterable[str | os.PathLike],
    out_tsv: str | os.PathLike,
    out_md: str | os.PathLike,
    pngs: str | os.PathLike | Mapping[str, str | os.PathLike],
    comet_note: str | None = None,
    significance_paths: Iterable[str | os.PathLike] = (),
    out_tex: str | os.PathLike | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
    reference: str | None = None,
) -> None:
    """Write the long TSV, the Markdown report, the LaTeX tables and one bar chart per metric.

    ``pngs`` is a directory (``<metric>.png`` for every metric present) or a mapping
    metric -> PNG path; a mapped metric without scores (COMET not configured) gets a
    placeholder image saying so, so that every declared output exists. With
    ``significance_paths`` (paired bootstrap JSONs) every row gains its 95% interval and
    p-value against the baseline, shown in the tables and as error bars. ``groups``
    ({title: directions}) and ``reference`` (a system's label) shape the papers' tables
    (``bayling_pipeline.report.paper``).
    """
    df = attach_significance(collect(score_json_paths), collect_significance(significance_paths))
    tsv = df.copy()
    tsv["score"] = tsv["score"].round(4)
    write_text(out_tsv, tsv.to_csv(sep="\t", index=False, lineterminator="\n"))

    if isinstance(pngs, Mapping):
        targets = {metric: Path(path) for metric, path in pngs.items()}
    else:
        metrics = sorted(df["metric"].unique(), key=lambda m: (metric_rank(m), m))
        targets = {metric: Path(pngs) / f"{metric}.png" for metric in metrics}
    for metric, path in targets.items():
        if (df["metric"] == metric).any():
            plot_metric(df, metric, path)
        else:
            reason = (comet_note or NO_COMET) if metric == "comet" else "no scores"
            save_png(
                placeholder_figure(f"{METRIC_NAMES.get(metric, metric)}: not computed ({reason})"),
                path,
            )

    out_md = Path(out_md)
    lines = ["# Translation quality", "", *warnings_markdown(df)]
    lines += ["## Paper layout", "", paper_markdown(df, groups)]
    lines += [share_markdown(df, reference, groups)]
    lines += ["## By metric", "", markdown_tables(df, comet_note)]
    for metric, path in targets.items():
        if (df["metric"] == metric).any():
            relative = os.path.relpath(path, out_md.parent)
            lines.append(f"![{METRIC_NAMES.get(metric, metric)}]({relative})")
    write_text(out_md, "\n".join(lines).rstrip("\n") + "\n")
    if out_tex is not None:
        write_text(out_tex, paper_latex(df, groups))


def warnings_markdown(df) -> list[str]:
    """A "Warnings" section listing the ``warnings`` of the score records (empty hypotheses,
    fewer references than asked for), or nothing when there are none."""
    if "warnings" not in df:
        return []
    listed = df[df["warnings"].notna() & (df["warnings"] != "")]
    lines = [
        f"- {row.system}, {row.testset}, {row.pair}, {row.metric}: {warning}"
        for row in listed.itertuples()
        for warning in json.loads(row.warnings)
    ]
    return ["## Warnings", "", *lines, ""] if lines else []


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scores", nargs="+", type=input_file, help="score JSON files")
    parser.add_argument("--tsv", required=True)
    parser.add_argument("--markdown", required=True)
    parser.add_argument("--png-dir", required=True)
    parser.add_argument("--latex", help="LaTeX tables in the papers' layout")
    parser.add_argument(
        "--significance", nargs="*", default=[], type=input_file, help="bootstrap JSONs"
    )
    parser.add_argument("--comet-note", help="why COMET is missing, when it is")
    parser.add_argument("--reference", help="label of the system whose score is 100%%")
    args = parser.parse_args(argv)
    write_report(
        args.scores,
        args.tsv,
        args.markdown,
        args.png_dir,
        args.comet_note,
        args.significance,
        args.latex,
        reference=args.reference,
    )
    return 0


if __name__ == "__main__":
    run_cli(main, "python -m bayling_pipeline.report")
