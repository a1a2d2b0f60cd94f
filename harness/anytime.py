"""Incumbent traces: the best CV loss a run had found after each trial and after each second.

A run's trace is the running minimum of its successful trials' CV losses (failed trials count
for their cost, never as an incumbent). Before its first success a run has no incumbent, stored
as an infinite loss: it ranks last, and a median over seeds is not drawn where any run lacks an
incumbent (so the curve does not jump when the set of runs changes). A finished run keeps its
final incumbent beyond its last trial (a grid can run out of points early); an unfinished run
stops where its records stop (NaN beyond), so its missing budget is never filled in. From the
traces: medians and quartiles over seeds, normalised regret, ranks over time, and the cost to
reach a target score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.analysis import RUN_KEY, StudyTables
from harness.statistics import bootstrap_mean

TRACE_COLUMNS = [*RUN_KEY, "trial", "elapsed_s", "incumbent_loss"]
BAND_COLUMNS = ["task", "tuner", "x", "median", "q25", "q75", "runs"]
COST_COLUMNS = [
    *RUN_KEY,
    "finished",
    "compute_s",
    "target score",
    "reached",
    "trials to target",
    "seconds to target",
]
RunKey = tuple[str, str, int]


def incumbent_traces(tables: StudyTables) -> pd.DataFrame:
    """One row per stored trial: its 1-based position, compute seconds so far, and the
    incumbent's loss (inf while the run has no successful trial)."""
    trials = tables.trials.sort_values([*RUN_KEY, "number"], kind="stable")
    if trials.empty:
        return pd.DataFrame(columns=TRACE_COLUMNS)
    runs = trials.groupby(RUN_KEY, sort=False)
    losses = trials.loss.where(trials.status == "SUCCESS").fillna(np.inf)
    incumbent = losses.groupby([trials[k] for k in RUN_KEY], sort=False).cummin()
    traces = pd.DataFrame(
        {
            "task": trials.task,
            "tuner": trials.tuner,
            "seed": trials.seed,
            "trial": runs.cumcount() + 1,
            "elapsed_s": runs.duration_s.cumsum(),
            "incumbent_loss": incumbent,
        }
    )
    return traces.reset_index(drop=True)[TRACE_COLUMNS]


def trace_grid(traces: pd.DataFrame, finished: set[RunKey], n_trials: int) -> pd.DataFrame:
    """Runs x budget (trials 1..n): the incumbent loss, carried forward for finished runs."""
    budget = max(n_trials, int(traces.trial.max()) if len(traces) else 0)
    grid = traces.pivot(index=RUN_KEY, columns="trial", values="incumbent_loss").reindex(
        columns=range(1, budget + 1)
    )
    done = np.array([key in finished for key in grid.index], dtype=bool)
    grid.loc[done] = grid.loc[done].ffill(axis=1)
    return grid


def _band(values: pd.DataFrame, x: np.ndarray, task: str, tuner: str) -> pd.DataFrame:
    """Median and quartiles over the runs (rows) at each column where at least one run has a
    value (NaN: past an unfinished run's end) and every such run has an incumbent (finite)."""
    array = values.to_numpy(dtype=float)
    present = ~np.isnan(array)
    runs = present.sum(axis=0)
    keep = (runs > 0) & (np.isfinite(array).sum(axis=0) == runs)
    if not keep.any():
        return pd.DataFrame(columns=BAND_COLUMNS)
    q25, median, q75 = np.nanquantile(array[:, keep], [0.25, 0.5, 0.75], axis=0)
    return pd.DataFrame(
        {
            "task": task,
            "tuner": tuner,
            "x": x[keep],
            "median": median,
            "q25": q25,
            "q75": q75,
            "runs": runs[keep],
        }
    )


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=BAND_COLUMNS)


def score_over_trials(grid: pd.DataFrame, tables: StudyTables) -> pd.DataFrame:
    """Per task, tuner and trial: median and quartiles over seeds of the incumbent's score."""
    parts = []
    for (task, tuner), runs in grid.groupby(level=["task", "tuner"], sort=False):
        scores = tables.scales[task].score(runs)
        parts.append(_band(scores, runs.columns.to_numpy(dtype=float), task, tuner))
    return _concat(parts)


def score_over_seconds(
    traces: pd.DataFrame, finished: set[RunKey], tables: StudyTables, n_points: int = 64
) -> pd.DataFrame:
    """Per task and tuner, on a log-spaced grid of compute seconds shared by the task's tuners:
    median and quartiles over seeds of the incumbent's score at that time."""
    parts = []
    for task, task_traces in traces.groupby("task", sort=False):
        positive = task_traces.elapsed_s[task_traces.elapsed_s > 0]
        if positive.empty:
            continue
        start = float(positive.min())
        stop = max(float(task_traces.elapsed_s.max()), start)
        times = np.geomspace(start, stop, n_points) if stop > start else np.array([start])
        for tuner, run_traces in task_traces.groupby("tuner", sort=False):
            rows = [
                _loss_at(run, times, (task, tuner, seed) in finished)
                for seed, run in run_traces.groupby("seed", sort=True)
            ]
            scores = tables.scales[task].score(pd.DataFrame(rows))
            parts.append(_band(scores, times, task, tuner))
    return _concat(parts)


def _loss_at(run: pd.DataFrame, times: np.ndarray, finished: bool) -> np.ndarray:
    """A run's incumbent loss at each time: inf before its first trial ends, NaN after its last
    unless it finished."""
    elapsed = run.elapsed_s.to_numpy()
    position = np.searchsorted(elapsed, times, side="right") - 1
    losses = np.where(position >= 0, run.incumbent_loss.to_numpy()[position.clip(0)], np.inf)
    if not finished:
        losses[times > elapsed[-1]] = np.nan
    return losses


