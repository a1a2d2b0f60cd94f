"""SMAC3's hyperparameter-optimisation facade (random forest + EI) driven by ask/tell.

Two changes to SMAC's defaults, both for reproducibility, none to its search:
- SMAC's local search de-duplicates its start points with `list(set(configs))`, whose order
  follows the configurations' string hashes and so changes with PYTHONHASHSEED; runs in two
  processes then diverge after the initial design. `SortedStartLocalSearch` sorts those start
  points by their vector form instead, which makes proposals independent of the hash seed.
- SMAC's own output folder goes to a temporary directory that is removed on `close()`, and
  `tell(save=False)` keeps SMAC from rewriting its run history after every trial: tunebench's
  store is the record.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from ConfigSpace import Configuration, ConfigurationSpace
from smac import HyperparameterOptimizationFacade, Scenario
from smac.acquisition.maximizer import LocalAndSortedRandomSearch, LocalSearch
from smac.runhistory import TrialInfo, TrialValue

from harness.registry import register_tuner
from harness.tuners.base import Trial, Tuner


class SortedStartLocalSearch(LocalSearch):
    """SMAC's local search with start points in a hash-independent order."""

    def _get_init_points_from_previous_configs(self, *args: Any, **kwargs: Any) -> list:
        points = super()._get_init_points_from_previous_configs(*args, **kwargs)
        return sorted(points, key=lambda c: np.nan_to_num(c.get_array(), nan=-1.0).tobytes())


class HashFreeLocalAndSortedRandomSearch(LocalAndSortedRandomSearch):
    """SMAC's default acquisition maximizer, using `SortedStartLocalSearch`."""

    def __init__(
        self,
        configspace: ConfigurationSpace,
        seed: int,
        challengers: int = 10000,
        local_search_iterations: int = 10,
    ) -> None:
        super().__init__(
            configspace,
            challengers=challengers,
            local_search_iterations=local_search_iterations,
            seed=seed,
        )
        self._local_search = SortedStartLocalSearch(configspace=configspace, seed=seed)


def _target_never_called(config: Configuration, seed: int = 0) -> float:
    """SMAC checks a target's signature even under ask/tell; tunebench evaluates trials itself."""
    raise RuntimeError("SMAC's target function is not used under ask/tell")


def make_facade(
    space: ConfigurationSpace, seed: int, n_trials: int, output_directory: Path
) -> HyperparameterOptimizationFacade:
    """SMAC's HPO facade with its defaults, deterministic, and the hash-free maximizer."""
    scenario = Scenario(
        space,
        deterministic=True,
        n_trials=n_trials,
        seed=seed,
        output_directory=output_directory,
    )
    return HyperparameterOptimizationFacade(
        scenario,
        _target_never_called,
        acquisition_maximizer=HashFreeLocalAndSortedRandomSearch(space, seed=seed),
        logging_level=logging.ERROR,
        overwrite=True,
    )


@register_tuner("smac")
class SmacTuner(Tuner):
    def __init__(self, space: ConfigurationSpace, seed: int, n_trials: int) -> None:
        super().__init__(space, seed, n_trials)
        self._output = Path(tempfile.mkdtemp(prefix="tunebench-smac-"))
        self._facade = make_facade(space, seed, n_trials, self._output)
        self._pending: dict[int, TrialInfo] = {}

    def _propose(self) -> Configuration:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # numpy on tiny histories
            info = self._facade.ask()
        self._pending[self.n_asked] = info
        return info.config

    def tell(self, trial: Trial, loss: float) -> None:
        info = self._pending.pop(trial.number)
        self._facade.tell(info, TrialValue(cost=loss), save=False)

    def close(self) -> None:
        shutil.rmtree(self._output, ignore_errors=True)

    def __del__(self) -> None:
        self.close()
