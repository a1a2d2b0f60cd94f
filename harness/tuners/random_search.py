"""Random search: seeded samples from the search space (conditions respected by ConfigSpace)."""

from __future__ import annotations

from ConfigSpace import Configuration, ConfigurationSpace

from harness.registry import register_tuner
from harness.tuners.base import Tuner


@register_tuner("random")
class RandomSearch(Tuner):
    def __init__(self, space: ConfigurationSpace, seed: int, n_trials: int) -> None:
        super().__init__(space, seed, n_trials)
        self.space.seed(seed)

    def _propose(self) -> Configuration:
        return self.space.sample_configuration()
