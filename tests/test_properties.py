"""Property-based tests (hypothesis) for the study-spec parser and the record store."""

import json
import tomllib
import warnings
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import TunebenchError
from harness.spec import StudySpec
from harness.storage import StudyStore, TornRecordWarning, dump_record, scan_records

FIELDS = [
    "name",
    "tasks",
    "tuners",
    "seeds",
    "n_trials",
    "n_folds",
    "max_epochs",
    "train_subsample",
    "device",
    "deterministic",
    "n_threads",
    "trial_time_limit_s",
]
toml_scalars = st.one_of(
    st.integers(-5, 50),
    st.floats(-2, 100, allow_nan=False),
    st.booleans(),
    st.text(max_size=8),
    st.sampled_from(["digits", "smac", "cpu", "auto", "../x", "a/b"]),
)
toml_values = st.one_of(toml_scalars, st.lists(toml_scalars, max_size=4))
spec_dicts = st.dictionaries(
    st.one_of(st.sampled_from(FIELDS), st.text(min_size=1, max_size=6)), toml_values, max_size=6
)


@given(spec_dicts)
@settings(max_examples=300, deadline=None)
def test_spec_parser_accepts_or_rejects_with_a_tunebench_error_only(values):
    try:
        spec = StudySpec.from_dict(values)
    except TunebenchError as error:
        assert "\n" not in str(error)
        return
    assert StudySpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert (
        spec.n_trials >= 1 and spec.n_folds >= 2 and "/" not in spec.name and ".." not in spec.name
    )


@given(spec_dicts)
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_spec_files_parse_like_dicts(tmp_path: Path, values):
    path = tmp_path / "s.toml"
    lines = [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in values.items()]
    path.write_text("\n".join(lines) + "\n")
    try:
        parsed = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError:  # JSON is not always TOML (mixed arrays are fine, though)
        return
    try:
        expected = StudySpec.from_dict(parsed)
    except TunebenchError:
        expected = None
    try:
        assert StudySpec.from_toml(path) == expected
    except TunebenchError:
        assert expected is None


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**53), 2**53),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=10,
)
records = st.lists(st.dictionaries(st.text(max_size=6), json_values, max_size=5), max_size=8)


@given(records)
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_write_then_read_gives_back_the_same_records(tmp_path_factory, values):
    store = StudyStore(tmp_path_factory.mktemp("s"))
    with store.open_for_writing({"spec": {}}):
        for record in values:
            store.append(record)
    assert store.read_records() == values


@given(records, st.data())
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_truncation_keeps_exactly_the_complete_records(tmp_path_factory, values, data):
    path = tmp_path_factory.mktemp("t") / "trials.jsonl"
    lines = [dump_record(r) for r in values]
    blob = b"".join(lines)
    cut = data.draw(st.integers(0, len(blob)))
    path.write_bytes(blob[:cut])
    n_complete = sum(1 for end in _ends(lines) if end <= cut)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kept, intact = scan_records(path)
    assert kept == values[:n_complete]
    assert intact == sum(len(line) for line in lines[:n_complete])
    torn = cut != intact
    assert torn == any(issubclass(w.category, TornRecordWarning) for w in caught)


def _ends(lines: list[bytes]) -> list[int]:
    ends, total = [], 0
    for line in lines:
        total += len(line)
        ends.append(total)
    return ends
