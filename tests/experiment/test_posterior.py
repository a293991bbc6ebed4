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


def test_columns_are_validated_as_row_by_row_validation_would(tmp_path):
    """The whole-column check gives the same values and types as ``validate`` draw by
    draw (0/1 switches as booleans, whole floats as integers, choices stripped), and a
    bad value still names its draw."""
    import pytest

    from sim.core.errors import UsageError
    from sim.core.registry import validate

    frame = pd.DataFrame({"small_tasks": [0, 1, 1], "team_size": [12.0, 19.0, 30.0],
                          "pilot_scope": [" threshold", "scaled", "chance "],
                          "progress_rate": [0.1, 0.2, 0.25]})
    frame.to_parquet(tmp_path / "p.parquet")
    loaded = load_posterior(tmp_path / "p.parquet").to_dict("records")
    expected = [validate(row) for row in frame.to_dict("records")]
    assert loaded == expected
    assert [type(v) for v in loaded[0].values()] == [type(v) for v in expected[0].values()]
    frame.loc[2, "team_size"] = 19.5
    frame.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(UsageError, match="draw 2: parameter 'team_size'"):
        load_posterior(tmp_path / "bad.parquet")
