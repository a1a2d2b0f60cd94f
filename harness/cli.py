"""The `tunebench` command line: run, report, paper, list."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from harness import __version__
from harness.errors import TunebenchError

DEFAULT_OUT = Path("tunebench-results")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the full usage is one `--help` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _csv(kind: type) -> Any:
    def parse(text: str) -> list:
        try:
            return [kind(part.strip()) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list, got {text!r}"
            ) from None

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tunebench",
        description="Compare hyperparameter tuners (SMAC, random, grid search) on deep-learning "
        "tasks under equal budgets, with nested cross-validation and fixed seeds.",
    )
    parser.add_argument("--version", action="version", version=f"tunebench {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    run = commands.add_parser(
        "run",
        help="run or resume a study, then print its summary",
        description="Run a study: every tuner on every task under every seed, with the same "
        "trial budget. Rerunning the same command resumes where it stopped. With no "
        "arguments it runs the default study (digits; random, grid and smac; 3 seeds).",
    )
    run.add_argument(
        "--spec", type=Path, metavar="FILE", help="study file (TOML) with the keys below"
    )
    run.add_argument(
        "--suite", metavar="NAME", help="start from a named study: quick, standard (see README)"
    )
    run.add_argument(
        "--study",
        metavar="NAME",
        help="study name; its folder is OUT/NAME "
        "(default: the suite's or spec file's name, or 'default'; when flags change that "
        "study, the name gets the new spec's hash, e.g. default-1a2b3c4d)",
    )
    run.add_argument("--tasks", type=_csv(str), metavar="A,B", help="tasks (see `tunebench list`)")
    run.add_argument("--tuners", type=_csv(str), metavar="A,B", help="tuners: random, grid, smac")
    run.add_argument("--seeds", type=_csv(int), metavar="0,1,2", help="run seeds, one run per seed")
    run.add_argument("--n-trials", type=int, metavar="N", help="trials per run (the budget)")
    run.add_argument("--n-folds", type=int, metavar="K", help="cross-validation folds per trial")
    run.add_argument(
        "--max-epochs",
        type=int,
        metavar="E",
        help="training epochs per fit (default: each task's own)",
    )
    run.add_argument(
        "--train-subsample",
        type=int,
        metavar="N",
        help="use a fixed stratified subset of N training examples (quick studies)",
    )
    run.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), help="auto picks CUDA when present"
    )
    run.add_argument(
        "--threads",
        dest="n_threads",
        type=int,
        metavar="N",
        help="torch threads per trial (part of the result: changes low bits)",
    )
    run.add_argument(
        "--trial-time-limit",
        dest="trial_time_limit_s",
        type=float,
        metavar="S",
        help="stop a trial after S seconds and record it as TIMEOUT (default: no limit)",
    )
    run.add_argument(
        "--no-deterministic",
        dest="deterministic",
        action="store_false",
        default=None,
        help="allow non-deterministic CUDA kernels (faster, not bit-reproducible)",
    )
    run.add_argument(
        "--data-root",
        metavar="DIR",
        help="folder holding the datasets (default: $TUNEBENCH_DATA, else "
        "~/.cache/tunebench/data); missing files are downloaded where online",
    )
    run.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"folder for study folders (default: {DEFAULT_OUT})",
    )
    run.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    run.add_argument(
        "--no-report",
        dest="report",
        action="store_false",
        help="do not write the study's report (OUT/STUDY/report) at the end",
    )
    run.set_defaults(handler=command_run)

    report = commands.add_parser(
        "report",
        help="write a study's report (HTML, Markdown, figures, tables)",
        description="Write the report of a stored study: index.html and report.md with PNG and "
        "PDF figures and CSV tables. It reads only the study's manifest.json and trials.jsonl; "
        "the same stored results give byte-identical files.",
    )
    report.add_argument("results_dir", type=Path, metavar="RESULTS_DIR", help="a study folder")
    report.add_argument(
        "--out", type=Path, metavar="DIR", help="report folder (default: RESULTS_DIR/report)"
    )
    report.set_defaults(handler=command_report)

    paper = commands.add_parser(
        "paper",
        help="regenerate the paper's figures, tables and numbers from stored results",
        description="Regenerate every figure, table and quoted number of the tunebench paper "
        "from a stored study, without training anything: figures/*.pdf, tables/*.tex and "
        "numbers.tex in OUT. The same stored results give byte-identical files; build the PDF "
        "with `make -C paper`.",
    )
    paper.add_argument(
        "results_dir",
        type=Path,
        nargs="?",
        default=Path("results/paper"),
        metavar="RESULTS_DIR",
        help="the reference study's folder (default: results/paper)",
    )
    paper.add_argument(
        "--out",
        type=Path,
        default=Path("paper/generated"),
        metavar="DIR",
        help="folder for the generated files (default: paper/generated)",
    )
    paper.set_defaults(handler=command_paper)

    listing = commands.add_parser(
        "list",
        help="show tasks, tuners and search spaces",
        description="Show the registered tasks, tuners and search spaces.",
    )
    listing.set_defaults(handler=command_list)
    return parser


def spec_from_args(args: argparse.Namespace) -> Any:
    from harness.spec import StudySpec
    from harness.suites import suite_spec

    if args.spec and args.suite:
        raise TunebenchError("give either --spec or --suite, not both")
    if args.suite:
        base = suite_spec(args.suite)
    elif args.spec:
        base = StudySpec.from_toml(args.spec)
    else:
        base = StudySpec()
    values = base.to_dict()
    flags = {k: getattr(args, k, None) for k in values if k != "name"}
    values.update({k: v for k, v in flags.items() if v is not None})
    spec = StudySpec.from_dict({**values, "name": args.study or values["name"]})
    if args.study is None and args.spec is None and spec != base:
        spec = spec.replace(name=f"{base.name}-{spec.id[:8]}")  # flags changed a named study
    return spec


def command_run(args: argparse.Namespace) -> int:
    from harness.analysis import load_study, summarize
    from harness.runner import prepare, run_study
    from tasks.datasets import resolve_data_root

    spec = spec_from_args(args)
    prepared = prepare(spec, resolve_data_root(args.data_root))
    study_dir = args.out / spec.name
    run_study(prepared, study_dir, progress=args.progress)
    manifest, records = load_study(study_dir)
    n_trials = int((records.kind == "trial").sum()) if not records.empty else 0
    print(f"study {spec.name}: {n_trials} trials stored in {study_dir}")
    print(summarize(manifest, records).to_string(index=False))
    if args.report:
        from harness.report import write_report

        print(f"report: {write_report(study_dir) / 'index.html'}")
    return 0


def command_report(args: argparse.Namespace) -> int:
    from harness.report import write_report

    out = write_report(args.results_dir, args.out)
    print(f"report: {out / 'index.html'}")
    return 0


def command_paper(args: argparse.Namespace) -> int:
    from harness.paper import write_paper

    print(f"paper files: {write_paper(args.results_dir, args.out)}")
    return 0


def command_list(args: argparse.Namespace) -> int:
    from harness.registry import SPACES, TASKS, TUNERS, load_plugins

    load_plugins()
    print("tasks:")
    for name in sorted(TASKS):
        info = TASKS[name].info
        print(f"  {name}  [{info.family}] {info.dataset}")
        print(f"      {info.size}; metric {info.metric} ({info.objective}); space {info.space}")
        print(f"      licence {info.licence}; data: {info.source}")
    print("tuners:  " + ", ".join(sorted(TUNERS)))
    print("spaces:  " + ", ".join(sorted(SPACES)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.filterwarnings("ignore", module="smac")
    try:
        return args.handler(args)
    except TunebenchError as error:
        print(f"tunebench: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tunebench: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
