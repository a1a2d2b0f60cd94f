"""The study loop (DESIGN §1): plan runs, replay what is stored, ask, evaluate, tell, append.

Everything that can be wrong with the input (names, budgets, data) is checked before the study
folder is touched. Resume is replay: each run's tuner is created fresh and told its stored
trials again, and each proposed config must equal the stored one (a mismatch means something
is not deterministic and is reported, never papered over).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from tqdm import tqdm

from harness import __version__
from harness.environment import configure_torch, describe_environment, resolve_device
from harness.errors import TunebenchError
from harness.protocol import RunSetup, cross_validate, evaluate_on_test, incumbent_of
from harness.records import Status, TrialRecord
from harness.registry import SPACES, TASKS, TUNERS, lookup
from harness.seeding import canonical_json, derive_seed
from harness.spec import RunKey, StudySpec, plan_runs
from harness.storage import StudyStore
from harness.tuners.base import Tuner
from tasks.base import Task, TaskData

MANIFEST_FORMAT = 1
SUBSAMPLE_SEED = 7  # the fixed data seed of `train_subsample`, shared by every run


@dataclass
class PreparedStudy:
    """A validated spec with its tasks resolved and data loaded; nothing written yet."""

    spec: StudySpec
    tasks: dict[str, Task]
    data: dict[str, TaskData]
    device: torch.device
    identity: dict[str, Any]


def space_hash(space_name: str) -> str:
    space = lookup(SPACES, "search space", space_name)()
    return hashlib.sha256(canonical_json(space.to_serialized_dict()).encode()).hexdigest()[:16]


def prepare(spec: StudySpec, data_root: Path) -> PreparedStudy:
    """Resolve names, check data and budgets, load datasets. Raises `TunebenchError`."""
    tasks = {name: lookup(TASKS, "task", name)() for name in spec.tasks}
    for tuner in spec.tuners:
        lookup(TUNERS, "tuner", tuner)
    spaces = {task.info.space: space_hash(task.info.space) for task in tasks.values()}
    spec = spec.replace(device=resolve_device(spec.device))
    configure_torch(spec.n_threads, spec.deterministic)
    for task in tasks.values():
        task.check_data(data_root)
    device = torch.device(spec.device)
    data = {name: task.load(data_root, device) for name, task in tasks.items()}
    for name, loaded in data.items():
        if spec.train_subsample is not None and spec.train_subsample > loaded.n_train:
            raise TunebenchError(
                f"train_subsample {spec.train_subsample} exceeds the {loaded.n_train} "
                f"training examples of {name}"
            )
    identity = {
        "spec": spec.to_dict(),
        "datasets": {name: loaded.fingerprint for name, loaded in data.items()},
        "spaces": spaces,
        "tasks": {
            name: {"version": task.info.version, "metric": task.info.metric}
            for name, task in tasks.items()
        },
    }
    return PreparedStudy(spec, tasks, data, device, identity)


def make_manifest(prepared: PreparedStudy) -> dict[str, Any]:
    return {
        "format": MANIFEST_FORMAT,
        "tunebench": __version__,
        **prepared.identity,
        "environment": describe_environment(prepared.spec.device),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def check_identity(store: StudyStore, identity: dict[str, Any]) -> None:
    """Refuse to add to a study folder made by a different spec, dataset, space or task."""
    stored = store.read_manifest()
    for part, expected in identity.items():
        if stored.get(part) == expected:
            continue
        found = stored.get(part) or {}
        keys = sorted(set(found) | set(expected))
        diffs = [
            f"{k}: {found.get(k)!r} → {expected.get(k)!r}"
            for k in keys
            if found.get(k) != expected.get(k)
        ]
        raise TunebenchError(
            f"{store.directory} holds a study with a different {part} ({'; '.join(diffs)}); "
            "pass another --study name or --out folder to start a new study"
        )


def training_pool(spec: StudySpec, task_name: str, data: TaskData) -> np.ndarray:
    pool = np.arange(data.n_train)
    if spec.train_subsample is None or spec.train_subsample == data.n_train:
        return pool
    subset, _ = train_test_split(
        pool,
        train_size=spec.train_subsample,
        stratify=data.strata,
        random_state=derive_seed(SUBSAMPLE_SEED, "subsample", task_name),
    )
    return np.sort(subset)


def group_stored(records: list[dict[str, Any]], study: str, path: Path) -> dict[RunKey, dict]:
    runs: dict[RunKey, dict] = defaultdict(lambda: {"trial": {}, "test": None})
    for line, values in enumerate(records, start=1):
        try:
            record = TrialRecord.from_dict(values)
        except (KeyError, TypeError, ValueError) as error:
            raise TunebenchError(
                f"{path}, record {line}: not a tunebench record ({error})"
            ) from None
        if record.study != study:
            raise TunebenchError(
                f"{path}, record {line}: belongs to study {record.study!r}, not {study!r}"
            )
        if record.kind == "test":
            runs[record.run_key]["test"] = record
        else:
            runs[record.run_key]["trial"][record.number] = record
    return runs


def run_study(prepared: PreparedStudy, study_dir: Path, progress: bool = True) -> list[TrialRecord]:
    """Run (or resume) every run of the study; return all its records in run order."""
    spec = prepared.spec
    store = StudyStore(study_dir)
    if store.exists():
        check_identity(store, prepared.identity)
    keys = plan_runs(spec)
    results: list[TrialRecord] = []
    with store.open_for_writing(make_manifest(prepared)) as stored_records:
        stored = group_stored(stored_records, spec.name, store.trials_path)
        bar = tqdm(
            total=len(keys) * (spec.n_trials + 1),
            disable=not progress,
            unit="trial",
            dynamic_ncols=True,
        )
        with bar:
            for key in keys:
                bar.set_description(key.label())
                results += _run_one(prepared, key, stored[key], store, bar)
    return results


def _run_one(
    prepared: PreparedStudy, key: RunKey, stored: dict, store: StudyStore, bar: tqdm
) -> list[TrialRecord]:
    spec = prepared.spec
    task = prepared.tasks[key.task]
    data = prepared.data[key.task]
    pool = training_pool(spec, key.task, data)
    setup = RunSetup(
        key=key,
        task=task,
        data=data,
        pool=pool,
        folds=task.cv_folds(data, pool, spec.n_folds, derive_seed(key.seed, "split", key.task)),
        device=prepared.device,
        max_epochs=spec.max_epochs or task.info.default_epochs,
        time_limit_s=spec.trial_time_limit_s,
        env={"device": spec.device, "n_threads": spec.n_threads, "tunebench": __version__},
    )
    space = lookup(SPACES, "search space", task.info.space)()
    tuner: Tuner = lookup(TUNERS, "tuner", key.tuner)(
        space, derive_seed(key.seed, "tuner", key.task, key.tuner), spec.n_trials
    )
    records: list[TrialRecord] = []
    try:
        for number in range(spec.n_trials):
            trial = tuner.ask()
            if trial is None:
                break
            record = stored["trial"].get(number)
            if record is None:
                record = cross_validate(setup, number, trial.config)
                store.append(record.to_dict())
            elif record.config != trial.config:
                raise TunebenchError(
                    f"{key.label()} trial {number}: the tuner proposed {trial.config} on resume "
                    f"but {record.config} is stored; the run is not deterministic"
                )
            ok = record.status is Status.SUCCESS and record.objective is not None
            tuner.tell(trial, record.objective if ok else task.info.worst_loss)
            records.append(record)
            bar.update()
    finally:
        close = getattr(tuner, "close", None)
        if close is not None:
            close()
    test_record = stored["test"]
    if test_record is None:
        incumbent = incumbent_of(records)
        if incumbent is not None:
            test_record = evaluate_on_test(setup, incumbent)
            store.append(test_record.to_dict())
    bar.update(spec.n_trials + 1 - len(records))
    return records + ([test_record] if test_record is not None else [])
