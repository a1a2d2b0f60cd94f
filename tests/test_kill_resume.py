"""Fault injection: SIGKILL a study across task families at random moments, resume, compare.

The study is killed five times, each time once its trials file has reached a randomly drawn
record count plus a random extra delay (so kills land inside trials, SMAC's model fits and
writes alike). After every kill, the stored records must be a prefix of the uninterrupted run's
(no record lost or changed); after the final rerun they must equal it exactly.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from harness.records import without_timing
from tests.helpers import REPO

TASKS = "digits,amazon-reviews,movielens-small,fsdd"
STUDY = [
    "--tasks",
    TASKS,
    "--tuners",
    "random,smac",
    "--seeds",
    "0",
    "--n-trials",
    "3",
    "--n-folds",
    "2",
    "--max-epochs",
    "1",
    "--study",
    "k",
    "--device",
    "cpu",
    "--no-progress",
]
N_KILLS = 5


def start(out: Path, hash_seed: int, data_root: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONHASHSEED": str(hash_seed), "TUNEBENCH_DATA": str(data_root)}
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", "--out", str(out), "--no-report", *STUDY],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stored(out: Path) -> list[dict]:
    path = out / "k" / "trials.jsonl"
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")
    return [without_timing(json.loads(line)) for line in lines[:-1]]  # a torn tail is not a record


def test_five_sigkills_across_families_lose_nothing(tmp_path: Path, data_root: Path):
    full = start(tmp_path / "full", 0, data_root)
    assert full.wait(timeout=900) == 0, full.stderr.read().decode()
    expected = stored(tmp_path / "full")
    assert len(expected) == 4 * 2 * (3 + 1)

    rng = np.random.default_rng(2026)
    targets = sorted(rng.choice(np.arange(1, len(expected)), size=N_KILLS, replace=False))
    killed = tmp_path / "killed"
    trials = killed / "k" / "trials.jsonl"
    for kill, target in enumerate(targets):
        process = start(killed, 100 + kill, data_root)
        while process.poll() is None:
            if trials.exists() and trials.read_bytes().count(b"\n") >= target:
                time.sleep(rng.uniform(0.0, 0.3))
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.01)
        assert process.wait(timeout=600) == -signal.SIGKILL, "the study ended before its kill"
        so_far = stored(killed)
        assert so_far == expected[: len(so_far)] and len(so_far) >= target
    final = start(killed, 999, data_root)
    assert final.wait(timeout=900) == 0, final.stderr.read().decode()
    assert stored(killed) == expected
