"""The first ``make demo`` after ``make setup`` against a warm one (issue 24, item 4).

    python benchmarks/bench_first_demo.py [--replicates 400] [--warm-repeats 2]

Starts from an empty engine cache (``ICSIM_CACHE_DIR`` pointed at a new temporary folder,
so the user's cache is neither used nor touched), then:

1. **setup**: what ``make setup`` runs after installing, ``python -c "from sim.run import
   warm; warm()"`` -- it compiles both engines into the empty cache;
2. **first demo**: the three commands of ``make demo`` (``icsim run --seed 1``, then
   ``icsim compare`` of the six approaches at ``--replicates``, under the case posterior and
   at ``--point``), each a fresh process writing into a temporary folder;
3. **warm demo**: the same commands again, ``--warm-repeats`` times.

Prints the wall and CPU time (user + system of the command and every process it waited
for, from ``getrusage(RUSAGE_CHILDREN)``) of each, and first / warm (median). Goal: the
first demo within 1.2x a warm one. Wall time on a shared machine moves with its load
(printed); the CPU ratio is disturbed less.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPROACHES = ["baseline", "enabling_national", "funded_vanguard", "prescriptive_national",
              "austerity", "toolkit"]


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one command run to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def demo(out: Path, replicates: int, env: dict[str, str]) -> tuple[float, float]:
    """The commands of ``make demo``, as the Makefile runs them; summed wall and CPU."""
    icsim = [sys.executable, "-m", "sim"]
    commands = [
        [*icsim, "run", "--seed", "1", "--out", str(out / "baseline_run")],
        [*icsim, "compare", *APPROACHES, "--replicates", str(replicates), "--seed", "0",
         "--out", str(out / "national_approaches"), "--quiet"],
        [*icsim, "compare", *APPROACHES, "--replicates", str(replicates), "--seed", "0",
         "--point", "--out", str(out / "national_approaches_point"), "--quiet"],
    ]
    total = [0.0, 0.0]
    for argv in commands:
        wall, cpu = timed(argv, env)
        total[0] += wall
        total[1] += cpu
    return total[0], total[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=400,
                        help="replicates of each compare (make demo: 400)")
    parser.add_argument("--warm-repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="icsim-first-demo-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "ICSIM_CACHE_DIR": str(work / "cache"),
               "PYTHONPATH": str(ROOT)}
        env.pop("NUMBA_CACHE_DIR", None)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
              f"engine cache {work / 'cache'} (empty)")
        setup = timed([sys.executable, "-c", "from sim.run import warm; warm()"], env)
        print(f"  setup (compiles the engines)   {setup[0]:7.1f} s wall {setup[1]:7.1f} s CPU")
        first = demo(work / "first", args.replicates, env)
        print(f"  first demo after setup         {first[0]:7.1f} s wall {first[1]:7.1f} s CPU")
        warm = []
        for repeat in range(args.warm_repeats):
            warm.append(demo(work / f"warm{repeat}", args.replicates, env))
            print(f"  warm demo {repeat + 1}                    {warm[-1][0]:7.1f} s wall "
                  f"{warm[-1][1]:7.1f} s CPU")
        wall = statistics.median(w for w, _ in warm)
        cpu = statistics.median(c for _, c in warm)
        print(f"first / warm (median of {len(warm)}): {first[0] / wall:.2f}x wall, "
              f"{first[1] / cpu:.2f}x CPU (goal <= 1.2x); load average "
              f"{os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
