"""The evaluation protocol (DESIGN §3): k-fold CV inside tuning, one test fit after it.

`cross_validate` trains one configuration on every fold and turns the outcome, success or
failure, into a `TrialRecord`; it is the one place where exceptions become CRASHED/OOM records.
`evaluate_on_test` retrains a run's incumbent on the whole training pool and scores it once on
the untouched test part.
"""

from __future__ import annotations

import dataclasses
import math
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import torch

from harness.records import Config, FitResult, FoldRecord, RecordKind, Status, TrialRecord
from harness.seeding import content_id, derive_seed
from harness.spec import RunKey
from tasks.base import FitContext, Split, Task, TaskData, TrialTimeoutError

TEST_FOLD = -1
Folds = list[tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class RunSetup:
    """Everything a run's evaluations share: the task, its data, folds and how fits run."""

    key: RunKey
    task: Task
    data: TaskData
    pool: np.ndarray  # indices of the training part used for tuning and the test fit
    folds: Folds
    device: torch.device
    max_epochs: int
    env: dict[str, Any]
    time_limit_s: float | None = None


def fit_seed(key: RunKey, config_id: str, fold: int) -> int:
    """The training seed of one fit: equal configs get equal seeds whichever tuner asked."""
    return derive_seed(key.seed, "train", key.task, config_id, fold)


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


HOST_OOM_MESSAGE = "can't allocate memory"  # torch's CPU allocator raises a plain RuntimeError


def classify_failure(error: BaseException) -> Status:
    if isinstance(error, TrialTimeoutError):
        return Status.TIMEOUT
    if isinstance(error, (torch.OutOfMemoryError, MemoryError)) or (
        isinstance(error, RuntimeError) and HOST_OOM_MESSAGE in str(error)
    ):
        return Status.OOM
    return Status.CRASHED


def _fit(
    setup: RunSetup,
    config: Config,
    fold: int,
    split: Split,
    config_id: str,
    deadline: float | None,
) -> FoldRecord:
    seed = fit_seed(setup.key, config_id, fold)
    context = FitContext(
        seed=seed, device=setup.device, max_epochs=setup.max_epochs, deadline=deadline
    )
    started = time.perf_counter()
    result: FitResult = setup.task.fit_and_score(setup.data, config, split, context)
    if not math.isfinite(result.loss):
        raise FloatingPointError(f"fold {fold}: objective is {result.loss}")
    return FoldRecord(
        fold=fold,
        seed=seed,
        loss=result.loss,
        metrics=result.metrics,
        curve=result.curve,
        duration_s=time.perf_counter() - started,
    )


def _evaluate(
    setup: RunSetup,
    kind: RecordKind,
    number: int,
    config: Config,
    fits: list[tuple[int, Split]],
    cv_objective: float | None = None,
) -> TrialRecord:
    config_id = content_id(config)
    started_at, started = now_utc(), time.perf_counter()
    limit = setup.time_limit_s
    deadline = None if limit is None else time.monotonic() + limit
    folds: list[FoldRecord] = []
    status, error = Status.SUCCESS, None
    try:
        for fold, split in fits:
            folds.append(_fit(setup, config, fold, split, config_id, deadline))
    except Exception as exc:  # every failure of a trial becomes a stored record
        status = classify_failure(exc)
        error = "".join(traceback.format_exception_only(exc)).strip()
        if status is Status.OOM and setup.device.type == "cuda":
            torch.cuda.empty_cache()
    objective = float(np.mean([f.loss for f in folds])) if status is Status.SUCCESS else None
    metrics = (
        {name: float(np.mean([f.metrics[name] for f in folds])) for name in folds[0].metrics}
        if status is Status.SUCCESS
        else {}
    )
    key = setup.key
    return TrialRecord(
        kind=kind,
        study=key.study,
        task=key.task,
        tuner=key.tuner,
        seed=key.seed,
        number=number,
        config=config,
        config_id=config_id,
        status=status,
        objective=objective,
        metrics=metrics,
        folds=tuple(folds),
        error=error,
        started_at=started_at,
        duration_s=time.perf_counter() - started,
        env=setup.env,
        cv_objective=cv_objective,
    )


def cross_validate(setup: RunSetup, number: int, config: Config) -> TrialRecord:
    fits = [(fold, Split(train, val)) for fold, (train, val) in enumerate(setup.folds)]
    return _evaluate(setup, "trial", number, config, fits)


def evaluate_on_test(setup: RunSetup, incumbent: TrialRecord) -> TrialRecord:
    """The incumbent already trained within the time limit during CV; its test fit has none."""
    fits = [(TEST_FOLD, Split(setup.pool, None))]
    return _evaluate(
        dataclasses.replace(setup, time_limit_s=None),
        "test",
        incumbent.number,
        incumbent.config,
        fits,
        cv_objective=incumbent.objective,
    )


def incumbent_of(records: list[TrialRecord]) -> TrialRecord | None:
    """The successful trial with the lowest CV objective (the earliest among equals)."""
    successful = [r for r in records if r.status is Status.SUCCESS and r.objective is not None]
    return min(successful, key=lambda r: (r.objective, r.number), default=None)
