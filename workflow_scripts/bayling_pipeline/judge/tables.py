"""The judging tables: the long TSV, Markdown in the paper's shape (wins/ties/losses as on
BayLing's battle charts, score ratios and their mean, category means as on its radar
charts) and the same as LaTeX (booktabs)."""

from __future__ import annotations

from bayling_pipeline.judge.aggregate import COLUMNS

TURNS_TITLE = {"single": "single-turn", "multi": "multi-turn"}


def tsv_text(rows: list[dict]) -> str:
    """The long table, one row per (source, pairing, setting, category, metric)."""

    def cell(value) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:.6g}"
        return str(value).replace("\t", " ").replace("\n", " ")

    lines = ["\t".join(COLUMNS)]
    lines += ["\t".join(cell(row.get(column)) for column in COLUMNS) for row in rows]
    return "\n".join(lines) + "\n"


class Index:
    """Rows by key, and the sources, pairings, settings and categories in first-seen order."""

    def __init__(self, rows: list[dict]):
        self.values = {}
        self.sources, self.pairings, self.settings = {}, {}, {}
        self.categories: dict[tuple, dict] = {}
        self.judged: dict[str, dict] = {}  # source -> its pairings
        for row in rows:
            pairing = (row["system"], row["opponent"])
            key = (row["source"], *pairing, row["setting"], row["category"], row["metric"])
            self.values[key] = row["value"]
            self.sources.setdefault(row["source"], row["judge"])
            self.pairings.setdefault(pairing, (row["system_label"], row["opponent_label"]))
            self.judged.setdefault(row["source"], {})[pairing] = None
            if row["setting"] != "mean":
                self.settings.setdefault(row["setting"], (row["turns"], row["lang"]))
            if row["category"] != "all":
                self.categories.setdefault((row["source"], *pairing), {})[row["category"]] = None
        # the paper's order: single-turn panels first, languages as first seen
        langs = list(dict.fromkeys(lang for _, lang in self.settings.values()))
        order = sorted(
            self.settings.items(), key=lambda s: (s[1][0] != "single", langs.index(s[1][1]))
        )
        self.settings = dict(order)

    def get(self, source, pairing, setting, metric, category="all"):
        return self.values.get((source, *pairing, setting, category, metric))

    def pairings_of(self, source) -> list[tuple[str, str]]:
        return list(self.judged.get(source, {}))

    def title(self, setting: str) -> str:
        turns, lang = self.settings[setting]
        return f"{TURNS_TITLE[turns]} ({lang})"

    def pairing_title(self, pairing, sep: str = " vs ") -> str:
        return sep.join(self.pairings[pairing])


