"""The report's figures, drawn on `matplotlib.figure.Figure` objects (no pyplot global state) and
saved byte-reproducibly as PNG and PDF.

Reproducibility: a fixed font (DejaVu Sans, shipped with matplotlib), a fixed SVG hash salt, no
creation date or software name in the PDF and PNG metadata, and no randomness in drawing (points
are spread by a fixed offset per seed instead of seaborn's unseeded jitter; no bootstrap inside
seaborn: intervals come from `harness.statistics`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import scikit_posthocs
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from harness.analysis import CHOICE_KEYS, MetricScale
from harness.statistics import RankTest

STYLE = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "svg.hashsalt": "tunebench",
    "savefig.dpi": 110,
}
PDF_METADATA = {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None}
PNG_METADATA = {"Software": None}
BAND_ALPHA = 0.2


def save_figure(
    draw: Callable[[], Figure], directory: Path, stem: str, formats: Sequence[str] = ("png", "pdf")
) -> None:
    """Draw a figure under the report style and write it as `stem.png` and/or `stem.pdf`."""
    with matplotlib.rc_context(STYLE):
        figure = draw()
        for kind in formats:
            metadata = {"png": PNG_METADATA, "pdf": PDF_METADATA}[kind]
            figure.savefig(directory / f"{stem}.{kind}", format=kind, metadata=metadata)
            figure.set_layout_engine("none")  # keep the layout computed first; do not redo it


def tuner_colors(tuners: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    return dict(zip(tuners, sns.color_palette("colorblind", len(tuners)), strict=True))


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _bands(ax: Axes, bands: pd.DataFrame, colors: dict) -> None:
    """Median as a step line (an incumbent holds until the next one), IQR as a band."""
    for tuner, color in colors.items():
        mine = bands[bands.tuner == tuner]
        if mine.empty:
            continue
        ax.plot(mine.x, mine["median"], color=color, label=tuner, drawstyle="steps-post")
        ax.fill_between(
            mine.x, mine.q25, mine.q75, color=color, alpha=BAND_ALPHA, step="post", linewidth=0
        )


def anytime_figure(
    scale: MetricScale, over_trials: pd.DataFrame, over_seconds: pd.DataFrame, tuners: Sequence[str]
) -> Figure:
    figure = Figure(figsize=(9, 3.4), layout="constrained")
    by_trial, by_time = figure.subplots(1, 2, sharey=True)
    colors = tuner_colors(tuners)
    for ax, bands, label in (
        (by_trial, over_trials, "trials"),
        (by_time, over_seconds, "compute seconds (log scale)"),
    ):
        if bands.empty:
            _empty(ax, "no successful trial")
            continue
        _bands(ax, bands, colors)
        ax.set_xlabel(label)
    if not over_seconds.empty:
        _log_axis(by_time, "x")
    if not over_trials.empty:
        by_trial.xaxis.set_major_locator(MaxNLocator(integer=True))
        by_trial.set_ylabel(f"incumbent CV {scale.label}")
        by_trial.legend(title="tuner, median and IQR over seeds", loc="best")
    return figure


def _log_axis(ax: Axes, which: str) -> None:
    """A log scale with ticks at 1, 2 and 5 times powers of ten, labelled as plain numbers."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


def _box(ax: Axes, values: pd.Series, position: float, width: float, color: tuple) -> None:
    """One box without fliers (the points are drawn on top), filled with `color` (RGBA)."""
    box = ax.boxplot(
        values,
        positions=[position],
        widths=width,
        patch_artist=True,
        showfliers=False,
        medianprops={"color": "black"},
    )
    box["boxes"][0].set(facecolor=color, edgecolor="0.3")


def _spread(n: int, width: float = 0.12) -> np.ndarray:
    """Fixed horizontal offsets for n points (deterministic, unlike random jitter)."""
    return np.linspace(-width / 2, width / 2, n) if n > 1 else np.zeros(n)


