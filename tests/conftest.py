"""Shared fixtures. Test-only tasks are registered by importing `tests.helpers`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import REPO


def shared_data_root() -> Path | None:
    value = os.environ.get("TUNEBENCH_DATA")
    root = Path(value) if value else REPO.parent / "shared" / "data"
    if not root.is_absolute():
        root = REPO / root
    return root if root.is_dir() else None


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = shared_data_root()
    if root is None:
        pytest.skip("no data root: set TUNEBENCH_DATA or provide ../shared/data")
    return root