def _percent(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _battle_cell(index: Index, source, pairing, setting) -> str:
    counts = [index.get(source, pairing, setting, m) for m in ("wins", "ties", "losses")]
    if counts[0] is None:
        return "–"
    cell = " / ".join(str(c) for c in counts)
    unjudged = index.get(source, pairing, setting, "items") - index.get(
        source, pairing, setting, "judged"
    )
    return cell + (f" (+{unjudged} unjudged)" if unjudged else "")


def _ratio_cell(index: Index, source, pairing, setting) -> str:
    ratio = index.get(source, pairing, setting, "score_ratio")
    mine = index.get(source, pairing, setting, "score_sum_system")
    theirs = index.get(source, pairing, setting, "score_sum_opponent")
    if mine is None or not index.get(source, pairing, setting, "judged"):
        return "–"
    return f"{_percent(ratio)} ({mine:g} / {theirs:g})"


def _markdown_table(header: list[str], body: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in body] + [""]


def _source_markdown(index: Index, source: str) -> list[str]:
    settings = list(index.settings)
    titles = [index.title(s) for s in settings]
    pairings = index.pairings_of(source)
    lines = [f"## Judged by {index.sources[source]}", ""]
    lines += [
        "Wins / ties / losses of the first system (its score above, equal to or below the",
        "opponent's):",
        "",
    ]
    body = [
        [index.pairing_title(p)] + [_battle_cell(index, source, p, s) for s in settings]
        for p in pairings
    ]
    lines += _markdown_table(["system vs opponent", *titles], body)
    lines += [
        "Score ratio: the system's score sum as a share of the opponent's (sums in",
        "brackets), and its mean over the settings:",
        "",
    ]
    body = [
        [index.pairing_title(p)]
        + [_ratio_cell(index, source, p, s) for s in settings]
        + [_percent(index.get(source, p, "mean", "score_ratio_mean"))]
        for p in pairings
    ]
    lines += _markdown_table(["system vs opponent", *titles, "mean"], body)
    lines += _notes(index, source, pairings, settings)
    for pairing in pairings:
        lines += _category_markdown(index, source, pairing, settings)
    return lines


def _total(index: Index, source, pairings, settings, metric) -> int | None:
    values = [index.get(source, p, s, metric) for p in pairings for s in settings]
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _notes(index: Index, source, pairings, settings) -> list[str]:
    """What the numbers rest on: reviews read, unparseable ones, checks of released files."""

    def total(metric):
        return _total(index, source, pairings, settings, metric)

    notes = [
        f"Reviews read: {total('reviews')}; unparseable: {total('unparseable_reviews')} "
        f"(their items are unjudged: no verdict, in no sum). Items judged: "
        f"{total('judged')} of {total('items')}."
    ]
    disagreeing = total("released_score_field_disagreeing")
    if disagreeing is not None:
        notes.append(
            f"Released score fields disagreeing with the parsed review texts: {disagreeing}; "
            f"result fields: {total('released_result_field_disagreeing')}."
        )
    for side in ("system", "opponent"):
        same = total(f"answers_as_released_{side}")
        if same is not None:
            notes.append(f"Items whose reviewed {side} answers are the published answers: {same}.")
    return [" ".join(notes), ""]


def _category_markdown(index: Index, source, pairing, settings) -> list[str]:
    categories = index.categories.get((source, *pairing), {})
    lines = [f"Mean score per category, {index.pairing_title(pairing, ' / ')}:", ""]
    body = []
    for category in categories:
        cells = []
        for setting in settings:
            mine = index.get(source, pairing, setting, "mean_system", category)
            theirs = index.get(source, pairing, setting, "mean_opponent", category)
            cells.append("–" if mine is None else f"{mine:.2f} / {theirs:.2f}")
        body.append([category, *cells])
    return lines + _markdown_table(["category", *[index.title(s) for s in settings]], body)


def markdown_text(rows: list[dict]) -> str:
    """Every source's tables, in the order of the rows."""
    index = Index(rows)
    lines = ["# Pairwise judging (BayLing-80)", ""]
    if not rows:
        return "\n".join(lines + ["No pairing is configured (judging.pairings).", ""])
    for source in index.sources:
        lines += _source_markdown(index, source)
    return "\n".join(lines).rstrip("\n") + "\n"


def _latex_escape(text: str) -> str:
    for char in ("\\", "&", "%", "$", "#", "_", "{", "}"):
        text = text.replace(char, "\\" + char if char != "\\" else "\\textbackslash{}")
    return text


def latex_text(rows: list[dict]) -> str:
    """One booktabs table per source: W/T/L and score ratio per setting, the mean ratio."""
    index = Index(rows)
    settings = list(index.settings)
    blocks = []
    for source, judge in index.sources.items():
        columns = "l" + "rr" * len(settings) + "r"
        head = " & ".join(
            f"\\multicolumn{{2}}{{c}}{{{_latex_escape(index.title(s))}}}" for s in settings
        )
        sub = " & ".join("W/T/L & ratio" for _ in settings)
        lines = [
            "\\begin{table}[t]",
            "\\centering",
            f"\\caption{{Pairwise judging on BayLing-80, judged by {_latex_escape(judge)}.}}",
            f"\\begin{{tabular}}{{{columns}}}",
            "\\toprule",
            f" & {head} & \\\\",
            f"System vs opponent & {sub} & mean ratio \\\\",
            "\\midrule",
        ]
        for pairing in index.pairings_of(source):
            cells = []
            for setting in settings:
                cells.append(_latex_escape(_battle_cell(index, source, pairing, setting)))
                ratio = index.get(source, pairing, setting, "score_ratio")
                cells.append(_latex_escape(_percent(ratio)))
            mean = _percent(index.get(source, pairing, "mean", "score_ratio_mean"))
            name = _latex_escape(index.pairing_title(pairing))
            lines.append(f"{name} & {' & '.join(cells)} & {_latex_escape(mean)} \\\\")
        lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]
        blocks.append("\n".join(lines))
    return "\n".join(blocks) or "% no pairing is configured (judging.pairings)\n"
