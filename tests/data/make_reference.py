"""Write ``reference_summaries.parquet``: every named scenario, seeds 0-199, 60 months.

Made once, from commit c8119e8 (before the model's constants moved into the parameter
registry, issue 9), so that ``tests/engine/test_reference.py`` can show that the move changed
nothing at the defaults. Re-running it on a later commit writes that commit's summaries:
do so only when a mechanism changes on purpose, and log the change in docs/ODD.md.

    python tests/data/make_reference.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import sim

SEEDS = range(200)
MONTHS = 60


def reference_frame() -> pd.DataFrame:
    rows = []
    for scenario in sim.SCENARIOS:
        for seed in SEEDS:
            summary = sim.run_project(scenario, seed=seed, months=MONTHS)
            summary.pop("parameters")
            rows.append(summary)
    return pd.DataFrame(rows)


if __name__ == "__main__":
    out = Path(__file__).with_name("reference_summaries.parquet")
    reference_frame().to_parquet(out, index=False)
    print(f"wrote {out}")
