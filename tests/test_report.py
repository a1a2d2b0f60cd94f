"""Reports from stored records: every figure and table, partial and tiny studies, statistics,
byte-identical rebuilds, and the page in a real headless browser.

Most studies here are synthetic: records made by `synthetic_study` and written through
`harness.storage`, so the report reads real files of every shape quickly. One test runs a small
real study through the CLI and reports it.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.analysis import load_tables
from harness.cli import main
from harness.errors import TunebenchError
from harness.records import EpochStats, FoldRecord, Status, TrialRecord
from harness.report import write_report
from harness.seeding import derive_rng
from harness.spec import StudySpec
from harness.statistics import bootstrap_mean, compare_tuners, probability_lower
from harness.storage import MANIFEST, TRIALS, dump_record, write_json_atomic
from tests.helpers import run_cli

CHROMIUM = Path("/usr/bin/chromium")
TUNER_SKILL = {"random": 0.0, "grid": -0.02, "smac": 0.04}  # higher: lower losses
REG_TYPES = ("none", "dropout", "l1", "l2")
OPT_TYPES = ("sgd", "adam", "adamw")

# ---- synthetic studies -------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """What a synthetic study holds. `metrics` maps a task to "accuracy" (loss = 1 - accuracy)
    or "rmse" (loss = RMSE). `trials_stored(task, tuner, seed)` cuts runs short (None: all);
    `fails(task, tuner, seed, number)` makes a trial CRASHED."""

    tasks: tuple[str, ...] = ("synthetic-a", "synthetic-b")
    metrics: dict[str, str] = field(
        default_factory=lambda: {"synthetic-a": "accuracy", "synthetic-b": "rmse"}
    )
    tuners: tuple[str, ...] = ("random", "grid", "smac")
    seeds: tuple[int, ...] = (0, 1, 2, 3)
    n_trials: int = 8
    n_folds: int = 2
    n_epochs: int = 3
    trials_stored: Callable[[str, str, int], int | None] = lambda task, tuner, seed: None
    fails: Callable[[str, str, int, int], bool] = lambda task, tuner, seed, number: False


def _manifest(shape: Shape, name: str) -> dict:
    spec = StudySpec(
        name=name,
        tasks=shape.tasks,
        tuners=shape.tuners,
        seeds=shape.seeds,
        n_trials=shape.n_trials,
        n_folds=shape.n_folds,
        device="cpu",
    )
    return {
        "format": 1,
        "tunebench": "0.1.0",
        "spec": spec.to_dict(),
        "datasets": {task: "synthetic" for task in shape.tasks},
        "spaces": {"image-cnn": "synthetic"},
        "tasks": {task: {"version": 1, "metric": shape.metrics[task]} for task in shape.tasks},
        "environment": {"device": "cpu", "git_commit": "synthetic"},
        "created_at": "2026-01-01T00:00:00+00:00",
    }


def _record(
    shape: Shape,
    name: str,
    kind: str,
    key: tuple[str, str, int],
    number: int,
    config: dict,
    loss: float | None,
    cv_loss: float | None = None,
) -> dict:
    task, tuner, seed = key
    metric = shape.metrics[task]
    rng = derive_rng(seed, "curve", task, tuner, number, kind)
    n_fits = 1 if kind == "test" else shape.n_folds
    folds = []
    for fold in range(n_fits if loss is not None else 0):
        fold_loss = float(loss + rng.normal(0, 0.003))
        curve = tuple(
            EpochStats(epoch, float(2.0 / epoch + rng.random() * 0.1), fold_loss * (1 + 1 / epoch))
            for epoch in range(1, shape.n_epochs + 1)
        )
        folds.append(FoldRecord(fold if kind == "trial" else -1, 7, fold_loss, {}, curve, 0.5))
    if loss is not None and folds:
        loss = float(np.mean([f.loss for f in folds]))
    value = None if loss is None else (1.0 - loss if metric == "accuracy" else loss)
    record = TrialRecord(
        kind=kind,  # type: ignore[arg-type]
        study=name,
        task=task,
        tuner=tuner,
        seed=seed,
        number=number,
        config=config,
        config_id=f"{number:04d}",
        status=Status.SUCCESS if loss is not None else Status.CRASHED,
        objective=loss,
        metrics={} if value is None else {metric: value},
        folds=tuple(folds),
        error=None if loss is not None else "RuntimeError: synthetic failure",
        started_at="2026-01-01T00:00:00.000+00:00",
        duration_s=float(0.2 + rng.random() * (3.0 if tuner == "smac" else 1.0)),
        env={"device": "cpu"},
        cv_objective=cv_loss,
    )
    return record.to_dict()


def synthetic_records(shape: Shape, name: str) -> Iterable[dict]:
    """Records in run order, as the runner writes them: each run's trials, then its test."""
    for task in shape.tasks:
        base = 0.08 if shape.metrics[task] == "accuracy" else 0.9
        for seed in shape.seeds:
            for tuner in shape.tuners:
                key = (task, tuner, seed)
                rng = derive_rng(seed, "synthetic", task, tuner)
                stored = shape.trials_stored(task, tuner, seed)
                count = shape.n_trials if stored is None else stored
                best: tuple[float, int, dict] | None = None
                for number in range(count):
                    config = {
                        "reg:type": REG_TYPES[int(rng.integers(len(REG_TYPES)))],
                        "opt:type": OPT_TYPES[int(rng.integers(len(OPT_TYPES)))],
                        "opt:lr": float(10 ** rng.uniform(-4, -1)),
                    }
                    improvement = TUNER_SKILL[tuner] * min(number, 5) / 5
                    loss = base * (1 + abs(rng.normal(0, 1.5))) - base * improvement * 3
                    loss = None if shape.fails(task, tuner, seed, number) else float(loss)
                    record = _record(shape, name, "trial", key, number, config, loss)
                    yield record
                    if loss is not None and (best is None or record["objective"] < best[0]):
                        best = (record["objective"], number, config)
                if stored is None and best is not None:
                    test_loss = best[0] * (1 + rng.normal(0.05, 0.05))
                    yield _record(shape, name, "test", key, best[1], best[2], test_loss, best[0])


