"""The task interface: what the harness needs from a dataset + model + training loop.

A task loads its data once per process (`load`), says how the training part is cut into CV
folds (`cv_folds`), and trains one configuration on given training indices and scores it on
validation indices or on the test part (`fit_and_score`). Everything fitted on data
(vocabularies, normalisation, indices) must be fitted inside `fit_and_score` from
`split.train_idx` only.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch
from sklearn.model_selection import KFold, StratifiedKFold

from harness.records import Config, FitResult

Family = Literal["image", "text", "recommendation", "speech"]


@dataclass(frozen=True)
class TaskInfo:
    """What `tunebench list` shows and the manifest records about a task.

    `worst_loss` is the objective told to a tuner for a failed trial (e.g. 1.0 for 1 - accuracy).
    `default_epochs` is the training length used when a study does not set `max_epochs`.
    Bump `version` whenever a change alters what the task computes.
    """

    name: str
    family: Family
    dataset: str
    metric: str
    objective: str
    space: str
    size: str
    licence: str
    source: str
    worst_loss: float
    default_epochs: int
    version: int = 1


class TrialTimeoutError(RuntimeError):
    """A trial ran past the study's per-trial time limit; it is recorded as TIMEOUT."""


@dataclass(frozen=True)
class FitContext:
    """How one fit runs: its derived seed, device, epoch budget and the trial's deadline.

    Training loops call `check_time()` once per batch: the limit is cooperative, so a stuck
    kernel is not interrupted, but a slow configuration stops within one batch of its deadline.
    """

    seed: int
    device: torch.device
    max_epochs: int
    deadline: float | None = None  # time.monotonic() value; None: no limit

    def check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TrialTimeoutError("the trial ran past its time limit")


@dataclass(frozen=True)
class Split:
    """Indices into the training part to fit on, and what to score: a validation fold
    (`eval_idx`, also indices into the training part) or, when `eval_idx` is None, the test part."""

    train_idx: np.ndarray
    eval_idx: np.ndarray | None

    @property
    def on_test(self) -> bool:
        return self.eval_idx is None


@dataclass
class TaskData:
    """A loaded dataset. Subclasses add the tensors; the harness only reads these fields.

    `strata` holds one label per training example for stratified splits (None: plain k-fold).
    `fingerprint` is a hash of the loaded data, recorded in the study manifest.
    """

    n_train: int
    n_test: int
    strata: np.ndarray | None
    fingerprint: str


class Task(ABC):
    info: ClassVar[TaskInfo]

    def check_data(self, data_root: Path) -> None:  # noqa: B027 (optional hook)
        """Make sure the files under `data_root` are present, downloading them if needed;
        raise `TunebenchError` naming what is missing. Tasks with embedded data do nothing."""

    @abstractmethod
    def load(self, data_root: Path, device: torch.device) -> TaskData:
        """Read the dataset, apply the fixed outer train/test split, put tensors on `device`."""

    def cv_folds(
        self, data: TaskData, pool: np.ndarray, n_folds: int, seed: int
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """(train, validation) index pairs over `pool` (indices into the training part):
        stratified by `data.strata` when it is set, shuffled with `seed`."""
        if data.strata is None:
            splitter = KFold(n_splits=n_folds, shuffle=True, random_state=seed)
            parts = splitter.split(pool)
        else:
            splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
            parts = splitter.split(pool, data.strata[pool])
        return [(pool[train], pool[val]) for train, val in parts]

    @abstractmethod
    def fit_and_score(
        self, data: TaskData, config: Config, split: Split, context: FitContext
    ) -> FitResult:
        """Train `config` on `split.train_idx` for `context.max_epochs` epochs; score it."""
