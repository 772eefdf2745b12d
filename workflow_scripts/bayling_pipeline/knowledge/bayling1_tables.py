"""BayLing 1's two AGIEval tables as printed (its README, "Standardized Tests on GaoKao and
SAT/GRE/GMAT/LSAT"): the layout, the averages as the paper computes them, and a parser of
the published numbers.

* **GaoKao**: ``Avg.``, then chinese, english, mathqa, physics, chemistry, biology,
  history, geography, mathcloze. The average is the plain mean of the nine subjects.
* **English**: ``Avg.``, then sat-math, sat-en, sat-en w/o passage, aqua-rat, lsat-ar,
  lsat-lr, lsat-rc, logiqa-en, logiqa-zh. The average is the plain mean of the first
  *eight*, leaving logiqa-zh out, in every row but GPT-3.5-turbo's, whose average is the
  mean of all nine. Checked against the printed numbers: GPT-3.5-turbo 49.30 is the mean of
  its nine cells (of eight: 50.32); BayLing-13B 35.31, BayLing-7B 28.60, ChatGLM-6B 32.79,
  Vicuna-13B 35.97 and Alpaca-7B 24.03 are the means of their eight (of nine: 34.92, 28.07,
  32.54, 35.18, 23.75). :func:`paper_rows` reproduces this as printed
  (``full_english_average`` names the rows whose average keeps logiqa-zh).

Accuracies are printed in % with two decimals; the averages are means of the unrounded
accuracies (the means of the printed cells round to the same numbers in every row).
"""

from __future__ import annotations

import html.parser
import math
import os
import re
from collections.abc import Iterable, Mapping

GAOKAO_COLUMNS = tuple(
    "gaokao-" + name
    for name in "chinese english mathqa physics chemistry biology history geography "
    "mathcloze".split()
)
ENGLISH_COLUMNS = (
    "sat-math", "sat-en", "sat-en-without-passage", "aqua-rat", "lsat-ar", "lsat-lr",
    "lsat-rc", "logiqa-en", "logiqa-zh",
)  # fmt: skip
GAOKAO_AVERAGE, ENGLISH_AVERAGE = "gaokao-average", "english-average"
TABLES = {
    "gaokao": (GAOKAO_AVERAGE, GAOKAO_COLUMNS),
    "english": (ENGLISH_AVERAGE, ENGLISH_COLUMNS),
}
# the rows whose English average keeps logiqa-zh, as printed
FULL_ENGLISH_AVERAGE = ("GPT-3.5-turbo",)
# the column headers as printed (the parser checks them, in order)
PRINTED_HEADERS = {
    "gaokao": ("Avg.", *(c.removeprefix("gaokao-") for c in GAOKAO_COLUMNS)),
    "english": ("Avg.", *ENGLISH_COLUMNS[:2], "sat-en w/o passage", *ENGLISH_COLUMNS[3:]),
}
SECTION = "Standardized Tests on GaoKao"


def _mean(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else math.fsum(values) / len(values)


def paper_rows(
    scores: Mapping[tuple[str, str], float],
    full_english_average: Iterable[str] = FULL_ENGLISH_AVERAGE,
) -> list[dict]:
    """One row per system (in first-seen order) with both tables' columns and averages:
    ``{"system", "gaokao-average", "gaokao-chinese", ..., "english-average", "sat-math",
    ...}``. ``scores`` maps (system, subject) to an accuracy (0..1); cells are in %, a
    missing cell is None and so is the average it belongs to."""
    full = set(full_english_average)
    rows = []
    for system in dict.fromkeys(system for system, _ in scores):
        row: dict = {"system": system}
        for table, (average, columns) in TABLES.items():
            cells = {c: scores.get((system, c)) for c in columns}
            cells = {c: None if v is None else 100 * v for c, v in cells.items()}
            kept = columns if table == "gaokao" or system in full else columns[:-1]
            row[average] = _mean([cells[c] for c in kept])
            row.update(cells)
        rows.append(row)
    return rows


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def paper_markdown(
    rows: list[dict], full_english_average: Iterable[str] = FULL_ENGLISH_AVERAGE
) -> str:
    """BayLing 1's two tables in Markdown from the report's long rows (``label``,
    ``subset``, ``accuracy`` of the AGIEval rows), averages as the paper computes them."""
    scores = {
        (r["label"], r["subset"]): r["accuracy"]
        for r in rows
        if r.get("task") == "agieval" and r.get("accuracy") is not None
    }
    full = tuple(full_english_average)
    table_rows = paper_rows(scores, full)
    parts = ["## AGIEval as BayLing 1 prints it", ""]
    for table, (average, columns) in TABLES.items():
        parts += [f"| System | {' | '.join(PRINTED_HEADERS[table])} |"]
        parts += ["|---" + "|---:" * (len(columns) + 1) + "|"]
        for row in table_rows:
            cells = [row[average], *(row[c] for c in columns)]
            parts.append(f"| {row['system']} | " + " | ".join(map(_cell, cells)) + " |")
        parts.append("")
    parts.append(
        "Accuracy in %. GaoKao Avg.: mean of its nine subjects. English Avg.: mean of the "
        "eight subjects before logiqa-zh, as the paper prints it"
        + (f" (of all nine for {', '.join(full)})" if full else "")
        + "."
    )
    return "\n".join(parts)


class _Tables(html.parser.HTMLParser):
    """Every <table> of an HTML text: per table, its rows as lists of cell texts."""

    def __init__(self):
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.tables:
            self.tables[-1][-1].append(re.sub(r"\s+", " ", "".join(self._cell)).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _system_label(printed: str) -> str:
    return re.sub(r"\s+-", "-", printed.strip())  # "BayLing -13B" as printed -> BayLing-13B


def published_tables(readme_path: str | os.PathLike) -> dict[tuple[str, str], float]:
    """The published cells of BayLing 1's two AGIEval tables: (system label, column) ->
    accuracy in %, columns named by subject (``gaokao-chinese``, ``sat-math``) or
    ``gaokao-average``/``english-average``; labels as printed, a stray space before a
    hyphen dropped ("BayLing -13B" -> "BayLing-13B"). ValueError if the layout changed."""
    with open(readme_path, encoding="utf-8") as handle:
        text = handle.read()
    start = text.find(SECTION)
    if start < 0:
        raise ValueError(f"{readme_path}: no section {SECTION!r}")
    parser = _Tables()
    parser.feed(text[start:])
    if len(parser.tables) < 2:
        raise ValueError(f"{readme_path}: {len(parser.tables)} tables after {SECTION!r}, not 2")
    cells = {}
    for (table, (average, columns)), rows in zip(TABLES.items(), parser.tables, strict=False):
        head = [c for row in rows if not _is_number_row(row) for c in row]
        found = [c for c in head if c in PRINTED_HEADERS[table]]
        if found != list(PRINTED_HEADERS[table]):
            raise ValueError(
                f"{readme_path}: the {table} table's headers {head} do not read "
                f"{list(PRINTED_HEADERS[table])} in order"
            )
        for row in filter(_is_number_row, rows):
            if len(row) != len(columns) + 2:
                raise ValueError(f"{readme_path}: {table} row {row} has {len(row)} cells")
            values = dict(zip((average, *columns), map(float, row[1:]), strict=True))
            cells |= {(_system_label(row[0]), c): v for c, v in values.items()}
    return cells


def _is_number_row(row: list[str]) -> bool:
    return len(row) > 1 and all(re.fullmatch(r"\d+(?:\.\d+)?", c) for c in row[1:])
