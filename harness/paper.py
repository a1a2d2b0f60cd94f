"""`tunebench paper`: the paper's figures, tables and quoted numbers, from stored results only.

Reads a study folder's manifest.json and trials.jsonl and writes one folder (default
`paper/generated`), without training anything:
- `numbers.tex`: every number the manuscript quotes, printed with `\\tbnum{key}`;
- `tables/*.tex`: booktabs tabulars that the manuscript `\\input`s;
- `figures/*.pdf`: its figures.
Task cards and search-space definitions are descriptions, not results: they come from the
registered tasks and spaces, after checking that their versions and hashes equal the ones the
study stored, so the paper cannot describe code that did not produce its numbers. The output is
byte-reproducible, like the report's.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from ConfigSpace import ConfigurationSpace
from ConfigSpace.hyperparameters import (
    CategoricalHyperparameter,
    Hyperparameter,
    IntegerHyperparameter,
    NumericalHyperparameter,
    OrdinalHyperparameter,
)
from matplotlib.figure import Figure

from harness import figures
from harness.analysis import CHOICE_KEYS, StudyTables, load_tables
from harness.anytime import (
    normalised_regret,
    ranks_over_trials,
    regret_curve,
    score_over_trials,
)
from harness.coverage import COMPLETE
from harness.errors import TunebenchError
from harness.latex import escape, number_macros, tabular
from harness.paper_numbers import (
    TunerComparison,
    compare,
    final_regret,
    headline,
    paired_improvements,
    run_timing,
)
from harness.registry import SPACES, TASKS, load_plugins, lookup
from harness.report import prepare_output_dir
from harness.report_sections import TARGET_FRACTION, Derived, derive
from harness.runner import space_hash
from harness.statistics import ALPHA, CONFIDENCE
from harness.tuners.grid_search import fit_resolution, grid_size, value_sets

DEFAULT_RESULTS = Path("results/paper")
DEFAULT_OUT = Path("paper/generated")
NUMBERS, TABLES, FIGURES = "numbers.tex", "tables", "figures"


@dataclass(frozen=True)
class PaperContent:
    """What `tunebench paper` writes: number macros, LaTeX tables, and figures to draw."""

    numbers: dict[str, str]
    tables: dict[str, str]
    figures: dict[str, Callable[[], Figure]]


def _f(value: float, digits: int = 3) -> str:
    return "--" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _p(value: float) -> str:
    if value is None or math.isnan(value):
        return "--"
    return r"$<$0.001" if value < 0.001 else f"{value:.3f}"


def _percent(fraction: float) -> str:
    return f"{100 * fraction:g}\\%"


def _keyed(numbers: dict[str, str]) -> dict[str, str]:
    """Number keys as LaTeX can name them: lower case; anything but letters, digits, . and -
    (in a plugin's task or tuner name, say) becomes -."""
    return {re.sub(r"[^a-z0-9.-]+", "-", key.lower()): value for key, value in numbers.items()}


def _metric(tables: StudyTables, task: str) -> str:
    name = tables.scales[task].name
    return name.upper() if name in ("rmse", "ndcg@10") else name


def _verdict(comparison: TunerComparison, tuner: str, reference: str) -> str:
    """How `tuner` compares with `reference` by the Nemenyi test over task x seed blocks."""
    result = comparison.by_run
    if (
        result.pairwise_p is None
        or tuner not in result.mean_ranks
        or reference not in result.mean_ranks
    ):
        return "not tested against"
    if result.pairwise_p.loc[tuner, reference] >= ALPHA:
        return "not significantly different from"
    better = result.mean_ranks[tuner] < result.mean_ranks[reference]
    return "significantly better than" if better else "significantly worse than"


def study_numbers(tables: StudyTables, derived: Derived, timing: pd.DataFrame) -> dict[str, str]:
    manifest, spec = tables.manifest, tables.manifest["spec"]
    environment = manifest.get("environment", {})
    packages = environment.get("packages", {})
    trials = tables.trials
    n_fits = int(trials.status.eq("SUCCESS").sum()) * int(spec["n_folds"]) + len(tables.tests)
    return {
        "study.name": escape(tables.study),
        "study.tasks": str(len(tables.tasks)),
        "study.tuners": str(len(tables.tuners)),
        "study.seeds": str(len(tables.seeds)),
        "study.trials": str(tables.n_trials),
        "study.folds": str(spec["n_folds"]),
        "study.runs-planned": str(len(derived.coverage)),
        "study.runs-complete": str(int((derived.coverage.state == COMPLETE).sum())),
        "study.trial-records": str(len(trials)),
        "study.test-records": str(len(tables.tests)),
        "study.failed-trials": str(int((trials.status != "SUCCESS").sum())),
        "study.fits": f"{n_fits:,}".replace(",", "{,}"),
        "study.compute-hours": _f(timing.compute_s.sum() / 3600, 2),
        "study.wall-hours": _f(timing.wall_s.sum() / 3600, 2),
        "study.created": escape(str(manifest.get("created_at", "-"))[:10]),
        "env.device": escape(str(environment.get("device", "-"))),
        "env.cpus": str(environment.get("cpu_count", "-")),
        "env.python": escape(str(environment.get("python", "-"))),
        "env.commit": escape(str(environment.get("git_commit", "-"))[:10]),
        **{f"env.{name}": escape(str(v)) for name, v in sorted(packages.items())},
    }


def result_numbers(
    tables: StudyTables,
    scores: pd.DataFrame,
    pairs: pd.DataFrame,
    comparison: TunerComparison,
) -> dict[str, str]:
    numbers: dict[str, str] = {}
    for row in scores.itertuples(index=False):
        key = f"{row.task}.{row.tuner}"
        numbers |= {
            f"{key}.test": _f(row.test_mean),
            f"{key}.test-low": _f(row.test_low),
            f"{key}.test-high": _f(row.test_high),
            f"{key}.test-std": _f(row.test_std),
            f"{key}.cv": _f(row.cv_mean),
        }
    for task in tables.tasks:
        numbers[f"{task}.metric"] = escape(_metric(tables, task))
        mine = scores[scores.task == task].dropna(subset=["test_mean"])
        if len(mine):
            higher = tables.scales[task].higher_is_better
            best = mine.loc[mine["test_mean"].idxmax() if higher else mine["test_mean"].idxmin()]
            numbers[f"{task}.best"] = escape(str(best.tuner))
    for row in pairs.itertuples(index=False):
        key = f"{row.task}.{row.tuner}-vs-{row.reference}"
        numbers |= {
            f"{key}.diff": _f(row.mean, 4),
            f"{key}.low": _f(row.low, 4),
            f"{key}.high": _f(row.high, 4),
            f"{key}.p": _p(row.p),
            f"{key}.p-holm": _p(row.p_holm),
        }
    for tuner, reference in {(r.tuner, r.reference) for r in pairs.itertuples(index=False)}:
        mine = pairs[(pairs.tuner == tuner) & (pairs.reference == reference)]
        key = f"{tuner}-vs-{reference}"
        numbers |= {
            f"pairs.{key}.better": str(int((mine.low > 0).sum())),
            f"pairs.{key}.worse": str(int((mine.high < 0).sum())),
            f"pairs.{key}.holm-significant": str(int((mine.p_holm < ALPHA).sum())),
            f"verdict.{key}": _verdict(comparison, tuner, reference),
        }
    for name, result in (("friedman", comparison.by_run), ("friedman-tasks", comparison.by_task)):
        numbers[f"{name}.blocks"] = str(result.blocks)
        numbers[f"{name}.stat"] = _f(result.statistic, 2)
        numbers[f"{name}.p"] = _p(result.p_value)
        numbers[f"{name}.cd"] = _f(result.critical_difference or math.nan, 2)
        for tuner, rank in result.mean_ranks.items():
            numbers[f"{name}.rank.{tuner}"] = _f(rank, 2)
        if len(result.mean_ranks):
            numbers[f"{name}.best"] = escape(str(result.mean_ranks.idxmin()))
        if result.pairwise_p is not None:
            for a in result.pairwise_p.index:
                for b in result.pairwise_p.columns:
                    if a != b:
                        numbers[f"{name}.nemenyi.{a}-{b}"] = _p(result.pairwise_p.loc[a, b])
    numbers["alpha"] = f"{ALPHA:g}"
    numbers["ci-level"] = f"{100 * CONFIDENCE:g}"
    numbers["target-percent"] = f"{100 * TARGET_FRACTION:g}"
    numbers["pairs.total"] = str(len(pairs))
    return numbers


def regret_and_cost_numbers(
    tables: StudyTables, derived: Derived, regret_values: pd.DataFrame, timing: pd.DataFrame
) -> dict[str, str]:
    numbers: dict[str, str] = {}
    half = max(1, tables.n_trials // 2)
    for label, trial in (("half", half), ("final", tables.n_trials)):
        numbers[f"regret.{label}.trials"] = str(trial)
        intervals = final_regret(regret_values, tables.tuners, trial)
        for tuner, interval in intervals.items():
            numbers |= {
                f"regret.{label}.{tuner}": _f(interval.mean, 2),
                f"regret.{label}.{tuner}.low": _f(interval.low, 2),
                f"regret.{label}.{tuner}.high": _f(interval.high, 2),
            }
        means = {t: i.mean for t, i in intervals.items() if not math.isnan(i.mean)}
        if means:
            numbers[f"regret.{label}.best"] = escape(min(means, key=means.__getitem__))
    ranks = ranks_over_trials(derived.grid, tables.tuners)
    final = ranks[ranks.trial == ranks.trial.max()] if len(ranks) else ranks
    for tuner, rank in zip(final.tuner, final["mean rank"], strict=True):
        numbers[f"cvrank.{tuner}"] = _f(rank, 2)
    if len(final):
        numbers["cvrank.blocks"] = str(int(final.blocks.iloc[0]))
        numbers["cvrank.best"] = escape(str(final.loc[final["mean rank"].idxmin()].tuner))
    cost = derived.cost
    for tuner in tables.tuners:
        mine_time = timing[timing.tuner == tuner]
        mine_cost = cost[cost.tuner == tuner]
        reached = mine_cost[mine_cost.reached.astype(bool)]
        per_trial_ms = 1000 * mine_time.overhead_s / tables.n_trials
        numbers |= {
            f"cost.{tuner}.overhead-ms": _f(per_trial_ms.median(), 0),
            f"cost.{tuner}.compute-s": _f(mine_time.compute_s.median(), 0),
            f"cost.{tuner}.compute-hours": _f(mine_time.compute_s.sum() / 3600, 2),
            f"cost.{tuner}.reached": str(len(reached)),
            f"cost.{tuner}.runs": str(len(mine_cost)),
            f"cost.{tuner}.trials-to-target": _f(reached["trials to target"].median(), 1),
        }
    return numbers


def tasks_table(tables: StudyTables) -> str:
    rows = []
    for name in tables.tasks:
        info = _checked_task(tables, name).info
        rows.append(
            [
                rf"\texttt{{{escape(name)}}} ({escape(info.family)})",
                escape(info.dataset),
                escape(info.size),
                escape(f"{_metric(tables, name)} ({info.objective})"),
                str(info.default_epochs),
                escape(info.licence),
            ]
        )
    header = ["Task (family)", "Dataset", "Size and split", "Metric (loss)", "Epochs", "Licence"]
    ragged = r">{\raggedright\arraybackslash}p"
    widths = ["{2.3cm}", "{3.1cm}", "{3.3cm}", "{1.7cm}", "{3.3cm}"]
    columns = [ragged + w for w in widths]
    return tabular(header, rows, [*columns[:4], "r", columns[4]])


def _checked_task(tables: StudyTables, name: str):
    task = lookup(TASKS, "task", name)()
    stored = tables.manifest.get("tasks", {}).get(name, {})
    if stored.get("version") != task.info.version:
        raise TunebenchError(
            f"task {name} is at version {task.info.version} but the study stored version "
            f"{stored.get('version')}; rerun the study or check out its commit"
        )
    return task


def _domain(hyperparameter: Hyperparameter) -> str:
    if isinstance(hyperparameter, CategoricalHyperparameter):
        return r"\{" + ", ".join(escape(str(c)) for c in hyperparameter.choices) + r"\}"
    if isinstance(hyperparameter, OrdinalHyperparameter):
        return "(" + ", ".join(escape(str(c)) for c in hyperparameter.sequence) + ")"
    if isinstance(hyperparameter, NumericalHyperparameter):
        low, high = hyperparameter.lower, hyperparameter.upper
        scale = ", log" if hyperparameter.log else ""
        kind = "int " if isinstance(hyperparameter, IntegerHyperparameter) else ""
        return f"{kind}[{low:g}, {high:g}]{scale}"
    raise TunebenchError(f"the paper cannot describe hyperparameter {hyperparameter.name}")


def _space_rows(space: ConfigurationSpace) -> list[tuple[str, str, str]]:
    parents = {
        condition.child.name: f"{condition.parent.name} = {condition.value}"
        for condition in space.conditions
    }
    return [
        (rf"\texttt{{{escape(hp.name)}}}", _domain(hp), escape(parents.get(hp.name, "always")))
        for hp in sorted(space.values(), key=lambda hp: hp.name)
    ]


def _checked_spaces(tables: StudyTables) -> dict[str, ConfigurationSpace]:
    """The study's search spaces, each checked against the hash the study stored."""
    stored = tables.manifest.get("spaces", {})
    for name in sorted(stored):
        if space_hash(name) != stored[name]:
            raise TunebenchError(
                f"search space {name} differs from the one the study stored; rerun the study "
                "or check out its commit"
            )
    return {name: lookup(SPACES, "search space", name)() for name in sorted(stored)}


def choice_numbers(tables: StudyTables) -> dict[str, str]:
    """How many runs' incumbents chose each optimizer and regularizer, per task and in all
    (zero for a value that some trial tried but no incumbent chose)."""
    tests = tables.tests[tables.tests.status == "SUCCESS"]
    numbers = {"incumbents.total": str(len(tests))}
    for key in CHOICE_KEYS:
        name = key.split(":")[0]  # opt:type -> opt, reg:type -> reg
        values = sorted(set(tables.trials[key]) | set(tests[key]))
        for value in values:
            chose = tests[key] == value
            numbers[f"incumbents.{name}.{value}"] = str(int(chose.sum()))
            for task in tables.tasks:
                count = int((chose & (tests.task == task)).sum())
                numbers[f"{task}.incumbents.{name}.{value}"] = str(count)
    return numbers


def grid_numbers(tables: StudyTables) -> dict[str, str]:
    """Per space: the points of the grid that grid search fits to the study's budget, and the
    most values any numeric hyperparameter gets in it (1: every number at its range's centre)."""
    numbers = {}
    for name, space in _checked_spaces(tables).items():
        steps = fit_resolution(space, tables.n_trials)
        size = grid_size(space, value_sets(space, steps), 10**6)
        numbers[f"grid.{name}.points"] = str(size)
        numbers[f"grid.{name}.steps"] = str(max(steps.values(), default=0))
    return numbers


def spaces_table(tables: StudyTables) -> str:
    """The search spaces: first the hyperparameters every space shares with equal domains,
    then each space's own."""
    by_space = {name: _space_rows(space) for name, space in _checked_spaces(tables).items()}
    shared = set.intersection(*(set(rows) for rows in by_space.values())) if by_space else set()
    groups = {f"all {len(by_space)} spaces": sorted(shared)} if len(by_space) > 1 else {}
    groups |= {
        rf"\texttt{{{escape(name)}}}": [
            row for row in rows if row not in shared or len(groups) == 0
        ]
        for name, rows in by_space.items()
    }
    lines: list = []
    for label, rows in groups.items():
        if lines:
            lines.append(None)
        lines += [[label if index == 0 else "", *row] for index, row in enumerate(rows)]
    return tabular(["Space", "Hyperparameter", "Domain", "Active when"], lines, ["l"] * 4)


def scores_table(tables: StudyTables, scores: pd.DataFrame) -> str:
    rows: list = []
    for task in tables.tasks:
        mine = scores[scores.task == task]
        scale = tables.scales[task]
        best = mine["test_mean"].max() if scale.higher_is_better else mine["test_mean"].min()
        if rows:
            rows.append(None)
        for index, row in enumerate(mine.itertuples(index=False)):
            test = f"{_f(row.test_mean)} [{_f(row.test_low)}, {_f(row.test_high)}]"
            if _f(row.test_mean) == _f(best):
                test = rf"\textbf{{{test}}}"
            arrow = r"$\uparrow$" if scale.higher_is_better else r"$\downarrow$"
            label = rf"\texttt{{{escape(task)}}} ({escape(_metric(tables, task))} {arrow})"
            rows.append(
                [
                    label if index == 0 else "",
                    escape(row.tuner),
                    str(row.runs),
                    _f(row.cv_mean),
                    test,
                    _f(row.test_std),
                ]
            )
    header = [
        "Task (metric)",
        "Tuner",
        "Runs",
        "CV mean",
        f"Test mean [{_percent(CONFIDENCE)} CI]",
        "Test std",
    ]
    return tabular(header, rows, ["l", "l", "r", "r", "r", "r"])


def pairs_table(tables: StudyTables, pairs: pd.DataFrame) -> str:
    rows: list = []
    for task in tables.tasks:
        if rows:
            rows.append(None)
        for index, row in enumerate(pairs[pairs.task == task].itertuples(index=False)):
            rows.append(
                [
                    rf"\texttt{{{escape(task)}}}" if index == 0 else "",
                    f"{escape(row.tuner)} vs {escape(row.reference)}",
                    f"{_f(row.mean, 4)} [{_f(row.low, 4)}, {_f(row.high, 4)}]",
                    _p(row.p),
                    _p(row.p_holm),
                ]
            )
    header = [
        "Task",
        "Pair",
        f"Mean improvement [{_percent(CONFIDENCE)} CI]",
        "Wilcoxon $p$",
        "Holm $p$",
    ]
    return tabular(header, rows, ["l", "l", "r", "r", "r"])


def ranks_table(tables: StudyTables, comparison: TunerComparison) -> str:
    by_run, by_task = comparison.by_run, comparison.by_task
    tuners = [t for t in tables.tuners if t in by_run.mean_ranks]
    rows = []
    for tuner in tuners:
        nemenyi = [
            _p(by_run.pairwise_p.loc[tuner, other])
            if by_run.pairwise_p is not None and other != tuner
            else "--"
            for other in tuners
        ]
        rows.append(
            [
                escape(tuner),
                _f(by_run.mean_ranks[tuner], 2),
                _f(by_task.mean_ranks.get(tuner, math.nan), 2),
                *nemenyi,
            ]
        )
    header = [
        "Tuner",
        f"Rank ({by_run.blocks} task$\\times$seed)",
        f"Rank ({by_task.blocks} tasks)",
        *(f"Nemenyi $p$ vs {escape(t)}" for t in tuners),
    ]
    return tabular(header, rows, ["l"] + ["r"] * (len(header) - 1))


def cost_table(tables: StudyTables, derived: Derived, timing: pd.DataFrame) -> str:
    rows: list = []
    cost = derived.cost
    for task in tables.tasks:
        if rows:
            rows.append(None)
        for index, tuner in enumerate(tables.tuners):
            mine_time = timing[(timing.task == task) & (timing.tuner == tuner)]
            mine = cost[(cost.task == task) & (cost.tuner == tuner)]
            reached = mine[mine.reached.astype(bool)]
            rows.append(
                [
                    rf"\texttt{{{escape(task)}}}" if index == 0 else "",
                    escape(tuner),
                    _f(mine_time.compute_s.median(), 0),
                    _f(1000 * mine_time.overhead_s.median() / tables.n_trials, 0),
                    f"{len(reached)}/{len(mine)}",
                    _f(reached["trials to target"].median(), 1),
                ]
            )
    header = [
        "Task",
        "Tuner",
        "Compute s/run",
        "Overhead ms/trial",
        f"Reached {_percent(TARGET_FRACTION)}",
        f"Trials to {_percent(TARGET_FRACTION)}",
    ]
    return tabular(header, rows, ["l", "l", "r", "r", "r", "r"])


def build_paper(results_dir: Path) -> PaperContent:
    """Compute everything the paper shows from the study stored in `results_dir`."""
    load_plugins()
    tables = load_tables(Path(results_dir))
    derived = derive(tables)
    scores = headline(derived.scores, tables)
    pairs = paired_improvements(derived.scores, tables)
    comparison = compare(tables)
    timing = run_timing(tables)
    regret = normalised_regret(derived.grid, tables)
    bands = score_over_trials(derived.grid, tables)
    curve = regret_curve(regret.values, tables.tuners)
    numbers = _keyed(
        study_numbers(tables, derived, timing)
        | result_numbers(tables, scores, pairs, comparison)
        | regret_and_cost_numbers(tables, derived, regret.values, timing)
        | grid_numbers(tables)
        | choice_numbers(tables)
    )
    drawings: dict[str, Callable[[], Figure]] = {
        "anytime": lambda: figures.anytime_panels(
            bands, tables.scales, tables.tasks, tables.tuners
        ),
        "test-scores": lambda: figures.test_score_panels(
            derived.scores, tables.scales, tables.tasks, tables.tuners
        ),
        "regret": lambda: figures.regret_figure(curve, tables.tuners),
    }
    if comparison.by_run.pairwise_p is not None:
        drawings["critical-difference"] = lambda: figures.critical_difference_figure(
            comparison.by_run, tables.tuners
        )
    return PaperContent(
        numbers=numbers,
        tables={
            "tasks": tasks_table(tables),
            "spaces": spaces_table(tables),
            "scores": scores_table(tables, scores),
            "pairs": pairs_table(tables, pairs),
            "ranks": ranks_table(tables, comparison),
            "cost": cost_table(tables, derived, timing),
        },
        figures=drawings,
    )


def write_paper(results_dir: Path = DEFAULT_RESULTS, out: Path = DEFAULT_OUT) -> Path:
    """Regenerate the paper's numbers, tables and figures from `results_dir` into `out`."""
    content = build_paper(results_dir)
    out = Path(out)
    prepare_output_dir(out, (NUMBERS,), (TABLES, FIGURES), "the paper's generated files")
    (out / NUMBERS).write_text(number_macros(content.numbers), encoding="utf-8")
    for stem, text in content.tables.items():
        (out / TABLES / f"{stem}.tex").write_text(text, encoding="utf-8")
    for stem, draw in content.figures.items():
        figures.save_figure(draw, out / FIGURES, stem, formats=("pdf",))
    complete, planned = (
        content.numbers["study.runs-complete"],
        content.numbers["study.runs-planned"],
    )
    if complete != planned:
        print(f"warning: only {complete} of {planned} runs are complete", file=sys.stderr)
    return out
