"""Tuners respect the space's conditions; grid fits the budget; SMAC through tunebench is SMAC."""

import math

import numpy as np
import pytest
from ConfigSpace import Configuration
from smac import HyperparameterOptimizationFacade, Scenario

from harness.registry import TUNERS, load_plugins
from harness.tuners.grid_search import GridSearch, grid_size, value_sets
from harness.tuners.smac import HashFreeLocalAndSortedRandomSearch
from search_spaces.image import image_cnn_space
from tests.helpers import synthetic_loss

load_plugins()


@pytest.mark.parametrize("tuner_name", ["random", "grid", "smac"])
def test_no_tuner_proposes_a_config_that_violates_the_conditions(tuner_name):
    space = image_cnn_space()
    tuner = TUNERS[tuner_name](image_cnn_space(), 1, 40)
    seen = 0
    while (trial := tuner.ask()) is not None and seen < 40:
        Configuration(space, values=trial.config).check_valid_configuration()
        assert ("opt:sgd:momentum" in trial.config) == (trial.config["opt:type"] == "sgd")
        for reg, child in [
            ("l1", "reg:l1:strength"),
            ("l2", "reg:l2:strength"),
            ("dropout", "reg:dropout:p"),
        ]:
            assert (child in trial.config) == (trial.config["reg:type"] == reg)
        tuner.tell(trial, synthetic_loss(trial.config))
        seen += 1
    assert seen == 40


@pytest.mark.parametrize("budget", [10, 48, 100, 300, 1000])
def test_grid_size_follows_the_budget(budget):
    space = image_cnn_space()
    grid = GridSearch(space, 0, budget)
    minimal = grid_size(space, value_sets(space, dict.fromkeys(grid.steps, 1)), 10**6)
    if budget < minimal:
        assert len(grid.grid) == minimal and all(s == 1 for s in grid.steps.values())
        return
    assert len(grid.grid) <= budget
    for name in grid.steps:  # every one-step refinement would exceed the budget (or is saturated)
        finer = {**grid.steps, name: grid.steps[name] + 1}
        hp = space[name]
        if (
            hasattr(hp, "upper")
            and isinstance(hp.upper, int)
            and finer[name] > hp.upper - hp.lower + 1
        ):
            continue
        assert grid_size(space, value_sets(space, finer), budget) > budget


def test_grid_grows_with_budget_and_visits_each_point_once():
    sizes = [len(GridSearch(image_cnn_space(), 0, b).grid) for b in (50, 100, 300, 1000)]
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0]
    tuner = GridSearch(image_cnn_space(), 0, 100)
    configs = []
    while (trial := tuner.ask()) is not None:
        configs.append(tuple(sorted(trial.config.items())))
    assert len(configs) == len(set(configs)) == len(tuner.grid)


def test_grid_order_depends_on_seed_only():
    first = [dict(c) for c in GridSearch(image_cnn_space(), 3, 100).grid]
    assert first == [dict(c) for c in GridSearch(image_cnn_space(), 3, 100).grid]
    assert first != [dict(c) for c in GridSearch(image_cnn_space(), 4, 100).grid]


def test_grid_values_are_cell_centres_on_the_log_scale():
    grid = GridSearch(image_cnn_space(), 0, 10**4)
    values = value_sets(image_cnn_space(), grid.steps)["opt:lr"]
    logs = np.log10(values)
    assert np.allclose(np.diff(logs), (math.log10(1e-1) - math.log10(1e-4)) / len(values))


def test_smac_through_tunebench_matches_smac_driven_directly(tmp_path):
    n_trials, seed = 25, 7

    def target(config: Configuration, seed: int = 0) -> float:
        return synthetic_loss(dict(config))

    space = image_cnn_space()
    direct = HyperparameterOptimizationFacade(
        Scenario(
            space,
            deterministic=True,
            n_trials=n_trials,
            seed=seed,
            output_directory=tmp_path / "direct",
        ),
        target,
        acquisition_maximizer=HashFreeLocalAndSortedRandomSearch(space, seed=seed),
        overwrite=True,
        logging_level=40,
    )
    direct.optimize()
    direct_configs = [dict(direct.runhistory.get_config(i + 1)) for i in range(n_trials)]

    tuner = TUNERS["smac"](image_cnn_space(), seed, n_trials)
    ours = []
    for _ in range(n_trials):
        trial = tuner.ask()
        tuner.tell(trial, synthetic_loss(trial.config))
        ours.append(trial.config)
    tuner.close()
    assert ours == [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in c.items()} for c in direct_configs
    ]
