"""``icsim national`` at scale (issue 24, item 2): time, CPU and peak memory of whole
commands, each in its own process.

    python benchmarks/bench_national_scale.py [--cases 10000x20,100000x1] [--workers 2]

For each case SITESxREPLICATES it runs ``python -m sim national --sites SITES
--replicates REPLICATES --quiet`` into a temporary folder and prints its wall time, the
CPU of the command and its workers (``getrusage`` of the children) per run, and the
largest resident memory of any of its processes (the coordinator's, which reads the runs
back). Goals: 10,000 sites x 20 replicates under 10 s on two cores; 2 million runs under
600 MB. Run it from the tree to measure (``PYTHONPATH`` decides which code runs).
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


def run_case(sites: int, replicates: int, workers: int) -> tuple[float, float, float]:
    """(wall s, CPU s of the command and its workers, peak RSS MB of its processes)."""
    out = Path(tempfile.mkdtemp(prefix="bench-national-scale-"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    try:
        subprocess.run([sys.executable, "-m", "sim", "national", "--sites", str(sites),
                        "--replicates", str(replicates), "--workers", str(workers),
                        "--quiet", "--out", str(out / "n")], check=True)
    finally:
        wall = time.perf_counter() - start
        shutil.rmtree(out, ignore_errors=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="10000x20")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"icsim national, {args.workers} workers; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")
    print("    sites  replicates       runs   wall (s)   CPU-us a run   peak RSS so far (MB)")
    for case in args.cases.split(","):
        sites, replicates = (int(x) for x in case.split("x"))
        wall, cpu, peak = run_case(sites, replicates, args.workers)
        runs = sites * replicates
        print(f"{sites:9,d}  {replicates:10d}  {runs:9,d}  {wall:9.1f}  {cpu / runs * 1e6:13.1f}"
              f"   {peak:8.0f}")


if __name__ == "__main__":
    main()
