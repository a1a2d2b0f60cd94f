"""Harness overhead per trial: random tuner, a task that trains nothing, durable appends included.

Run with `pytest tests/benchmarks --benchmark-enable`; `ms_per_trial` is in extra_info. The
bare durable append (one write + fsync) is measured in the same run for a ratio: it is the floor
that no crash-safe store can go under.
"""

import itertools
import os
from pathlib import Path

from harness.runner import prepare, run_study
from harness.spec import StudySpec

N_TRIALS = 200


def test_harness_overhead_per_trial(benchmark, tmp_path: Path):
    spec = StudySpec(
        name="bench",
        tasks=("test-synthetic",),
        tuners=("random",),
        seeds=(0,),
        n_trials=N_TRIALS,
        n_folds=3,
        device="cpu",
    )
    prepared = prepare(spec, tmp_path)
    counter = itertools.count()

    def fresh_dir():
        return (tmp_path / f"run{next(counter)}",), {}

    def run(directory: Path) -> None:
        run_study(prepared, directory, progress=False)

    benchmark.pedantic(run, setup=fresh_dir, rounds=5, iterations=1)
    records = (tmp_path / "run0" / "trials.jsonl").read_bytes().count(b"\n")
    assert records == N_TRIALS + 1
    if benchmark.stats:
        benchmark.extra_info["ms_per_trial"] = 1000 * benchmark.stats["median"] / N_TRIALS


def test_bare_durable_append(benchmark, tmp_path: Path):
    line = b'{"x":' + b"1" * 2000 + b"}\n"  # about the size of a 3-fold trial record
    with open(tmp_path / "f.jsonl", "ab") as handle:

        def append() -> None:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

        benchmark(append)
