"""Write the judging report: ``results/report/judging.{tsv,md,tex}`` and the figures.

Run by the rule ``judge_report``; by hand::

    python -m bayling_pipeline.judge report results/judge/*/*/*/*.reviews.jsonl \\
        --tsv judging.tsv --markdown judging.md --latex judging.tex --png-dir judging/
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from bayling_pipeline.io import write_text
from bayling_pipeline.judge.aggregate import collect
from bayling_pipeline.judge.plots import battle_figure, placeholder_figure, radar_figure, save_png
from bayling_pipeline.judge.tables import Index, latex_text, markdown_text, tsv_text


def figures(index: Index) -> dict[str, object]:
    """Every figure by file stem: ``battle.<source>``, ``radar.<source>.<system>.vs.<opponent>``
    (matplotlib figures, drawn lazily by the caller's loop)."""
    stems = {}
    for source in index.sources:
        stems[f"battle.{source}"] = (battle_figure, (index, source))
        for system, opponent in index.pairings_of(source):
            stems[f"radar.{source}.{system}.vs.{opponent}"] = (
                radar_figure,
                (index, source, (system, opponent)),
            )
    return stems


def write_judging(
    review_paths: Iterable[str | os.PathLike],
    out_tsv: str | os.PathLike,
    out_md: str | os.PathLike,
    out_tex: str | os.PathLike,
    pngs: Mapping[str, str | os.PathLike] | str | os.PathLike,
) -> list[dict]:
    """Write the long TSV, Markdown, LaTeX and the figures; return the rows.

    ``pngs`` maps figure stems to paths (every declared one is written: a placeholder
    where there is nothing to draw), or is a folder for every figure there is."""
    rows = collect(review_paths)
    write_text(out_tsv, tsv_text(rows))
    write_text(out_md, markdown_text(rows))
    write_text(out_tex, latex_text(rows))
    index = Index(rows)
    drawable = figures(index)
    if not isinstance(pngs, Mapping):
        pngs = {stem: Path(pngs) / f"{stem}.png" for stem in drawable}
    for stem, path in pngs.items():
        if stem in drawable:
            draw, args = drawable[stem]
            save_png(draw(*args), path)
        else:
            save_png(placeholder_figure(f"{stem}: no judgments"), path)
    return rows
