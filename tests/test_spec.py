from pathlib import Path

import pytest

from harness.errors import TunebenchError
from harness.spec import RunKey, StudySpec, plan_runs


def test_default_spec_is_valid_and_plans_task_seed_tuner_runs():
    spec = StudySpec()
    runs = plan_runs(spec)
    assert len(runs) == len(spec.tasks) * len(spec.seeds) * len(spec.tuners)
    assert runs[0] == RunKey("default", "digits", "random", 0)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_trials": 0}, "n_trials must be at least 1"),
        ({"n_trials": -3}, "n_trials must be at least 1"),
        ({"n_folds": 1}, "n_folds must be at least 2"),
        ({"max_epochs": 0}, "max_epochs"),
        ({"seeds": ()}, "seeds must not be empty"),
        ({"seeds": (0, 0)}, "duplicates"),
        ({"seeds": (-1,)}, "seeds must be at least 0"),
        ({"n_trials": "5"}, "n_trials must be int"),
        ({"n_trials": True}, "n_trials must be int"),
        ({"device": "tpu"}, "device must be one of"),
        ({"name": "../escape"}, "name must be"),
        ({"name": "a/b"}, "name must be"),
        ({"tasks": "digits"}, "tasks must be a list"),
    ],
)
def test_invalid_specs_name_the_field(changes, message):
    with pytest.raises(TunebenchError, match=message):
        StudySpec(**changes)


def test_toml_with_unknown_key_is_refused(tmp_path: Path):
    path = tmp_path / "study.toml"
    path.write_text('name = "x"\nn_trails = 5\n')
    with pytest.raises(TunebenchError, match="unknown key 'n_trails'"):
        StudySpec.from_toml(path)


def test_toml_round_trip(tmp_path: Path):
    path = tmp_path / "study.toml"
    path.write_text('name = "x"\ntasks = ["digits"]\nseeds = [4, 5]\nn_trials = 7\n')
    spec = StudySpec.from_toml(path)
    assert spec.seeds == (4, 5) and spec.n_trials == 7
    assert StudySpec.from_dict(spec.to_dict()) == spec
