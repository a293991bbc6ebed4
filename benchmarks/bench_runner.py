"""The sweep runner against one batched core of the fast engine (issue 24, item 1).

    python benchmarks/bench_runner.py [--replicates 124,4960] [--workers 2] [--repeats 3]

The design is experiments/national_approach_grid.toml (81 national approaches) with each
of ``--replicates``: 10,044 and 401,760 runs by default (the larger was 100,440 until
2026-12-07: its 0.9 s more than the smaller left the marginal cost's wall time to a tenth
of a second of the host's drift, 1.60-2.09x in three passes within ten minutes).
Measured, interleaved ``--repeats`` times so that a shared machine's load falls on all
alike:

* **one batched core**: every run of the smaller design in one
  ``sim.engine.fast.run_arrays`` call (parameters packed beforehand, engine loaded), CPU
  time of this process -- the kernel's cost per run; measured before and after every
  sweep, and the median taken, since a shared host's speed drifts between sweeps;
* **the runner**: ``run_sweep`` on ``--workers`` local processes, Parquet parts and
  manifest written, for each design size, each in a fresh Python process (so that its
  workers are forked from it, as ``icsim sweep``'s are, and are its children): CPU of the
  coordinator (``getrusage(RUSAGE_SELF)``) and of its workers (``RUSAGE_CHILDREN``, read
  once ``run_sweep`` has shut the pool down and reaped them) and wall time, from the call
  to the return of ``run_sweep`` (forking and warming the workers, creating the store
  included; starting Python and importing ``sim`` not).

The totals include fixed costs (the pool, the store, loading the engine in the
coordinator); the **marginal** cost of a run is the difference between the two sizes over
the difference in runs. It prints the runner's CPU per run over the kernel's, total and
marginal (goal <= 1.5), and the runner's speed on two workers over one batched core,
``kernel CPU per run / runner wall per run`` (goal >= 1.8; only meaningful on an otherwise
idle machine, so the load average is printed beside it, and so is the most the measured CPU
allows on that many idle cores: ``workers x kernel CPU / runner CPU``, coordinator
included, since it shares the cores), and what the machine itself allows: the same
kernel calls in ``--workers`` independent processes at once (no runner, nothing shared
but the hardware) against one process alone -- two vCPUs of a shared host need not give
twice one's throughput, and no runner can beat that ceiling. The script uses public functions
only, so it runs against any commit.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GRID = ROOT / "experiments" / "national_approach_grid.toml"


def experiment(replicates: int):  # noqa: ANN201 - an Experiment
    from sim.experiment.spec import parse_experiment

    text = GRID.read_text().replace("replicates = 100", f"replicates = {replicates}")
    return parse_experiment(text, source="grid.toml")


def packed(exp):  # noqa: ANN001, ANN201
    """The design's runs packed for the engine, and their seeds."""
    from sim.core.registry import resolve
    from sim.core.scenarios import parameters_for
    from sim.engine.layout import pack_many
    from sim.experiment.design import make_design

    design = make_design(exp)
    columns = design.run_columns(0, design.n_runs)
    base = parameters_for(exp.scenario, dict(exp.constants))
    rows = [resolve(base, {n: columns[n][i].item() for n in design.names})
            for i in range(design.n_runs)]
    return pack_many(rows), columns["seed"]


def kernel(params, seeds, months: int) -> float:  # noqa: ANN001
    """CPU seconds of one run_arrays call on every run."""
    from sim.engine import fast

    fast.run_arrays(params[:10], seeds[:10], months)  # compiled / loaded beforehand
    start = time.process_time()
    fast.run_arrays(params, seeds, months)
    return time.process_time() - start


def cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def child(replicates: int, workers: int) -> None:
    """One sweep in this (fresh) process; prints its costs as JSON."""
    from sim.experiment.sweep import run_sweep

    exp = experiment(replicates)
    out = Path(tempfile.mkdtemp(prefix="bench-runner-"))
    try:
        self0, kids0 = cpu(resource.RUSAGE_SELF), cpu(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        report = run_sweep(exp, out / "sweep", workers=workers, progress=False)
        wall = time.perf_counter() - start
        self1, kids1 = cpu(resource.RUSAGE_SELF), cpu(resource.RUSAGE_CHILDREN)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    assert report.complete and report.runs_failed == 0
    print(json.dumps({"runs": report.runs_total, "coordinator": self1 - self0,
                      "workers": kids1 - kids0, "wall": wall, "executor": report.executor}))


def kernel_child(replicates: int, calls: int) -> None:
    """``calls`` run_arrays calls on the design's runs once told to start (a line on
    stdin): one of the independent kernel processes of :func:`kernels_at_once`."""
    from sim.engine import fast

    exp = experiment(replicates)
    params, seeds = packed(exp)
    fast.run_arrays(params[:10], seeds[:10], exp.months)
    print("ready", flush=True)
    sys.stdin.readline()
    for _ in range(calls):
        fast.run_arrays(params, seeds, exp.months)
    print("done", flush=True)


def kernels_at_once(replicates: int, processes: int, calls: int = 10) -> float:
    """Wall seconds for ``processes`` independent processes, no runner, each making
    ``calls`` run_arrays calls on the design, started together once all are ready."""
    procs = [subprocess.Popen([sys.executable, __file__, "--kernel-child", str(replicates),
                               "--calls", str(calls)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
             for _ in range(processes)]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    start = time.perf_counter()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "done"
    wall = time.perf_counter() - start
    for p in procs:
        p.wait()
    return wall


def runner(replicates: int, workers: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", str(replicates),
                           "--workers", str(workers)], capture_output=True, text=True,
                          check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", default="124,4960",
                        help="two design sizes, comma-separated (replicates of 81 points)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--kernel-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=10, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.workers)
        return
    if args.kernel_child is not None:
        kernel_child(args.kernel_child, args.calls)
        return
    sizes = [int(r) for r in args.replicates.split(",")]
    assert len(sizes) == 2 and sizes[0] < sizes[1], "--replicates SMALL,LARGE"
    exp = experiment(sizes[0])
    params, seeds = packed(exp)
    kernels: list[float] = []
    got: dict[int, list[dict]] = {r: [] for r in sizes}
    loads = []
    ceilings: list[float] = []
    for _ in range(args.repeats):
        # what the machine itself allows: the same kernel calls in one process, then in
        # `workers` independent processes at once (no runner, nothing shared)
        alone = kernels_at_once(sizes[0], 1)
        ceilings.append(args.workers * alone / kernels_at_once(sizes[0], args.workers))
        # the kernel before and after each sweep: the host's speed drifts from minute to
        # minute (one call gave 21.9-30.8 CPU-us a run within two minutes), so one call a
        # repeat is too few to divide by
        kernels.append(kernel(params, seeds, exp.months) / len(seeds))
        for r in sizes:
            got[r].append(runner(r, args.workers))
            loads.append(os.getloadavg()[0])
            kernels.append(kernel(params, seeds, exp.months) / len(seeds))
    k = float(np.median(kernels))

    def med(r: int, key: str) -> float:
        if key == "cpu":
            return float(np.median([g["coordinator"] + g["workers"] for g in got[r]]))
        return float(np.median([g[key] for g in got[r]]))

    small, large = sizes
    n0, n1 = got[small][0]["runs"], got[large][0]["runs"]
    print(f"experiments/national_approach_grid.toml, {args.workers} workers "
          f"({got[large][0]['executor']}), median of {args.repeats} interleaved repeats; "
          f"load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores")
    print(f"  one batched core (run_arrays)  {k * 1e6:7.1f} CPU-us a run (median of "
          f"{len(kernels)} calls, {min(kernels) * 1e6:.1f}-{max(kernels) * 1e6:.1f})")
    for r, n in ((small, n0), (large, n1)):
        print(f"  runner, {n:>7,} runs: coordinator {med(r, 'coordinator'):6.2f} + workers "
              f"{med(r, 'workers'):6.2f} = {med(r, 'cpu'):6.2f} CPU-s "
              f"({med(r, 'cpu') / n * 1e6:6.1f} us a run, {med(r, 'cpu') / n / k:4.2f}x "
              f"the kernel), {med(r, 'wall'):6.2f} s wall")
    dn = n1 - n0
    mc = (med(large, "coordinator") - med(small, "coordinator")) / dn
    mw = (med(large, "workers") - med(small, "workers")) / dn
    mwall = (med(large, "wall") - med(small, "wall")) / dn
    fixed_cpu = med(small, "cpu") - (mc + mw) * n0
    fixed_wall = med(small, "wall") - mwall * n0
    print(f"  marginal run: coordinator {mc * 1e6:5.1f} + workers {mw * 1e6:5.1f} = "
          f"{(mc + mw) * 1e6:5.1f} CPU-us, {mwall * 1e6:5.1f} us wall; "
          f"fixed: {fixed_cpu:5.2f} CPU-s, {fixed_wall:5.2f} s wall")
    total = med(large, "cpu") / n1 / k
    print(f"  GOAL runner CPU <= 1.5x the kernel's: {(mc + mw) / k:4.2f}x per marginal run, "
          f"{total:4.2f}x at {n1:,} runs")
    print(f"  GOAL {args.workers} workers >= 1.8x one batched core (wall time): "
          f"{k / mwall:4.2f}x per marginal run, {k * n1 / med(large, 'wall'):4.2f}x at "
          f"{n1:,} runs (load average {min(loads):.1f}-{max(loads):.1f}: needs an idle "
          "machine)")
    ceiling = float(np.median(ceilings))
    print(f"  the machine's own ceiling: {args.workers} independent kernel processes at once, "
          f"no runner, do {ceiling:4.2f}x one alone (median of {len(ceilings)}, "
          f"{min(ceilings):.2f}-{max(ceilings):.2f}); the runner reaches "
          f"{k / mwall / ceiling:4.2f} of it per marginal run")
    print(f"  (on {args.workers} idle cores shared by the workers and the coordinator, this CPU "
          f"allows at most {args.workers * k / (mc + mw):4.2f}x per marginal run, "
          f"{args.workers / total:4.2f}x at {n1:,} runs)")

if __name__ == "__main__":
    main()
