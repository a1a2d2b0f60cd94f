"""Named studies: `tunebench run --suite NAME` starts from one of these specs (flags override)."""

from __future__ import annotations

from harness.errors import TunebenchError
from harness.spec import StudySpec

SUITES: dict[str, StudySpec] = {
    # One small task per family; about 20 minutes on a 2-core CPU.
    "quick": StudySpec(
        name="quick",
        tasks=("digits", "amazon-reviews", "movielens-small", "fsdd"),
        seeds=(0, 1, 2),
        n_trials=16,
        n_folds=3,
    ),
    # The larger datasets of every family; hours on a CPU, see the README for timings.
    "standard": StudySpec(
        name="standard",
        tasks=("fashion-mnist", "sms-spam", "ml-100k", "ml-100k-implicit", "fsdd"),
        seeds=(0, 1, 2),
        n_trials=32,
        n_folds=3,
    ),
}


def suite_spec(name: str) -> StudySpec:
    if name not in SUITES:
        raise TunebenchError(f"unknown suite {name!r}; known: {', '.join(sorted(SUITES))}")
    return SUITES[name]
