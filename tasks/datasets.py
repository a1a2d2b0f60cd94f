"""Finding dataset files under the data root, and downloading them where the machine is online.

A `RemoteFile` names a file of a dataset's official layout under the data root, the URL it comes
from and the sha256 of its content (after gunzip, where the download is gzipped). A
`RemoteArchive` is a zip download whose members land at given paths under the data root; it is
checked by the sha256 of the extracted members' contents concatenated in the order given.
Downloads go to temporary files beside their targets, are checked, then renamed into place, so
an interrupted or corrupted download never leaves a half-written file behind.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import TunebenchError

DATA_SEED = 20240901  # fixes outer splits made by tunebench; never derived from a run seed
DATA_ROOT_ENV = "TUNEBENCH_DATA"
DEFAULT_DATA_ROOT = Path("~/.cache/tunebench/data").expanduser()
DOWNLOAD_TIMEOUT_S = 60


@dataclass(frozen=True)
class RemoteFile:
    path: str  # relative to the data root, in the dataset's official layout
    url: str
    sha256: str  # of the file's content as stored (after gunzip when `gzipped`)
    gzipped: bool = False


@dataclass(frozen=True)
class RemoteArchive:
    url: str
    members: tuple[tuple[str, str], ...]  # (path under the data root, name inside the zip)
    sha256: str  # of the members' contents concatenated in this order


def resolve_data_root(value: str | Path | None) -> Path:
    """The data root: the given value, else $TUNEBENCH_DATA, else ~/.cache/tunebench/data."""
    if value is None:
        value = os.environ.get(DATA_ROOT_ENV) or DEFAULT_DATA_ROOT
        if Path(value) == DEFAULT_DATA_ROOT:
            return DEFAULT_DATA_ROOT
    root = Path(value).expanduser()
    if not root.is_dir():
        raise TunebenchError(
            f"data root {root} does not exist; pass --data-root or set {DATA_ROOT_ENV}"
        )
    return root


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _missing(dataset: str, data_root: Path, target: Path, error: OSError) -> TunebenchError:
    return TunebenchError(
        f"{dataset}: {target} is missing and downloading it failed ({error}); "
        f"put the dataset under the data root {data_root} or set {DATA_ROOT_ENV}"
    )


def ensure_files(data_root: Path, files: tuple[RemoteFile, ...], dataset: str) -> None:
    """Download whichever of `files` is missing under `data_root`, verifying each checksum."""
    for remote in files:
        target = data_root / remote.path
        if target.exists():
            continue
        try:
            download(remote, target)
        except OSError as error:
            raise _missing(dataset, data_root, target, error) from None


def ensure_archive(data_root: Path, archive: RemoteArchive, dataset: str) -> None:
    """Download and unpack `archive` unless all its members are already under `data_root`."""
    targets = [data_root / path for path, _ in archive.members]
    missing = [t for t in targets if not t.exists()]
    if not missing:
        return
    data_root.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(dir=data_root, prefix=".download-") as staging:
            zipped = Path(staging) / "archive.zip"
            with (
                urllib.request.urlopen(archive.url, timeout=DOWNLOAD_TIMEOUT_S) as response,
                open(zipped, "wb") as handle,
            ):
                shutil.copyfileobj(response, handle)
            digest = hashlib.sha256()
            staged = []
            with zipfile.ZipFile(zipped) as bundle:
                for index, (_, member) in enumerate(archive.members):
                    content = bundle.read(member)
                    digest.update(content)
                    staged.append(Path(staging) / f"member-{index}")
                    staged[-1].write_bytes(content)
            if digest.hexdigest() != archive.sha256:
                raise TunebenchError(
                    f"{dataset}: checksum mismatch for {archive.url}: expected {archive.sha256}, "
                    f"got {digest.hexdigest()}; nothing was kept"
                )
            for source, target in zip(staged, targets, strict=True):
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, target)
    except (OSError, KeyError, zipfile.BadZipFile) as error:
        raise _missing(dataset, data_root, missing[0], OSError(str(error))) from None


def download(remote: RemoteFile, target: Path) -> None:
    """Fetch `remote` to `target` through a checked temporary file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(remote.url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            stream = gzip.GzipFile(fileobj=response) if remote.gzipped else response
            with open(partial, "wb") as handle:
                shutil.copyfileobj(stream, handle)
        actual = sha256_of(partial)
        if actual != remote.sha256:
            raise TunebenchError(
                f"checksum mismatch for {remote.url}: expected {remote.sha256}, got {actual}; "
                "nothing was kept"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def fingerprint(*arrays: np.ndarray) -> str:
    """A short sha256 of arrays' dtypes, shapes and bytes: the dataset hash in the manifest."""
    digest = hashlib.sha256()
    for array in arrays:
        contiguous = np.ascontiguousarray(array)
        digest.update(str((contiguous.dtype.str, contiguous.shape)).encode())
        digest.update(contiguous.tobytes())
    return digest.hexdigest()[:16]
