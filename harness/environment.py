"""The machine side of a study: device choice, torch determinism and what the manifest records."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from harness.errors import TunebenchError

RECORDED_PACKAGES = (
    "tunebench",
    "torch",
    "torchvision",
    "smac",
    "ConfigSpace",
    "numpy",
    "scikit-learn",
    "pandas",
)


def resolve_device(requested: str) -> str:
    """'auto' is CUDA when a GPU is visible, else the CPU; 'cuda' without one is an error."""
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise TunebenchError("device 'cuda' was requested but no CUDA GPU is visible")
    return requested


def configure_torch(n_threads: int, deterministic: bool) -> None:
    """Fix the intra-op thread count (it changes low bits of CPU results) and determinism."""
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.set_num_threads(n_threads)
    torch.use_deterministic_algorithms(deterministic, warn_only=False)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic


def git_commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except OSError:
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def describe_environment(device: str) -> dict[str, Any]:
    packages = {}
    for name in RECORDED_PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": packages,
        "git_commit": git_commit(),
        "cuda": torch.version.cuda,
        "device": device,
        "device_name": torch.cuda.get_device_name()
        if device == "cuda"
        else platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
