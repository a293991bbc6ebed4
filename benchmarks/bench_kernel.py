"""The fast engine's kernel (issue 24, item 5): CPU-us a baseline run, ns a draw, and the
share of a run that drawing random numbers would take alone.

    python benchmarks/bench_kernel.py [--runs 3000] [--repeats 5] [--tree DIR ...]
    python benchmarks/bench_kernel.py --count-draws [--runs 3000]

Each ``--tree`` (default: this checkout) is measured in its own process, the trees
interleaved ``--repeats`` times so that a shared machine's load falls on each alike; CPU
time (``time.process_time``), median. The draw is timed filling a 4-million-element array
already written once (a first touch inside the timed fill would time the page faults too:
13 ns a draw against 2.4). Goal: 25 us a baseline run (on an idle machine: CPU time on a
loaded one grows with the other jobs' share of the caches).

A baseline run draws DRAWS_PER_RUN numbers on average: 3,516.6 from the model's stream and
60.2 from its child stream, over the benchmark's seeds 0-2999 at 60 months (a run that
collapses stops drawing). ``--count-draws`` counts them again: it keeps each run's starting
streams, runs the batch, then steps a copy of each starting stream until it equals the
stream the run left behind. The draw-bound share is DRAWS_PER_RUN x (ns a draw) / (us a
run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

DRAWS_PER_RUN = 3577  # counted with --count-draws (see above)
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
rng.fill(streams, 0, out)  # compiles, and touches every page before the timed fill
start = time.process_time()
rng.fill(streams, 0, out)
draw_ns = (time.process_time() - start) / out.size * 1e9
print(run_us, draw_ns)
"""

COUNT = """
import numba
import numpy as np
from sim.core.registry import resolve
from sim.engine import fast, layout, rng

@numba.njit
def steps_between(start, end):
    out = np.zeros((start.shape[0], 2), dtype=np.int64)
    for r in range(start.shape[0]):
        for row in range(2):
            st = start[r].copy()
            while st[row, 0] != end[r, row, 0] or st[row, 1] != end[r, row, 1]:
                rng.next_uint64(st, row)
                out[r, row] += 1
    return out

runs = {runs}
params = np.repeat(layout.pack_many([resolve({{}})]), runs)
start = fast.streams_for(np.arange(runs))
end = start.copy()
fast.run_batch(params, end, 60, np.zeros(0, dtype=np.int64),
               np.zeros((runs, 0), dtype=layout.PARAM_DTYPE),
               np.zeros((0, layout.N_DAC, fast.HIST_BINS), dtype=np.int64),
               np.zeros(0, dtype=np.int64), np.zeros((0, 0, len(fast.PROBE_FIELDS))),
               np.zeros(0))
steps = steps_between(start, end).mean(axis=0)
print(f"{{steps[0]:.1f}} from the model's stream + {{steps[1]:.1f}} from the child stream "
      f"= {{steps.sum():.1f}} draws a baseline run ({{runs}} runs, seeds 0-{{runs - 1}})")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tree", type=Path, action="append")
    parser.add_argument("--count-draws", action="store_true",
                        help="count the draws a baseline run makes (first tree) and stop")
    args = parser.parse_args()
    trees = args.tree or [Path(__file__).resolve().parents[1]]
    if args.count_draws:
        env = {**os.environ, "PYTHONPATH": str(trees[0].resolve())}
        subprocess.run([sys.executable, "-c", COUNT.format(runs=args.runs)], env=env,
                       cwd=trees[0], check=True)
        return
    results: dict[Path, list[tuple[float, float]]] = {t: [] for t in trees}
    for _ in range(args.repeats):
        for tree in trees:
            # In the tree's folder: ``python -c`` puts the working folder first on the path,
            # ahead of PYTHONPATH, so from elsewhere every tree would import that checkout.
            env = {**os.environ, "PYTHONPATH": str(tree.resolve())}
            done = subprocess.run([sys.executable, "-c", PROBE.format(runs=args.runs)],
                                  env=env, cwd=tree, capture_output=True, text=True,
                                  check=True)
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