def synthetic_study(directory: Path, shape: Shape | None = None, name: str = "synthetic") -> Path:
    """Write a synthetic study folder with `harness.storage`'s manifest writer and record
    encoding (all records in one write: a durable append per record is the runner's job and
    would only slow the tests); return its path."""
    shape = shape or Shape()
    directory.mkdir(parents=True)
    write_json_atomic(directory / MANIFEST, _manifest(shape, name))
    lines = b"".join(dump_record(record) for record in synthetic_records(shape, name))
    (directory / TRIALS).write_bytes(lines)
    return directory


# ---- helpers -----------------------------------------------------------------------------

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PER_TASK_FIGURES = ("anytime", "scores", "cost", "choices", "curves")
PER_TASK_TABLES = (
    "anytime-trials",
    "anytime-seconds",
    "scores",
    "incumbents",
    "cost",
    "cost-runs",
    "stability",
    "choices",
    "curves",
)


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path)


def files_of(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def linked_files(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"#][^"]*)"', html)


def check_links(out: Path) -> None:
    """Every file the page and the Markdown link to exists; nothing points outside the folder."""
    html = (out / "index.html").read_text()
    markdown = (out / "report.md").read_text()
    for link in linked_files(html) + re.findall(r"\]\(([^)#]+)\)", markdown):
        assert "://" not in link and not link.startswith("/"), link
        assert (out / link).is_file(), link


@pytest.fixture(scope="module")
def full_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("full")
    failing = {("synthetic-a", "grid", 1, 2), ("synthetic-b", "smac", 0, 0)}
    shape = Shape(fails=lambda task, tuner, seed, number: (task, tuner, seed, number) in failing)
    study = synthetic_study(root / "study", shape)
    return write_report(study)


# ---- every figure and table --------------------------------------------------------------


