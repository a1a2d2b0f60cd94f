"""The study spec: what to run. Frozen, validated on construction, stored as canonical JSON."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import TunebenchError
from harness.seeding import content_id

DEVICES = ("auto", "cpu", "cuda")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class StudySpec:
    """One study: every (task, seed, tuner) run gets the same budget and protocol.

    `trial_time_limit_s` stops a trial that runs longer (all its folds together) and records it as
    TIMEOUT; it makes results depend on machine speed, so it is off by default.
    `max_epochs` None means each task's own `default_epochs`.
    `train_subsample` caps the training part at that many examples (a stratified subset chosen
    once with a fixed data seed), for quick studies on large datasets; the test part stays whole.
    """

    name: str = "default"
    tasks: tuple[str, ...] = ("digits",)
    tuners: tuple[str, ...] = ("random", "grid", "smac")
    seeds: tuple[int, ...] = (0, 1, 2)
    n_trials: int = 16
    n_folds: int = 3
    max_epochs: int | None = None
    train_subsample: int | None = None
    device: str = "auto"
    deterministic: bool = True
    n_threads: int = 1
    trial_time_limit_s: float | None = None

    def __post_init__(self) -> None:
        _check_name(self.name)
        for field_name in ("tasks", "tuners", "seeds"):
            values = getattr(self, field_name)
            if isinstance(values, str) or not isinstance(values, (tuple, list)):
                raise TunebenchError(f"{field_name} must be a list, got {values!r}")
            object.__setattr__(self, field_name, tuple(values))
            if not values:
                raise TunebenchError(f"{field_name} must not be empty")
            if len(set(values)) != len(values):
                raise TunebenchError(f"{field_name} has duplicates: {list(values)}")
        for task in self.tasks:
            _check_type("tasks", task, str)
        for tuner in self.tuners:
            _check_type("tuners", tuner, str)
        for seed in self.seeds:
            _check_int("seeds", seed, minimum=0)
        _check_int("n_trials", self.n_trials, minimum=1)
        _check_int("n_folds", self.n_folds, minimum=2)
        if self.max_epochs is not None:
            _check_int("max_epochs", self.max_epochs, minimum=1)
        _check_int("n_threads", self.n_threads, minimum=1)
        if self.train_subsample is not None:
            _check_int("train_subsample", self.train_subsample, minimum=self.n_folds * 10)
        if self.trial_time_limit_s is not None:
            if isinstance(self.trial_time_limit_s, bool) or not isinstance(
                self.trial_time_limit_s, (int, float)
            ):
                raise TunebenchError(
                    f"trial_time_limit_s must be a number, got {self.trial_time_limit_s!r}"
                )
            if not self.trial_time_limit_s > 0:
                raise TunebenchError(
                    f"trial_time_limit_s must be positive, got {self.trial_time_limit_s}"
                )
        if self.device not in DEVICES:
            raise TunebenchError(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        _check_type("deterministic", self.deterministic, bool)

    def to_dict(self) -> dict[str, Any]:
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    @property
    def id(self) -> str:
        return content_id(self.to_dict())

    def replace(self, **changes: Any) -> StudySpec:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "study spec") -> StudySpec:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise TunebenchError(
                f"{source}: unknown key {unknown[0]!r}; known keys: {', '.join(sorted(known))}"
            )
        return cls(**values)

    @classmethod
    def from_toml(cls, path: Path) -> StudySpec:
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise TunebenchError(f"study file {path} does not exist") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise TunebenchError(f"study file {path} is not valid TOML: {error}") from None
        return cls.from_dict(values, source=str(path))


def _check_name(name: Any) -> None:
    _check_type("name", name, str)
    if not _NAME.match(name) or ".." in name:
        raise TunebenchError(
            f"name must be letters, digits, '.', '_' or '-' (no path separators or '..'), "
            f"got {name!r}"
        )


def _check_type(field_name: str, value: Any, kind: type) -> None:
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise TunebenchError(f"{field_name} must be {kind.__name__}, got {value!r}")


def _check_int(field_name: str, value: Any, minimum: int) -> None:
    _check_type(field_name, value, int)
    if value < minimum:
        raise TunebenchError(f"{field_name} must be at least {minimum}, got {value}")


@dataclass(frozen=True)
class RunKey:
    """One tuning run: a tuner on a task under one seed, within a study."""

    study: str
    task: str
    tuner: str
    seed: int

    @property
    def id(self) -> str:
        return content_id(dataclasses.asdict(self))

    def label(self) -> str:
        return f"{self.task}/{self.tuner}/seed={self.seed}"


def plan_runs(spec: StudySpec) -> list[RunKey]:
    """All runs of a study in execution order: task, then seed, then tuner."""
    return [
        RunKey(spec.name, task, tuner, seed)
        for task in spec.tasks
        for seed in spec.seeds
        for tuner in spec.tuners
    ]
