"""Report speed on a study of 4 tasks x 3 tuners x 10 seeds x 100 trials (12,000 CV-scored
trials with 3 folds and 10-epoch curves each, plus 120 test fits), generated synthetically.

Run with `pytest tests/benchmarks/test_report_speed.py --benchmark-enable`; the target is under
60 s per report on a 2-core machine. `trials_per_s` is in extra_info.
"""

import itertools
from pathlib import Path

import pandas as pd

from harness.report import write_report
from tests.test_report import Shape, synthetic_study

TASKS = ("bench-a", "bench-b", "bench-c", "bench-d")
SHAPE = Shape(
    tasks=TASKS,
    metrics={task: "rmse" if task == "bench-b" else "accuracy" for task in TASKS},
    tuners=("random", "grid", "smac"),
    seeds=tuple(range(10)),
    n_trials=100,
    n_folds=3,
    n_epochs=10,
)
N_TRIALS = len(TASKS) * 3 * 10 * 100


def test_report_of_a_large_study(benchmark, tmp_path: Path):
    study = synthetic_study(tmp_path / "study", SHAPE)
    counter = itertools.count()

    def fresh_out():
        return (study, tmp_path / f"report{next(counter)}"), {}

    benchmark.pedantic(write_report, setup=fresh_out, rounds=2, iterations=1)
    out = tmp_path / "report0"
    coverage = pd.read_csv(out / "tables" / "coverage.csv")
    assert len(coverage) == 120 and (coverage.state == "complete").all()
    assert coverage.trials.sum() == N_TRIALS
    assert len(list((out / "figures").glob("*.png"))) == 3 + 5 * len(TASKS)
    if benchmark.stats:
        benchmark.extra_info["trials_per_s"] = N_TRIALS / benchmark.stats["median"]