def test_report_writes_every_figure_and_table(full_report: Path):
    figures = {p.name for p in (full_report / "figures").iterdir()}
    expected = {"regret", "rank-over-time", "critical-difference"} | {
        f"{task}-{kind}" for task in ("synthetic-a", "synthetic-b") for kind in PER_TASK_FIGURES
    }
    assert figures == {f"{stem}.{ext}" for stem in expected for ext in ("png", "pdf")}
    for name in figures:
        data = (full_report / "figures" / name).read_bytes()
        assert data.startswith(PNG_MAGIC if name.endswith(".png") else b"%PDF-"), name
        assert len(data) > 5000, name
    tables = {p.stem for p in (full_report / "tables").iterdir()}
    assert tables == {
        "coverage",
        "failures",
        "regret-curve",
        "regret-references",
        "regret-final",
        "rank-over-time",
        "rank-test",
    } | {f"{task}-{kind}" for task in ("synthetic-a", "synthetic-b") for kind in PER_TASK_TABLES}
    html = (full_report / "index.html").read_text()
    markdown = (full_report / "report.md").read_text()
    for stem in expected:
        assert f"figures/{stem}.png" in html and f"figures/{stem}.png" in markdown
    for stem in tables:
        assert f"tables/{stem}.csv" in html and f"tables/{stem}.csv" in markdown
    check_links(full_report)


def test_html_and_markdown_carry_the_same_captions(full_report: Path):
    html = (full_report / "index.html").read_text()
    markdown = (full_report / "report.md").read_text()
    html_labels = [
        unescape(label)
        for label in re.findall(r"<strong>((?:Figure|Table) \d+\. [^<]*)</strong>", html)
    ]
    md_labels = re.findall(r"[*]{1,2}((?:Figure|Table) \d+\. [^*]*)[*]{1,2}", markdown)
    assert html_labels == md_labels and len(html_labels) > 20
    figures = re.findall(r'<figure id="figure-.*?<figcaption>(.*?)</figcaption>', html, re.S)
    assert len(figures) == 13
    for caption in figures:  # each figure says how many seeds or blocks stand behind it
        assert re.search(r"\d+ (finished )?seeds? per tuner|\d+ task x seed blocks", caption)


def test_scores_read_in_each_metrics_direction(full_report: Path):
    tables = load_tables(full_report.parent)
    assert tables.scales["synthetic-a"].label == "accuracy (higher is better)"
    assert tables.scales["synthetic-b"].label == "rmse (lower is better)"
    tests = tables.tests[tables.tests.status == "SUCCESS"]
    for task, to_score in (("synthetic-a", lambda x: 1 - x), ("synthetic-b", lambda x: x)):
        table = read_csv(full_report / "tables" / f"{task}-scores.csv").set_index("tuner")
        for tuner in ("random", "grid", "smac"):
            mine = tests[(tests.task == task) & (tests.tuner == tuner)]
            assert table.loc[tuner, "runs"] == len(mine) == 4
            assert table.loc[tuner, "test median"] == pytest.approx(
                np.median(to_score(mine.loss)), rel=1e-5
            )
            assert table.loc[tuner, "cv median"] == pytest.approx(
                np.median(to_score(mine.cv_loss)), rel=1e-5
            )
            gap = to_score(mine.loss.to_numpy()) - to_score(mine.cv_loss.to_numpy())
            assert table.loc[tuner, "gap mean"] == pytest.approx(gap.mean(), rel=1e-4, abs=1e-7)
            assert table.loc[tuner, "test ci low"] <= table.loc[tuner, "test mean"]
            assert table.loc[tuner, "test mean"] <= table.loc[tuner, "test ci high"]
    html = (full_report / "index.html").read_text()
    assert "accuracy (higher is better)" in html and "rmse (lower is better)" in html


