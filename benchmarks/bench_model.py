"""Speed of one project run: median wall time of a 60-month baseline run (model
construction included) and the cost per agent-step.

    python benchmarks/bench_model.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import sim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--months", type=int, default=60)
    args = parser.parse_args()

    for seed in range(50):  # warm up imports and caches
        sim.run_project(seed=seed, months=args.months)
    times = []
    for seed in range(args.runs):
        start = time.perf_counter()
        sim.run_project(seed=seed, months=args.months)
        times.append(time.perf_counter() - start)
    model = sim.IntegrationModel(rng=0)
    agents = len(model.agents)
    median = statistics.median(times)
    collect = []
    for seed in range(200):
        start = time.perf_counter()
        sim.simulate(seed=seed, months=args.months, collect=True)
        collect.append(time.perf_counter() - start)

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print(f"baseline run, {args.months} months, {args.runs} runs (seeds 0..{args.runs - 1}):")
    print(f"  median wall time per run      {median * 1e3:8.2f} ms  (target <= 5 ms)")
    print(f"  10th / 90th percentile        {statistics.quantiles(times, n=10)[0] * 1e3:8.2f}"
          f" / {statistics.quantiles(times, n=10)[-1] * 1e3:.2f} ms")
    print(f"  agents                        {agents:8d}")
    print(f"  per agent-step                {median / (agents * args.months) * 1e6:8.2f} us")
    print(f"  per month (model step)        {median / args.months * 1e6:8.2f} us")
    print(f"  with the time series (DataCollector): median "
          f"{statistics.median(collect) * 1e3:.2f} ms per run")


if __name__ == "__main__":
    main()
