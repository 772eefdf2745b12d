"""The judging figures, drawn like BayLing's: battle charts (stacked win/tie/loss bars with
the counts printed, ``assets/battle.*.png``) and radar charts of the mean score per
category (``assets/Cap.*.png``: radius from 1 to 10, rings at 3, 6 and 9)."""

from __future__ import annotations

import math
import os

from bayling_pipeline.io import atomic_path
from bayling_pipeline.judge.tables import Index

# the paper's colours: BayLing wins, tie, BayLing loses
COLOURS = {"wins": "#fa8072", "ties": "#ffe4b5", "losses": "#6bb9c3"}
LEGEND = {"wins": "{system} wins", "ties": "Tie", "losses": "{system} loses"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _grid(plt, panels: int, polar: bool = False):
    columns = 2 if panels > 1 else 1
    rows = math.ceil(panels / columns)
    size = (6.0 * columns, (5.5 if polar else 3.2) * rows)
    fig, axes = plt.subplots(rows, columns, figsize=size, squeeze=False,
                             subplot_kw={"projection": "polar"} if polar else None)  # fmt: skip
    flat = list(axes.flat)
    for ax in flat[panels:]:
        ax.set_visible(False)
    return fig, flat[:panels]


def _battle_panel(ax, index: Index, source: str, setting: str) -> None:
    pairings = index.pairings_of(source)
    systems = {index.pairings[p][0] for p in pairings}
    names = [
        index.pairings[p][1] if len(systems) == 1 else index.pairing_title(p) for p in pairings
    ]
    left = [0.0] * len(pairings)
    for metric, colour in COLOURS.items():
        counts = [index.get(source, p, setting, metric) or 0 for p in pairings]
        system = next(iter(systems)) if len(systems) == 1 else "System"
        bars = ax.barh(
            names, counts, left=left, color=colour, label=LEGEND[metric].format(system=system)
        )
        ax.bar_label(bars, labels=[str(c) if c else "" for c in counts], label_type="center")
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.invert_yaxis()  # first pairing on top, as in the paper
    ax.set_xlabel("# Cases")
    ax.set_title(index.title(setting))


def battle_figure(index: Index, source: str):
    plt = _pyplot()
    settings = list(index.settings)
    fig, axes = _grid(plt, len(settings))
    for ax, setting in zip(axes, settings, strict=True):
        _battle_panel(ax, index, source, setting)
    axes[0].legend(loc="lower center", bbox_to_anchor=(0.5, 1.12), ncol=3, fontsize="small")
    fig.suptitle(f"Judged by {index.sources[source]}")
    fig.tight_layout()
    return fig


def _radar_panel(ax, index: Index, source, pairing, setting) -> None:
    categories = list(index.categories.get((source, *pairing), {}))
    labels = index.pairings[pairing]
    angles = [2 * math.pi * i / len(categories) for i in range(len(categories))]
    lines = (("mean_opponent", labels[1], "green"), ("mean_system", labels[0], "tomato"))
    for metric, label, colour in lines:
        values = [index.get(source, pairing, setting, metric, c) for c in categories]
        values = [1.0 if v is None else v for v in values]  # no judged item: the centre
        ax.plot(angles + angles[:1], values + values[:1], color=colour, linewidth=2.5, label=label)
        ax.fill(angles + angles[:1], values + values[:1], color=colour, alpha=0.12)
    ax.set_theta_offset(math.pi / 2)
    ax.set_theta_direction(-1)
    ax.set_xticks(angles, categories)
    ax.set_ylim(1, 10)
    ax.set_yticks([3, 6, 9])
    ax.set_title(index.title(setting), pad=18)


def radar_figure(index: Index, source: str, pairing: tuple[str, str]):
    plt = _pyplot()
    categories = index.categories.get((source, *pairing), {})
    if len(categories) < 3:  # a radar needs three axes; say so instead of drawing a line
        return placeholder_figure(
            f"{index.pairing_title(pairing)}: {len(categories)} categories, no radar chart"
        )
    settings = list(index.settings)
    fig, axes = _grid(plt, len(settings), polar=True)
    for ax, setting in zip(axes, settings, strict=True):
        _radar_panel(ax, index, source, pairing, setting)
    axes[0].legend(loc="lower center", bbox_to_anchor=(0.5, 1.15), ncol=2, fontsize="small")
    fig.suptitle(f"{index.pairing_title(pairing)}, judged by {index.sources[source]}")
    fig.tight_layout()
    return fig


def placeholder_figure(text: str):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 1.5))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center")
    return fig


def save_png(fig, path: str | os.PathLike) -> None:
    """Write ``fig`` atomically as a PNG and close it."""
    plt = _pyplot()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
