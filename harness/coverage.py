"""Which runs a study holds, and how far each got: the coverage table of a report.

A run (task, tuner, seed) is `complete` when its test record is stored (a grid that ran out of
points before the budget is complete too), `no incumbent` when every trial of a finished run
failed (there is nothing to test), `unfinished` when it stopped part-way, and `missing` when
nothing of it is stored. Runs are listed for every task, tuner and seed of the spec, plus any
stored ones the spec does not name.
"""

from __future__ import annotations

import pandas as pd

from harness.analysis import RUN_KEY, StudyTables

COMPLETE = "complete"
NO_INCUMBENT = "no incumbent"
UNFINISHED = "unfinished"
MISSING = "missing"
FINISHED_STATES = frozenset({COMPLETE, NO_INCUMBENT})
COVERAGE_COLUMNS = [
    *RUN_KEY,
    "state",
    "trials",
    "failed trials",
    "test status",
]


def run_coverage(tables: StudyTables) -> pd.DataFrame:
    """One row per planned or stored run: its state, stored and failed trials, test status."""
    trials, tests = tables.trials, tables.tests
    counts = trials.groupby(RUN_KEY).size()
    failed = trials[trials.status != "SUCCESS"].groupby(RUN_KEY).size()
    test_status = tests.drop_duplicates(RUN_KEY, keep="last").set_index(RUN_KEY).status
    rows = []
    for task in tables.tasks:
        for tuner in tables.tuners:
            for seed in tables.seeds:
                key = (task, tuner, seed)
                n_trials = int(counts.get(key, 0))
                status = test_status.get(key)
                if status is not None:
                    state = COMPLETE
                elif n_trials == 0:
                    state = MISSING
                elif n_trials >= tables.n_trials and int(failed.get(key, 0)) == n_trials:
                    state = NO_INCUMBENT
                else:
                    state = UNFINISHED
                rows.append(
                    {
                        "task": task,
                        "tuner": tuner,
                        "seed": seed,
                        "state": state,
                        "trials": n_trials,
                        "failed trials": int(failed.get(key, 0)),
                        "test status": status or "-",
                    }
                )
    return pd.DataFrame(rows, columns=COVERAGE_COLUMNS)


def finished_runs(coverage: pd.DataFrame) -> set[tuple[str, str, int]]:
    """Runs that used their whole budget (their incumbent holds beyond their last trial)."""
    done = coverage[coverage.state.isin(FINISHED_STATES)]
    return {(t, u, int(s)) for t, u, s in done[RUN_KEY].itertuples(index=False)}


def failures_by_tuner(tables: StudyTables) -> pd.DataFrame:
    """Per task and tuner: stored trials, and failed trials by status (CRASHED, TIMEOUT, OOM),
    plus failed test fits."""
    trials = tables.trials
    statuses = sorted(set(trials.status) - {"SUCCESS"})
    rows = []
    for task in tables.tasks:
        for tuner in tables.tuners:
            mine = trials[(trials.task == task) & (trials.tuner == tuner)]
            tests = tables.tests
            failed_tests = tests[
                (tests.task == task) & (tests.tuner == tuner) & (tests.status != "SUCCESS")
            ]
            row: dict[str, object] = {
                "task": task,
                "tuner": tuner,
                "trials": len(mine),
                "failed": int((mine.status != "SUCCESS").sum()),
            }
            row.update({status: int((mine.status == status).sum()) for status in statuses})
            row["failed test fits"] = len(failed_tests)
            rows.append(row)
    return pd.DataFrame(rows)
