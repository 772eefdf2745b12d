"""Bar charts of the long score table: one PNG per metric, directions on x, one bar per
system, 95% intervals as error bars when present; a placeholder image for a metric that
was not computed. Used by ``bayling_pipeline.report.write``.
"""

from __future__ import annotations

import math
import os

from bayling_pipeline.io import atomic_path
from bayling_pipeline.report.tables import LOWER_IS_BETTER, METRIC_NAMES, direction_label


def _bars(df, metric: str):
    """Matplotlib figure: directions on x, one bar per system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = df[df["metric"] == metric].copy()
    several = rows["testset"].nunique() > 1
    rows["x"] = [
        f"{t}\n{direction_label(p)}" if several else direction_label(p)
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


def placeholder_figure(text: str):
    """A small figure that only says ``text`` (for a metric that was not computed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 1.5))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center")
    return fig


def save_png(fig, png_path: str | os.PathLike) -> None:
    """Write ``fig`` as a PNG, appearing complete or not at all, and close it."""
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
    save_png(_bars(df, metric), png_path)
