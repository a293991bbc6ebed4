"""What checksums and provenance cost the sweep store.

    python benchmarks/bench_store.py            # about a minute on two cores

Every part's sha256 is appended (fsynced) to the ledger ``DIR/checksums.jsonl`` before the
part is moved into place; the manifest, which grows by one entry a part, is rewritten
atomically once, at the end of a session. This measures that rewrite at 100, 1,000 and
10,000 parts, and a whole sweep of a
microsecond model (``sim.experiment.examples:noisy_linear``) cut into 2,000 parts of one run -- the
worst case, where writing dominates -- and into 200 parts of ten, with the verification of
every part on resume and on reading (``load_sweep``).
"""

from __future__ import annotations

import argparse
import tempfile
import textwrap
import time
from pathlib import Path

from sim.experiment.spec import load_experiment
from sim.experiment.store import SweepStore
from sim.experiment.sweep import run_sweep
from sim.studies.sweep_analysis import load_sweep

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = """
name = "many_parts"
model = "sim.experiment.examples:noisy_linear"
method = "lhs"
samples = {runs}
replicates = 1
seed = 3
outcomes = ["y"]
runs_per_part = {per_part}
[parameters]
x1 = [0.0, 1.0]
x2 = [0.0, 1.0]
"""


def manifest_rewrite(parts: int, repeats: int = 20) -> tuple[float, float]:
    """(manifest size in kB, seconds per atomic rewrite) with ``parts`` checksums in it."""
    exp = load_experiment(ROOT / "experiments" / "sobol_pilot.toml")
    with tempfile.TemporaryDirectory() as tmp:
        store = SweepStore(tmp)
        manifest = {"experiment": {"text": exp.text, "sha256": exp.sha256},
                    "design": {"sha256": "0" * 64}, "sessions": [{}], "status": "running",
                    "parts": {f"part-{i:06d}.parquet": {"sha256": "a" * 64, "rows": 256,
                                                        "session": 0}
                              for i in range(parts)}}
        started = time.perf_counter()
        for _ in range(repeats):
            store.write_manifest(manifest)
        seconds = (time.perf_counter() - started) / repeats
        return store.manifest_path.stat().st_size / 1e3, seconds


def sweep(runs: int, per_part: int, workers: int) -> tuple[float, float, float]:
    """Seconds to run the sweep, to resume it (verifying every part), to load it."""
    with tempfile.TemporaryDirectory() as tmp:
        exp = Path(tmp) / "exp.toml"
        exp.write_text(textwrap.dedent(EXPERIMENT.format(runs=runs, per_part=per_part)))
        out = Path(tmp) / "out"
        started = time.perf_counter()
        run_sweep(exp, out, workers=workers, progress=False)
        ran = time.perf_counter() - started
        started = time.perf_counter()
        run_sweep(exp, out, workers=workers, progress=False, resume=True)
        resumed = time.perf_counter() - started
        started = time.perf_counter()
        load_sweep(out)
        return ran, resumed, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    for parts in (100, 1_000, 10_000):
        size, seconds = manifest_rewrite(parts)
        print(f"manifest with {parts:>6,} part checksums: {size:7.0f} kB, "
              f"{1e3 * seconds:5.1f} ms a rewrite")
    for runs, per_part in ((2_000, 1), (2_000, 10)):
        ran, resumed, loaded = sweep(runs, per_part, args.workers)
        print(f"{runs:,} runs in {runs // per_part:,} parts, {args.workers} workers: sweep "
              f"{ran:.2f} s, resume (verifies every part) {resumed:.2f} s, load_sweep "
              f"{loaded:.2f} s")


if __name__ == "__main__":
    main()
