"""Stored records → tidy tables. Reads only what a study stored, never live objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from harness.storage import StudyStore

SUMMARY_COLUMNS = ["task", "tuner", "runs", "cv", "test", "failed trials", "compute s/run"]


def load_study(directory: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """The manifest and one row per stored record (run key, kind, status, objective, metrics)."""
    store = StudyStore(directory)
    manifest = store.read_manifest()
    rows = [
        {
            "kind": r["kind"],
            "task": r["task"],
            "tuner": r["tuner"],
            "seed": r["seed"],
            "number": r["number"],
            "status": r["status"],
            "objective": r["objective"],
            "cv_objective": r.get("cv_objective"),
            "duration_s": r["duration_s"],
            **{f"metric:{k}": v for k, v in r["metrics"].items()},
        }
        for r in store.read_records()
    ]
    return manifest, pd.DataFrame(rows)


def _mean_std(values: pd.Series) -> str:
    values = values.dropna()
    if values.empty:
        return "-"
    if len(values) == 1:
        return f"{values.iloc[0]:.4f}"
    return f"{values.mean():.4f} ± {values.std(ddof=1):.4f}"


def summarize(manifest: dict[str, Any], records: pd.DataFrame) -> pd.DataFrame:
    """Per task and tuner: the incumbents' CV and test scores in the task's metric (mean ± std
    over seeds), failed trials, and mean compute seconds per run (trials plus the test fit)."""
    if records.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    key = ["task", "tuner", "seed", "number"]
    trials = records[records.kind == "trial"]
    tests = records[(records.kind == "test") & (records.status == "SUCCESS")]
    incumbents = tests.merge(trials, on=key, suffixes=("", "_cv"))
    rows = []
    for (task, tuner), group in records.groupby(["task", "tuner"], sort=False):
        metric = f"metric:{manifest['tasks'][task]['metric']}"
        mine = incumbents[(incumbents.task == task) & (incumbents.tuner == tuner)]
        empty = pd.Series(dtype=float)
        rows.append(
            {
                "task": task,
                "tuner": tuner,
                "runs": int(mine.seed.nunique()),
                "cv": _mean_std(mine.get(f"{metric}_cv", empty)),
                "test": _mean_std(mine.get(metric, empty)),
                "failed trials": int(((group.kind == "trial") & (group.status != "SUCCESS")).sum()),
                "compute s/run": round(group.groupby("seed").duration_s.sum().mean(), 1),
            }
        )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