def scores_figure(scale: MetricScale, scores: pd.DataFrame, tuners: Sequence[str]) -> Figure:
    """Per tuner: CV score of each run's incumbent (left box) and its test score (right box),
    one point per seed, a grey line joining the two scores of one run."""
    figure = Figure(figsize=(max(4.5, 1.6 * len(tuners) + 2), 3.6), layout="constrained")
    ax = figure.subplots()
    if scores.empty:
        _empty(ax, "no run has a test score yet")
        return figure
    colors = tuner_colors(tuners)
    for index, tuner in enumerate(tuners):
        mine = scores[scores.tuner == tuner].sort_values("seed")
        if mine.empty:
            continue
        positions = (index - 0.2, index + 0.2)
        for position, column, fill in (
            (positions[0], "cv score", 0.35),
            (positions[1], "test score", 0.8),
        ):
            _box(ax, mine[column], position, 0.3, (*colors[tuner], fill))
        offsets = _spread(len(mine))
        cv_x, test_x = positions[0] + offsets, positions[1] + offsets
        for x0, x1, y0, y1 in zip(cv_x, test_x, mine["cv score"], mine["test score"], strict=True):
            ax.plot([x0, x1], [y0, y1], color="0.6", linewidth=0.7, zorder=3)
        ax.scatter(cv_x, mine["cv score"], s=14, color="white", edgecolor="black", zorder=4)
        ax.scatter(test_x, mine["test score"], s=14, color="black", zorder=4)
    ax.set_xticks(range(len(tuners)), [f"{t}\nCV | test" for t in tuners])
    ax.set_xlim(-0.6, len(tuners) - 0.4)
    ax.set_ylabel(scale.label)
    return figure


def cost_figure(cost: pd.DataFrame, tuners: Sequence[str], target: str) -> Figure:
    figure = Figure(figsize=(9, 3.4), layout="constrained")
    total, to_target = figure.subplots(1, 2)
    colors = tuner_colors(tuners)
    if cost.empty:
        _empty(total, "no trials stored")
        _empty(to_target, "no trials stored")
        return figure
    reached = cost[cost.reached.astype(bool)]
    never_y = (
        float(
            max(cost.compute_s.max(), reached["seconds to target"].max() if len(reached) else 0.0)
        )
        * 1.6
    )
    for index, tuner in enumerate(tuners):
        mine = cost[cost.tuner == tuner].sort_values("seed")
        if mine.empty:
            continue
        offsets = _spread(len(mine), 0.3)
        _box(total, mine.compute_s, index, 0.5, (*colors[tuner], 0.4))
        total.scatter(index + offsets, mine.compute_s, s=12, color="black", zorder=3)
        hit = mine.reached.to_numpy()
        seconds = mine["seconds to target"].to_numpy()
        to_target.scatter(
            index + offsets[hit],
            seconds[hit],
            s=18,
            color=colors[tuner],
            edgecolor="black",
            zorder=3,
        )
        to_target.scatter(
            index + offsets[~hit],
            np.full((~hit).sum(), never_y),
            s=30,
            marker="x",
            color="firebrick",
            zorder=3,
        )
    for ax in (total, to_target):
        ax.set_xticks(range(len(tuners)), list(tuners))
        ax.set_xlim(-0.6, len(tuners) - 0.4)
        _log_axis(ax, "y")
    total.set_ylabel("compute seconds per run (log scale)")
    to_target.set_ylabel("compute seconds to reach the target (log scale)")
    to_target.axhline(never_y, color="firebrick", linewidth=0.6, linestyle=":")
    to_target.annotate(
        "\N{MULTIPLICATION SIGN} never reached",
        (1.0, never_y),
        xycoords=("axes fraction", "data"),
        xytext=(-4, 4),
        textcoords="offset points",
        ha="right",
        va="bottom",
        color="firebrick",
    )
    to_target.set_title(f"target: {target}", loc="left")
    return figure


