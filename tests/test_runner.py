"""The runner in-process, on test tasks that train nothing (real tuners, real storage)."""

from pathlib import Path

import numpy as np
import pytest

from harness.errors import TunebenchError
from harness.records import Status, without_timing
from harness.runner import prepare, run_study
from harness.spec import StudySpec
from harness.storage import StudyStore
from tests.helpers import synthetic_loss


def spec(**changes) -> StudySpec:
    values = dict(
        name="s", tasks=("test-synthetic",), seeds=(0, 1), n_trials=6, n_folds=3, device="cpu"
    )
    return StudySpec(**{**values, **changes})


def test_every_run_gets_its_trials_and_one_test_record(tmp_path: Path):
    records = run_study(prepare(spec(), tmp_path), tmp_path / "s", progress=False)
    trials = [r for r in records if r.kind == "trial"]
    tests = [r for r in records if r.kind == "test"]
    assert len(trials) == 2 * 3 * 6 and len(tests) == 2 * 3
    for test in tests:
        run = [r for r in trials if r.run_key == test.run_key]
        best = min(run, key=lambda r: r.objective)
        assert test.number == best.number and test.cv_objective == best.objective
        assert test.folds[0].fold == -1
    for trial in trials:
        assert trial.objective == pytest.approx(synthetic_loss(trial.config))
        assert [f.fold for f in trial.folds] == [0, 1, 2]


def test_equal_configs_get_equal_training_seeds_across_tuners(tmp_path: Path):
    records = run_study(
        prepare(spec(tuners=("grid", "random")), tmp_path), tmp_path / "s", progress=False
    )
    seeds_by_config: dict[tuple, set] = {}
    for r in records:
        if r.kind == "trial":
            seeds_by_config.setdefault((r.seed, r.config_id), set()).add(
                tuple(f.seed for f in r.folds)
            )
    assert all(len(s) == 1 for s in seeds_by_config.values())


def test_failed_trials_are_stored_and_told_as_the_worst_score(tmp_path: Path):
    records = run_study(
        prepare(spec(tasks=("test-failing",), tuners=("random", "smac"), n_trials=12), tmp_path),
        tmp_path / "s",
        progress=False,
    )
    trials = [r for r in records if r.kind == "trial"]
    by_type = {
        t: [r for r in trials if r.config["opt:type"] == t] for t in ("sgd", "adam", "adamw")
    }
    assert by_type["sgd"] and by_type["adam"] and by_type["adamw"]
    for r in by_type["sgd"]:
        assert r.status is Status.CRASHED and "boom" in r.error and r.objective is None
    for r in by_type["adam"]:
        assert r.status is Status.CRASHED and "objective is nan" in r.error
    assert all(r.status is Status.SUCCESS for r in by_type["adamw"])
    assert all(r.config["opt:type"] == "adamw" for r in records if r.kind == "test")


def test_rerun_resumes_without_retraining_and_changes_nothing(tmp_path: Path):
    first = run_study(prepare(spec(tuners=("smac",)), tmp_path), tmp_path / "s", progress=False)
    before = (tmp_path / "s" / "trials.jsonl").read_bytes()
    again = run_study(prepare(spec(tuners=("smac",)), tmp_path), tmp_path / "s", progress=False)
    assert (tmp_path / "s" / "trials.jsonl").read_bytes() == before
    assert [without_timing(r.to_dict()) for r in again] == [
        without_timing(r.to_dict()) for r in first
    ]


def test_resume_after_losing_the_tail_matches_an_uninterrupted_run(tmp_path: Path):
    full = run_study(prepare(spec(), tmp_path), tmp_path / "full", progress=False)
    run_study(prepare(spec(), tmp_path), tmp_path / "cut", progress=False)
    path = tmp_path / "cut" / "trials.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:17]) + lines[17][:25])  # a torn 18th record
    with pytest.warns(UserWarning, match="torn"):
        resumed = run_study(prepare(spec(), tmp_path), tmp_path / "cut", progress=False)
    assert [without_timing(r.to_dict()) for r in resumed] == [
        without_timing(r.to_dict()) for r in full
    ]
    assert len(StudyStore(tmp_path / "cut").read_records()) == len(full)


def test_a_different_spec_is_refused_and_nothing_is_written(tmp_path: Path):
    run_study(prepare(spec(), tmp_path), tmp_path / "s", progress=False)
    before = {p.name: p.read_bytes() for p in (tmp_path / "s").iterdir()}
    with pytest.raises(TunebenchError, match=r"different spec \(n_trials: 6 → 7\)"):
        run_study(prepare(spec(n_trials=7), tmp_path), tmp_path / "s", progress=False)
    assert {p.name: p.read_bytes() for p in (tmp_path / "s").iterdir()} == before


def test_cv_folds_partition_the_pool_and_never_touch_the_test_part(tmp_path: Path):
    from harness.runner import training_pool
    from tasks.image import DigitsTask

    task = DigitsTask()
    data = task.load(tmp_path, __import__("torch").device("cpu"))
    pool = training_pool(spec(train_subsample=600), "digits", data)
    assert len(pool) == 600 and len(np.unique(pool)) == 600
    folds = task.cv_folds(data, pool, 3, seed=5)
    validation = np.concatenate([val for _, val in folds])
    assert sorted(validation) == sorted(pool)
    for train, val in folds:
        assert not set(train) & set(val)
        assert set(train) | set(val) == set(pool)
    assert data.n_train + data.n_test == 1797 and data.n_test == 360
