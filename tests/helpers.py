"""Test helpers: the CLI in a fresh interpreter, test-only tasks that train nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from harness.records import Config, EpochStats, FitResult
from harness.registry import register_task
from tasks.base import FitContext, Split, Task, TaskData, TaskInfo

REPO = Path(__file__).resolve().parents[1]


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """`tunebench ARGS` in a fresh interpreter (its own hash seed, its own torch state)."""
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "TUNEBENCH_PLUGINS": "tests.helpers", **(env or {})},
        cwd=REPO,
        check=False,
    )


def synthetic_loss(config: Config) -> float:
    """A smooth function of the image-cnn config: best near lr=1e-2, depth 2, no regularizer."""
    lr = float(config["opt:lr"])
    return float(
        (np.log10(lr) + 2) ** 2 / 4
        + 0.05 * abs(int(config["arch:depth"]) - 2)
        + (0.0 if config["reg:type"] == "none" else 0.02)
    )


@register_task("test-synthetic")
class SyntheticTask(Task):
    """Trains nothing: scores a config with `synthetic_loss`. For harness tests and benchmarks."""

    info = TaskInfo(
        name="test-synthetic",
        family="image",
        dataset="none",
        metric="accuracy",
        objective="synthetic",
        space="image-cnn",
        size="100 placeholder examples",
        licence="n/a",
        source="tests/conftest.py",
        worst_loss=10.0,
        default_epochs=1,
    )

    def load(self, data_root: Path, device: torch.device) -> TaskData:
        labels = np.arange(100) % 2
        return TaskData(n_train=100, n_test=20, strata=labels, fingerprint="synthetic")

    def fit_and_score(
        self, data: TaskData, config: Config, split: Split, context: FitContext
    ) -> FitResult:
        loss = synthetic_loss(config)
        curve = (EpochStats(epoch=1, train_loss=loss, eval_loss=loss),)
        return FitResult(loss=loss, metrics={"accuracy": 1.0 - min(loss, 1.0)}, curve=curve)


@register_task("test-failing")
class FailingTask(SyntheticTask):
    """Raises for SGD configs, returns NaN for Adam ones, and scores AdamW ones normally."""

    info = TaskInfo(**{**SyntheticTask.info.__dict__, "name": "test-failing"})

    def fit_and_score(
        self, data: TaskData, config: Config, split: Split, context: FitContext
    ) -> FitResult:
        if config["opt:type"] == "sgd":
            raise RuntimeError("boom: sgd is not supported by this test task")
        result = super().fit_and_score(data, config, split, context)
        if config["opt:type"] == "adam":
            return FitResult(loss=float("nan"), metrics={}, curve=result.curve)
        return result


@register_task("test-faulty")
class FaultyTask(SyntheticTask):
    """Fails in a different real way per regularizer choice, to test failure handling:
    l1 asks torch for 16 TiB (host out of memory), l2 returns an infinite loss, dropout runs
    past any short time limit (checking its deadline like a training loop does), and SGD raises.
    """

    info = TaskInfo(**{**SyntheticTask.info.__dict__, "name": "test-faulty"})

    def fit_and_score(
        self, data: TaskData, config: Config, split: Split, context: FitContext
    ) -> FitResult:
        if config["opt:type"] == "sgd":
            raise ValueError("boom: sgd is not supported by this test task")
        kind = config["reg:type"]
        if kind == "l1":
            torch.empty(2**42)
        if kind == "dropout":
            for _ in range(200):
                context.check_time()
                time.sleep(0.01)
        result = super().fit_and_score(data, config, split, context)
        if kind == "l2":
            return FitResult(loss=float("inf"), metrics={}, curve=result.curve)
        return result