@dataclass(frozen=True)
class Regret:
    """Normalised regret per run and budget: 0 is the best CV loss any run found on the task,
    1 is the median of random search's final incumbent losses (as bayesmark normalises)."""

    values: pd.DataFrame  # index: task, tuner, seed; columns: trials 1..n
    references: pd.DataFrame  # per task: best loss, random's median final loss
    notes: tuple[str, ...]


REFERENCE_TUNER = "random"


def normalised_regret(grid: pd.DataFrame, tables: StudyTables) -> Regret:
    notes: list[str] = []
    if REFERENCE_TUNER not in tables.tuners:
        notes.append(
            f"Normalised regret needs the '{REFERENCE_TUNER}' tuner as its reference; "
            "this study has none."
        )
        return Regret(grid.iloc[0:0], pd.DataFrame(), tuple(notes))
    parts, references = [], []
    for task in tables.tasks:
        if task not in grid.index.get_level_values("task"):
            notes.append(f"{task}: no trials stored, left out of the regret.")
            continue
        rows = grid.xs(task, level="task", drop_level=False)
        best = tables.trials.loss[
            (tables.trials.task == task) & (tables.trials.status == "SUCCESS")
        ].min()
        random_rows = rows.xs(REFERENCE_TUNER, level="tuner", drop_level=False)
        finals = random_rows.ffill(axis=1).iloc[:, -1] if len(random_rows) else pd.Series()
        finals = finals[np.isfinite(finals.to_numpy(dtype=float))]
        if len(finals) == 0 or not np.isfinite(best):
            notes.append(f"{task}: random search has no incumbent, left out of the regret.")
            continue
        reference = float(np.median(finals))
        if reference - best <= 0:
            notes.append(
                f"{task}: random search's median final loss equals the best loss found, so "
                "regret cannot be normalised; left out."
            )
            continue
        parts.append((rows - best) / (reference - best))
        references.append(
            {
                "task": task,
                "best loss": best,
                "random median final loss": reference,
                "random runs": len(finals),
            }
        )
    values = pd.concat(parts) if parts else grid.iloc[0:0]
    return Regret(values, pd.DataFrame(references), tuple(notes))


def regret_curve(values: pd.DataFrame, tuners: tuple[str, ...]) -> pd.DataFrame:
    """Per tuner and budget: mean normalised regret over task x seed runs, bootstrap CI;
    budgets where some run has no incumbent yet are left out."""
    rows = []
    for tuner in tuners:
        mine = values[values.index.get_level_values("tuner") == tuner]
        for trial in mine.columns:
            column = mine[trial].dropna()
            if column.empty or not np.isfinite(column.to_numpy(dtype=float)).all():
                continue  # no runs here, or some run has no incumbent yet
            interval = bootstrap_mean(column, "regret curve", tuner, int(trial))
            if interval.n:
                rows.append(
                    {
                        "tuner": tuner,
                        "trial": int(trial),
                        "mean": interval.mean,
                        "low": interval.low,
                        "high": interval.high,
                        "runs": interval.n,
                    }
                )
    return pd.DataFrame(rows, columns=["tuner", "trial", "mean", "low", "high", "runs"])


def ranks_over_trials(grid: pd.DataFrame, tuners: tuple[str, ...]) -> pd.DataFrame:
    """Per budget: each tuner's rank (1 = lowest incumbent loss, ties averaged) in each
    (task, seed) block where every tuner has an incumbent, averaged over those blocks."""
    columns = ["trial", "tuner", "mean rank", "blocks"]
    if len(tuners) < 2 or grid.empty:
        return pd.DataFrame(columns=columns)
    long = grid.stack(future_stack=True).rename("loss").reset_index()
    wide = long.pivot(index=["task", "seed", "trial"], columns="tuner", values="loss")
    wide = wide.reindex(columns=list(tuners)).dropna()
    if wide.empty:
        return pd.DataFrame(columns=columns)
    ranks = wide.rank(axis=1, method="average")
    by_trial = ranks.groupby(level="trial")
    mean = by_trial.mean().stack().rename("mean rank").reset_index()
    mean["blocks"] = mean.trial.map(by_trial.size())
    return mean.sort_values(["trial", "tuner"], kind="stable").reset_index(drop=True)[columns]


def cost_to_target(
    traces: pd.DataFrame, tables: StudyTables, finished: set[RunKey], fraction: float
) -> pd.DataFrame:
    """Per run: its compute seconds (trials plus test fit) and the trials and seconds it took
    until its incumbent reached `fraction` of the best CV score any run found on the task.
    Runs that never reached it have `reached` False and NaN cost."""
    trials, tests = tables.trials, tables.tests
    test_s = tests.groupby(RUN_KEY).duration_s.sum()
    rows = []
    for (task, tuner, seed), run in traces.groupby(RUN_KEY, sort=False):
        scale = tables.scales[task]
        ok = trials[(trials.task == task) & (trials.status == "SUCCESS")]
        target = scale.target_loss(float(ok.loss.min()), fraction) if len(ok) else np.nan
        hit = run[run.incumbent_loss <= target + 1e-12]
        key = (task, tuner, seed)
        rows.append(
            {
                "task": task,
                "tuner": tuner,
                "seed": int(seed),
                "finished": key in finished,
                "compute_s": float(run.elapsed_s.iloc[-1] + test_s.get(key, 0.0)),
                "target score": float(scale.score(target)),
                "reached": not hit.empty,
                "trials to target": int(hit.trial.iloc[0]) if len(hit) else np.nan,
                "seconds to target": float(hit.elapsed_s.iloc[0]) if len(hit) else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=COST_COLUMNS)
