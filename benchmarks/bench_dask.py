"""A Dask LocalCluster against the local process pool on the same cores (issue 24, item 6).

    python benchmarks/bench_dask.py [--replicates 124,1240] [--workers 2] [--repeats 2]

The same sweep (experiments/national_approach_grid.toml, 81 points, each of
``--replicates``: 10,044 and 100,440 runs by default) on ``--workers`` local processes and
on a ``LocalCluster`` of as many single-threaded worker processes, interleaved
``--repeats`` times. Wall time of ``run_sweep``, from the call to its return:

* **local pool**: in a fresh Python process each time (as ``icsim sweep --workers N``; in
  this process the cluster's threads would keep the pool from forking), so it includes
  forking and warming the workers and creating the store, not starting Python;
* **Dask**: against a cluster started once beforehand (its start-up printed apart) whose
  workers have run one sweep already (the engine loaded), as ``icsim sweep --scheduler``
  against a running cluster: it includes connecting a client and creating the store; the
  runner's default task size (whole parts) and, for comparison, four tasks a part.

The **marginal** time of a run (the difference between the two sizes over the difference
in runs) leaves out every fixed cost of both sides. Prints Dask / local pool speed, total
and marginal (goal >= 0.8). Wall time: on a machine shared with other jobs it moves with
their load, printed beside it; so the CPU of each side is printed too (and its ratio,
which a shared machine disturbs less): the local pool's coordinator
(``getrusage(RUSAGE_SELF)``) and workers (``RUSAGE_CHILDREN``, once the pool is shut
down); on Dask, this process (the client, the scheduler and the nannies run in it) and
the workers (``getrusage`` run on each worker before and after the sweep).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRID = ROOT / "experiments" / "national_approach_grid.toml"


def experiment(replicates: int):  # noqa: ANN201 - an Experiment
    from sim.experiment.spec import parse_experiment

    text = GRID.read_text().replace("replicates = 100", f"replicates = {replicates}")
    return parse_experiment(text, source="grid.toml")


def cpu(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _worker_cpu() -> float:
    """Run on a Dask worker: its process's CPU seconds so far (all its threads)."""
    return cpu()


def timed(exp, client=None, **where) -> dict[str, float]:  # noqa: ANN001, ANN003
    """Wall and CPU seconds of one sweep: ``coordinator`` is this process's CPU, ``workers``
    its reaped children's (a local pool) or the Dask workers' (with ``client``)."""
    from sim.experiment.sweep import run_sweep

    out = Path(tempfile.mkdtemp(prefix="bench-dask-"))
    try:
        before = sum(client.run(_worker_cpu).values()) if client is not None else \
            cpu(resource.RUSAGE_CHILDREN)
        self0 = cpu()
        start = time.perf_counter()
        report = run_sweep(exp, out / "sweep", progress=False, **where)
        seconds = time.perf_counter() - start
        self1 = cpu()
        after = sum(client.run(_worker_cpu).values()) if client is not None else \
            cpu(resource.RUSAGE_CHILDREN)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    assert report.complete and report.runs_failed == 0
    return {"wall": seconds, "coordinator": self1 - self0, "workers": after - before}


def local(replicates: int, workers: int) -> dict[str, float]:
    proc = subprocess.run([sys.executable, __file__, "--child", str(replicates),
                           "--workers", str(workers)], capture_output=True, text=True,
                          check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", default="124,1240",
                        help="two design sizes, comma-separated (replicates of 81 points)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(timed(experiment(args.child), workers=args.workers)))
        return
    from distributed import Client, LocalCluster

    sizes = [int(r) for r in args.replicates.split(",")]
    assert len(sizes) == 2 and sizes[0] < sizes[1], "--replicates SMALL,LARGE"
    exps = {r: experiment(r) for r in sizes}
    quarter = -(-exps[sizes[0]].runs_per_part // 4)
    got: dict[tuple[str, int], list[dict[str, float]]] = {}
    loads = []
    start = time.perf_counter()
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, \
            Client(cluster.scheduler_address, set_as_default=False) as client:
        started = time.perf_counter() - start
        address = cluster.scheduler_address
        timed(exps[sizes[0]], scheduler=address)  # the workers load the engine once
        for _ in range(args.repeats):
            for r in sizes:
                got.setdefault(("local", r), []).append(local(r, args.workers))
                got.setdefault(("dask", r), []).append(
                    timed(exps[r], client, scheduler=address))
                got.setdefault(("quarter", r), []).append(
                    timed(exps[r], client, scheduler=address, runs_per_task=quarter))
                loads.append(os.getloadavg()[0])

    def med(key: str, r: int, what: str) -> float:
        if what == "cpu":
            return statistics.median(g["coordinator"] + g["workers"] for g in got[key, r])
        return statistics.median(g[what] for g in got[key, r])

    small, large = sizes
    n0, n1 = small * 81, large * 81
    print(f"{args.workers} workers, median of {args.repeats} interleaved repeats; load "
          f"average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores; the "
          f"LocalCluster started in {started:.2f} s (not counted below)")
    rows = (("local process pool", "local"), ("Dask LocalCluster (whole parts a task)", "dask"),
            (f"Dask, 4 tasks a part ({quarter} runs)", "quarter"))
    print(f"  {'':40s} {n0:>8,} runs {n1:>9,} runs   marginal us a run: wall, CPU "
          "(coordinator + workers)")

    def marginal(key: str, what: str) -> float:
        return (med(key, large, what) - med(key, small, what)) / (n1 - n0)

    for label, key in rows:
        print(f"  {label:40s} {med(key, small, 'wall'):8.2f} s {med(key, large, 'wall'):9.2f} s"
              f"   {marginal(key, 'wall') * 1e6:6.1f}, {marginal(key, 'cpu') * 1e6:5.1f} "
              f"({marginal(key, 'coordinator') * 1e6:4.1f} + "
              f"{marginal(key, 'workers') * 1e6:4.1f})")
    for label, key in rows[1:]:
        print(f"  {label}: {med('local', small, 'wall') / med(key, small, 'wall'):4.2f}x the "
              f"pool at {n0:,} runs, {med('local', large, 'wall') / med(key, large, 'wall'):4.2f}x"
              f" at {n1:,}, {marginal('local', 'wall') / marginal(key, 'wall'):4.2f}x marginal "
              f"(wall); CPU a marginal run {marginal(key, 'cpu') / marginal('local', 'cpu'):4.2f}x"
              " the pool's")
    print(f"  GOAL (Dask LocalCluster of {args.workers} >= 0.8x the local pool, wall time): "
          f"{marginal('local', 'wall') / marginal('dask', 'wall'):4.2f}x per marginal run, "
          f"{med('local', large, 'wall') / med('dask', large, 'wall'):4.2f}x at {n1:,} runs "
          f"(load average {min(loads):.1f}-{max(loads):.1f}: wall time needs an idle machine)")


if __name__ == "__main__":
    main()
