"""The sweep runner against one batched core of the fast engine (issue 24, item 1).

    python benchmarks/bench_runner.py [--replicates 124] [--workers 2] [--repeats 3]

The design is experiments/national_approach_grid.toml (81 national approaches) with
``--replicates`` each: 10,044 runs by default. Two measurements, interleaved ``--repeats``
times so that a shared machine's load falls on both alike:

* **one batched core**: every run of the design in one ``sim.engine.fast.run_arrays`` call
  (parameters packed beforehand), CPU time of this process -- the kernel's cost per run;
* **the runner**: ``run_sweep`` on ``--workers`` local processes, Parquet parts and
  manifest written; CPU of the coordinator and its workers (``getrusage``, the workers
  counted once the pool is shut down) and wall time.

It prints the runner's CPU per run over the kernel's (goal <= 1.5) and the runner's speed
on two workers over one batched core, ``kernel CPU / runner wall`` (goal >= 1.8; only
meaningful on an otherwise idle machine, so the load average is printed beside it).
The script uses public functions only, so it runs against any commit.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from sim.core.registry import resolve
from sim.core.scenarios import parameters_for
from sim.engine import fast
from sim.engine.layout import pack_many
from sim.experiment.design import make_design
from sim.experiment.spec import parse_experiment
from sim.experiment.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[1]
GRID = ROOT / "experiments" / "national_approach_grid.toml"


def experiment(replicates: int):  # noqa: ANN201 - an Experiment
    text = GRID.read_text().replace("replicates = 100", f"replicates = {replicates}")
    return parse_experiment(text, source="grid.toml")


def kernel(exp) -> tuple[float, int]:  # noqa: ANN001
    """CPU seconds of one run_arrays call on every run of the design."""
    design = make_design(exp)
    columns = design.run_columns(0, design.n_runs)
    base = parameters_for(exp.scenario, dict(exp.constants))
    rows = [resolve(base, {n: columns[n][i].item() for n in design.names})
            for i in range(design.n_runs)]
    params = pack_many(rows)
    seeds = columns["seed"]
    fast.run_arrays(params[:10], seeds[:10], exp.months)  # compiled / loaded beforehand
    start = time.process_time()
    fast.run_arrays(params, seeds, exp.months)
    return time.process_time() - start, design.n_runs


def cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def runner(exp, workers: int) -> tuple[float, float]:  # noqa: ANN001
    """(CPU seconds of coordinator and workers, wall seconds) of one sweep."""
    out = Path(tempfile.mkdtemp(prefix="bench-runner-"))
    try:
        self0, kids0 = cpu(resource.RUSAGE_SELF), cpu(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        report = run_sweep(exp, out / "sweep", workers=workers, progress=False)
        wall = time.perf_counter() - start
        spent = cpu(resource.RUSAGE_SELF) - self0 + cpu(resource.RUSAGE_CHILDREN) - kids0
    finally:
        shutil.rmtree(out, ignore_errors=True)
    assert report.complete and report.runs_failed == 0
    return spent, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=124)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    exp = experiment(args.replicates)
    kernels, cpus, walls = [], [], []
    runs = 0
    for _ in range(args.repeats):
        seconds, runs = kernel(exp)
        kernels.append(seconds)
        spent, wall = runner(exp, args.workers)
        cpus.append(spent)
        walls.append(wall)
    k, c, w = (float(np.median(x)) for x in (kernels, cpus, walls))
    print(f"{runs:,} runs of experiments/national_approach_grid.toml, {args.workers} workers, "
          f"median of {args.repeats} interleaved repeats; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"  one batched core (run_arrays)   {k / runs * 1e6:7.1f} CPU-us a run")
    print(f"  the runner (run_sweep)          {c / runs * 1e6:7.1f} CPU-us a run, "
          f"{w:.2f} s wall")
    print(f"  runner CPU / kernel CPU           {c / k:5.2f}   (goal <= 1.5)")
    print(f"  runner on {args.workers} workers / one batched core {k / w:5.2f}x "
          "(goal >= 1.8; wall time, needs an idle machine)")


if __name__ == "__main__":
    main()
