"""Stored records → tidy tables. Reads only what a study stored, never live objects.

`load_study` and `summarize` serve the CLI's closing summary; `load_tables` gives the report
its `StudyTables` (trials, test records, incumbents' curves, and how each task's loss reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
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


CHOICE_KEYS = ("reg:type", "opt:type")  # config keys whose values the report counts
NO_CHOICE = "(not set)"
_AFFINE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class MetricScale:
    """How a task's stored loss-style objective reads in its metric's own units.

    Records store losses (lower is better): 1 - accuracy, RMSE, 1 - NDCG@10. Where the stored
    metric equals 1 - loss the report shows the metric (higher is better); where it equals the
    loss, the loss itself under the metric's name (lower is better); where the records show
    neither, the plain objective (lower is better).
    """

    name: str
    higher_is_better: bool

    @property
    def label(self) -> str:
        return f"{self.name} ({'higher' if self.higher_is_better else 'lower'} is better)"

    def score(self, loss: Any) -> Any:
        """The score of a loss, float or array alike."""
        return 1.0 - loss if self.higher_is_better else loss

    def target_loss(self, best_loss: float, fraction: float) -> float:
        """The loss at which a score is within `fraction` of the best score (e.g. 0.99: 99 % of
        the best accuracy, or an RMSE at most 1 % above the best)."""
        best = float(self.score(best_loss))
        if self.higher_is_better:
            return float(1.0 - fraction * best)
        return best / fraction if best > 0 else best


def infer_scale(metric: str | None, pairs: list[tuple[float, float]]) -> MetricScale:
    """The scale of a task from (objective, metric value) pairs of its successful records."""
    if metric is None or not pairs:
        return MetricScale("objective", higher_is_better=False)
    values = np.asarray(pairs, dtype=float)
    loss, measured = values[:, 0], values[:, 1]
    if np.all(np.abs(measured - (1.0 - loss)) <= _AFFINE_TOLERANCE):
        return MetricScale(metric, higher_is_better=True)
    if np.all(np.abs(measured - loss) <= _AFFINE_TOLERANCE):
        return MetricScale(metric, higher_is_better=False)
    return MetricScale("objective", higher_is_better=False)


@dataclass(frozen=True)
class StudyTables:
    """Everything a report reads from a study folder, as tidy tables.

    `trials`: one row per CV-scored trial (task, tuner, seed, number, status, loss, started_at
    (ISO 8601), duration_s, config_id and the CHOICE_KEYS). `tests`: one row per test record
    (the same columns plus cv_loss). `curves`: the per-epoch curves of each finished run's
    incumbent, averaged over its CV folds (task, tuner, seed, epoch, train_loss, eval_loss).
    Losses are None/NaN for failures.
    """

    study: str
    manifest: dict[str, Any]
    tasks: tuple[str, ...]
    tuners: tuple[str, ...]
    seeds: tuple[int, ...]
    n_trials: int
    scales: dict[str, MetricScale]
    trials: pd.DataFrame
    tests: pd.DataFrame
    curves: pd.DataFrame


RUN_KEY = ["task", "tuner", "seed"]
TRIAL_COLUMNS = [
    *RUN_KEY,
    "number",
    "status",
    "loss",
    "started_at",
    "duration_s",
    "config_id",
    *CHOICE_KEYS,
]
TEST_COLUMNS = [*TRIAL_COLUMNS, "cv_loss"]
CURVE_COLUMNS = [*RUN_KEY, "epoch", "train_loss", "eval_loss"]


def _ordered(declared: list[Any], seen: set[Any]) -> tuple[Any, ...]:
    """The spec's order first, then anything stored but not declared, sorted."""
    return (*declared, *sorted(seen - set(declared)))


def _row(record: dict[str, Any]) -> dict[str, Any]:
    config = record.get("config") or {}
    return {
        "task": record["task"],
        "tuner": record["tuner"],
        "seed": int(record["seed"]),
        "number": int(record["number"]),
        "status": record["status"],
        "loss": record.get("objective"),
        "started_at": record.get("started_at", ""),
        "duration_s": float(record.get("duration_s") or 0.0),
        "config_id": record.get("config_id", ""),
        **{key: str(config.get(key, NO_CHOICE)) for key in CHOICE_KEYS},
    }


def _mean_curve(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The incumbent's curve: per epoch, the mean over the CV folds that reached that epoch."""
    by_epoch: dict[int, list[tuple[float, float]]] = {}
    for fold in record["folds"]:
        for point in fold["curve"]:
            by_epoch.setdefault(int(point["epoch"]), []).append(
                (point["train_loss"], point["eval_loss"])
            )
    return [
        {
            "task": record["task"],
            "tuner": record["tuner"],
            "seed": int(record["seed"]),
            "epoch": epoch,
            "train_loss": float(np.mean([p[0] for p in points])),
            "eval_loss": float(np.mean([p[1] for p in points])),
        }
        for epoch, points in sorted(by_epoch.items())
    ]


def load_tables(directory: Path) -> StudyTables:
    """Read a study folder (manifest.json + trials.jsonl) into `StudyTables`."""
    store = StudyStore(directory)
    manifest = store.read_manifest()
    spec = manifest["spec"]
    task_info = manifest.get("tasks", {})
    records = store.read_records()
    trial_rows, test_rows, tests_by_key = [], [], {}
    for record in records:
        row = _row(record)
        if record["kind"] == "test":
            test_rows.append({**row, "cv_loss": record.get("cv_objective")})
            tests_by_key[(row["task"], row["tuner"], row["seed"])] = row["number"]
        else:
            trial_rows.append(row)
    pairs: dict[str, list[tuple[float, float]]] = {}
    curve_rows: list[dict[str, Any]] = []
    for record in records:
        if record["kind"] != "trial" or record["status"] != "SUCCESS":
            continue
        metric = task_info.get(record["task"], {}).get("metric")
        value = record.get("metrics", {}).get(metric)
        if value is not None and record.get("objective") is not None:
            pairs.setdefault(record["task"], []).append((record["objective"], value))
        if tests_by_key.get((record["task"], record["tuner"], record["seed"])) == record["number"]:
            curve_rows += _mean_curve(record)
    tasks = _ordered(list(spec.get("tasks", [])), {r["task"] for r in records})
    return StudyTables(
        study=spec.get("name", Path(directory).name),
        manifest=manifest,
        tasks=tasks,
        tuners=_ordered(list(spec.get("tuners", [])), {r["tuner"] for r in records}),
        seeds=tuple(sorted({int(s) for s in spec.get("seeds", [])} | {r["seed"] for r in records})),
        n_trials=int(spec.get("n_trials", 0)),
        scales={
            task: infer_scale(task_info.get(task, {}).get("metric"), pairs.get(task, []))
            for task in tasks
        },
        trials=_frame(trial_rows, TRIAL_COLUMNS),
        tests=_frame(test_rows, TEST_COLUMNS),
        curves=_frame(curve_rows, CURVE_COLUMNS),
    )


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("loss", "cv_loss", "duration_s", "train_loss", "eval_loss"):
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    for column in ("seed", "number", "epoch"):
        if column in frame:
            frame[column] = frame[column].astype(int)
    return frame.sort_values(
        [c for c in columns if c in ("task", "tuner", "seed", "number", "epoch")], kind="stable"
    ).reset_index(drop=True)
