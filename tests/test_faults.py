"""Reliability (DESIGN §5-§6): failing trials, damaged files and bad input never lose records."""

import json
from pathlib import Path

import pytest

from harness.records import Status
from harness.runner import prepare, run_study
from harness.spec import StudySpec
from tests.helpers import run_cli


def test_each_failure_kind_is_stored_and_the_study_goes_on(tmp_path: Path):
    spec = StudySpec(
        name="f",
        tasks=("test-faulty",),
        tuners=("random", "smac"),
        seeds=(0,),
        n_trials=24,
        n_folds=2,
        device="cpu",
        trial_time_limit_s=0.5,
    )
    records = run_study(prepare(spec, tmp_path), tmp_path / "f", progress=False)
    trials = [r for r in records if r.kind == "trial"]
    assert len(trials) == 48

    def kind(r):
        return "sgd" if r.config["opt:type"] == "sgd" else r.config["reg:type"]

    expected = {
        "sgd": (Status.CRASHED, "ValueError: boom"),
        "l1": (Status.OOM, "can't allocate"),
        "l2": (Status.CRASHED, "objective is inf"),
        "dropout": (Status.TIMEOUT, "TrialTimeoutError"),
        "none": (Status.SUCCESS, None),
    }
    seen = set()
    for r in trials:
        status, message = expected[kind(r)]
        assert r.status is status, (kind(r), r.error)
        seen.add(kind(r))
        if message is None:
            assert r.error is None and r.objective is not None
        else:
            assert message in r.error and r.objective is None and r.duration_s >= 0
    assert seen == set(expected)
    timeouts = [r for r in trials if r.status is Status.TIMEOUT]
    assert all(0.5 <= r.duration_s < 1.5 for r in timeouts)
    assert all(r.status is Status.SUCCESS for r in records if r.kind == "test")
    stored = [
        json.loads(line) for line in (tmp_path / "f" / "trials.jsonl").read_text().splitlines()
    ]
    assert len(stored) == len(records)


def _small_study(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    result = run_cli("run", *STUDY_ARGS, "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out / "s"


STUDY_ARGS = [
    "--tasks",
    "test-synthetic",
    "--tuners",
    "random",
    "--seeds",
    "0",
    "--n-trials",
    "4",
    "--n-folds",
    "2",
    "--study",
    "s",
    "--no-progress",
    "--no-report",
]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.name != ".lock"}


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("middle", r"trials.jsonl, line 2: damaged record"),
        ("manifest", r"manifest.json is damaged"),
        ("other-study", r"trials.jsonl, record 1: belongs to study 'elsewhere', not 's'"),
        ("not-a-record", r"trials.jsonl, record 1: not a tunebench record"),
    ],
)
def test_damaged_files_are_refused_in_one_line_and_left_untouched(tmp_path: Path, damage, message):
    folder = _small_study(tmp_path)
    trials, manifest = folder / "trials.jsonl", folder / "manifest.json"
    lines = trials.read_bytes().splitlines(keepends=True)
    if damage == "middle":
        trials.write_bytes(lines[0] + b'{"broken\n' + b"".join(lines[1:]))
    elif damage == "manifest":
        manifest.write_bytes(manifest.read_bytes()[:40])
    elif damage == "other-study":
        record = json.loads(lines[0])
        trials.write_bytes(
            json.dumps({**record, "study": "elsewhere"}).encode() + b"\n" + b"".join(lines[1:])
        )
    else:
        trials.write_bytes(b'{"hello": 1}\n' + b"".join(lines[1:]))
    before = _snapshot(folder)
    result = run_cli("run", *STUDY_ARGS, "--out", str(folder.parent))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert __import__("re").search(message, result.stderr), result.stderr
    assert _snapshot(folder) == before


def test_torn_last_line_is_dropped_with_a_warning_and_the_study_completes(tmp_path: Path):
    folder = _small_study(tmp_path)
    complete = (folder / "trials.jsonl").read_bytes()
    lines = complete.splitlines(keepends=True)
    (folder / "trials.jsonl").write_bytes(b"".join(lines[:-2]) + lines[-2][:30])
    result = run_cli("run", *STUDY_ARGS, "--out", str(folder.parent))
    assert result.returncode == 0
    assert "dropping torn last line" in result.stderr
    strip = [
        {k: v for k, v in json.loads(x).items() if k not in ("started_at", "duration_s")}
        for x in (folder / "trials.jsonl").read_bytes().splitlines()
    ]
    expected = [
        {k: v for k, v in json.loads(x).items() if k not in ("started_at", "duration_s")}
        for x in complete.splitlines()
    ]
    for record in strip + expected:
        for fold in record["folds"]:
            fold.pop("duration_s")
    assert strip == expected


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('tasks = ["digits"]\nbudget = 3\n', "unknown key 'budget'"),
        ('n_trials = "ten"\n', "n_trials must be int, got 'ten'"),
        ("n_trials = 0\n", "n_trials must be at least 1, got 0"),
        ("n_folds = 1\n", "n_folds must be at least 2"),
        ('tasks = ["nope"]\n', "unknown task 'nope'"),
        ('tuners = ["smak"]\n', "unknown tuner 'smak'; did you mean smac?"),
        ('name = "../x"\n', "name must be"),
        ('name = "a/b"\n', "name must be"),
        ("trial_time_limit_s = -1\n", "trial_time_limit_s must be positive"),
        ("seeds = [1, 1]\n", "seeds has duplicates"),
        ("n_trials = \n", "is not valid TOML"),
    ],
)
def test_bad_study_files_name_the_field_exit_2_and_write_nothing(tmp_path: Path, content, message):
    path = tmp_path / "study.toml"
    path.write_text(content)
    out = tmp_path / "out"
    result = run_cli("run", "--spec", str(path), "--out", str(out), "--no-progress")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert not out.exists()


def test_unknown_search_space_of_a_task_is_a_one_line_error(tmp_path: Path, monkeypatch):
    from harness.errors import TunebenchError
    from harness.registry import SPACES

    monkeypatch.delitem(SPACES, "image-cnn")
    spec = StudySpec(name="x", tasks=("digits",), device="cpu")
    with pytest.raises(TunebenchError, match="unknown search space 'image-cnn'"):
        prepare(spec, tmp_path)
