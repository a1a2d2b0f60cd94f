"""The command line: bad input is one line on stderr, exit code 2, and nothing written."""

from pathlib import Path

import pytest

from tests.helpers import run_cli


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tasks", "digitz"], "unknown task 'digitz'; did you mean digits?"),
        (["--tuners", "random,bayes"], "unknown tuner 'bayes'"),
        (["--n-trials", "0"], "n_trials must be at least 1, got 0"),
        (["--n-trials", "-5"], "n_trials must be at least 1, got -5"),
        (["--n-trials", "many"], "argument --n-trials: invalid int value"),
        (
            ["--tasks", "fashion-mnist", "--data-root", "/nonexistent/data"],
            "data root /nonexistent/data does not exist",
        ),
        (["--study", "../up"], "name must be"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path: Path, args, message):
    out = tmp_path / "out"
    result = run_cli("run", "--out", str(out), "--no-progress", *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert not out.exists()


def test_missing_dataset_under_an_existing_data_root_names_the_file(tmp_path: Path):
    out, root = tmp_path / "out", tmp_path / "empty-root"
    root.mkdir()
    result = run_cli("run", "--out", str(out), "--tasks", "fashion-mnist", "--data-root", str(root))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "FashionMNIST/raw/train-images-idx3-ubyte is missing" in result.stderr
    assert str(root) in result.stderr
    assert not out.exists()
    assert [p for p in root.rglob("*") if p.is_file()] == []


def test_list_shows_tasks_tuners_and_spaces():
    result = run_cli("list")
    assert result.returncode == 0
    for word in ("digits", "fashion-mnist", "image-cnn", "smac", "random", "grid", "licence"):
        assert word in result.stdout


def test_help_reads_well():
    result = run_cli("run", "--help")
    assert result.returncode == 0
    for flag in (
        "--tasks",
        "--tuners",
        "--seeds",
        "--n-trials",
        "--n-folds",
        "--max-epochs",
        "--device",
        "--data-root",
        "--out",
        "--spec",
    ):
        assert flag in result.stdout
