"""The command line: ``icsim`` (or ``python -m sim``).

Bad input exits with status 2 and a one-line message naming the culprit and what is
allowed, and writes nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from sim.core import limits as _limits
from sim.core.errors import JobStopped, UsageError, one_line
from sim.experiment.safepaths import check_path_length
from sim.experiment.timeout import PLUGIN_DEFAULT, check_timeout
from sim.ui.commands import add_parsers, announce, experiment_plan
from sim.ui.options import FIGURE_FORMATS, HelpFormatter, figure_formats, save_figures

# Each command imports what it uses inside its handler (sim/layers.py allows it in the
# command line's modules): `icsim --help` builds the parser without numpy, and `icsim
# compare` on the fast engine never imports Mesa, the calibration or the dashboard.

__all__ = ["FIGURE_FORMATS", "build_parser", "figure_formats", "main", "save_figures"]


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line: ``icsim: error: ...`` and exit status 2, and
    every command's ``--help`` in the one style of :class:`sim.ui.options.HelpFormatter`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"icsim: error: {message} (see '{self.prog} --help')\n")


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


# Ceilings on sizes a user gives (sim/limits.py): past them a request is refused before any
# work starts. Raise one deliberately with the environment variable ICSIM_MAX_<NAME> (e.g.
# ICSIM_MAX_MONTHS=2400).
CEILINGS = _limits.CEILINGS
#: The command-line flags that have a ceiling.
SIZE_FLAGS = ("months", "replicates", "sites", "workers", "resamples")


def check_sizes(args: argparse.Namespace) -> None:
    """Refuse a size past its ceiling, a negative seed, an unusable --out or a malformed
    --scheduler address, before any work."""
    for name in SIZE_FLAGS:
        value = getattr(args, name, None)
        if value is None:
            continue
        _limits.check_size(name, value)
    seed = getattr(args, "seed", None)
    if isinstance(seed, int) and seed < 0:
        raise UsageError(f"--seed must be a whole number >= 0, got {seed}")
    out = getattr(args, "out", None)
    if isinstance(out, str | Path):
        check_out(Path(out))
    scheduler = getattr(args, "scheduler", None)
    if scheduler is not None:
        _limits.check_scheduler_address(scheduler)
    if getattr(args, "run_timeout", None) is not None:

        check_timeout(args.run_timeout)


def check_out(out: Path) -> None:
    """--out must name a directory that is (or can become) writable."""
    if str(out).strip() in ("", "."):
        raise UsageError("--out must name a directory, got an empty path")

    check_path_length(out)  # ENAMETOOLONG: one line, and no parent created
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is an existing file; choose a directory")
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"--out {out} lies under the file {parent}; choose a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out}: {parent} is not writable; choose another --out")
    for above in (out.resolve(), *out.resolve().parents):
        if above.name == "runs" and (above.parent / "manifest.json").exists():
            raise UsageError(f"--out {out} is inside the sweep {above.parent}; "
                             "choose a directory outside it")


# ------------------------------------------------------------------ params / scenarios
def cmd_params(args: argparse.Namespace) -> int:
    from sim.core.registry import markdown_table, table_rows

    if args.markdown:
        print(markdown_table(args.group))
        return 0
    rows = table_rows(args.group)
    cols = ("name", "group", "level", "default", "plausible", "unit", "meaning")
    width = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols[:-1]}
    print("  ".join(c.ljust(width[c]) for c in cols[:-1]) + "  meaning")
    for r in rows:
        print("  ".join(r[c].ljust(width[c]) for c in cols[:-1]) + "  " + r["meaning"])
    what = f"{args.group}s" if args.group else "parameters (levers and assumptions)"
    print(f"\n{len(rows)} {what}; bounds and sources: 'icsim params --markdown' or "
          "docs/ODD.md")
    return 0


def cmd_scenarios(args: argparse.Namespace) -> int:
    from sim.core.scenarios import SCENARIOS

    width = max(len(n) for n in SCENARIOS)
    for kind, title in (("national", "National approaches"), ("toolkit", "Local toolkit"),
                        ("team", "Team")):
        print(f"{title}:")
        for s in SCENARIOS.values():
            if s.kind == kind:
                print(f"  {s.name.ljust(width)}  {s.description}")
    print("\nCompose with '+', e.g. enabling_national+toolkit (later names win).")
    return 0


# ------------------------------------------------------------------ run
def cmd_run(args: argparse.Namespace) -> int:
    from sim.core.inputs import check_months
    from sim.core.registry import parse_assignment
    from sim.core.scenarios import resolve_scenario
    from sim.mesa.model import simulate, timeseries_frame  # Mesa: heavy
    from sim.report import figures as plots
    from sim.report.files import write_json
    from sim.ui.outputs import OutputDir

    overrides = dict(parse_assignment(text) for text in args.set)
    resolved = resolve_scenario(args.scenario, overrides)  # a bad name or file: one line
    check_months(args.months)
    formats = figure_formats(args.format)
    with OutputDir(args.out, "run") as target:
        model = simulate(args.scenario, args.seed, args.months, collect=True, **overrides)
        summary = model.summary()
        summary["seed"] = args.seed
        frame = timeseries_frame(model).drop(columns=["outcome"])
        with target.stage() as stage:
            write_json(stage / "summary.json", summary)
            frame.to_csv(stage / "timeseries.csv", index=False, float_format="%.6g")
            fig = plots.timeseries_figure(
                frame, title=f"{resolved.name}, seed {args.seed}: {summary['outcome']}")
            written = save_figures([("timeseries", fig)], stage, formats)
    print(describe(summary))
    print(f"wrote {args.out}/summary.json, timeseries.csv, {', '.join(written)}")
    return 0


def describe(summary: dict) -> str:
    """A short human-readable summary of one run."""
    from sim.core.scenarios import labelled

    def when(key: str) -> str:
        return "-" if summary[key] is None else f"month {summary[key]}"

    lines = [
        f"scenario {labelled(str(summary.get('scenario', '?')))}, seed {summary['seed']}, "
        f"{summary['months']} months: {summary['outcome'].upper()}",
        f"  business case {when('business_case_month')}, pilot {when('pilot_month')}, "
        f"integrated {when('integrated_month')}, collapse {when('collapse_month')}",
        f"  small tasks from {when('small_tasks_month')}; small wins {summary['small_wins']}; "
        f"turnover {summary['turnover_events']}; host changes {summary['host_changes']}; "
        f"funding received {summary['funding_received']:.2f} x pilot cost",
        "  final direction / alignment / commitment:",
    ]
    for level in ("system", "organisation", "team"):
        d, a, c = (summary[f"dac_{level}_{o}"] for o in ("direction", "alignment", "commitment"))
        lines.append(f"    {level:<12} {d:.2f} / {a:.2f} / {c:.2f}")
    lines.append(f"  mean engagement {summary['mean_engagement']:.2f}")
    return "\n".join(lines)


# ------------------------------------------------------------------ compare
def posterior_source(args: argparse.Namespace) -> str | None:
    """The posterior a comparison or national run takes: ``--posterior``, else the shipped
    case posterior; ``None`` with ``--point`` (the registry's values)."""
    from sim.experiment.posterior import CASE_POSTERIOR

    if args.point:
        return None
    return args.posterior if args.posterior is not None else str(CASE_POSTERIOR)


def shown_path(path: str | Path) -> str:
    """A path as a report shows it: from the working directory when it is inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _posterior_options(p: argparse.ArgumentParser, replicate: str) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--posterior", default=None, metavar="DIR_OR_FILE",
                       help=f"carry a calibration's posterior: replicate {replicate} uses "
                            f"draw {replicate} (default: the shipped case posterior, "
                            "data/case_posterior.parquet)")
    group.add_argument("--point", action="store_true",
                       help="run at the registry's point values instead of the posterior: "
                            "intervals then hold run-to-run noise only")


def cmd_compare(args: argparse.Namespace) -> int:
    from sim.core.inputs import check_months
    from sim.core.registry import parse_assignment
    from sim.experiment.inputs import with_inputs
    from sim.experiment.posterior import load_posterior
    from sim.report import figures as plots
    from sim.report.compare import console_table, markdown
    from sim.studies.compare import check_reference, check_replicates, check_scenarios, compare
    from sim.ui.outputs import OutputDir

    overrides = dict(parse_assignment(text) for text in args.set)
    formats = figure_formats(args.format)
    scenarios = check_scenarios(args.scenarios, overrides)
    # --reference: a scenario as named on the command line, or its name in the report
    names = {spec: s.name for spec, s in zip(args.scenarios, scenarios, strict=True)}
    reference = check_reference(names.get(args.reference, args.reference)
                                if args.reference is not None else None,
                                list(names.values()))
    check_replicates(args.replicates)
    check_months(args.months)
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be a whole number >= 1, got {args.workers}")
    source = posterior_source(args)
    posterior = load_posterior(source) if source is not None else None
    runs = _limits.check_runs(len(scenarios) * args.replicates,
                              f"{len(scenarios)} scenarios x --replicates {args.replicates}")
    plan = _limits.compare_plan(runs, args.months, args.workers or os.cpu_count() or 1)
    if posterior is not None:  # the draws are held in memory too

        plan = with_inputs(plan, *posterior.shape)
    if not args.quiet:
        print(plan.check().line(), flush=True)
    else:
        plan.check()
    with OutputDir(args.out, "compare") as target:
        result = compare(scenarios, args.replicates, args.seed, args.months, args.workers,
                         progress=not args.quiet, engine=args.engine, posterior=posterior,
                         reference=reference)
        result.overrides = overrides
        result.posterior_file = shown_path(source) if source is not None else ""
        with target.stage() as stage:
            table = result.table
            if not result.differences.empty:
                table = table.merge(result.differences.drop(columns=["versus"]),
                                    on="scenario", how="left")
            table.to_csv(stage / "comparison.csv", index=False, float_format="%.6g")
            if not result.pairs.empty:
                result.pairs.to_csv(stage / "pairs.csv", index=False, float_format="%.6g")
            (stage / "comparison.md").write_text(markdown(result))
            result.runs.to_parquet(stage / "runs.parquet", index=False)
            labels = {scenario.name: scenario.label for scenario in result.scenarios}
            figures = [("outcomes", plots.outcome_shares_figure(result.table, labels)),
                       ("dac_trajectories", plots.dac_trajectories_figure(result.bands,
                                                                          labels)),
                       ("time_to_pilot",
                        plots.time_to_pilot_figure(result.curves, result.months, labels))]
            written = save_figures(figures, stage, formats)
    if not args.quiet:
        print(console_table(result))
        print(f"wrote {args.out}/comparison.csv, comparison.md, runs.parquet, "
              f"{', '.join(written)}")
    return 0


# ------------------------------------------------------------------ calibrate
def cmd_calibrate(args: argparse.Namespace) -> int:
    from sim.report.calibration import write_report as write_calibration_report
    from sim.studies.calibration.run import calibrate
    from sim.studies.calibration.spec import load_calibration

    spec = load_calibration(args.file)
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be a whole number >= 1, got {args.workers}")
    changes: dict[str, Any] = {}
    if args.method is not None:
        changes["method"] = args.method
    if args.max_simulations is not None:
        if args.max_simulations < 2:
            raise UsageError(f"--max-simulations must be at least 2, got {args.max_simulations}")
        changes["simulations"] = args.max_simulations
    if args.population is not None:
        if not 2 <= args.population <= 100_000:
            raise UsageError(f"--population must be in [2, 100000], got {args.population}")
        changes["population"] = args.population
    if changes:
        spec = dataclasses.replace(spec, **changes)
        if spec.method in ("rejection", "npe") and spec.accept > spec.simulations:
            raise UsageError(f"--max-simulations {spec.simulations} is below the file's "
                             f"'accept' ({spec.accept})")
        # the options are part of what is calibrated: --resume must see the same ones
        spec = dataclasses.replace(spec, text=spec.text + f"\n# options: {sorted(changes.items())}")
    out = Path(args.out) if args.out is not None else Path("results") / spec.name
    local = 0 if args.scheduler is not None else (args.workers or os.cpu_count() or 1)
    plan = _limits.calibration_plan(spec.simulations, spec.population, spec.generations,
                                    len(spec.inferred), spec.accept, local).check()
    if not args.quiet:
        print(plan.line().replace(" runs,", " simulations at most,", 1), flush=True)
    result = calibrate(spec, out, workers=args.workers, scheduler=args.scheduler,
                       resume=args.resume, progress=not args.quiet,
                       reference_dir=args.reference)
    write_calibration_report(result)
    share = float(result.predictive["all"].to_numpy()[2])  # rows: point, prior, posterior
    print(f"{spec.name}: {spec.method}, {result.simulations:,} simulations in "
          f"{result.seconds:.0f} s; {len(result.posterior):,} posterior draws, "
          f"{share:.1%} of their runs meet every target -> {out}/summary.md, "
          "posterior.parquet")
    return 0


# ------------------------------------------------------------------ national
def with_reference(rules: str, reference: str) -> str:
    """The funding rules with the reference first (run too if not named): every report
    line compares each rule with it, replicate by replicate."""
    from sim.studies import national

    if reference not in national.RULES:
        raise UsageError(f"--reference must be a funding rule: {', '.join(national.RULES)}; "
                         f"got {reference!r}")
    names = [r.strip() for r in str(rules).split(",")]
    return ",".join([reference, *(r for r in names if r != reference)])


class _NationalOutputs:
    """``icsim national``'s outputs written on a thread while the runs run
    (``sim.report.national.write_outputs`` reading each part as the sweep writes it,
    handed over in memory: ``sim.studies.national.PartFeed``), so that reading the runs,
    writing ``sites.parquet`` and importing the report's modules (matplotlib) overlap the
    workers instead of following them on one core. Start it only once the workers are
    forked (a coordinator with a thread no longer forks them), and only for a fresh run.
    """

    def __init__(self, out: Path, spec: Any, formats: Sequence[str]) -> None:
        import threading

        from sim.studies import national

        self.out, self.spec, self.formats = out, spec, formats
        self.feed = national.PartFeed(len(national.part_paths(out, spec)))
        self.table: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._write, name="icsim-national-outputs",
                                       daemon=True)
        self.thread.start()

    def _write(self) -> None:
        try:
            self.feed.wait_for_runs()  # not before: the imports would delay the first tasks
            # imported now, while the workers run: the tables' t quantiles need
            # scipy.special only once the last part is in
            import scipy.special  # noqa: F401

            from sim.report import national as national_report
            from sim.studies import national

            national.prepare_outputs(self.spec)
            self.table = national_report.write_outputs(self.out, self.spec, self.formats,
                                                       self.feed)
        except BaseException as exc:  # raised in the command's thread by finish()
            self.error = exc

    def finish(self, completed: bool) -> Any:
        """Tell the thread how the sweep ended and wait for it: the rules' table once the
        outputs are in place (``completed``), else ``None`` with nothing written."""
        self.feed.finish(completed)
        self.thread.join()
        if not completed:
            return None
        if self.error is not None:
            raise self.error
        return self.table


def cmd_national(args: argparse.Namespace) -> int:
    from sim.experiment.execute import make_executor
    from sim.experiment.store import MANIFEST, DirectoryLock
    from sim.experiment.sweep import run_sweep
    from sim.studies import national

    spec = national.check(args.sites, args.approach,
                          with_reference(args.funding_rule, args.reference), args.budget,
                          args.replicates, args.seed, args.months, args.engine,
                          posterior_source(args), args.country)
    formats = figure_formats(args.format)
    out = Path(args.out)
    national.check_same_request(out, spec)
    spec = national.with_stored_parts(out, spec)
    experiment = spec.experiment()
    announce(experiment_plan(experiment, args.workers, args.scheduler, spec.posterior or None),
             args.quiet)
    fresh = not (out / MANIFEST).exists()
    # The lock is held from the first run to the last output written: a second national
    # run into the same --out cannot interleave its runs or outputs with this one's.
    with DirectoryLock(args.out) as lock:
        try:  # the workers start now, before the report's modules are imported
            executor = make_executor(args.workers, args.scheduler,
                                     preload=[national.NATIONAL_MODEL.partition(":")[0]])
        except BaseException:
            lock.release(discard=True)
            raise
        outputs = _NationalOutputs(out, spec, formats) if fresh else None
        completed = False
        try:
            report = run_sweep(experiment, args.out, executor=executor, resume=args.resume,
                               progress=not args.quiet, engine=spec.engine,
                               allow_mixed_code=args.allow_mixed_code, lock=lock,
                               run_timeout=args.run_timeout,
                               on_part=outputs.feed.put if outputs is not None else None)
            completed = report.complete
        except BaseException:
            executor.abort()  # Ctrl-C or an error: never wait for runs that may hang
            raise
        finally:
            executor.close()
            table: Any = outputs.finish(completed) if outputs is not None else None
        if not report.complete:
            print(f"icsim: {report.runs_total - report.runs_done} runs still to do; rerun "
                  "with --resume", file=sys.stderr)
            return 1
        from sim.report import national as national_report  # the thread's, if it ran

        if outputs is None:  # a resume: the sweep has checked the parts already there
            table = national_report.write_outputs(out, spec, formats)
    if not args.quiet:
        print(national_report.console_table(table))
        figures = ", ".join(f"{s}.{f}" for s in ("national_pilot", "funded_gap")
                            for f in formats)
        print(f"wrote {args.out}/sites.parquet, national.csv, rules.csv, summary.md, {figures}")
    return 0


# ------------------------------------------------------------------ validate
def cmd_validate(args: argparse.Namespace) -> int:
    """Run every configuration of a validation file as ``icsim national`` would, into
    ``OUT/<configuration>/``, and judge every evidence statement against the runs."""
    from sim.experiment.store import DirectoryLock
    from sim.experiment.sweep import run_sweep
    from sim.report import national as national_report
    from sim.report import validation as validation_report
    from sim.studies import national, validation

    spec = validation.load_validation(args.file)
    if args.replicates is not None:
        _limits.check_size("replicates", args.replicates)
    posterior = None if args.point else args.posterior
    formats = figure_formats(args.format)
    out = Path(args.out)
    specs = {c.name: validation.national_spec(c, args.replicates, posterior)
             for c in spec.configurations}
    experiments = {}
    for name, nspec in specs.items():  # every check before anything is written
        national.check_same_request(out / name, nspec)
        specs[name] = nspec = national.with_stored_parts(out / name, nspec)
        experiments[name] = nspec.experiment()
        experiment_plan(experiments[name], args.workers, args.scheduler, posterior)
    sites, series = {}, {}
    with DirectoryLock(out):  # one validation into this folder at a time
        for conf in spec.configurations:
            target, nspec = out / conf.name, specs[conf.name]
            if not args.quiet:
                print(f"{conf.name}: {nspec.sites} sites x {nspec.replicates} replicates, "
                      f"{nspec.months} months, rule "
                      f"“{national.rule_label(conf.funding_rule)}”", flush=True)
            with DirectoryLock(target) as lock:
                report = run_sweep(experiments[conf.name], target, workers=args.workers,
                                   scheduler=args.scheduler, resume=args.resume,
                                   progress=not args.quiet,
                                   engine=nspec.engine, lock=lock)
                if not report.complete:
                    print(f"icsim: {conf.name}: {report.runs_total - report.runs_done} runs "
                          "still to do; rerun with --resume", file=sys.stderr)
                    return 1
                national_report.write_outputs(target, nspec, formats)
            sites[conf.name] = validation.load_sites(target, conf)
            series[conf.name] = validation.shares(sites[conf.name], conf.months)
        table = validation.verdicts(spec, sites)
        first = next(iter(specs.values()))
        validation_report.write_outputs(
            out, spec, table, series, {n: s.replicates for n, s in specs.items()},
            first.posterior or None, first.posterior_sha256, formats)
    n = validation.counts(table)
    if not args.quiet:
        print(f"{n['consistent']} consistent, {n['inconsistent']} inconsistent, "
              f"{n['not comparable']} not comparable; wrote {out}/validation.md, "
              "validation.csv and a figure per configuration")
    return 0


# ------------------------------------------------------------------ dashboard
def cmd_dashboard(args: argparse.Namespace) -> int:
    import os

    if not 1 <= args.port <= 65535:
        raise UsageError(f"--port must be a whole number in [1, 65535], got {args.port}")
    check_port_free(args.port)
    print(f"serving the icsim dashboard on http://127.0.0.1:{args.port} (Ctrl-C stops it)",
          flush=True)
    # Offline and private: no version check against the package index (solara is pinned,
    # see pyproject.toml) and no usage telemetry. No "runs on Solara" banner either: at a
    # projector's 1024 px it covered the team figure's colour bar (and it, like the
    # "Made with Solara" of the default loader, links to solara.dev).
    command = [sys.executable, "-m", "solara", "run", "sim.ui.app:page", "--host", "127.0.0.1",
               "--port", str(args.port), "--production", "--no-open", "--no-check-version",
               "--theme-loader", "plain"]
    env = {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
           "SOLARA_THEME_SHOW_BANNER": "False"}
    os.execve(sys.executable, command, env)  # become the server: stopping icsim stops it


def check_port_free(port: int, host: str = "127.0.0.1") -> None:
    """Refuse a port something already listens on (one line instead of the server's
    traceback). A port taken between this check and the server's start still fails in
    the server."""
    import errno
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(f"--port {port} is in use on {host}; stop what uses it or "
                                 "choose another --port") from None
            if exc.errno == errno.EACCES:
                raise UsageError(f"--port {port} needs privileges on {host}; choose a port "
                                 ">= 1024") from None
            raise UsageError(f"--port {port}: cannot listen on {host} ({exc.strerror})"
                             ) from None


# ------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="icsim", description="Simulate multilevel healthcare-integration "
                     "projects: why they stall, and what makes them reach a pilot.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("params", help="print the parameter registry: every number the model "
                       "uses", description="Print the parameter registry: the levers a policy "
                       "maker or project could set, and the assumptions inside the mechanisms.")
    p.add_argument("--markdown", action="store_true", help="as a Markdown table with sources")
    p.add_argument("--group", choices=("lever", "assumption"), default=None,
                   help="only the levers or only the assumptions (default: both)")
    p.set_defaults(handler=cmd_params)

    p = sub.add_parser("scenarios", help="list the named scenarios",
                       description="List the named scenarios: national approaches, local "
                       "toolkit interventions and team variants; compose them with '+'.")
    p.set_defaults(handler=cmd_scenarios)

    p = sub.add_parser(
        "run", help="run one project and write its summary and time series",
        description="Run one project month by month; write summary.json, timeseries.csv and "
        "a time-series figure, and print a short summary.")
    p.add_argument("--scenario", default="baseline",
                   help="a named scenario, an a+b composition or a scenario file (*.toml, "
                        "see scenarios/README.md)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a parameter (repeatable); see 'icsim params'")
    p.add_argument("--seed", type=_int, default=0, help="the run's seed")
    p.add_argument("--months", type=_int, default=60, help="horizon in months")
    p.add_argument("--format", default="png", metavar="FMT[,FMT]",
                   help="figure formats: png, svg, pdf, comma-separated")
    p.add_argument("--out", type=Path, default=Path("results/run"), metavar="DIR",
                   help="output folder")
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser(
        "compare", help="compare scenarios over replicates",
        description="Run R replicates of each scenario with common random numbers (replicate "
        "i has the same seed in every scenario) and report outcome shares, Kaplan-Meier time "
        "to pilot and paired differences from the first scenario: comparison.csv, "
        "comparison.md, runs.parquet and three figures.")
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO",
                   help="a named scenario, an a+b composition or a scenario file (*.toml, "
                        "see scenarios/README.md); the first is the reference")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a parameter in every scenario (repeatable)")
    p.add_argument("--replicates", type=_int, default=200, help="runs per scenario")
    p.add_argument("--seed", type=_int, default=0, help="seed of the replicates' seeds")
    p.add_argument("--months", type=_int, default=60, help="horizon in months")
    p.add_argument("--workers", type=_int, default=None, metavar="N",
                   help="local worker processes (default: all cores)")
    p.add_argument("--format", default="png", metavar="FMT[,FMT]",
                   help="figure formats: png, svg, pdf, comma-separated")
    p.add_argument("--out", type=Path, default=Path("results/compare"), metavar="DIR",
                   help="output folder")
    _posterior_options(p, "i")
    p.add_argument("--reference", default=None, metavar="SCENARIO",
                   help="the scenario every other is compared with, replicate by replicate "
                        "(the first if not given); with three or more scenarios every pair "
                        "is compared too (pairs.csv, Bonferroni-adjusted intervals)")
    p.add_argument("--engine", choices=("fast", "mesa"), default="fast",
                   help="the fast engine or the Mesa engine: the same runs, the fast engine ~35x "
                        "faster")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_compare)

    p = sub.add_parser(
        "national", help="many local projects under one national policy",
        description="Draw a country of sites, share one national budget by each funding "
        "rule and run every site under the national approach; writes sites.parquet, "
        "national.csv, rules.csv, summary.md and two figures. Rules are compared in the "
        "order given, with common random numbers.")
    p.add_argument("--sites", type=_int, default=200, help="sites in the country")
    p.add_argument("--approach", default="baseline",
                   help="the scenario every site runs under: a named scenario (toolkit "
                        "included), an a+b composition or a scenario file (*.toml)")
    p.add_argument("--funding-rule", default="competitive",
                   help="none, competitive, targeted or universal_small; several, "
                        "separated by commas, are compared with common random numbers, "
                        "each against --reference")
    p.add_argument("--reference", default="none", metavar="RULE",
                   help="the funding rule every other is compared with, replicate by "
                        "replicate, run too if --funding-rule does not name it ('none': no "
                        "national budget); with three or more rules every pair is compared "
                        "too (pairs.csv, Bonferroni-adjusted intervals)")
    p.add_argument("--budget", type=float, default=None,
                   help="national budget in full-pilot-cost units (default: 0.22 x --sites)")
    p.add_argument("--replicates", type=_int, default=20, help="runs of every site per rule")
    p.add_argument("--seed", type=_int, default=0, help="draws the country and the seeds")
    p.add_argument("--country", choices=("redraw", "fixed"), default="redraw",
                   help="redraw: a new country of sites per replicate, so intervals include "
                        "how countries differ; fixed: one country, intervals show luck alone")
    p.add_argument("--months", type=_int, default=60, help="horizon in months")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--workers", type=_int, default=None, metavar="N",
                       help="local worker processes (default: all cores)")
    group.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="Dask scheduler address, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--resume", action="store_true", help="complete an interrupted run")
    p.add_argument("--allow-mixed-code", action="store_true",
                   help="with --resume: mix runs from the code running now with runs from "
                        "another icsim version or commit (recorded in the manifest)")
    p.add_argument("--format", default="png", metavar="FMT[,FMT]",
                   help="figure formats: png, svg, pdf, comma-separated")
    p.add_argument("--out", type=Path, default=Path("results/national"), metavar="DIR",
                   help="output folder")
    p.add_argument("--engine", choices=("fast", "mesa"), default="fast",
                   help="the fast engine or the Mesa engine: the same runs, the fast engine ~35x "
                        "faster")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _posterior_options(p, "r of every site")
    p.add_argument("--run-timeout", type=float, default=None, metavar="SECONDS",
                   help="a site run past this many seconds is stopped and recorded "
                        f"'timeout' (default: {PLUGIN_DEFAULT:g})")
    p.set_defaults(handler=cmd_national)

    p = sub.add_parser(
        "validate", help="check the national view against national evaluations",
        description="Run every configuration of a validation file (experiments/"
        "validate_national.toml) as icsim national does, into OUT/<configuration>/, and "
        "judge every evidence statement: consistent, inconsistent or not comparable. Writes "
        "validation.md, validation.csv and a figure per configuration.")
    p.add_argument("file", type=Path, help="the validation file (TOML)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--posterior", default=None, metavar="DIR_OR_FILE",
                       help="carry a calibration's posterior: replicate r uses draw r at "
                            "every site (default: the registry's point values)")
    group.add_argument("--point", action="store_true",
                       help="run at the registry's point values, as without --posterior")
    p.add_argument("--replicates", type=_int, default=None,
                   help="replicates of every configuration (default: the file's)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--workers", type=_int, default=None, metavar="N",
                       help="local worker processes (default: all cores)")
    group.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="Dask scheduler address")
    p.add_argument("--resume", action="store_true", help="complete an interrupted run")
    p.add_argument("--format", default="png", metavar="FMT[,FMT]",
                   help="figure formats: png, svg, pdf, comma-separated")
    p.add_argument("--out", type=Path, default=Path("results/validation"), metavar="DIR",
                   help="output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("calibrate", help="calibrate to a case's targets (rejection ABC or "
                       "ABC-SMC)",
                       description="Infer the uncertain numbers of a calibration file from its "
                       "targets (rejection ABC on a reference table of prior simulations, or "
                       "ABC-SMC with pyabc); check the posterior's predictive fit and its "
                       "coverage on synthetic cases; write posterior.parquet, the checks, "
                       "figures and summary.md to DIR.")
    p.add_argument("file", metavar="FILE", help="calibration file, e.g. "
                   "experiments/calibrate_case.toml")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="directory (default: results/<the calibration file's name>)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_int, default=None, metavar="N",
                       help="local processes (default: all cores)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="Dask scheduler address, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--method", choices=("rejection", "smc", "npe"), default=None,
                   help="override the file's method")
    p.add_argument("--max-simulations", type=_int, default=None, metavar="N",
                   help="override the file's 'simulations' (the reference table's size, or "
                   "SMC's budget)")
    p.add_argument("--population", type=_int, default=None, metavar="N",
                   help="override the file's SMC population")
    p.add_argument("--reference", default=None, metavar="DIR",
                   help="condition on the reference table of an earlier calibration in DIR "
                   "with the same prior (new targets in seconds)")
    p.add_argument("--resume", action="store_true",
                   help="continue the calibration in --out (the same file and options)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(handler=cmd_calibrate)

    p = sub.add_parser("dashboard", help="serve the interactive dashboard on 127.0.0.1",
                       description="Serve the interactive dashboard on 127.0.0.1, offline: no "
                       "version check and no telemetry. Ctrl-C stops it.")
    p.add_argument("--port", type=_int, default=8765,
                   help="the port to serve on, on 127.0.0.1 only")
    p.set_defaults(handler=cmd_dashboard)

    add_parsers(sub)
    return parser


def use_headless_backend() -> None:
    """Draw without a display: the command line only writes files.

    ``sim.report.figures`` chooses no backend (so Jupyter shows its figures inline); the
    command line picks Agg here unless ``MPLBACKEND`` says otherwise -- through the
    environment when matplotlib is not imported yet, so a command that draws nothing
    never imports it.
    """
    if not os.environ.get("MPLBACKEND"):
        if "matplotlib" in sys.modules:
            import matplotlib

            matplotlib.use("Agg")
        else:
            os.environ["MPLBACKEND"] = "Agg"


def main(argv: Sequence[str] | None = None) -> int:
    """The ``icsim`` program; ``argv`` defaults to the command line. Called without
    ``argv`` (the program itself: ``icsim``, ``python -m sim``), it leaves the garbage
    collector's final passes nothing to do when the process exits (:func:`_exiting`)."""
    try:
        return _main(argv)
    finally:
        if argv is None:
            _exiting()


def _exiting() -> None:
    """Freeze every object left (``gc.freeze``) when the program is about to exit: the
    interpreter's shutdown runs the cyclic garbage collector over them several times, and
    with the fast engine (numba) and the report's modules loaded -- some 220,000 objects
    -- that cost ``icsim national`` 0.5-0.7 s of wall time after its last output was
    written (0.06 s frozen). Objects are still freed by reference counting, the rest by
    the process's end; every output is closed by then. Not in :func:`main` called with
    ``argv`` (tests, embedding): a process that goes on would keep its cycles."""
    gc.freeze()


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    use_headless_backend()
    try:
        check_sizes(args)
        return int(args.handler(args) or 0)
    except UsageError as exc:

        print(f"icsim: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except JobStopped as exc:
        print(f"icsim: error: {exc}; finished work is kept -- run the same command again "
              "with --resume", file=sys.stderr)
        return 1
    except OSError as exc:  # a full disk or a read-only place met while writing outputs
        where = f" {exc.filename}" if exc.filename else ""
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            print(f"icsim: error: disk full writing{where}; nothing half-written was kept -- "
                  "free space and run the command again", file=sys.stderr)
            return 2
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            print(f"icsim: error: cannot write{where} ({exc.strerror}); choose another --out",
                  file=sys.stderr)
            return 2
        raise
    except KeyboardInterrupt:
        print("icsim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
