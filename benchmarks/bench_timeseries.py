"""Memory of a sweep that records monthly outcomes (``[timeseries]``), at two sizes.

    python benchmarks/bench_timeseries.py                   # ~13k and ~100k runs
    python benchmarks/bench_timeseries.py --samples 256 --samples 2048 --workers 2

A Sobol sweep of the project's model (3 levers, 10 replicates, 60 months) records three
monthly outcomes every month -- 180 values a run, 18 million at 100k runs, 144 MB as
float64 before compression -- and the same sweep without ``[timeseries]`` is the
reference. Each sweep and each analysis runs in a fresh Python process, which reports its
own peak resident memory (``ru_maxrss``) and the largest of its worker processes'
(``RUSAGE_CHILDREN``, read after the pool is shut down). If the series were gathered in
memory anywhere, the peak would grow with the runs; streamed, a worker holds only its
batch and the coordinator only the parts in flight, so it stays flat. ``analyze`` holds
the runs' table (one row a run, like any sweep's) and one month of the series at a time;
each sweep is analysed with and without its series.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

EXPERIMENT = """
name = "bench_timeseries"
method = "sobol"
samples = {samples}
replicates = 10
seed = 1
months = 60
outcomes = ["pilot", "time_to_pilot"]
[parameters]
turnover_rate = [0.0, 0.4]
progress_rate = [0.05, 0.3]
initial_engagement = [0.5, 0.9]
"""
SERIES = """
[timeseries]
outcomes = ["pilot", "dac_team_commitment", "mean_frustration"]
every = 1
"""

CHILD = """
import json, resource, sys, time
started = time.perf_counter()
if sys.argv[1] == "sweep":
    from sim.experiment.sweep import run_sweep
    report = run_sweep(sys.argv[2], sys.argv[3], workers=int(sys.argv[4]), progress=False)
    runs = report.runs_total
else:
    from sim.report.analysis import analyze
    analyze(sys.argv[3], resamples=100)
    runs = None
wall = time.perf_counter() - started
me = resource.getrusage(resource.RUSAGE_SELF)
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"runs": runs, "wall": wall, "cpu": me.ru_utime + me.ru_stime
                  + kids.ru_utime + kids.ru_stime, "self_mb": me.ru_maxrss / 1024,
                  "workers_mb": kids.ru_maxrss / 1024}))
"""


def child(*args: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", CHILD, *args], cwd=ROOT, check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, action="append",
                        help="Sobol base samples (runs = samples x 5 x 10); give twice")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    sizes = args.samples or [256, 2048]
    print(f"{'case':<16} {'runs':>8} {'wall s':>7} {'CPU s':>7} {'coordinator MB':>15} "
          f"{'largest worker MB':>18} {'series on disk MB':>18}")
    with tempfile.TemporaryDirectory() as tmp:
        for samples in sizes:
            for series in (False, True):
                name = f"{samples}_{'series' if series else 'plain'}"
                exp = Path(tmp) / f"{name}.toml"
                exp.write_text(textwrap.dedent(EXPERIMENT.format(samples=samples))
                               + (textwrap.dedent(SERIES) if series else ""))
                out = Path(tmp) / name
                got = child("sweep", str(exp), str(out), str(args.workers))
                disk = sum(p.stat().st_size for p in (out / "timeseries").iterdir()) / 2**20 \
                    if series else 0.0
                label = "sweep + series" if series else "sweep"
                print(f"{label:<16} {got['runs']:>8,} {got['wall']:>7.1f} {got['cpu']:>7.1f} "
                      f"{got['self_mb']:>15.0f} {got['workers_mb']:>18.0f} {disk:>18.1f}",
                      flush=True)
                got = child("analyze", str(exp), str(out))
                label = "analyze + series" if series else "analyze"
                print(f"{label:<16} {'':>8} {got['wall']:>7.1f} {got['cpu']:>7.1f} "
                      f"{got['self_mb']:>15.0f} {'':>18} {'':>18}", flush=True)


if __name__ == "__main__":
    main()
