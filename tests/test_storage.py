import gzip
import json
from pathlib import Path

import pytest

from harness.errors import TunebenchError
from harness.storage import StudyStore, TornRecordWarning, scan_records

MANIFEST = {"spec": {"name": "s"}}


def write_records(store: StudyStore, records: list[dict]) -> None:
    with store.open_for_writing(MANIFEST):
        for record in records:
            store.append(record)


def test_append_then_read_gives_the_same_records(tmp_path: Path):
    store = StudyStore(tmp_path / "s")
    records = [{"n": i, "x": i / 3, "name": f"r{i}"} for i in range(5)]
    write_records(store, records)
    assert store.read_records() == records
    assert store.read_manifest() == MANIFEST


def test_torn_last_line_is_dropped_with_a_warning_and_cut_on_reopen(tmp_path: Path):
    store = StudyStore(tmp_path / "s")
    write_records(store, [{"n": 0}, {"n": 1}])
    with open(store.trials_path, "ab") as handle:
        handle.write(b'{"n": 2, "trunc')
    with pytest.warns(TornRecordWarning, match="line 3"):
        assert store.read_records() == [{"n": 0}, {"n": 1}]
    with pytest.warns(TornRecordWarning), store.open_for_writing(MANIFEST) as stored:
        assert stored == [{"n": 0}, {"n": 1}]
        store.append({"n": 2})
    assert store.read_records() == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_damage_in_the_middle_is_refused_with_file_and_line(tmp_path: Path):
    path = tmp_path / "trials.jsonl"
    path.write_bytes(b'{"n": 0}\n{"n": oops}\n{"n": 2}\n')
    with pytest.raises(TunebenchError, match=r"trials.jsonl, line 2: damaged record"):
        scan_records(path)


def test_damaged_manifest_is_refused(tmp_path: Path):
    store = StudyStore(tmp_path)
    store.manifest_path.write_text("{not json")
    with pytest.raises(TunebenchError, match=r"manifest\.json is damaged"):
        store.read_manifest()


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path: Path):
    first, second = StudyStore(tmp_path / "s"), StudyStore(tmp_path / "s")
    with (
        first.open_for_writing(MANIFEST),
        pytest.raises(TunebenchError, match="in use by another tunebench process"),
        second.open_for_writing(MANIFEST),
    ):
        pass
    with second.open_for_writing(MANIFEST):  # released on exit (and by the kernel on death)
        pass


def test_records_are_compact_sorted_json_lines(tmp_path: Path):
    store = StudyStore(tmp_path / "s")
    write_records(store, [{"b": 1, "a": 2}])
    assert store.trials_path.read_bytes() == b'{"a":2,"b":1}\n'
    with store.open_for_writing(MANIFEST), pytest.raises(ValueError):
        store.append({"x": float("nan")})
    assert json.loads(store.trials_path.read_bytes()) == {"a": 2, "b": 1}


def test_an_archived_study_is_read_but_not_written(tmp_path: Path):
    store = StudyStore(tmp_path / "s")
    records = [{"n": i} for i in range(3)]
    write_records(store, records)
    store.archive_path.write_bytes(gzip.compress(store.trials_path.read_bytes(), mtime=0))
    with pytest.raises(TunebenchError, match=r"both trials\.jsonl and trials\.jsonl\.gz"):
        store.read_records()
    store.trials_path.unlink()
    assert store.read_records() == records
    with pytest.raises(TunebenchError, match=r"archived .*gunzip"):
        write_records(store, [{"n": 3}])
    assert not store.trials_path.exists()
    store.archive_path.write_bytes(b"not gzip")
    with pytest.raises(TunebenchError, match=r"trials\.jsonl\.gz is damaged"):
        store.read_records()