def test_anytime_tables_are_monotone_medians_over_seeds(full_report: Path):
    for task, direction in (("synthetic-a", 1), ("synthetic-b", -1)):
        trials = read_csv(full_report / "tables" / f"{task}-anytime-trials.csv")
        for tuner, mine in trials.groupby("tuner"):
            # smac's seed-0 run on synthetic-b failed its first trial: no median until trial 2
            first = 2 if (task, tuner) == ("synthetic-b", "smac") else 1
            assert list(mine.x) == list(range(first, 9)) and (mine.runs == 4).all()
            assert (mine.q25 <= mine["median"] + 1e-12).all()
            assert (mine["median"] <= mine.q75 + 1e-12).all()
            assert (direction * np.diff(mine["median"]) >= -1e-12).all()  # incumbents improve
        seconds = read_csv(full_report / "tables" / f"{task}-anytime-seconds.csv")
        assert (np.diff(seconds[seconds.tuner == "smac"].x) > 0).all()
        assert set(seconds.tuner) == {"random", "grid", "smac"}


def test_cost_to_target_marks_runs_that_never_reach_it(full_report: Path):
    runs = read_csv(full_report / "tables" / "synthetic-a-cost-runs.csv")
    assert len(runs) == 12
    assert runs.reached.any()  # the run that found the best reached it
    never = runs[~runs.reached]
    assert never["seconds to target"].isna().all() and never["trials to target"].isna().all()
    summary = read_csv(full_report / "tables" / "synthetic-a-cost.csv").set_index("tuner")
    for tuner, mine in runs.groupby("tuner"):
        assert summary.loc[tuner, "reached"] == mine.reached.sum()
        assert summary.loc[tuner, "compute s total"] == pytest.approx(mine.compute_s.sum(), 1e-5)
    shown = (full_report / "report.md").read_text()
    assert re.search(r"\| random \| 4 \| [\d.]+ \| [\d.]+ \| \d of 4 \|", shown)


def test_failed_trials_are_counted_per_tuner(full_report: Path):
    failures = read_csv(full_report / "tables" / "failures.csv")
    failed = failures.set_index(["task", "tuner"]).failed
    assert failed[("synthetic-a", "grid")] == 1 and failed[("synthetic-b", "smac")] == 1
    assert failed.sum() == 2
    assert failures.CRASHED.sum() == 2


def test_choices_count_the_finished_runs_incumbents(full_report: Path):
    choices = read_csv(full_report / "tables" / "synthetic-a-choices.csv")
    tables = load_tables(full_report.parent)
    tests = tables.tests[tables.tests.task == "synthetic-a"]
    for key in ("reg:type", "opt:type"):
        mine = choices[choices.key == key]
        for tuner, group in mine.groupby("tuner"):
            assert group["count"].sum() == 4
            expected = tests[tests.tuner == tuner][key].value_counts()
            got = group.set_index("value")["count"]
            assert got[got > 0].sort_index().to_dict() == expected.sort_index().to_dict()
    curves = read_csv(full_report / "tables" / "synthetic-a-curves.csv")
    assert len(curves) == 3 * 4 * 3  # tuners x seeds x epochs


def test_across_tasks_regret_ranks_and_friedman(full_report: Path):
    final = read_csv(full_report / "tables" / "regret-final.csv").set_index("tuner")
    assert (final.runs == 8).all()  # 2 tasks x 4 seeds
    assert final.loc["random", "regret median"] <= 1.5
    assert (final["regret mean"] >= 0).all()
    assert final.loc["smac", "regret mean"] < final.loc["grid", "regret mean"]
    curve = read_csv(full_report / "tables" / "regret-curve.csv")
    assert set(curve.trial) == set(range(1, 9))
    ranks = read_csv(full_report / "tables" / "rank-over-time.csv")
    per_trial = ranks.groupby("trial")["mean rank"].sum()
    assert np.allclose(per_trial, 6.0)  # ranks 1 + 2 + 3 in every block
    test = read_csv(full_report / "tables" / "rank-test.csv")
    assert set(test.columns) >= {"tuner", "mean rank", "p vs random", "p vs grid", "p vs smac"}
    assert test["mean rank"].sum() == pytest.approx(6.0)
    html = (full_report / "index.html").read_text()
    assert "Friedman + Nemenyi over 8 task x seed blocks" in html


