"""The one ask/tell interface every tuner implements.

A tuner sees only the search space, its own seed and the trial budget. It proposes trials with
`ask` and learns their loss-style objective with `tell` (failed trials arrive as the task's
worst loss). To resume a run, the runner creates a fresh tuner and replays the stored trials
through ask/tell, checking each proposed config against the stored one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from ConfigSpace import Configuration, ConfigurationSpace

from harness.records import Config


@dataclass(frozen=True)
class Trial:
    number: int
    config: Config


def to_config(configuration: Configuration) -> Config:
    """The active hyperparameters of a ConfigSpace configuration as plain Python values."""
    return {name: _plain(value) for name, value in dict(configuration).items()}


def _plain(value: Any) -> int | float | str | bool:
    return value.item() if hasattr(value, "item") else value


class Tuner(ABC):
    def __init__(self, space: ConfigurationSpace, seed: int, n_trials: int) -> None:
        self.space = space
        self.seed = seed
        self.n_trials = n_trials
        self.n_asked = 0

    def ask(self) -> Trial | None:
        """The next trial, or None when the tuner has nothing left to propose."""
        configuration = self._propose()
        if configuration is None:
            return None
        trial = Trial(self.n_asked, to_config(configuration))
        self.n_asked += 1
        return trial

    @abstractmethod
    def _propose(self) -> Configuration | None: ...

    def tell(self, trial: Trial, loss: float) -> None:  # noqa: B027 (model-free tuners ignore it)
        """Report a trial's objective (lower is better)."""
