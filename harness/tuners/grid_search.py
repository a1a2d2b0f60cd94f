"""Grid search over a conditional space, its resolution fitted to the trial budget.

Numeric hyperparameters take `k` cell-centred values (the centres of `k` equal bins, on the log
scale where the hyperparameter is log-scaled; k=1 is the middle of the range, never an edge;
an integer range [a, b] is binned as [a - 0.5, b + 0.5] so that full resolution is every integer).
Starting from k=1 everywhere, k is raised one hyperparameter at a time, round-robin in the
space's order, while the grid still fits the budget. Categorical and ordinal values all appear.
A hyperparameter enters a grid point only where its conditions make it active, so the grid is
built branch by branch. The grid is visited in an order shuffled with the tuner's seed; when
even the coarsest grid exceeds the budget, that seeded order decides which points are run.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

import numpy as np
from ConfigSpace import (
    Configuration,
    ConfigurationSpace,
    ForbiddenValueError,
    UniformFloatHyperparameter,
    UniformIntegerHyperparameter,
)
from ConfigSpace.hyperparameters import Hyperparameter

from harness.registry import register_tuner
from harness.tuners.base import Tuner

Values = dict[str, tuple]


def numeric_values(hp: Hyperparameter, steps: int) -> tuple:
    """`steps` cell-centred values of a float or integer hyperparameter."""
    lower, upper = float(hp.lower), float(hp.upper)
    if isinstance(hp, UniformIntegerHyperparameter) and not hp.log:
        lower, upper = lower - 0.5, upper + 0.5  # one bin per integer at full resolution
    if hp.log:
        lower, upper = np.log(lower), np.log(upper)
    centres = lower + (np.arange(steps) + 0.5) / steps * (upper - lower)
    if hp.log:
        centres = np.exp(centres)
    if isinstance(hp, UniformIntegerHyperparameter):
        return tuple(dict.fromkeys(int(v) for v in np.clip(np.round(centres), hp.lower, hp.upper)))
    return tuple(float(v) for v in centres)


def value_sets(space: ConfigurationSpace, steps: dict[str, int]) -> Values:
    sets: Values = {}
    for name, hp in space.items():
        if name in steps:
            sets[name] = numeric_values(hp, steps[name])
        elif hasattr(hp, "choices"):
            sets[name] = tuple(hp.choices)
        elif hasattr(hp, "sequence"):
            sets[name] = tuple(hp.sequence)
        else:
            sets[name] = (hp.value,)
    return sets


def iterate_grid(space: ConfigurationSpace, sets: Values) -> Iterator[dict]:
    """Every grid point, as a dict of active values, in the space's (topological) order."""
    names = list(space.keys())

    def extend(index: int, partial: dict) -> Iterator[dict]:
        if index == len(names):
            yield dict(partial)
            return
        name = names[index]
        conditions = space.parent_conditions_of[name]
        active = all(c.parent.name in partial and c.satisfied_by_value(partial) for c in conditions)
        if not active:
            yield from extend(index + 1, partial)
            return
        for value in sets[name]:
            partial[name] = value
            yield from extend(index + 1, partial)
        del partial[name]

    yield from extend(0, {})


def grid_size(space: ConfigurationSpace, sets: Values, cap: int) -> int:
    """Number of grid points, counting no further than `cap` + 1."""
    return sum(1 for _ in islice(iterate_grid(space, sets), cap + 1))


def fit_resolution(space: ConfigurationSpace, n_trials: int) -> dict[str, int]:
    """Steps per numeric hyperparameter: the finest round-robin refinement within budget."""
    numeric = [
        name
        for name, hp in space.items()
        if isinstance(hp, (UniformFloatHyperparameter, UniformIntegerHyperparameter))
    ]
    steps = dict.fromkeys(numeric, 1)
    growing = list(numeric)
    while growing:
        for name in list(growing):
            trial = {**steps, name: steps[name] + 1}
            hp = space[name]
            saturated = isinstance(hp, UniformIntegerHyperparameter) and steps[name] >= (
                hp.upper - hp.lower + 1
            )
            if saturated or grid_size(space, value_sets(space, trial), n_trials) > n_trials:
                growing.remove(name)
            else:
                steps = trial
    return steps


@register_tuner("grid")
class GridSearch(Tuner):
    def __init__(self, space: ConfigurationSpace, seed: int, n_trials: int) -> None:
        super().__init__(space, seed, n_trials)
        self.steps = fit_resolution(space, n_trials)
        points = []
        for values in iterate_grid(space, value_sets(space, self.steps)):
            try:
                points.append(Configuration(space, values=values))
            except ForbiddenValueError:
                continue
        order = np.random.default_rng(seed).permutation(len(points))
        self.grid = [points[i] for i in order]

    def _propose(self) -> Configuration | None:
        if self.n_asked >= len(self.grid):
            return None
        return self.grid[self.n_asked]
