"""`tunebench report`: a study's stored records → `index.html`, `report.md`, figures, tables.

Reads only `manifest.json` and `trials.jsonl` (through `harness.analysis`). The output is
byte-reproducible: the same stored results give byte-identical files (no timestamps, no absolute
paths, fixed fonts and metadata, seeded bootstrap, sorted tables). A partial study reports what
it holds and lists what is missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from harness.analysis import StudyTables, load_tables
from harness.errors import TunebenchError
from harness.report_document import FIGURES, TABLES, ReportDocument
from harness.report_render import render_html, render_markdown
from harness.report_sections import across_section, coverage_section, derive, task_sections

REPORT_DIR = "report"
HTML, MARKDOWN = "index.html", "report.md"
CSV_FLOAT_FORMAT = "%.6g"  # six significant digits: stable across platforms' last-bit noise


def default_out(results_dir: Path) -> Path:
    return Path(results_dir) / REPORT_DIR


def prepare_output_dir(
    out: Path, files: tuple[str, ...], folders: tuple[str, ...], what: str
) -> None:
    """Make `out` hold only empty `folders` (none of `files`); refuse a folder that holds
    anything else, so a mistyped --out never deletes a user's files."""
    if out.exists():
        if not out.is_dir():
            raise TunebenchError(f"{out} is a file, not a folder for {what}")
        foreign = sorted(p.name for p in out.iterdir() if p.name not in {*files, *folders})
        if foreign:
            raise TunebenchError(
                f"{out} holds files that are not part of {what} "
                f"({', '.join(foreign[:3])}); give another --out folder"
            )
        for name in folders:
            shutil.rmtree(out / name, ignore_errors=True)
        for name in files:
            (out / name).unlink(missing_ok=True)
    for name in folders:
        (out / name).mkdir(parents=True)


def _facts(tables: StudyTables) -> tuple[tuple[str, str], ...]:
    spec, manifest = tables.manifest["spec"], tables.manifest
    environment = manifest.get("environment", {})
    epochs = spec.get("max_epochs")
    subsample = spec.get("train_subsample")
    return (
        ("study", tables.study),
        ("tasks", "; ".join(f"{t}: {tables.scales[t].label}" for t in tables.tasks) or "-"),
        ("tuners", ", ".join(tables.tuners) or "-"),
        ("seeds", ", ".join(str(s) for s in tables.seeds) or "-"),
        ("trials per run", str(tables.n_trials)),
        ("CV folds", str(spec.get("n_folds", "-"))),
        ("epochs per fit", str(epochs) if epochs else "each task's default"),
        ("training examples", f"a fixed subset of {subsample}" if subsample else "all"),
        ("device", f"{environment.get('device', spec.get('device', '-'))}"),
        ("records", f"{len(tables.trials)} trials, {len(tables.tests)} test fits"),
        (
            "tunebench",
            f"{manifest.get('tunebench', '-')}, git {environment.get('git_commit', '-')}",
        ),
        ("study created", str(manifest.get("created_at", "-"))),
    )


def build_document(tables: StudyTables, figures_dir: Path) -> ReportDocument:
    """Draw every figure into `figures_dir` and assemble the report's content."""
    derived = derive(tables)
    sections = [coverage_section(derived), across_section(derived, figures_dir)]
    for task in tables.tasks:
        sections += task_sections(derived, task, figures_dir)
    intro = (
        f"Built by tunebench from the records that study {tables.study} stored (manifest.json "
        "and trials.jsonl), and from nothing else.",
        "CV: a configuration's mean score over the validation folds of the training part. "
        "Incumbent: a run's configuration with the best CV score. Test: the incumbent "
        "retrained on the whole training part and scored once on the untouched test part. "
        "Each task's scores read in its metric's own direction, stated below.",
    )
    return ReportDocument(
        f"tunebench report: {tables.study}", intro, _facts(tables), tuple(sections)
    )


def write_report(results_dir: Path, out: Path | None = None) -> Path:
    """Write the report of the study in `results_dir` to `out` (default results_dir/report)."""
    tables = load_tables(Path(results_dir))
    out = Path(out) if out is not None else default_out(results_dir)
    prepare_output_dir(out, (HTML, MARKDOWN), (FIGURES, TABLES), "a tunebench report")
    document = build_document(tables, out / FIGURES)
    stems = [t.stem for t in document.tables()]
    if len(stems) != len(set(stems)):
        raise TunebenchError(f"two report tables share a file name: {sorted(stems)}")
    for table in document.tables():
        table.data.to_csv(
            out / TABLES / f"{table.stem}.csv",
            index=False,
            float_format=CSV_FLOAT_FORMAT,
            lineterminator="\n",
        )
    (out / HTML).write_text(render_html(document), encoding="utf-8")
    (out / MARKDOWN).write_text(render_markdown(document), encoding="utf-8")
    return out
