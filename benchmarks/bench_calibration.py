"""The calibration's CPU before and after (issue 24, item 3).

    python benchmarks/bench_calibration.py [--budget 10000] [--workers 2]

Before: ABC-SMC through pyabc, the method ``icsim calibrate`` shipped when the issue was
filed (512 CPU-s then, on a problem that no longer exists: the case file now infers 161
entries, where SMC cannot fill its second generation -- docs/calibration/methods.md).
After: rejection ABC on a reference table, the method it ships now: batched calls to the
engine and one vectorised pass for the distances.

Both run the problem both can do (``sim.studies.calibration.methods``: ten numbers of
``experiments/calibrate_case.toml``, every other entry at the case's values, the same
fourteen targets) with the same budget of simulations, in this process and its workers.
Prints CPU-seconds in all and a simulation, and the two posteriors side by side: the
share of posterior runs meeting each target and each number's posterior 90% width over
its prior's, with the largest difference and the Monte-Carlo standard error of a share at
the smaller posterior's size. At a small budget rejection's fixed costs (its coverage
check on synthetic cases, the report and figures) outweigh its simulations, while SMC's
cost grows with its simulations (about 7-9 CPU-ms each at any budget); so rejection is
run again at ``--at-scale`` simulations, and the ratio of CPU a simulation there is the
one the goal is read on (>= 10x, moonshot 30x).
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from pathlib import Path

from sim.studies.calibration.methods import SUBSET, compare, subset_spec
from sim.studies.calibration.run import calibrate
from sim.studies.calibration.spec import load_calibration

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=10_000,
                        help="simulations a method (methods.md used 150,000)")
    parser.add_argument("--at-scale", type=int, default=200_000,
                        help="simulations of the second rejection run")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="icsim-bench-calibration-") as tmp:
        table = compare(args.budget, args.workers, Path(tmp)).set_index("method")
        spec = subset_spec(load_calibration(ROOT / "experiments" / "calibrate_case.toml"),
                           "rejection", args.at_scale)
        scale = calibrate(spec, Path(tmp) / "scale", workers=args.workers, progress=False)
    print(f"ten numbers, fourteen targets, budget {args.budget:,} simulations a method, "
          f"{args.workers} workers; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")
    per = table.cpu_seconds / table.simulations
    for method, label in (("smc", "before: ABC-SMC (pyabc)"),
                          ("rejection", "after: rejection ABC")):
        row = table.loc[method]
        print(f"  {label:26s} {int(row.simulations):>9,} simulations "
              f"{row.cpu_seconds:8.1f} CPU-s {per[method] * 1e6:9.1f} CPU-us a simulation "
              f"{row.wall_seconds:7.1f} s wall, {int(row.draws):,} posterior draws")
    at_scale = scale.cpu_seconds / scale.simulations
    print(f"  {'after, at scale':26s} {scale.simulations:>9,} simulations "
          f"{scale.cpu_seconds:8.1f} CPU-s {at_scale * 1e6:9.1f} CPU-us a simulation "
          f"{scale.seconds:7.1f} s wall")
    print(f"before / after at the same budget: {per['smc'] / per['rejection']:.0f}x the CPU "
          f"a simulation; before / after at scale: {per['smc'] / at_scale:.0f}x "
          "(goal >= 10x, moonshot 30x)")
    targets = [c for c in table.columns if c.startswith("posterior_")]
    widths = [f"width_{name}" for name in SUBSET]
    draws = int(table.draws.min())
    print(f"posteriors (a share's Monte-Carlo standard error at {draws:,} draws is at most "
          f"{0.5 / math.sqrt(draws):.3f}):")
    for columns, what in ((targets, "share of posterior runs meeting"),
                          (widths, "90% width over the prior's")):
        print(f"  {what}:")
        for column in columns:
            smc, rej = table.loc["smc", column], table.loc["rejection", column]
            name = column.split("_", 1)[1]
            print(f"    {name:24s} smc {smc:6.3f}  rejection {rej:6.3f}  "
                  f"difference {rej - smc:+.3f}")
        largest = (table.loc["rejection", columns] - table.loc["smc", columns]).abs().max()
        print(f"    largest difference {largest:.3f}")


if __name__ == "__main__":
    main()
