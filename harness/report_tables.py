"""The report's tables: each as numbers (written as CSV) and as strings (shown on the page).

Scores are in each task's natural direction (`MetricScale`); losses only where a statistic
compares tuners. Rows follow the spec's tuner order; tuners without data keep their row, so a
gap is visible rather than silently dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis import CHOICE_KEYS, StudyTables
from harness.anytime import REFERENCE_TUNER, Regret
from harness.statistics import RankTest, bootstrap_mean, probability_lower


@dataclass(frozen=True, eq=False)
class Table:
    data: pd.DataFrame
    display: pd.DataFrame


def fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{float(value):.{digits}f}"


def incumbent_scores(tables: StudyTables) -> pd.DataFrame:
    """One row per run whose incumbent was scored on the test part: its CV and test loss and
    score, and the gap (test score - CV score)."""
    tests = tables.tests[tables.tests.status == "SUCCESS"]
    rows = []
    for test in tests.itertuples(index=False):
        scale = tables.scales[test.task]
        cv_score, test_score = float(scale.score(test.cv_loss)), float(scale.score(test.loss))
        rows.append(
            {
                "task": test.task,
                "tuner": test.tuner,
                "seed": int(test.seed),
                "cv loss": test.cv_loss,
                "test loss": test.loss,
                "cv score": cv_score,
                "test score": test_score,
                "gap": test_score - cv_score,
            }
        )
    columns = ["task", "tuner", "seed", "cv loss", "test loss", "cv score", "test score", "gap"]
    return pd.DataFrame(rows, columns=columns)


def _of(frame: pd.DataFrame, task: str, tuner: str) -> pd.DataFrame:
    return frame[(frame.task == task) & (frame.tuner == tuner)]


def scores_table(task: str, scores: pd.DataFrame, tables: StudyTables) -> Table:
    rows, shown = [], []
    for tuner in tables.tuners:
        mine = _of(scores, task, tuner)
        test = bootstrap_mean(mine["test score"], "test score", task, tuner)
        gap = bootstrap_mean(mine["gap"], "gap", task, tuner)
        rows.append(
            {
                "tuner": tuner,
                "runs": len(mine),
                "cv median": mine["cv score"].median(),
                "test median": mine["test score"].median(),
                "test mean": test.mean,
                "test ci low": test.low,
                "test ci high": test.high,
                "gap mean": gap.mean,
                "gap ci low": gap.low,
                "gap ci high": gap.high,
            }
        )
        shown.append(
            {
                "tuner": tuner,
                "runs": str(len(mine)),
                "CV score, median": fmt(mine["cv score"].median()),
                "test score, median": fmt(mine["test score"].median()),
                "test score, mean [95% CI]": test.describe(),
                "gap (test - CV), mean [95% CI]": gap.describe(),
            }
        )
    return Table(pd.DataFrame(rows), pd.DataFrame(shown))


def stability_table(task: str, scores: pd.DataFrame, tables: StudyTables) -> Table:
    reference = _of(scores, task, REFERENCE_TUNER)
    rows, shown = [], []
    for tuner in tables.tuners:
        mine = _of(scores, task, tuner)
        test = mine["test score"]
        if tuner == REFERENCE_TUNER or reference.empty:
            p_test, p_cv, pairs = math.nan, math.nan, 0
        else:
            p_test, pairs = probability_lower(mine["test loss"], reference["test loss"])
            p_cv, _ = probability_lower(mine["cv loss"], reference["cv loss"])
        q25, q75 = (test.quantile(0.25), test.quantile(0.75)) if len(test) else (math.nan,) * 2
        std = test.std(ddof=1) if len(test) > 1 else math.nan
        rows.append(
            {
                "tuner": tuner,
                "runs": len(mine),
                "test std": std,
                "test iqr": q75 - q25,
                "test min": test.min(),
                "test max": test.max(),
                "p beats random (test)": p_test,
                "p beats random (cv)": p_cv,
                "pairs": pairs,
            }
        )
        shown.append(
            {
                "tuner": tuner,
                "runs": str(len(mine)),
                "test score std": fmt(std),
                "IQR": fmt(q75 - q25),
                "range": f"{fmt(test.min())} - {fmt(test.max())}" if len(test) else "-",
                "P(beats random), test": "reference"
                if tuner == REFERENCE_TUNER
                else fmt(p_test, 2),
                "P(beats random), CV": "reference" if tuner == REFERENCE_TUNER else fmt(p_cv, 2),
                "seed pairs": str(pairs) if pairs else "-",
            }
        )
    return Table(pd.DataFrame(rows), pd.DataFrame(shown))


def cost_table(task: str, cost: pd.DataFrame, tables: StudyTables) -> Table:
    rows, shown = [], []
    for tuner in tables.tuners:
        mine = _of(cost, task, tuner)
        reached = mine[mine.reached.astype(bool)]
        rows.append(
            {
                "tuner": tuner,
                "runs": len(mine),
                "compute s median": mine.compute_s.median(),
                "compute s total": mine.compute_s.sum(),
                "reached": len(reached),
                "trials to target median": reached["trials to target"].median(),
                "seconds to target median": reached["seconds to target"].median(),
            }
        )
        shown.append(
            {
                "tuner": tuner,
                "runs": str(len(mine)),
                "compute s per run, median": fmt(mine.compute_s.median(), 1),
                "compute s, all runs": fmt(mine.compute_s.sum(), 1),
                "reached target": f"{len(reached)} of {len(mine)}",
                "trials to target, median": fmt(reached["trials to target"].median(), 1),
                "s to target, median": fmt(reached["seconds to target"].median(), 1),
            }
        )
    return Table(pd.DataFrame(rows), pd.DataFrame(shown))


def choice_counts(task: str, tables: StudyTables) -> pd.DataFrame:
    """Per tuner, config key and value: how many finished runs' incumbents chose it."""
    tests = tables.tests[tables.tests.task == task]
    rows = []
    for key in CHOICE_KEYS:
        values = sorted(tests[key].unique())
        for value in values:
            for tuner in tables.tuners:
                mine = tests[tests.tuner == tuner]
                rows.append(
                    {
                        "key": key,
                        "value": value,
                        "tuner": tuner,
                        "count": int((mine[key] == value).sum()),
                        "runs": len(mine),
                    }
                )
    return pd.DataFrame(rows, columns=["key", "value", "tuner", "count", "runs"])


