"""What one evaluation produces and what gets stored: plain, frozen, JSON-only data classes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from harness.spec import RunKey

ConfigValue = int | float | str | bool
Config = dict[str, ConfigValue]


class Status(StrEnum):
    SUCCESS = "SUCCESS"
    CRASHED = "CRASHED"
    TIMEOUT = "TIMEOUT"
    OOM = "OOM"


@dataclass(frozen=True)
class EpochStats:
    epoch: int
    train_loss: float
    eval_loss: float


@dataclass(frozen=True)
class FitResult:
    """What a task reports for one fit: the loss-style objective, its metrics, its curve."""

    loss: float
    metrics: dict[str, float]
    curve: tuple[EpochStats, ...]


@dataclass(frozen=True)
class FoldRecord:
    fold: int  # -1 for the fit on the whole training part scored on the test part
    seed: int
    loss: float
    metrics: dict[str, float]
    curve: tuple[EpochStats, ...]
    duration_s: float


RecordKind = Literal["trial", "test"]


@dataclass(frozen=True)
class TrialRecord:
    """One finished evaluation, as stored in `trials.jsonl`.

    `kind="trial"` is a tuner's trial scored by k-fold CV (`objective` = mean fold loss).
    `kind="test"` is a run's incumbent retrained on the whole training part and scored once on
    the test part (`objective` = test loss, `cv_objective` = the incumbent's CV loss).
    `objective` is None unless `status` is SUCCESS.
    """

    kind: RecordKind
    study: str
    task: str
    tuner: str
    seed: int
    number: int
    config: Config
    config_id: str
    status: Status
    objective: float | None
    metrics: dict[str, float]
    folds: tuple[FoldRecord, ...]
    error: str | None
    started_at: str
    duration_s: float
    env: dict[str, Any]
    cv_objective: float | None = None

    @property
    def run_key(self) -> RunKey:
        return RunKey(self.study, self.task, self.tuner, self.seed)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrialRecord:
        folds = tuple(
            FoldRecord(**{**fold, "curve": tuple(EpochStats(**e) for e in fold["curve"])})
            for fold in values["folds"]
        )
        return cls(**{**values, "status": Status(values["status"]), "folds": folds})


TIMING_FIELDS = frozenset({"started_at", "duration_s"})


def without_timing(record: dict[str, Any]) -> dict[str, Any]:
    """A stored record without wall-clock fields, for comparing two runs of one study."""
    stripped = {k: v for k, v in record.items() if k not in TIMING_FIELDS}
    stripped["folds"] = [{k: v for k, v in f.items() if k != "duration_s"} for f in record["folds"]]
    return stripped
