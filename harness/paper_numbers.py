"""The paper's statistics, computed from a study's stored tables (no training, no live objects).

On top of what the report computes, the paper compares tuners pairwise within each task: the
runs of one (task, seed) share their CV folds and the training seeds of equal configurations,
so seeds pair the tuners' runs. Per task and pair it gives the mean paired improvement in the
task's metric with a bootstrap CI, and Wilcoxon's signed-rank test, Holm-adjusted over all
tasks and pairs. Across tasks it runs Friedman's test twice: over task x seed blocks (the
report's test; it treats seeds as independent blocks, so its p-values are optimistic) and over
task blocks (each tuner's mean per task; honest about independence but with little power).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from harness.analysis import RUN_KEY, StudyTables
from harness.statistics import Interval, RankTest, bootstrap_mean, compare_tuners

PAIRS = (("smac", "random"), ("smac", "grid"), ("grid", "random"))
PAIR_COLUMNS = ["task", "tuner", "reference", "seeds", "mean", "low", "high", "p", "p_holm"]


@dataclass(frozen=True)
class TunerComparison:
    """Both rank tests of the tuned test losses: over task x seed blocks and over task blocks."""

    by_run: RankTest
    by_task: RankTest


def headline(scores: pd.DataFrame, tables: StudyTables) -> pd.DataFrame:
    """Per task and tuner: mean tuned test score with its bootstrap CI, its std, mean CV score."""
    rows = []
    for task in tables.tasks:
        for tuner in tables.tuners:
            mine = scores[(scores.task == task) & (scores.tuner == tuner)]
            test = bootstrap_mean(mine["test score"], "paper", "test", task, tuner)
            rows.append(
                {
                    "task": task,
                    "tuner": tuner,
                    "runs": test.n,
                    "test_mean": test.mean,
                    "test_low": test.low,
                    "test_high": test.high,
                    "test_std": mine["test score"].std(ddof=1) if len(mine) > 1 else math.nan,
                    "cv_mean": mine["cv score"].mean() if len(mine) else math.nan,
                }
            )
    return pd.DataFrame(rows)


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment (statsmodels) of the finite p-values; NaN stays NaN."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, np.nan)
    finite = np.isfinite(p)
    if finite.any():
        adjusted[finite] = multipletests(p[finite], method="holm")[1]
    return adjusted


def _signed_rank_p(differences: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value; NaN when every difference is zero."""
    if len(differences) < 2 or np.all(differences == 0):
        return math.nan
    return float(stats.wilcoxon(differences).pvalue)


def paired_improvements(scores: pd.DataFrame, tables: StudyTables) -> pd.DataFrame:
    """Per task and pair (tuner, reference): the reference's test loss minus the tuner's, per
    seed, in the task's metric units (positive: the tuner did better), summarised."""
    rows = []
    for task in tables.tasks:
        losses = scores[scores.task == task].pivot(
            index="seed", columns="tuner", values="test loss"
        )
        for tuner, reference in PAIRS:
            if tuner not in losses or reference not in losses:
                continue
            both = losses[[tuner, reference]].dropna()
            differences = (both[reference] - both[tuner]).to_numpy(dtype=float)
            interval = bootstrap_mean(differences, "paper", "paired", task, tuner, reference)
            rows.append(
                {
                    "task": task,
                    "tuner": tuner,
                    "reference": reference,
                    "seeds": interval.n,
                    "mean": interval.mean,
                    "low": interval.low,
                    "high": interval.high,
                    "p": _signed_rank_p(differences),
                }
            )
    frame = pd.DataFrame(rows, columns=PAIR_COLUMNS[:-1])
    frame["p_holm"] = holm(frame.p.to_numpy()) if len(frame) else []
    return frame


def compare(tables: StudyTables) -> TunerComparison:
    tests = tables.tests[tables.tests.status == "SUCCESS"]
    by_run = tests.pivot_table(index=["task", "seed"], columns="tuner", values="loss")
    by_run = by_run.reindex(columns=[t for t in tables.tuners if t in by_run.columns])
    # Per task the mean over seeds that every tuner finished, so each block is like for like.
    by_task = by_run.dropna().groupby(level="task").mean()
    return TunerComparison(compare_tuners(by_run), compare_tuners(by_task))


def run_timing(tables: StudyTables) -> pd.DataFrame:
    """Per run: wall seconds from its first record's start to its last record's end, the
    compute seconds its records took, and the difference (the tuner's and harness's own time).
    """
    records = pd.concat([tables.trials, tables.tests])[[*RUN_KEY, "started_at", "duration_s"]]
    started = pd.to_datetime(records.started_at, format="ISO8601", utc=True)
    start = (started - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    records = records.assign(start=start, end=start + records.duration_s)
    runs = records.groupby(RUN_KEY, sort=False).agg(
        first=("start", "min"), last=("end", "max"), compute_s=("duration_s", "sum")
    )
    wall = runs["last"] - runs["first"]
    return pd.DataFrame(
        {
            "wall_s": wall,
            "compute_s": runs.compute_s,
            "overhead_s": (wall - runs.compute_s).clip(lower=0.0),
        }
    ).reset_index()


def final_regret(regret_values: pd.DataFrame, tuners: tuple[str, ...], trial: int) -> dict:
    """Per tuner: mean normalised regret over task x seed runs after `trial` trials, with CI."""
    out: dict[str, Interval] = {}
    for tuner in tuners:
        mine = regret_values[regret_values.index.get_level_values("tuner") == tuner]
        values = mine[trial] if trial in mine.columns else pd.Series(dtype=float)
        out[tuner] = bootstrap_mean(values, "paper", "regret", tuner, trial)
    return out
