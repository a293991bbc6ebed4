"""Start-up (issue 24, item 4): how long a command takes before it does any work.

    python benchmarks/bench_startup.py [--repeats 5] [--tree DIR]

Each measurement is a fresh Python process, repeated ``--repeats`` times (median), the
cases interleaved so that a shared machine's load falls on all alike; CPU time (user +
system of the child, from ``getrusage``) beside wall time, since wall time on a loaded
machine says more about the load than the code. ``--tree`` measures another checkout
(e.g. the main branch) the same way: its folder goes first on ``PYTHONPATH``.

Goals: ``icsim --help`` < 0.3 s, ``import sim`` < 0.4 s. It also reports which heavy
modules ``icsim compare``'s imports pull in (Mesa must not be among them).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

CASES = {
    "python -c pass": ["-c", "pass"],
    "import sim": ["-c", "import sim"],
    "icsim --help": ["-m", "sim", "--help"],
    "icsim compare --help": ["-m", "sim", "compare", "--help"],
    "first fast run (warm cache)": ["-c", "from sim.run import run_projects; "
                                    "from sim.core.registry import resolve; "
                                    "run_projects([resolve({})], [1], 60)"],
}
PROBE = ("import sys; from sim.ui.cli import build_parser; build_parser(); "
         "import sim.studies.compare, sim.report.compare; "
         "print(' '.join(m for m in ('mesa', 'SALib', 'pyabc', 'dask', 'solara', "
         "'matplotlib', 'numba') if m in sys.modules))")


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, *argv], env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(args.tree.resolve())}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in CASES}
    for _ in range(args.repeats):
        for name, argv in CASES.items():
            times[name].append(measure(argv, env))
    print(f"{args.tree}: median of {args.repeats}, fresh processes; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"  {'':32s}  wall (s)  CPU (s)")
    for name, pairs in times.items():
        wall = statistics.median(w for w, _ in pairs)
        cpu = statistics.median(c for _, c in pairs)
        print(f"  {name:32s}  {wall:8.2f}  {cpu:7.2f}")
    probe = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                           text=True, check=True).stdout.split()
    print(f"  icsim compare's modules import: {', '.join(probe) or 'none of the heavy ones'}"
          " (of mesa, SALib, pyabc, dask, solara, matplotlib, numba)")


if __name__ == "__main__":
    main()
