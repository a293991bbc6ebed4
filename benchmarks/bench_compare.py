"""Speed of a scenario comparison: 5 national approaches x 400 replicates x 60 months.

    python benchmarks/bench_compare.py [--replicates R] [--workers N]
"""

from __future__ import annotations

import argparse
import time

from sim.core.scenarios import NATIONAL_APPROACHES
from sim.studies.compare import compare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replicates", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    scenarios = list(NATIONAL_APPROACHES)
    start = time.perf_counter()
    result = compare(scenarios, args.replicates, seed=0, months=60, workers=args.workers,
                     progress=False)
    wall = time.perf_counter() - start
    runs = len(result.runs)
    print(f"compare {len(scenarios)} scenarios x {args.replicates} replicates x 60 months "
          f"on {args.workers} workers: {runs} runs in {wall:.1f} s "
          f"({runs / wall:.0f} runs/s), time series and trajectories included")


if __name__ == "__main__":
    main()
