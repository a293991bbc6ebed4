"""The fast engine's kernel (issue 24, item 5): CPU-us a baseline run, ns a draw, and the
share of a run that drawing random numbers would take alone.

    python benchmarks/bench_kernel.py [--runs 3000] [--repeats 5] [--tree DIR ...]

Each ``--tree`` (default: this checkout) is measured in its own process, the trees
interleaved ``--repeats`` times so that a shared machine's load falls on each alike; CPU
time (``time.process_time``), median. A baseline run draws about 3,630 numbers; the
draw-bound share is 3,630 x (ns a draw) / (us a run). Goal: 25 us a baseline run (on an
idle machine: CPU time on a loaded one grows with the other jobs' share of the caches).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

DRAWS_PER_RUN = 3630
PROBE = """
import time
import numpy as np
from sim.core.registry import resolve
from sim.engine import fast, rng
from sim.engine.layout import pack_many
runs = {runs}
params = np.repeat(pack_many([resolve({{}})]), runs)
seeds = np.arange(runs)
fast.run_arrays(params[:5], seeds[:5])
start = time.process_time()
fast.run_arrays(params, seeds)
run_us = (time.process_time() - start) / runs * 1e6
streams = fast.streams_for([1])[0]
out = np.empty(4_000_000)
rng.fill(streams, 0, out[:10])
start = time.process_time()
rng.fill(streams, 0, out)
draw_ns = (time.process_time() - start) / out.size * 1e9
print(run_us, draw_ns)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tree", type=Path, action="append")
    args = parser.parse_args()
    trees = args.tree or [Path(__file__).resolve().parents[1]]
    results: dict[Path, list[tuple[float, float]]] = {t: [] for t in trees}
    for _ in range(args.repeats):
        for tree in trees:
            env = {**os.environ, "PYTHONPATH": str(tree.resolve())}
            done = subprocess.run([sys.executable, "-c", PROBE.format(runs=args.runs)],
                                  env=env, capture_output=True, text=True, check=True)
            run_us, draw_ns = (float(x) for x in done.stdout.split())
            results[tree].append((run_us, draw_ns))
    print(f"baseline runs, {args.runs} a call, median of {args.repeats} interleaved; load "
          f"average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for tree, pairs in results.items():
        run_us = statistics.median(r for r, _ in pairs)
        draw_ns = statistics.median(d for _, d in pairs)
        share = DRAWS_PER_RUN * draw_ns / 1000 / run_us
        print(f"  {tree}: {run_us:6.1f} CPU-us a run, {draw_ns:5.2f} ns a draw, "
              f"draws alone {share:4.0%} of a run (goal 25 us)")


if __name__ == "__main__":
    main()
