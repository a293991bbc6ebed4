"""The ``icsim sweep`` and ``icsim analyze`` subcommands.

``sim/ui/cli.py`` calls :func:`add_parsers` on its subparsers; each handler takes the parsed
arguments and returns the exit status. Bad input raises ``sim.core.errors.UsageError``, which the
CLI prints as one line and turns into exit status 2 -- before anything is written.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sim.core.errors import JobStopped, UsageError
from sim.core.limits import Plan, sweep_plan
from sim.experiment.inputs import posterior_shape, with_inputs
from sim.experiment.timeout import PLUGIN_DEFAULT
from sim.ui.options import figure_formats

if TYPE_CHECKING:
    from sim.experiment.spec import Experiment

# A handler imports the runner or the analysis when it runs (sim/layers.py allows it
# here), so building the parser (`icsim --help`) imports neither.

EXIT_INTERRUPTED = 130


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register ``sweep`` and ``analyze`` on an argparse subparsers object."""
    sweep = subparsers.add_parser(
        "sweep", help="run an experiment file: design x replicates, streamed to Parquet",
        description="Run the sweep an experiment file (TOML) declares, into DIR/runs/ as "
                    "Parquet parts, with DIR/manifest.json. Rerunning into the same DIR "
                    "(or --resume) completes an interrupted sweep.")
    sweep.add_argument("file", metavar="FILE", help="experiment file, e.g. "
                       "experiments/sobol_pilot.toml")
    sweep.add_argument("--out", metavar="DIR", default=None,
                       help="sweep directory (default: results/<experiment name>)")
    where = sweep.add_mutually_exclusive_group()
    where.add_argument("--workers", metavar="N", type=_positive_int, default=None,
                       help="local worker processes (default: all cores)")
    where.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help="run on a Dask distributed cluster, e.g. tcp://10.0.0.5:8786")
    sweep.add_argument("--resume", action="store_true",
                       help="complete the interrupted sweep in DIR (refused if the "
                            "experiment file changed)")
    sweep.add_argument("--allow-mixed-code", action="store_true",
                       help="with --resume: add parts from the code running now to parts "
                            "written by another icsim version or git commit (refused "
                            "otherwise; the manifest records it)")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.add_argument("--posterior", metavar="DIR_OR_FILE", default=None,
                       help="a calibration's posterior as the base point: replicate r "
                            "uses draw r, the swept values override it")
    sweep.add_argument("--engine", choices=("fast", "mesa"), default=None,
                       help="the project's engine; both give the same runs (default: "
                            "the experiment file's 'engine', itself 'fast')")
    sweep.add_argument("--allow-plugin", action="store_true",
                       help="run the experiment file's plug-in model (model = "
                            "\"module:function\") although it is not registered as an "
                            "icsim model: it is Python code and runs with your permissions")
    sweep.add_argument("--run-timeout", metavar="SECONDS", type=float, default=None,
                       help="a run past this many seconds is stopped and recorded "
                            f"'timeout' (default: the file's run_timeout_s, else "
                            f"{PLUGIN_DEFAULT:g} for a plug-in and 60 + 2 x months for the "
                            "project's model)")
    sweep.set_defaults(handler=sweep_command)

    analyze = subparsers.add_parser(
        "analyze", help="sensitivity and scenario-discovery analysis of a sweep",
        description="Analyse the sweep in DIR: Sobol or Morris indices on replicate means, "
                    "the stochastic share of variance, Sobol indices of P(pilot by month), "
                    "indices over time of the monthly outcomes an experiment records "
                    "([timeseries]), PRIM boxes of stalling projects; CSV, figures and "
                    "summary.md in DIR/analysis/.")
    analyze.add_argument("dir", metavar="DIR", help="a sweep directory")
    analyze.add_argument("--resamples", metavar="N", type=_positive_int, default=1000,
                         help="bootstrap resamples for the confidence intervals")
    analyze.add_argument("--format", default="png", metavar="FMT[,FMT]",
                         help="figure formats: png, svg, pdf, comma-separated")
    analyze.add_argument("--prim-outcome", default=None, metavar="OUTCOME",
                         help="PRIM's outcome: a stored outcome column (default: stalled, "
                              "i.e. no pilot by the horizon)")
    analyze.add_argument("--prim-threshold", type=float, default=None, metavar="T",
                         help="with --prim-outcome: runs with the outcome below T are the "
                              "cases of interest, above T with --prim-above (default: 0.5)")
    analyze.add_argument("--prim-above", action="store_true",
                         help="cases of interest are runs with the outcome above the threshold")
    analyze.add_argument("--quiet", action="store_true", help="print nothing on success")
    analyze.set_defaults(handler=analyze_command)


