"""icsim compare: common random numbers, outputs, intervals, determinism, bad input."""

import numpy as np
import pandas as pd
import pytest
from conftest import assert_refused

import sim
from sim.cli import main
from sim.compare import compare, pilot_survival, wilson

COLUMNS = ["scenario", "runs", "p_pilot", "p_pilot_lo", "p_pilot_hi", "p_integrated",
           "p_integrated_lo", "p_integrated_hi", "p_stalled", "p_collapsed",
           "median_pilot_month"]


def test_compare_writes_report_and_uses_common_random_numbers(tmp_path, capsys):
    out = tmp_path / "cmp"
    code = main(["compare", "baseline", "enabling_national+toolkit", "stable_team",
                 "--replicates", "30", "--workers", "2", "--seed", "5", "--out", str(out)])
    assert code == 0
    table = pd.read_csv(out / "comparison.csv")
    assert list(table.columns[:len(COLUMNS)]) == COLUMNS
    assert list(table.scenario) == ["baseline", "enabling_national+toolkit", "stable_team"]
    assert (table.runs == 30).all()
    assert ((table.p_pilot_lo <= table.p_pilot) & (table.p_pilot <= table.p_pilot_hi)).all()
    for level in ("system", "organisation", "team"):
        assert f"dac_{level}_commitment" in table.columns
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 90
    seeds = runs.pivot(index="replicate", columns="scenario", values="seed")
    assert (seeds.nunique(axis=1) == 1).all()  # replicate i: same seed in every scenario
    row = runs[(runs.scenario == "stable_team") & (runs.replicate == 3)].iloc[0]
    assert sim.run_project("stable_team", seed=int(row.seed))["outcome"] == row.outcome
    text = (out / "comparison.md").read_text()
    assert "stable_team" in text and "95% CI" in text
    for name in ("outcomes.png", "dac_trajectories.png", "time_to_pilot.png"):
        assert (out / name).stat().st_size > 10_000


def test_results_do_not_depend_on_worker_count():
    one = compare(["baseline", "austerity"], replicates=12, seed=3, workers=1, progress=False)
    two = compare(["baseline", "austerity"], replicates=12, seed=3, workers=2, progress=False)
    pd.testing.assert_frame_equal(one.runs, two.runs)
    pd.testing.assert_frame_equal(one.table, two.table)
    for key in one.bands["baseline"]:
        np.testing.assert_array_equal(one.bands["baseline"][key], two.bands["baseline"][key])


def test_wilson_and_survival():
    low, high = wilson(0, 400)
    assert low == 0 and 0.005 < high < 0.01
    low, high = wilson(200, 400)
    assert low == pytest.approx(0.451, abs=0.002) and high == pytest.approx(0.549, abs=0.002)
    months, surviving = pilot_survival(pd.Series([10.0, 20.0, np.nan, np.nan]), 60)
    assert surviving[0] == 1.0 and surviving[-1] == pytest.approx(0.5)
    assert months[-1] == 60


@pytest.mark.parametrize("argv, culprit", [
    (["compare", "baseline", "utopia"], "known scenarios: baseline"),
    (["compare", "baseline", "--replicates", "0"], "--replicates"),
    (["compare", "baseline", "--months", "0"], "months"),
    (["compare", "baseline", "baseline"], "twice"),
])
def test_compare_bad_input(tmp_path, argv, culprit):
    assert_refused(tmp_path, [*argv, "--out", str(tmp_path / "out")], culprit)


def test_both_engines_give_the_same_comparison_and_bands():
    fast = compare(["baseline", "austerity+toolkit"], replicates=40, seed=3, months=36,
                   workers=1, progress=False, engine="fast")
    mesa = compare(["baseline", "austerity+toolkit"], replicates=40, seed=3, months=36,
                   workers=2, progress=False, engine="mesa")
    pd.testing.assert_frame_equal(fast.runs, mesa.runs)
    pd.testing.assert_frame_equal(fast.table, mesa.table)
    for scenario, bands in fast.bands.items():
        for key, band in bands.items():
            np.testing.assert_array_equal(band, mesa.bands[scenario][key])
            assert band.shape == (3, 37) and (band[0] <= band[1]).all() \
                and (band[1] <= band[2]).all()
    # the bands are the runs' quantiles to within one histogram bin
    from sim.engine.fast import HIST_BINS
    frames = [sim.timeseries_frame(sim.simulate("baseline", seed=int(s), months=36))
              for s in fast.runs.loc[fast.runs.scenario == "baseline", "seed"]]
    values = np.stack([f["dac_team_commitment"].to_numpy() for f in frames])
    exact = np.quantile(values, 0.5, axis=0, method="inverted_cdf")
    assert np.abs(fast.bands["baseline"]["team_commitment"][1] - exact).max() \
        <= 1 / HIST_BINS + 1e-12
