"""The command line: ``icsim`` (or ``python -m sim``).

Bad input exits with status 2 and a one-line message naming the culprit and what is
allowed, and writes nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from sim.errors import UsageError


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line: ``icsim: error: ...`` and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"icsim: error: {message} (see '{self.prog} --help')\n")


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


# Ceilings on sizes a user gives: past them a request is refused before any work starts.
# Raise one deliberately with the environment variable ICSIM_MAX_<NAME> (e.g.
# ICSIM_MAX_MONTHS=2400).
CEILINGS = {"months": 1200, "replicates": 100_000, "sites": 100_000, "workers": 256}


def _ceiling(name: str) -> int:
    import os

    text = os.environ.get(f"ICSIM_MAX_{name.upper()}")
    return int(text) if text and text.isdigit() else CEILINGS[name]


def check_sizes(args: argparse.Namespace) -> None:
    """Refuse a size past its ceiling, a negative seed, or an unusable --out, before work."""
    for name in CEILINGS:
        value = getattr(args, name, None)
        if value is None:
            continue
        if value < 1:
            raise UsageError(f"--{name} must be a whole number >= 1, got {value}")
        if value > _ceiling(name):
            raise UsageError(f"--{name} {value} is past the ceiling {_ceiling(name)}; raise "
                             f"it deliberately with ICSIM_MAX_{name.upper()}=N")
    seed = getattr(args, "seed", None)
    if isinstance(seed, int) and seed < 0:
        raise UsageError(f"--seed must be a whole number >= 0, got {seed}")
    out = getattr(args, "out", None)
    if out is not None:
        check_out(Path(out))


def check_out(out: Path) -> None:
    """--out must name a directory that is (or can become) writable."""
    import os

    if str(out).strip() in ("", "."):
        raise UsageError("--out must name a directory, got an empty path")
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
    from sim.parameters import markdown_table, table_rows

    if args.markdown:
        print(markdown_table())
        return 0
    rows = table_rows()
    cols = ("name", "level", "default", "bounds", "unit", "meaning")
    width = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols[:-1]}
    print("  ".join(c.ljust(width[c]) for c in cols[:-1]) + "  meaning")
    for r in rows:
        print("  ".join(r[c].ljust(width[c]) for c in cols[:-1]) + "  " + r["meaning"])
    print(f"\n{len(rows)} parameters; sources: 'icsim params --markdown' or docs/ODD.md")
    return 0


def cmd_scenarios(args: argparse.Namespace) -> int:
    from sim.scenarios import SCENARIOS

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
    from sim import plots
    from sim.model import check_months, simulate, timeseries_frame
    from sim.output import staged, write_json
    from sim.parameters import parse_assignment
    from sim.scenarios import split

    split(args.scenario)
    overrides = dict(parse_assignment(text) for text in args.set)
    check_months(args.months)
    model = simulate(args.scenario, args.seed, args.months, collect=True, **overrides)
    summary = model.summary()
    summary["seed"] = args.seed
    frame = timeseries_frame(model).drop(columns=["outcome"])
    with staged(args.out) as stage:
        write_json(stage / "summary.json", summary)
        frame.to_csv(stage / "timeseries.csv", index=False, float_format="%.6g")
        fig = plots.timeseries_figure(
            frame, title=f"{args.scenario}, seed {args.seed}: {summary['outcome']}")
        plots.save(fig, stage / "timeseries.png")
    print(describe(summary))
    print(f"wrote {args.out}/summary.json, timeseries.csv, timeseries.png")
    return 0


def describe(summary: dict) -> str:
    """A short human-readable summary of one run."""
    def when(key: str) -> str:
        return "-" if summary[key] is None else f"month {summary[key]}"

    lines = [
        f"scenario {summary.get('scenario', '?')}, seed {summary['seed']}, "
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
def cmd_compare(args: argparse.Namespace) -> int:
    from sim import plots
    from sim.compare import check_replicates, check_scenarios, compare, markdown
    from sim.model import check_months
    from sim.output import staged

    check_scenarios(args.scenarios)
    check_replicates(args.replicates)
    check_months(args.months)
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be a whole number >= 1, got {args.workers}")
    result = compare(args.scenarios, args.replicates, args.seed, args.months, args.workers)
    with staged(args.out) as stage:
        result.table.to_csv(stage / "comparison.csv", index=False, float_format="%.6g")
        (stage / "comparison.md").write_text(markdown(result))
        result.runs.to_parquet(stage / "runs.parquet", index=False)
        plots.save(plots.outcome_shares_figure(result.table), stage / "outcomes.png")
        plots.save(plots.dac_trajectories_figure(result.bands), stage / "dac_trajectories.png")
        plots.save(plots.time_to_pilot_figure(result.curves, result.months),
                   stage / "time_to_pilot.png")
    cols = ["scenario", "runs", "p_pilot", "p_pilot_lo", "p_pilot_hi", "p_integrated",
            "p_stalled", "p_collapsed", "median_pilot_month"]
    print(result.table[cols].to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    print(f"wrote {args.out}/comparison.csv, comparison.md, runs.parquet, outcomes.png, "
          "dac_trajectories.png, time_to_pilot.png")
    return 0


# ------------------------------------------------------------------ national
def cmd_national(args: argparse.Namespace) -> int:
    from sim import national
    from sim.experiment.spec import parse_experiment
    from sim.experiment.sweep import run_sweep

    spec = national.check(args.sites, args.approach, args.funding_rule, args.budget,
                          args.replicates, args.seed, args.months)
    experiment = parse_experiment(spec.experiment_text(), source="icsim national")
    report = run_sweep(experiment, args.out, workers=args.workers, scheduler=args.scheduler,
                       resume=args.resume)
    if not report.complete:
        print(f"icsim: {report.runs_total - report.runs_done} runs still to do; rerun with "
              "--resume", file=sys.stderr)
        return 1
    table = national.write_outputs(Path(args.out), spec)
    cols = ["rule", "funded_sites", "p_pilot", "p_pilot_lo", "p_pilot_hi", "p_pilot_funded",
            "p_pilot_unfunded", "cost_per_pilot_site"]
    print(table[cols].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print(f"wrote {args.out}/sites.parquet, national.csv, rules.csv, summary.md, "
          "national_pilot.png, funded_gap.png")
    return 0


# ------------------------------------------------------------------ dashboard
def cmd_dashboard(args: argparse.Namespace) -> int:
    import os

    if not 1 <= args.port <= 65535:
        raise UsageError(f"--port must be a whole number in [1, 65535], got {args.port}")
    print(f"serving the icsim dashboard on http://127.0.0.1:{args.port} (Ctrl-C stops it)",
          flush=True)
    command = [sys.executable, "-m", "solara", "run", "sim.app:page", "--host", "127.0.0.1",
               "--port", str(args.port), "--production", "--no-open"]
    os.execv(sys.executable, command)  # become the server: stopping icsim stops it


# ------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="icsim", description="Simulate multilevel healthcare-integration "
                     "projects: why they stall, and what makes them reach a pilot.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("params", help="print the parameter registry")
    p.add_argument("--markdown", action="store_true", help="as a Markdown table with sources")
    p.set_defaults(handler=cmd_params)

    p = sub.add_parser("scenarios", help="list the named scenarios")
    p.set_defaults(handler=cmd_scenarios)

    p = sub.add_parser("run", help="run one project and write its summary and time series")
    p.add_argument("--scenario", default="baseline", help="scenario or a+b composition")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a parameter (repeatable); see 'icsim params'")
    p.add_argument("--seed", type=_int, default=0)
    p.add_argument("--months", type=_int, default=60)
    p.add_argument("--out", type=Path, default=Path("results/run"))
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("compare", help="compare scenarios over replicates")
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO")
    p.add_argument("--replicates", type=_int, default=200)
    p.add_argument("--seed", type=_int, default=0)
    p.add_argument("--months", type=_int, default=60)
    p.add_argument("--workers", type=_int, default=None,
                   help="local worker processes (default: all cores)")
    p.add_argument("--out", type=Path, default=Path("results/compare"))
    p.set_defaults(handler=cmd_compare)

    p = sub.add_parser("national", help="many local projects under one national policy")
    p.add_argument("--sites", type=_int, default=200)
    p.add_argument("--approach", default="baseline", help="a national-approach scenario")
    p.add_argument("--funding-rule", default="competitive",
                   help="none | competitive | targeted | universal_small, or several "
                        "separated by commas (compared with common random numbers)")
    p.add_argument("--budget", type=float, default=None,
                   help="national budget in full-pilot-cost units (default 0.22 x sites)")
    p.add_argument("--replicates", type=_int, default=20)
    p.add_argument("--seed", type=_int, default=0)
    p.add_argument("--months", type=_int, default=60)
    group = p.add_mutually_exclusive_group()
    group.add_argument("--workers", type=_int, default=None)
    group.add_argument("--scheduler", default=None, help="Dask scheduler address")
    p.add_argument("--resume", action="store_true", help="complete an interrupted run")
    p.add_argument("--out", type=Path, default=Path("results/national"))
    p.set_defaults(handler=cmd_national)

    p = sub.add_parser("dashboard", help="serve the interactive dashboard on 127.0.0.1")
    p.add_argument("--port", type=_int, default=8765)
    p.set_defaults(handler=cmd_dashboard)

    try:
        from sim.experiment.commands import add_parsers
    except ImportError:  # the runner is optional at import time
        pass
    else:
        add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_sizes(args)
        return int(args.handler(args) or 0)
    except UsageError as exc:
        print(f"icsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("icsim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