# ---- partial, tiny and empty studies ----------------------------------------------------


def _cut(task: str, tuner: str, seed: int) -> int | None:
    if (tuner, seed) == ("smac", 2):
        return 0  # missing
    if (tuner, seed) == ("grid", 1):
        return 3  # unfinished
    return None


def test_partial_study_lists_what_is_missing(tmp_path: Path):
    def fails(task: str, tuner: str, seed: int, number: int) -> bool:
        return (tuner, seed) == ("random", 0)  # every trial fails: no incumbent

    shape = Shape(tasks=("synthetic-a",), seeds=(0, 1, 2), trials_stored=_cut, fails=fails)
    out = write_report(synthetic_study(tmp_path / "study", shape), tmp_path / "report")
    coverage = read_csv(out / "tables" / "coverage.csv").set_index(["tuner", "seed"])
    assert coverage.loc[("smac", 2), "state"] == "missing"
    assert coverage.loc[("grid", 1), "state"] == "unfinished"
    assert coverage.loc[("grid", 1), "trials"] == 3
    assert coverage.loc[("random", 0), "state"] == "no incumbent"
    assert coverage.loc[("random", 0), "failed trials"] == 8
    assert (coverage.state == "complete").sum() == 6
    markdown = (out / "report.md").read_text()
    assert "Runs without a test score (3)" in markdown
    assert "synthetic-a / smac / seed 2: missing" in markdown
    assert "synthetic-a / grid / seed 1: unfinished (3 of 8 trials)" in markdown
    assert "| synthetic-a | grid | complete | 3 trials | complete |" in markdown
    anytime = read_csv(out / "tables" / "synthetic-a-anytime-trials.csv")
    grid = anytime[anytime.tuner == "grid"].set_index("x").runs
    assert grid[3.0] == 3 and grid[4.0] == 2  # the unfinished run stops at its last trial
    assert read_csv(out / "tables" / "failures.csv").set_index("tuner").failed["random"] == 8
    check_links(out)


def test_one_tuner_says_what_it_cannot_compare(tmp_path: Path):
    task = "image/synthetic-a"  # registry names hold a slash; file names must not
    shape = Shape(tasks=(task,), metrics={task: "accuracy"}, tuners=("smac",), seeds=(0, 1, 2))
    out = write_report(synthetic_study(tmp_path / "study", shape))
    markdown = (out / "report.md").read_text()
    assert "Normalised regret needs the 'random' tuner" in markdown
    assert "Ranks over time need at least two tuners" in markdown
    assert "A comparison of tuners needs at least two tuners" in markdown
    assert "needs the random tuner" in markdown
    assert not (out / "figures" / "critical-difference.png").exists()
    assert (out / "figures" / "image-synthetic-a-anytime.png").exists()
    assert "Task image/synthetic-a" in markdown
    check_links(out)


def test_two_tuners_are_compared_by_wilcoxon(tmp_path: Path):
    shape = Shape(tuners=("random", "smac"), seeds=(0, 1, 2))
    out = write_report(synthetic_study(tmp_path / "study", shape))
    markdown = (out / "report.md").read_text()
    assert "Wilcoxon signed-rank over 6 task x seed blocks" in markdown
    assert not (out / "figures" / "critical-difference.png").exists()
    assert (out / "figures" / "regret.png").exists()


def test_one_seed_gives_no_interval_but_a_report(tmp_path: Path):
    shape = Shape(tasks=("synthetic-a",), seeds=(5,))
    out = write_report(synthetic_study(tmp_path / "study", shape))
    scores = read_csv(out / "tables" / "synthetic-a-scores.csv")
    assert scores["test ci low"].isna().all() and (scores.runs == 1).all()
    markdown = (out / "report.md").read_text()
    assert "(n=1, no CI)" in markdown
    assert "A comparison of tuners needs at least two task x seed blocks" in markdown
    stability = read_csv(out / "tables" / "synthetic-a-stability.csv").set_index("tuner")
    assert stability.loc["smac", "pairs"] == 1
    check_links(out)