def choices_figure(counts: pd.DataFrame, tuners: Sequence[str]) -> Figure:
    figure = Figure(figsize=(9, 3.2), layout="constrained")
    axes = figure.subplots(1, len(CHOICE_KEYS))
    colors = tuner_colors(tuners)
    for ax, key in zip(axes, CHOICE_KEYS, strict=True):
        mine = counts[counts.key == key]
        if mine.empty or mine["count"].sum() == 0:
            _empty(ax, f"no finished run sets {key}")
            continue
        sns.barplot(
            data=mine,
            x="value",
            y="count",
            hue="tuner",
            hue_order=list(tuners),
            palette=colors,
            errorbar=None,
            ax=ax,
            legend=ax is axes[0],
        )
        ax.set_title(key, loc="left")
        ax.set_xlabel("")
        ax.set_ylabel("incumbents of finished runs")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return figure


def curves_figure(scale: MetricScale, curves: pd.DataFrame, tuners: Sequence[str]) -> Figure:
    """Columns: tuners. Top row: the incumbent's validation score per epoch (mean over its CV
    folds), one line per seed; bottom row: its training loss."""
    figure = Figure(figsize=(max(4.5, 2.8 * len(tuners)), 4.6), layout="constrained")
    axes = figure.subplots(2, len(tuners), sharex=True, sharey="row", squeeze=False)
    colors = tuner_colors(tuners)
    for column, tuner in enumerate(tuners):
        top, bottom = axes[0, column], axes[1, column]
        top.set_title(tuner)
        mine = curves[curves.tuner == tuner]
        if mine.empty:
            _empty(top, "no finished run")
            continue
        for _, run in mine.groupby("seed", sort=True):
            top.plot(
                run.epoch,
                scale.score(run.eval_loss),
                color=colors[tuner],
                alpha=0.7,
                linewidth=1,
                marker=".",
            )
            bottom.plot(
                run.epoch, run.train_loss, color=colors[tuner], alpha=0.7, linewidth=1, marker="."
            )
        bottom.set_xlabel("epoch")
        bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0, 0].set_ylabel(f"validation {scale.name}")
    axes[1, 0].set_ylabel("training loss")
    return figure


