"""Posterior files: equally weighted draws, or a weighted population resampled by its
weights (never used as if equally weighted)."""

from __future__ import annotations

import pandas as pd

from sim.experiment.posterior import load_posterior


def test_a_weighted_population_is_resampled_by_its_weights(tmp_path):
    path = tmp_path / "population.parquet"
    pd.DataFrame({"turnover_rate": [0.1, 0.2, 0.3, 0.15],
                  "pilot_scope": ["scaled", "chance", "threshold", "scaled"],
                  "weight": [0.0, 3.0, 1.0, 0.0]}).to_parquet(path)
    draws = load_posterior(path)
    assert list(draws.columns) == ["turnover_rate", "pilot_scope"]
    assert len(draws) == 4
    # weight 3:1 -> three draws of the second row, one of the third; none of weight 0
    assert sorted(draws.turnover_rate) == [0.2, 0.2, 0.2, 0.3]
    assert set(draws.pilot_scope) == {"chance", "threshold"}
    again = load_posterior(path)
    pd.testing.assert_frame_equal(draws, again)  # the same file, the same draws


def test_equal_weights_keep_every_draw(tmp_path):
    path = tmp_path / "p.parquet"
    pd.DataFrame({"turnover_rate": [0.1, 0.2, 0.3], "weight": [2.0, 2.0, 2.0]}).to_parquet(path)
    assert list(load_posterior(path).turnover_rate) == [0.1, 0.2, 0.3]
