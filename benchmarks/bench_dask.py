"""A Dask LocalCluster against the local process pool on the same cores (issue 24, item 6).

    python benchmarks/bench_dask.py [--replicates 124] [--workers 2] [--repeats 2]

The same sweep (experiments/national_approach_grid.toml, ``--replicates`` each: 10,044
runs by default) on ``--workers`` local processes and on a ``LocalCluster`` of as many
single-threaded worker processes, interleaved ``--repeats`` times; the Dask runs twice,
with the runner's task size (four tasks a part) and with whole parts a task, so the effect
of the task size is measured on the same cluster. Prints wall
times (median) and Dask / local pool speed (goal >= 0.8). Wall time: on a machine shared
with other jobs it moves with their load, printed beside it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from sim.experiment import execute
from sim.experiment.spec import parse_experiment
from sim.experiment.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[1]
GRID = ROOT / "experiments" / "national_approach_grid.toml"


def timed(exp, **where) -> float:  # noqa: ANN001, ANN003
    out = Path(tempfile.mkdtemp(prefix="bench-dask-"))
    try:
        start = time.perf_counter()
        report = run_sweep(exp, out / "sweep", progress=False, **where)
        seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(out, ignore_errors=True)
    assert report.complete and report.runs_failed == 0
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=124)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    from distributed import LocalCluster

    text = GRID.read_text().replace("replicates = 100", f"replicates = {args.replicates}")
    exp = parse_experiment(text, source="grid.toml")
    local, whole, quarter = [], [], []
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        timed(exp, scheduler=address)  # the workers import and load the engine once
        for _ in range(args.repeats):
            local.append(timed(exp, workers=args.workers))
            quarter.append(timed(exp, scheduler=address))
            execute.DaskExecutor.tasks_per_part = 1
            try:
                whole.append(timed(exp, scheduler=address))
            finally:
                execute.DaskExecutor.tasks_per_part = 4
    lo, wh, qu = (statistics.median(x) for x in (local, whole, quarter))
    runs = exp.replicates * 81
    print(f"{runs:,} runs, {args.workers} workers, median of {args.repeats}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"  local process pool                     {lo:6.2f} s")
    print(f"  Dask LocalCluster, whole parts a task  {wh:6.2f} s   {lo / wh:4.2f} x the pool")
    print(f"  Dask LocalCluster, 4 tasks a part      {qu:6.2f} s   {lo / qu:4.2f} x the pool")
    print("  (goal: Dask >= 0.8 x the local pool)")


if __name__ == "__main__":
    main()