def sweep_command(args: argparse.Namespace) -> int:
    """``icsim sweep FILE [--out DIR] [--workers N | --scheduler ADDRESS] [--resume]``."""
    from sim.experiment.spec import load_experiment
    from sim.experiment.sweep import run_sweep

    experiment = load_experiment(args.file, allow_plugin=args.allow_plugin)
    announce(experiment_plan(experiment, args.workers, args.scheduler, args.posterior),
             args.quiet)
    try:
        report = run_sweep(experiment, args.out, workers=args.workers,
                           scheduler=args.scheduler, resume=args.resume,
                           progress=not args.quiet, engine=args.engine,
                           posterior=args.posterior, allow_mixed_code=args.allow_mixed_code,
                           allow_plugin=args.allow_plugin, run_timeout=args.run_timeout)
    except KeyboardInterrupt:
        out = args.out or Path("results") / experiment.name
        allow = " --allow-plugin" if args.allow_plugin else ""
        print(f"icsim: interrupted; finished parts are kept -- complete the sweep with: "
              f"icsim sweep {args.file} --out {out} --resume{allow}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except JobStopped as exc:
        out = args.out or Path("results") / experiment.name
        where = f" --scheduler {args.scheduler}" if args.scheduler else ""
        print(f"icsim: error: {exc}; finished parts are kept -- complete the sweep with: "
              f"icsim sweep {args.file} --out {out} --resume{where}", file=sys.stderr)
        return 1
    did = "resumed" if report.resumed else "ran"
    print(f"{experiment.name}: {did} {report.runs_this_session} runs in {report.seconds:.1f} s "
          f"on {report.executor}; {report.runs_done}/{report.runs_total} runs done, "
          f"{report.runs_failed} failed -> {report.out}")
    if report.runs_failed:
        invalid = (f" ({report.runs_invalid} of them invalid: an outcome was infinite)"
                   if report.runs_invalid else "")
        print(f"icsim: {report.runs_failed} runs failed{invalid}; their errors are in the "
              f"'error' column of {report.out / 'runs'}", file=sys.stderr)
    return 0


def experiment_plan(experiment: Experiment, workers: int | None,
                    scheduler: str | None = None, posterior: str | None = None) -> Plan:
    """The runs, memory and output of a sweep (with a ``posterior``'s draws, counted from
    its footer), checked against the ceilings (``UsageError`` past them) before anything
    starts."""
    from sim.experiment.spec import planned_points

    points = planned_points(experiment.method, experiment.samples, experiment.levels,
                            experiment.levers, experiment.second_order)
    local = 0 if scheduler is not None else (workers or os.cpu_count() or 1)
    columns = len(experiment.levers) + len(experiment.outcomes)

    series = experiment.timeseries
    return with_inputs(sweep_plan(points, experiment.replicates, columns,
                                  experiment.runs_per_part, local,
                                  len(series.months) if series else 0,
                                  len(series.outcomes) if series else 0),
                       *posterior_shape(posterior)).check()


def announce(plan: Plan, quiet: bool) -> None:
    """Print the plan in one line (unless ``quiet``)."""
    if not quiet:
        print(plan.line(), flush=True)


def analyze_command(args: argparse.Namespace) -> int:
    """``icsim analyze DIR``."""
    from sim.report.analysis import analyze

    formats = figure_formats(args.format)
    root = Path(args.dir)
    if not root.is_dir():
        raise UsageError(f"no sweep directory at {root}")
    if args.prim_outcome is None and (args.prim_threshold is not None or args.prim_above):
        raise UsageError("--prim-threshold and --prim-above need --prim-outcome")
    if args.prim_threshold is not None and args.prim_threshold != args.prim_threshold:
        raise UsageError("--prim-threshold must be a number, got nan")
    result = analyze(root, resamples=args.resamples, formats=formats,
                     prim_outcome=args.prim_outcome,
                     prim_threshold=0.5 if args.prim_threshold is None else args.prim_threshold,
                     prim_above=args.prim_above)
    if not args.quiet:
        print(f"analysis of {result.name}: {len(result.files)} files in {result.out}")
        print(f"read {result.out / 'summary.md'}")
    return 0
