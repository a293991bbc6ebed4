"""Nothing changes by accident: at the defaults, every named scenario gives, seed for seed,
the summaries stored before the model's constants moved into the registry (issue 9).

The reference was written by ``tests/data/make_reference.py`` at commit c8119e8.
Discrete fields (outcome, gate months, counts) must match exactly; continuous ones to
1e-9, which allows a different summation order but no change of mechanism.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim

REFERENCE = Path(__file__).parents[1] / "data" / "reference_summaries.parquet"


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return pd.read_parquet(REFERENCE)


#: The baseline runs in make test-fast; every scenario in make test (about a second each).
@pytest.mark.parametrize("scenario", [
    pytest.param(name, marks=() if name == "baseline" else pytest.mark.slow)
    for name in sorted(sim.SCENARIOS)])
def test_summaries_match_the_stored_reference(reference, scenario):
    expected = reference[reference["scenario"] == scenario].reset_index(drop=True)
    assert len(expected) == 200
    rows = []
    for seed in expected["seed"]:
        summary = sim.run_project(scenario, seed=int(seed), months=60)
        summary.pop("parameters")
        rows.append(summary)
    got = pd.DataFrame(rows)[list(expected.columns)]
    for column in expected.columns:
        want, have = expected[column], got[column]
        if want.dtype.kind == "f" and not column.endswith("_month"):
            np.testing.assert_allclose(have.to_numpy(float), want.to_numpy(float),
                                       rtol=0, atol=1e-9, err_msg=f"{scenario}: {column}")
        else:
            mismatched = ~((have == want) | (have.isna() & want.isna()))
            assert not mismatched.any(), (
                f"{scenario}: {column} differs for seeds "
                f"{expected['seed'][mismatched].tolist()[:10]}")