def regret_figure(summary: pd.DataFrame, tuners: Sequence[str]) -> Figure:
    """Mean normalised regret over task x seed runs per budget, with its bootstrap CI."""
    figure = Figure(figsize=(6, 3.6), layout="constrained")
    ax = figure.subplots()
    colors = tuner_colors(tuners)
    for tuner in tuners:
        mine = summary[summary.tuner == tuner]
        if mine.empty:
            continue
        ax.plot(mine.trial, mine["mean"], color=colors[tuner], label=tuner, drawstyle="steps-post")
        ax.fill_between(
            mine.trial,
            mine.low,
            mine.high,
            color=colors[tuner],
            alpha=BAND_ALPHA,
            step="post",
            linewidth=0,
        )
    tops = summary.high.fillna(summary["mean"]).to_numpy(dtype=float)
    upper = float(np.nanmax(tops)) if len(tops) else 1.0
    ax.set_ylim(0, min(max(1.2, upper * 1.05), 3.0))
    ax.axhline(1.0, color="0.5", linewidth=0.7, linestyle="--")
    ax.set_xlabel("trials")
    ax.set_ylabel("normalised regret (0 best, 1 random's median)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(title="tuner, mean and 95% CI")
    return figure


def rank_figure(ranks: pd.DataFrame, tuners: Sequence[str]) -> Figure:
    figure = Figure(figsize=(6, 3.4), layout="constrained")
    ax = figure.subplots()
    colors = tuner_colors(tuners)
    for tuner in tuners:
        mine = ranks[ranks.tuner == tuner]
        ax.plot(
            mine.trial, mine["mean rank"], color=colors[tuner], label=tuner, drawstyle="steps-post"
        )
    ax.set_ylim(len(tuners) + 0.2, 0.8)
    ax.set_xlabel("trials")
    ax.set_ylabel("mean rank (1 = best, at the top)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(title="tuner")
    return figure


def critical_difference_figure(result: RankTest, tuners: Sequence[str]) -> Figure:
    """Mean ranks on an axis; tuners joined by a bar are not significantly different
    (Nemenyi, alpha 0.05); the CD bar shows the critical difference."""
    figure = Figure(figsize=(6.5, 1.4 + 0.3 * len(tuners)), layout="constrained")
    ax = figure.subplots()
    if result.pairwise_p is None:
        raise ValueError("a critical-difference diagram needs the Nemenyi p-values")
    colors = tuner_colors(tuners)
    drawn = scikit_posthocs.critical_difference_diagram(
        result.mean_ranks,
        result.pairwise_p,
        cd=result.critical_difference,
        ax=ax,
        color_palette={t: colors[t] for t in result.mean_ranks.index},
        label_fmt_left="{label} ({rank:.2f})",
        label_fmt_right="({rank:.2f}) {label}",
    )
    for bars in drawn["crossbars"]:  # drawn through a set: put each bar's points in order
        for line in bars:
            line.set_xdata(sorted(line.get_xdata()))
    ax.grid(False)
    upper = max(len(tuners), float(result.mean_ranks.min()) + (result.critical_difference or 0))
    ax.set_xlim(0.9, upper + 0.1)
    return figure


def task_grid(tasks: Sequence[str], columns: int, height: float) -> tuple[Figure, list[Axes]]:
    """A figure with one panel per task, `columns` panels wide, for the paper's text width."""
    rows = -(-len(tasks) // columns)
    figure = Figure(figsize=(6.5, height * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes[len(tasks) :]:
        ax.set_visible(False)
    return figure, list(axes[: len(tasks)])


def anytime_panels(
    bands: pd.DataFrame, scales: dict[str, MetricScale], tasks: Sequence[str], tuners: Sequence[str]
) -> Figure:
    """One panel per task: the incumbent's CV score over trials, median and IQR over seeds.
    The score axis shows the range the bands take from the first eighth of the budget on, so
    that the first few trials' spread does not flatten the rest."""
    figure, axes = task_grid(tasks, 2, 2.3)
    colors = tuner_colors(tuners)
    for ax, task in zip(axes, tasks, strict=True):
        mine = bands[bands.task == task]
        ax.set_title(task, loc="left")
        if mine.empty:
            _empty(ax, "no successful trial")
            continue
        _bands(ax, mine, colors)
        later = mine[mine.x >= max(2.0, float(mine.x.max()) / 8)]
        if len(later):
            low, high = float(later.q25.min()), float(later.q75.max())
            pad = 0.05 * (high - low) or 0.01
            ax.set_ylim(low - pad, high + pad)
        ax.set_ylabel(f"CV {scales[task].name}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes[-2:]:
        ax.set_xlabel("trials")
    figure.legend(
        *axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=len(tuners)
    )
    return figure


def test_score_panels(
    scores: pd.DataFrame,
    scales: dict[str, MetricScale],
    tasks: Sequence[str],
    tuners: Sequence[str],
) -> Figure:
    """One panel per task: each run's tuned test score by tuner, box and one point per seed."""
    figure, axes = task_grid(tasks, len(tasks), 2.6)
    colors = tuner_colors(tuners)
    for ax, task in zip(axes, tasks, strict=True):
        ax.set_title(task, loc="left")
        for index, tuner in enumerate(tuners):
            mine = scores[(scores.task == task) & (scores.tuner == tuner)].sort_values("seed")
            if mine.empty:
                continue
            _box(ax, mine["test score"], index, 0.6, (*colors[tuner], 0.45))
            ax.scatter(
                index + _spread(len(mine), 0.3), mine["test score"], s=8, color="black", zorder=3
            )
        ax.set_xticks(range(len(tuners)), list(tuners), rotation=45)
        ax.set_xlim(-0.6, len(tuners) - 0.4)
        arrow = "\N{UPWARDS ARROW}" if scales[task].higher_is_better else "\N{DOWNWARDS ARROW}"
        ax.set_ylabel(f"test {scales[task].name} {arrow}")
    return figure
