"""Whole studies in separate processes: same spec → same records; SIGKILL + rerun → same records."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness.records import without_timing
from tests.helpers import REPO

STUDY = [
    "--tasks",
    "digits",
    "--tuners",
    "random,grid,smac",
    "--seeds",
    "0,1",
    "--n-trials",
    "5",
    "--n-folds",
    "2",
    "--max-epochs",
    "2",
    "--train-subsample",
    "400",
    "--study",
    "det",
    "--device",
    "cpu",
    "--no-progress",
]


def command(out: Path) -> list[str]:
    return [sys.executable, "-m", "harness.cli", "run", "--out", str(out), *STUDY]


def records(out: Path) -> list[dict]:
    lines = (out / "det" / "trials.jsonl").read_text().splitlines()
    return [without_timing(json.loads(line)) for line in lines]


def run(out: Path, hash_seed: str) -> None:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    subprocess.run(command(out), cwd=REPO, env=env, check=True, capture_output=True, timeout=600)


def test_two_processes_with_different_hash_seeds_store_identical_records(tmp_path: Path):
    run(tmp_path / "a", "1")
    run(tmp_path / "b", "2")
    first, second = records(tmp_path / "a"), records(tmp_path / "b")
    assert len(first) == 2 * 3 * (5 + 1)
    assert first == second


def test_sigkill_part_way_then_rerun_ends_with_the_uninterrupted_records(tmp_path: Path):
    run(tmp_path / "full", "0")
    killed = tmp_path / "killed"
    trials = killed / "det" / "trials.jsonl"
    for kill_after in (3, 17):  # first during the random run, then during a smac run
        process = subprocess.Popen(
            command(killed),
            cwd=REPO,
            env={**os.environ, "PYTHONHASHSEED": "5"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            if trials.exists() and trials.read_bytes().count(b"\n") >= kill_after:
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
        assert process.wait(timeout=60) == -signal.SIGKILL, "the study ended before it was killed"
    run(killed, "6")
    assert records(killed) == records(tmp_path / "full")
