"""The report's sections: coverage, the comparison across tasks, and one part per task.

Each builder draws its figures into the figures folder and returns `Section`s whose captions say
what is shown, in which direction scores read, and how many seeds stand behind it. Statistics
that the study is too small for become notes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness import figures
from harness.analysis import CHOICE_KEYS, StudyTables
from harness.anytime import (
    REFERENCE_TUNER,
    cost_to_target,
    incumbent_traces,
    normalised_regret,
    ranks_over_trials,
    regret_curve,
    score_over_seconds,
    score_over_trials,
    trace_grid,
)
from harness.coverage import COMPLETE, failures_by_tuner, finished_runs, run_coverage
from harness.report_document import FigureItem, Item, NoteItem, Section, TableItem
from harness.report_tables import (
    choice_counts,
    choices_table,
    cost_table,
    fmt,
    incumbent_scores,
    rank_test_table,
    regret_table,
    scores_table,
    stability_table,
)
from harness.statistics import ALPHA, compare_tuners

TARGET_FRACTION = 0.99


@dataclass(frozen=True, eq=False)
class Derived:
    """What the sections share, computed once from the stored tables."""

    tables: StudyTables
    coverage: pd.DataFrame
    finished: set[tuple[str, str, int]]
    traces: pd.DataFrame
    grid: pd.DataFrame
    scores: pd.DataFrame
    cost: pd.DataFrame


def derive(tables: StudyTables) -> Derived:
    coverage = run_coverage(tables)
    finished = finished_runs(coverage)
    traces = incumbent_traces(tables)
    return Derived(
        tables=tables,
        coverage=coverage,
        finished=finished,
        traces=traces,
        grid=trace_grid(traces, finished, tables.n_trials),
        scores=incumbent_scores(tables),
        cost=cost_to_target(traces, tables, finished, TARGET_FRACTION),
    )


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "x"


def seeds_phrase(frame: pd.DataFrame, tuners: tuple[str, ...], what: str = "seeds") -> str:
    """'3 seeds per tuner' or 'seeds per tuner: random 3, smac 2'."""
    counts = [int(frame[frame.tuner == t].seed.nunique()) for t in tuners]
    if len(set(counts)) == 1:
        return f"{counts[0]} {what} per tuner" if len(tuners) > 1 else f"{counts[0]} {what}"
    return f"{what} per tuner: " + ", ".join(
        f"{t} {n}" for t, n in zip(tuners, counts, strict=True)
    )


def _figure(draw, directory: Path, stem: str, title: str, caption: str, alt: str) -> FigureItem:
    figures.save_figure(draw, directory, stem)
    return FigureItem(stem, title, caption, alt)


def _coverage_display(coverage: pd.DataFrame, seeds: tuple[int, ...]) -> pd.DataFrame:
    def cell(row: pd.Series) -> str:
        text = row.state if row.state != "unfinished" else f"{row.trials} trials"
        return f"{text}, {row['failed trials']} failed" if row["failed trials"] else text

    rows = []
    for (task, tuner), group in coverage.groupby(["task", "tuner"], sort=False):
        by_seed = {int(r.seed): cell(r) for _, r in group.iterrows()}
        rows.append({"task": task, "tuner": tuner, **{f"seed {s}": by_seed[s] for s in seeds}})
    return pd.DataFrame(rows, columns=["task", "tuner", *(f"seed {s}" for s in seeds)])


def coverage_section(derived: Derived) -> Section:
    tables, coverage = derived.tables, derived.coverage
    n_complete = int((coverage.state == COMPLETE).sum())
    items: list[Item] = [
        TableItem(
            "coverage",
            "Coverage: task x tuner x seed",
            f"State of every run the spec plans ({tables.n_trials} trials each): 'complete' "
            "(incumbent scored on the test part), 'N trials' (unfinished: trials stored so "
            "far), 'no incumbent' (every trial failed), 'missing' (nothing stored); failed "
            "trials are counted per run.",
            coverage,
            _coverage_display(coverage, tables.seeds),
        ),
        TableItem(
            "failures",
            "Failed trials per tuner",
            "Trials stored and failed per task and tuner, by status, and test fits that "
            "failed. A failed trial costs its compute time and is told to the tuner as the "
            "task's worst loss.",
            failures_by_tuner(tables),
            failures_by_tuner(tables).astype(str),
        ),
    ]
    incomplete = coverage[coverage.state != COMPLETE]
    if len(incomplete):
        listed = "; ".join(
            f"{r.task} / {r.tuner} / seed {r.seed}: {r.state}"
            + (f" ({r.trials} of {tables.n_trials} trials)" if r.state == "unfinished" else "")
            for r in incomplete.itertuples(index=False)
        )
        items.append(NoteItem(f"Runs without a test score ({len(incomplete)}): {listed}."))
    return Section(
        "Coverage",
        "coverage",
        2,
        f"{n_complete} of {len(coverage)} planned runs are complete.",
        tuple(items),
    )


def across_section(derived: Derived, directory: Path) -> Section:
    tables = derived.tables
    tuners = tables.tuners
    items: list[Item] = []
    regret = normalised_regret(derived.grid, tables)
    ranks = ranks_over_trials(derived.grid, tuners)
    items += [NoteItem(note) for note in regret.notes]
    n_tasks = len(regret.references)
    if len(regret.values):
        curve = regret_curve(regret.values, tuners)
        seeds = seeds_phrase(derived.traces, tuners)
        items.append(
            _figure(
                lambda: figures.regret_figure(curve, tuners),
                directory,
                "regret",
                "Normalised regret over the budget",
                f"Incumbent CV loss rescaled per task so that 0 is the best loss any run found "
                f"and 1 is the median final loss of random search (as in bayesmark); line: mean "
                f"over {n_tasks} task(s) x their seeds (per task, {seeds}), band: 95% "
                "bootstrap CI (percentile, fixed seed). Lower is better; "
                "the axis is cut at 3.",
                "Line chart of mean normalised regret against trials for each tuner.",
            )
        )
        items.append(
            TableItem(
                "regret-curve",
                "Normalised regret per budget",
                "The data behind the regret figure.",
                curve,
                None,
            )
        )
        items.append(
            TableItem(
                "regret-references",
                "Regret references",
                "Per task: the best CV loss any run found (regret 0) and the median final "
                "CV loss of random search (regret 1), in loss units (lower is better).",
                regret.references,
                regret.references.map(lambda v: v if isinstance(v, str) else fmt(v)),
            )
        )
    items.append(
        TableItem(
            "regret-final",
            "Regret and rank at the full budget",
            "Per tuner: normalised regret of the final incumbent (mean over task x seed runs "
            "with a 95% bootstrap CI, fixed seed; no CI under 3 runs) and its mean rank among "
            "the tuners by CV loss (1 = best; only blocks where every tuner has an incumbent).",
            *_as_pair(regret_table(regret, ranks, tables)),
        )
    )
    if len(ranks):
        blocks = int(ranks.blocks.max())
        items.append(
            _figure(
                lambda: figures.rank_figure(ranks, tuners),
                directory,
                "rank-over-time",
                "Mean rank over the budget",
                f"Each tuner's rank by incumbent CV loss after each trial (1 = best, ties "
                f"share the mean rank), averaged over up to {blocks} task x seed blocks in "
                "which every tuner has an incumbent.",
                "Line chart of mean rank against trials for each tuner.",
            )
        )
        items.append(
            TableItem(
                "rank-over-time", "Mean rank per budget", "The data behind the figure.", ranks, None
            )
        )
    elif len(tuners) < 2:
        items.append(NoteItem("Ranks over time need at least two tuners."))
    items += _rank_test_items(derived, directory)
    return Section(
        "Across tasks",
        "across-tasks",
        2,
        f"{len(tables.tasks)} task(s), {len(tuners)} tuner(s): {', '.join(tuners)}.",
        tuple(items),
    )


def _as_pair(table) -> tuple[pd.DataFrame, pd.DataFrame]:
    return table.data, table.display


def _rank_test_items(derived: Derived, directory: Path) -> list[Item]:
    tables = derived.tables
    tests = tables.tests[tables.tests.status == "SUCCESS"]
    losses = tests.pivot_table(index=["task", "seed"], columns="tuner", values="loss")
    losses = losses.reindex(columns=[t for t in tables.tuners if t in losses.columns])
    result = compare_tuners(losses)
    if not result.done:
        return [NoteItem(f"Tuner comparison on tuned test scores: {result.note}")]
    summary = (
        f"{result.test} over {result.blocks} task x seed blocks (tuned test loss, lower rank "
        f"is better): statistic {result.statistic:.3f}, p = {result.p_value:.3g}. The seeds "
        "of one task share its data and are not independent blocks, so p-values are optimistic."
    )
    items: list[Item] = []
    if result.pairwise_p is not None:
        items.append(
            _figure(
                lambda: figures.critical_difference_figure(result, tables.tuners),
                directory,
                "critical-difference",
                "Critical-difference diagram",
                f"Mean rank of each tuner's tuned test score over {result.blocks} task x seed "
                f"blocks (1 = best). {summary} Tuners joined by a bar are not significantly "
                f"different by the Nemenyi test at alpha {ALPHA}; the CD bar is the critical "
                f"difference ({result.critical_difference:.3f}).",
                "Critical-difference diagram of the tuners' mean ranks.",
            )
        )
    items.append(
        TableItem(
            "rank-test",
            "Ranks of tuned test scores",
            summary
            + (" Pairwise p-values by the Nemenyi test." if result.pairwise_p is not None else ""),
            *_as_pair(rank_test_table(result, tables)),
        )
    )
    return items


def task_sections(derived: Derived, task: str, directory: Path) -> list[Section]:
    tables = derived.tables
    tuners, scale = tables.tuners, tables.scales[task]
    name = slug(task)
    traces = derived.traces[derived.traces.task == task]
    grid = derived.grid[derived.grid.index.get_level_values("task") == task]
    over_trials = score_over_trials(grid, tables)
    over_seconds = score_over_seconds(traces, derived.finished, tables)
    scores = derived.scores[derived.scores.task == task]
    cost = derived.cost[derived.cost.task == task]
    runs_phrase = seeds_phrase(traces, tuners)
    test_phrase = seeds_phrase(scores, tuners, "finished seeds")
    anytime = [
        _figure(
            lambda: figures.anytime_figure(scale, over_trials, over_seconds, tuners),
            directory,
            f"{name}-anytime",
            "Anytime performance",
            f"Incumbent CV {scale.label} after each trial (left) and against cumulative compute "
            f"seconds, log scale (right). Line: median over seeds; band: inter-quartile range; "
            f"{runs_phrase}. An unfinished run counts only up to its last stored trial; no median "
            "is drawn where some run has no incumbent yet.",
            f"Step plots of the incumbent CV {scale.name} of each tuner on {task}.",
        ),
        TableItem(
            f"{name}-anytime-trials",
            "Anytime score per trial",
            "Data behind the left panel (x = trials; runs = seeds with an incumbent there).",
            over_trials,
            None,
        ),
        TableItem(
            f"{name}-anytime-seconds",
            "Anytime score per second",
            "Data behind the right panel (x = compute seconds).",
            over_seconds,
            None,
        ),
    ]
    score_table = scores_table(task, scores, tables)
    tuned = [
        _figure(
            lambda: figures.scores_figure(scale, scores, tuners),
            directory,
            f"{name}-scores",
            "Tuned test score beside its CV score",
            f"Per tuner: the {scale.label} of each run's incumbent, estimated by "
            f"cross-validation (left box, open points) and on the untouched test part after "
            f"retraining on the whole training part (right box, filled points); a grey line "
            f"joins the two scores of one run, so the generalisation gap is visible. "
            f"{test_phrase}.",
            f"Box plots of CV and test {scale.name} per tuner on {task}.",
        ),
        TableItem(
            f"{name}-scores",
            "Tuned scores",
            f"{scale.label}; mean with a 95% bootstrap CI (fixed seed; none under 3 runs); "
            "gap = test score - CV score (for a higher-is-better score a negative gap means the "
            f"test score fell short of the CV estimate). {test_phrase}.",
            score_table.data,
            score_table.display,
        ),
        TableItem(
            f"{name}-incumbents",
            "Incumbents per run",
            "CV and test loss and score of every finished run's incumbent.",
            scores,
            None,
        ),
    ]
    target = float(cost["target score"].iloc[0]) if len(cost) else np.nan
    cost_items = [
        _figure(
            lambda: figures.cost_figure(cost, tuners, f"CV {scale.name} {fmt(target)}"),
            directory,
            f"{name}-cost",
            "Cost",
            f"Left: compute seconds per run (all trials plus the test fit). Right: compute "
            f"seconds until the incumbent's CV score first reached {TARGET_FRACTION:.0%} of "
            f"the best CV score any run found ({scale.name} {fmt(target)}; for a "
            f"lower-is-better metric, within 1% above the best); runs that never reached it "
            f"are drawn as red crosses on the dotted line. {runs_phrase}.",
            f"Points of compute seconds and seconds to target per tuner on {task}.",
        ),
        TableItem(
            f"{name}-cost",
            "Cost and cost to target",
            f"Target: CV {scale.name} {fmt(target)}. Medians of trials and seconds to the "
            "target are over the runs that reached it.",
            *_as_pair(cost_table(task, cost, tables)),
        ),
        TableItem(
            f"{name}-cost-runs",
            "Cost per run",
            "Per run: compute seconds and the "
            "trials and seconds to the target (empty: never reached).",
            cost,
            None,
        ),
    ]
    stability: list[Item] = (
        []
        if REFERENCE_TUNER in tuners
        else [NoteItem("The probability of beating random search needs the random tuner.")]
    )
    stability.insert(
        0,
        TableItem(
            f"{name}-stability",
            "Stability over seeds",
            f"Spread of the tuned test {scale.label} over seeds (standard deviation, IQR, range), "
            f"and the probability that a tuner's final incumbent beats random search's: over all "
            f"pairs of one of its seeds and one of random search's, the share where its loss is "
            "lower (ties count one half), on the test part and on the CV estimate. "
            f"{test_phrase}.",
            *_as_pair(stability_table(task, scores, tables)),
        ),
    )
    counts = choice_counts(task, tables)
    curves = tables.curves[tables.curves.task == task]
    chosen = [
        _figure(
            lambda: figures.choices_figure(counts, tuners),
            directory,
            f"{name}-choices",
            "What the incumbents chose",
            f"How many finished runs' incumbents use each value of {' and '.join(CHOICE_KEYS)}, "
            f"per tuner. {test_phrase}.",
            f"Bar charts of regularizer and optimizer choices per tuner on {task}.",
        ),
        TableItem(
            f"{name}-choices",
            "Incumbents' choices",
            "Counts of finished runs.",
            *_as_pair(choices_table(counts, tables)),
        ),
        _figure(
            lambda: figures.curves_figure(scale, curves, tuners),
            directory,
            f"{name}-curves",
            "Incumbents' learning curves",
            f"Per tuner (columns): the validation {scale.label} (top) and training loss "
            f"(bottom) per epoch of each finished run's incumbent, averaged over its CV folds; "
            f"one line per seed. {seeds_phrase(curves, tuners, 'finished seeds')}.",
            f"Learning curves of the incumbents per tuner on {task}.",
        ),
        TableItem(f"{name}-curves", "Learning curves", "Data behind the figure.", curves, None),
    ]
    parts = [
        ("Anytime performance", "anytime", anytime),
        ("Tuned test score", "scores", tuned),
        ("Cost", "cost", cost_items),
        ("Stability", "stability", stability),
        ("What was chosen", "chosen", chosen),
    ]
    header = Section(
        f"Task {task}",
        f"task-{name}",
        2,
        f"Scores read as {scale.label}. "
        f"{len(scores)} finished run(s) with a test score; {runs_phrase} with trials.",
        (),
    )
    return [header] + [
        Section(f"{task}: {title}", f"{name}-{anchor}", 3, "", tuple(items))
        for title, anchor, items in parts
    ]
