"""The study folder: `manifest.json` plus an append-only `trials.jsonl`, guarded by a lock.

Writes follow Optuna's journal file: each record is one `write` of compact JSON ending in a
newline, then `flush` + `fsync`, so a record reported finished survives a crash. Reading drops
an undecodable *last* line (a torn write, with a warning) and refuses damage anywhere else.
Only the driver process writes; `fcntl.flock` keeps a second process off the same study and
is released by the kernel when the holder dies, so a killed study never leaves a stale lock.

A finished study can be archived by compressing its records (`gzip -9n trials.jsonl`, as the
committed reference study is): `trials.jsonl.gz` is read like `trials.jsonl`, and a study that
holds only the archive is refused for writing until it is decompressed.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import socket
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from harness.errors import TunebenchError

MANIFEST = "manifest.json"
TRIALS = "trials.jsonl"
ARCHIVE = TRIALS + ".gz"
LOCK = ".lock"


class TornRecordWarning(UserWarning):
    """The last line of a trials file was cut off by a crash and has been dropped."""


def dump_record(record: dict[str, Any]) -> bytes:
    return (
        json.dumps(record, sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n"
    ).encode()


def write_json_atomic(path: Path, value: dict[str, Any]) -> None:
    """Write JSON to a temporary file beside `path`, fsync it, then rename it into place."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=2, sort_keys=True, allow_nan=False)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TunebenchError(f"{path} does not exist: not a tunebench study folder") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise TunebenchError(f"{path} is damaged: {error}") from None
    if not isinstance(value, dict) or "spec" not in value:
        raise TunebenchError(f"{path} is damaged: it has no 'spec'")
    return value


def scan_records(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The records in a trials file and the byte length of its intact part.

    An undecodable last line is dropped with a `TornRecordWarning`; an undecodable line with
    more lines after it raises `TunebenchError` naming the file and line.
    """
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except FileNotFoundError:
        return [], 0
    except (OSError, EOFError) as error:  # a damaged archive
        raise TunebenchError(f"{path} is damaged: {error}") from None
    *complete, tail = data.split(b"\n")
    records: list[dict[str, Any]] = []
    offset = 0
    for index, line in enumerate(complete):
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except (ValueError, UnicodeDecodeError) as error:
            if index == len(complete) - 1 and not tail:
                _warn_torn(path, index + 1, str(error))
                return records, offset
            raise TunebenchError(f"{path}, line {index + 1}: damaged record ({error})") from None
        records.append(record)
        offset += len(line) + 1
    if tail:
        _warn_torn(path, len(complete) + 1, "no newline at its end")
    return records, offset


def _warn_torn(path: Path, line: int, why: str) -> None:
    warnings.warn(
        f"{path}: dropping torn last line {line} ({why})", TornRecordWarning, stacklevel=3
    )


class StudyStore:
    """One study folder. Use `open_for_writing()` to hold the lock while appending."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.manifest_path = self.directory / MANIFEST
        self.trials_path = self.directory / TRIALS
        self.archive_path = self.directory / ARCHIVE
        self._handle: IO[bytes] | None = None

    def exists(self) -> bool:
        return self.manifest_path.exists()

    def read_manifest(self) -> dict[str, Any]:
        return read_manifest(self.directory)

    def _archived(self) -> bool:
        """True when the records are only in `trials.jsonl.gz`; both files is an error."""
        if not self.archive_path.exists():
            return False
        if self.trials_path.exists():
            raise TunebenchError(
                f"{self.directory} holds both {TRIALS} and {ARCHIVE}; keep one of them"
            )
        return True

    def read_records(self) -> list[dict[str, Any]]:
        path = self.archive_path if self._archived() else self.trials_path
        records, _ = scan_records(path)
        return records

    @contextmanager
    def open_for_writing(self, manifest: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Lock the study, write the manifest if new, cut a torn tail, yield stored records."""
        if self._archived():
            raise TunebenchError(
                f"study {self.directory} is archived ({ARCHIVE}); decompress it with "
                f"`gunzip {self.archive_path}` to resume or extend it"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(self.directory / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(lock_fd, 200, 0).decode(errors="replace").strip()
                raise TunebenchError(
                    f"study {self.directory} is in use by another tunebench process ({holder})"
                ) from None
            os.ftruncate(lock_fd, 0)
            os.pwrite(lock_fd, f"host={socket.gethostname()} pid={os.getpid()}\n".encode(), 0)
            if not self.exists():
                write_json_atomic(self.manifest_path, manifest)
            records, intact = scan_records(self.trials_path)
            self._handle = open(self.trials_path, "ab")  # noqa: SIM115 (closed below)
            if self._handle.tell() > intact:
                self._handle.truncate(intact)
                os.fsync(self._handle.fileno())
            try:
                yield records
            finally:
                self._handle.close()
                self._handle = None
        finally:
            os.close(lock_fd)

    def append(self, record: dict[str, Any]) -> None:
        """Durably append one record: one write, flush, fsync."""
        if self._handle is None:
            raise RuntimeError("append() outside open_for_writing()")
        self._handle.write(dump_record(record))
        self._handle.flush()
        os.fsync(self._handle.fileno())