def test_study_without_records_reports_coverage_only(tmp_path: Path):
    shape = Shape(tasks=("synthetic-a",), seeds=(0,), trials_stored=lambda *key: 0)
    out = write_report(synthetic_study(tmp_path / "study", shape))
    coverage = read_csv(out / "tables" / "coverage.csv")
    assert (coverage.state == "missing").all() and len(coverage) == 3
    assert "0 of 3 planned runs are complete" in (out / "index.html").read_text()
    check_links(out)


def test_report_refuses_a_folder_that_is_not_a_report(tmp_path: Path):
    study = synthetic_study(tmp_path / "study", Shape(tasks=("synthetic-a",), seeds=(0,)))
    with pytest.raises(TunebenchError, match="not part of a tunebench report"):
        write_report(study, study)
    out = write_report(study, tmp_path / "report")
    (out / "figures" / "stale.png").write_bytes(b"old")
    write_report(study, out)
    assert not (out / "figures" / "stale.png").exists()


def test_report_of_a_missing_folder_is_a_one_line_error(tmp_path: Path, capsys):
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert "not a tunebench study folder" in capsys.readouterr().err


# ---- statistics --------------------------------------------------------------------------


def test_bootstrap_is_seeded_by_its_key():
    values = np.array([0.1, 0.4, 0.35, 0.2, 0.9, 0.5])
    first, again = bootstrap_mean(values, "t", "a"), bootstrap_mean(values, "t", "a")
    other = bootstrap_mean(values, "t", "b")
    assert first == again
    assert (first.low, first.high) != (other.low, other.high)
    assert first.low < values.mean() < first.high
    assert math.isnan(bootstrap_mean(values[:2], "t").low)
    assert bootstrap_mean([], "t").n == 0


def test_probability_of_beating_counts_pairs_and_ties():
    assert probability_lower(np.array([0.1, 0.2]), np.array([0.15, 0.3, 0.2])) == (0.75, 6)
    assert probability_lower(np.array([0.5]), np.array([0.5])) == (0.5, 1)
    assert math.isnan(probability_lower(np.array([]), np.array([0.1]))[0])


def test_tuner_comparison_finds_a_clear_winner():
    rng = np.random.default_rng(0)
    base = rng.random(30)
    losses = pd.DataFrame({"random": base + 0.3, "grid": base + 0.31, "smac": base})
    result = compare_tuners(losses)
    assert result.test == "Friedman + Nemenyi" and result.p_value < 1e-6
    assert result.mean_ranks["smac"] == 1.0
    assert result.pairwise_p is not None and result.pairwise_p.loc["smac", "random"] < 0.05
    assert result.critical_difference == pytest.approx(2.343 * math.sqrt(12 / 180), rel=1e-3)
    tied = compare_tuners(pd.DataFrame({"a": [1.0, 2.0], "b": [1.0, 2.0], "c": [1.0, 2.0]}))
    assert not tied.done and "equal scores" in (tied.note or "")


# ---- reproducibility ---------------------------------------------------------------------


def test_two_report_commands_give_byte_identical_files(tmp_path: Path):
    shape = Shape(tasks=("synthetic-a",), seeds=(0, 1, 2))
    study = synthetic_study(tmp_path / "study", shape)
    outputs = []
    for index, hash_seed in enumerate(("1", "2")):
        out = tmp_path / f"report-{index}"
        result = run_cli("report", str(study), "--out", str(out), env={"PYTHONHASHSEED": hash_seed})
        assert result.returncode == 0, result.stderr
        assert f"report: {out / 'index.html'}" in result.stdout
        outputs.append(files_of(out))
    assert outputs[0].keys() == outputs[1].keys() and len(outputs[0]) > 30
    different = [name for name in outputs[0] if outputs[0][name] != outputs[1][name]]
    assert different == []
    pdf = outputs[0]["figures/regret.pdf"]
    assert b"CreationDate" not in pdf and b"Matplotlib" not in pdf
    assert b"Software" not in outputs[0]["figures/regret.png"]
    assert not any(str(tmp_path).encode() in data for data in outputs[0].values())


