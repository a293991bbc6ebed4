"""``icsim national`` at scale (issue 24, item 2): time, CPU and peak memory of whole
commands, each in its own process.

    python benchmarks/bench_national_scale.py [--cases 10000x20,50000x20] [--workers 2]

For each case SITESxREPLICATES it runs ``python -m sim national --sites SITES
--replicates REPLICATES --quiet`` (the default funding rule, competitive, and the
reference rule, none: SITES x REPLICATES x 2 runs) into a temporary folder and prints

* its wall time, and the load average (``os.getloadavg``) before and after: the machine
  is shared, so read CPU times before wall times;
* the CPU of the command and its workers together (``getrusage`` of the children), per
  run, and the ratio to the goal's budget (``icsim national --sites 10000 --replicates
  20``, 400,000 runs, in 10 s on two cores is 50 CPU-us a run at most);
* in this process, the workers' share: the batch function a worker runs
  (``site_run.columns``) on 40,000 of the same runs, in batches of a part (4,000 runs,
  the runner's tasks for ``icsim national``), and within it the kernel alone
  (``sim.engine.fast.run_arrays``), in CPU-us a run -- what the command costs beyond
  the kernel is the difference;
* a timeline: how long the coordinator ran alone before the workers started and after
  they finished, and how many cores were busy in between (10 s on two cores needs both
  busy throughout);
* the peak resident memory of every process: the command (the coordinator) and each
  worker, from ``VmHWM`` in ``/proc/PID/status`` sampled every 0.1 s while they run,
  and the largest of any process from ``getrusage`` (exact, kept by the kernel), with
  its ratio to the 600 MB goal.

Goals: 10,000 sites x 20 replicates under 10 s on two cores; 2 million runs (50,000 sites
x 20 replicates x 2 rules) under 600 MB in every process. Run it from the tree to
measure (``PYTHONPATH`` decides which code runs).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_SECONDS, GOAL_RUNS, CORES = 10.0, 10_000 * 20 * 2, 2
RULES = 2  # the default funding rule and the reference rule
GOAL_MB = 600.0


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` now running (from /proc)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = Path(f"/proc/{parent}/task").iterdir()
            kids = [int(k) for t in tasks
                    for k in (t / "children").read_text().split()]
        except OSError:
            continue
        found += kids
        todo += kids
    return found


def _peak_mb(pid: int) -> float | None:
    """A process's peak resident memory so far (``VmHWM``), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _cpu_s(pid: int) -> float | None:
    """A process's CPU time so far (user + system, from ``/proc/PID/stat``), in s."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timeline(samples: list[tuple[float, dict[int, float]]], coordinator: int,
             wall: float) -> str:
    """Whether both cores were busy: from (time, CPU s so far of each process) sampled
    every 0.1 s, the coordinator alone before the workers' first CPU tick and after
    their last one, and between them how many cores the command kept busy on average."""
    workers = {pid for _, cpu in samples for pid, c in cpu.items()
               if pid != coordinator and c > 1.0}
    if not workers or len(samples) < 2:
        return "timeline: no worker seen"

    def used(cpu: dict[int, float]) -> float:
        return sum(c for pid, c in cpu.items() if pid in workers)

    i = next(k for k, (_, cpu) in enumerate(samples) if used(cpu) > 0)
    final = max(used(cpu) for _, cpu in samples)  # the workers are gone at the end
    j = next(k for k, (_, cpu) in enumerate(samples) if used(cpu) >= final - 0.02)
    first, last = samples[i][0], samples[j][0]
    busy = (sum(samples[j][1].values()) - sum(samples[i][1].values())) \
        / max(last - first, 1e-9)
    mine = max(cpu.get(coordinator, 0.0) for _, cpu in samples)
    return (f"timeline (sampled every 0.1 s): the coordinator alone {first:.1f} s before "
            f"the workers' first CPU tick and {wall - last:.1f} s after their last; "
            f"between them {last - first:.1f} s with {busy:.2f} cores busy on average; "
            f"CPU: coordinator {mine:.1f} s, workers {final:.1f} s (last samples)")


def run_case(sites: int, replicates: int, workers: int,
             ) -> tuple[float, float, float, float, list[float], str]:
    """(wall s, CPU s of the command and its workers, peak MB of any process (getrusage),
    the coordinator's peak MB, each worker's peak MB, the timeline) of one command."""
    out = Path(tempfile.mkdtemp(prefix="bench-national-scale-"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    peaks: dict[int, float] = {}
    samples: list[tuple[float, dict[int, float]]] = []
    start = time.perf_counter()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sim", "national", "--sites", str(sites),
             "--replicates", str(replicates), "--workers", str(workers), "--quiet",
             "--out", str(out / "n")])
        while proc.poll() is None:
            cpu: dict[int, float] = {}
            for pid in (proc.pid, *_children(proc.pid)):
                mb = _peak_mb(pid)
                if mb is not None:
                    peaks[pid] = max(peaks.get(pid, 0.0), mb)
                used = _cpu_s(pid)
                if used is not None:
                    cpu[pid] = used
            samples.append((time.perf_counter() - start, cpu))
            time.sleep(0.1)
        wall = time.perf_counter() - start
        if proc.returncode:
            raise SystemExit(f"icsim national failed with status {proc.returncode}")
    finally:
        shutil.rmtree(out, ignore_errors=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    coordinator = peaks.pop(proc.pid, float("nan"))
    return (wall, cpu, after.ru_maxrss / 1024, coordinator, sorted(peaks.values()),
            timeline(samples, proc.pid, wall))


def kernel_share(sites: int = 2000, replicates: int = 20) -> tuple[float, float]:
    """(CPU-us a run of the workers' batch function, of the kernel within it) on
    ``sites`` x ``replicates`` runs of the competitive rule, in this process."""
    from sim.engine import fast
    from sim.experiment.design import make_design
    from sim.experiment.models import Rows
    from sim.experiment.posterior import CASE_POSTERIOR
    from sim.experiment.sweep import model_call
    from sim.studies import national

    spec = national.check(sites=sites, replicates=replicates, posterior=str(CASE_POSTERIOR))
    experiment = spec.experiment()
    design = make_design(experiment)
    constants = dict(model_call(experiment).constants)
    columns = design.run_columns(0, design.n_runs)
    rows = Rows({name: columns[name] for name in design.names}, design.n_runs)
    values = rows.value_columns()
    fast.warm()
    batch = experiment.runs_per_part  # the runner's tasks for national: whole parts
    national._site_run_columns({k: v[:batch] for k, v in values.items()}, constants)  # caches
    spent = [0.0]
    inner = fast.run_arrays

    def timed(*args: object, **kwargs: object) -> object:
        start = time.process_time()
        try:
            return inner(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            spent[0] += time.process_time() - start

    fast.run_arrays = timed  # type: ignore[assignment]
    try:
        start = time.process_time()
        for i in range(0, design.n_runs, batch):
            national._site_run_columns({k: v[i:i + batch] for k, v in values.items()},
                                       constants)
        total = time.process_time() - start
    finally:
        fast.run_arrays = inner  # type: ignore[assignment]
    return total / design.n_runs * 1e6, spent[0] / design.n_runs * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="10000x20,50000x20")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"icsim national, {args.workers} workers, {os.cpu_count()} cores; CPU is of the "
          "command and its workers together")
    budget = GOAL_SECONDS * CORES / GOAL_RUNS * 1e6
    for case in args.cases.split(","):
        sites, replicates = (int(x) for x in case.split("x"))
        load = os.getloadavg()[0]
        wall, cpu, peak, coordinator, workers, line = run_case(sites, replicates,
                                                               args.workers)
        runs = sites * replicates * RULES
        per_run = cpu / runs * 1e6
        print(f"{sites:,} sites x {replicates} replicates x {RULES} rules = {runs:,} runs "
              f"(load average {load:.1f} before, {os.getloadavg()[0]:.1f} after)")
        print(f"  wall {wall:.1f} s; CPU {cpu:.1f} s = {per_run:.1f} CPU-us a run; goal "
              f"(10 s for {GOAL_RUNS:,} runs on 2 cores) = {budget:.0f} CPU-us a run: "
              f"{per_run / budget:.2f}x the budget; on {CORES} idle cores "
              f"~{cpu / CORES:.1f} s at best")
        print(f"  {line}")
        batch, kernel = kernel_share()
        print(f"  in one process, load {os.getloadavg()[0]:.1f}: a worker's batch function "
              f"{batch:.1f} CPU-us a run, the kernel (run_arrays) {kernel:.1f} of it; the "
              f"command costs {per_run / kernel:.2f}x the kernel")
        shown = ", ".join(f"{mb:.0f}" for mb in workers) or "-"
        print(f"  peak RSS: any process {peak:.0f} MB ({peak / GOAL_MB:.2f}x the 600 MB "
              f"goal); coordinator {coordinator:.0f} MB, workers {shown} MB (sampled)")


if __name__ == "__main__":
    main()
