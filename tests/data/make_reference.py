"""Write ``reference_summaries.parquet``: every named scenario, seeds 0-199, 60 months.

Regenerated once for the model revision of issue 19 (newcomers, the road from pilot to
integration, money, prior work, members who differ; docs/DECISIONS.md), so that
``tests/engine/test_reference.py`` shows that later changes (restructuring, speed-ups) change
nothing at the defaults. Re-run it only when a mechanism changes on purpose, and log the
change in docs/DECISIONS.md.

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
