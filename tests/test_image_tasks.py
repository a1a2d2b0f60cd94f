"""The image tasks train on real data: fashion-mnist from the data root, digits embedded."""

from pathlib import Path

import pytest
import torch

from harness.records import Status
from harness.runner import prepare, run_study
from harness.spec import StudySpec
from tasks.image import FashionMnistTask


def test_fashion_mnist_loads_the_official_split(data_root: Path):
    data = FashionMnistTask().load(data_root, torch.device("cpu"))
    assert (data.n_train, data.n_test) == (60000, 10000)
    assert tuple(data.train_x.shape) == (60000, 1, 28, 28) and data.train_x.max() <= 1.0
    assert (
        set(data.train_y.unique().tolist()) == set(range(10)) == set(data.test_y.unique().tolist())
    )


def test_fashion_mnist_trains_from_the_data_root(data_root: Path, tmp_path: Path):
    spec = StudySpec(
        name="fm",
        tasks=("fashion-mnist",),
        tuners=("random",),
        seeds=(0,),
        n_trials=2,
        n_folds=2,
        max_epochs=2,
        train_subsample=2000,
        device="cpu",
    )
    records = run_study(prepare(spec, data_root), tmp_path / "fm", progress=False)
    assert all(r.status is Status.SUCCESS for r in records)
    test = next(r for r in records if r.kind == "test")
    assert test.metrics["accuracy"] > 0.6  # 10 classes: chance is 0.1


@pytest.mark.slow
def test_default_study_smac_reaches_095_test_accuracy_on_digits(tmp_path: Path):
    from harness.analysis import load_study

    run_study(prepare(StudySpec(device="cpu"), tmp_path), tmp_path / "default", progress=False)
    _, frame = load_study(tmp_path / "default")
    tests = frame[frame.kind == "test"]
    accuracy = tests.groupby("tuner")["metric:accuracy"].mean()
    print("mean test accuracy per tuner:", accuracy.round(4).to_dict())
    assert len(tests) == 9
    assert accuracy["smac"] >= 0.95