def choices_table(counts: pd.DataFrame, tables: StudyTables) -> Table:
    shown = []
    for (key, value), group in counts.groupby(["key", "value"], sort=False):
        row = {"key": key, "value": value}
        for tuner in tables.tuners:
            mine = group[group.tuner == tuner]
            row[tuner] = (
                f"{int(mine['count'].iloc[0])} of {int(mine['runs'].iloc[0])}" if len(mine) else "-"
            )
        shown.append(row)
    return Table(counts, pd.DataFrame(shown, columns=["key", "value", *tables.tuners]))


def regret_table(regret: Regret, ranks: pd.DataFrame, tables: StudyTables) -> Table:
    """Per tuner at the full budget: mean normalised regret over task x seed runs with its
    bootstrap CI, and the mean rank of the incumbents' CV losses."""
    values = regret.values
    final = values.ffill(axis=1).iloc[:, -1] if len(values) else pd.Series(dtype=float)
    last = ranks[ranks.trial == ranks.trial.max()] if len(ranks) else ranks
    rows, shown = [], []
    for tuner in tables.tuners:
        mine = final[final.index.get_level_values("tuner") == tuner] if len(final) else final
        interval = bootstrap_mean(mine, "regret", tuner)
        rank = last[last.tuner == tuner]["mean rank"] if len(last) else pd.Series(dtype=float)
        mean_rank = float(rank.iloc[0]) if len(rank) else math.nan
        rows.append(
            {
                "tuner": tuner,
                "runs": interval.n,
                "regret mean": interval.mean,
                "regret ci low": interval.low,
                "regret ci high": interval.high,
                "regret median": float(np.median(mine[np.isfinite(mine)]))
                if interval.n
                else math.nan,
                "mean rank": mean_rank,
            }
        )
        shown.append(
            {
                "tuner": tuner,
                "task x seed runs": str(interval.n),
                "normalised regret, mean [95% CI]": interval.describe(3),
                "median": fmt(rows[-1]["regret median"], 3),
                "mean rank (CV, full budget)": fmt(mean_rank, 2),
            }
        )
    return Table(pd.DataFrame(rows), pd.DataFrame(shown))


def rank_test_table(result: RankTest, tables: StudyTables) -> Table:
    """Mean ranks of the tuned test losses and, for three or more tuners, Nemenyi p-values."""
    tuners = [t for t in tables.tuners if t in result.mean_ranks.index]
    data = pd.DataFrame({"tuner": tuners, "mean rank": [result.mean_ranks[t] for t in tuners]})
    shown = data.assign(**{"mean rank": data["mean rank"].map(lambda v: fmt(v, 2))})
    if result.pairwise_p is not None:
        for other in tuners:
            data[f"p vs {other}"] = [result.pairwise_p.loc[t, other] for t in tuners]
            shown[f"Nemenyi p vs {other}"] = data[f"p vs {other}"].map(lambda v: fmt(v, 3))
    return Table(data, shown.astype(str))
