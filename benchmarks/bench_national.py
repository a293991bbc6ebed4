"""Speed of the national view: 200 sites x 20 replicates x 60 months (one funding rule),
and how the cost grows with the number of sites.

    python benchmarks/bench_national.py [--workers N]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from sim.experiment.sweep import run_sweep
from sim.report import national as national_report
from sim.studies import national


def timed(sites: int, replicates: int, workers: int) -> float:
    spec = national.check(sites=sites, replicates=replicates, rules="competitive")
    out = Path(tempfile.mkdtemp(prefix="bench-national-"))
    try:
        start = time.perf_counter()
        run_sweep(spec.experiment(), out / "run", workers=workers,
                  progress=False)
        national_report.write_outputs(out / "run", spec)
        return time.perf_counter() - start
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    wall = timed(200, 20, args.workers)
    print(f"200 sites x 20 replicates x 60 months, competitive, {args.workers} workers: "
          f"{wall:.1f} s (4000 runs, {4000 / wall:.0f} runs/s; target < 120 s)")
    print("sites  runs   wall (s)  s per 1000 runs")
    for sites in (50, 100, 200, 400):
        wall = timed(sites, 10, args.workers)
        print(f"{sites:5d}  {sites * 10:5d}  {wall:8.1f}  {wall / (sites * 10) * 1000:8.2f}")


if __name__ == "__main__":
    main()