# ---- a small real study, run and reported by the CLI -------------------------------------


@pytest.fixture(scope="module")
def real_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("real")
    result = run_cli(
        "run",
        "--study",
        "real",
        "--tasks",
        "digits",
        "--seeds",
        "0,1",
        "--n-trials",
        "3",
        "--n-folds",
        "2",
        "--max-epochs",
        "2",
        "--train-subsample",
        "300",
        "--device",
        "cpu",
        "--no-progress",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert f"report: {out / 'real' / 'report' / 'index.html'}" in result.stdout
    return out / "real"


def test_run_writes_the_report_of_a_real_study(real_study: Path):
    report = real_study / "report"
    check_links(report)
    scores = read_csv(report / "tables" / "digits-scores.csv")
    assert list(scores.tuner) == ["random", "grid", "smac"] and (scores.runs == 2).all()
    assert ((scores["test median"] > 0) & (scores["test median"] <= 1)).all()
    with open(report / "tables" / "coverage.csv", newline="") as handle:
        assert {row["state"] for row in csv.DictReader(handle)} == {"complete"}
    assert "digits: accuracy (higher is better)" in (report / "report.md").read_text()
    curves = read_csv(report / "tables" / "digits-curves.csv")
    assert set(curves.epoch) == {1, 2} and len(curves) == 3 * 2 * 2


def test_run_with_no_report_writes_none(tmp_path: Path):
    result = run_cli(
        "run",
        "--study",
        "quiet",
        "--tasks",
        "test-synthetic",
        "--tuners",
        "random",
        "--seeds",
        "0",
        "--n-trials",
        "2",
        "--device",
        "cpu",
        "--no-progress",
        "--no-report",
        "--out",
        str(tmp_path),
        env={"TUNEBENCH_PLUGINS": "tests.helpers"},
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "quiet" / "trials.jsonl").exists()
    assert not (tmp_path / "quiet" / "report").exists() and "report:" not in result.stdout


# ---- the page in a real browser ----------------------------------------------------------

PROBE = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const broken = images.filter((img) => !(img.complete && img.naturalWidth > 0));
  const result = document.createElement("pre");
  result.id = "tunebench-probe";
  result.textContent = `images=${images.length} broken=${broken.map((i) => i.src).join(",")}`;
  document.body.appendChild(result);
});
</script>"""

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install)"
)
def test_page_loads_in_a_headless_browser_with_every_image(full_report: Path, tmp_path: Path):
    page = tmp_path / "page"
    shutil.copytree(full_report, page)
    probed = page / "probe.html"
    probed.write_text((page / "index.html").read_text().replace("</body>", PROBE + "</body>"))
    dom = _chromium(
        tmp_path / "profile",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=10000",
        "--dump-dom",
        probed.as_uri(),
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = re.search(r'id="tunebench-probe">images=(\d+) broken=([^<]*)<', dom.stdout)
    assert found, dom.stdout[-2000:]
    assert int(found.group(1)) == 13 and found.group(2) == "", found.group(0)
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert console == [], console
    (page / "figures" / "regret.png").unlink()  # the probe must notice a missing image
    dom = _chromium(
        tmp_path / "profile", "--virtual-time-budget=10000", "--dump-dom", probed.as_uri()
    )
    assert re.search(r"broken=file://[^<]*/figures/regret\.png<", dom.stdout), dom.stdout[-500:]
    shutil.copy(full_report / "figures" / "regret.png", page / "figures" / "regret.png")
    shot = tmp_path / "report-screenshot.png"
    _chromium(
        tmp_path / "profile",
        "--window-size=1200,3000",
        "--hide-scrollbars",
        f"--screenshot={shot}",
        (page / "index.html").as_uri(),
    )
    assert shot.read_bytes().startswith(PNG_MAGIC)
    print(f"screenshot: {shot} sha256 {hashlib.sha256(shot.read_bytes()).hexdigest()[:12]}")
