"""icsim national: many local projects under one national policy and budget."""

import numpy as np
import pandas as pd
import pytest
from conftest import assert_refused

from sim import national
from sim.cli import main


@pytest.fixture(scope="module")
def competitive_vs_universal(tmp_path_factory):
    out = tmp_path_factory.mktemp("national") / "nat"
    code = main(["national", "--sites", "60", "--replicates", "5", "--funding-rule",
                 "competitive,universal_small", "--seed", "3", "--workers", "2",
                 "--out", str(out)])
    assert code == 0
    return out


def test_outputs(competitive_vs_universal):
    out = competitive_vs_universal
    sites = pd.read_parquet(out / "sites.parquet")
    assert len(sites) == 60 * 5 * 2
    for col in ("replicate", "site", "funded", "funding_received", "outcome", "pilot_month",
                *national.SITE_CONDITIONS):
        assert col in sites.columns
    assert set(sites.outcome) <= {"integrated", "pilot", "stalled", "collapsed"}
    competitive = sites[sites.rule == "competitive"]
    assert competitive[competitive.replicate == 0].funded.sum() == 14  # ceil(0.22 x 60)
    assert sites[sites.rule == "universal_small"].funded.all()
    series = pd.read_csv(out / "national.csv")
    assert len(series) == 2 * 61
    for col in ("pilot_all", "pilot_all_lo", "pilot_all_hi", "pilot_funded",
                "pilot_unfunded", "integrated_all"):
        assert col in series.columns
    last = series[series.month == 60].set_index("rule")
    assert (last.pilot_all_lo <= last.pilot_all).all()
    assert (last.pilot_all <= last.pilot_all_hi).all()
    text = (out / "summary.md").read_text()
    assert "competitive" in text and "universal_small" in text and "[" in text
    for name in ("national_pilot.png", "funded_gap.png"):
        assert (out / name).stat().st_size > 10_000


def test_pattern_funded_sites_reach_a_pilot_more_often(competitive_vs_universal):
    """Case: 'the resources have been allocated inconsistently across the country'."""
    table = pd.read_csv(competitive_vs_universal / "rules.csv").set_index("rule")
    row = table.loc["competitive"]
    assert row.p_pilot_funded > row.p_pilot_unfunded
    assert row.gap_p_value < 0.01
    # competitive against universal_small at the same budget: reported, whatever its sign
    assert np.isfinite(table.loc["universal_small", "p_pilot_lo"])


def test_the_country_and_the_allocation():
    sites = national.draw_sites(200, 0)
    assert len(sites) == 200
    assert sites.team_size.between(8, 30).all()
    assert sites.turnover_rate.median() == pytest.approx(0.11, abs=0.01)
    assert national.draw_sites(200, 0).equals(sites)
    readiness = sites.readiness.to_numpy()
    competitive = national.allocate("competitive", 44.0, readiness)
    targeted = national.allocate("targeted", 44.0, readiness)
    assert competitive.sum() == pytest.approx(44.0) == targeted.sum()
    assert (competitive > 0).sum() == 44
    assert readiness[competitive > 0].min() >= readiness[competitive == 0].max()
    assert readiness[targeted > 0].max() <= readiness[targeted == 0].min()
    assert np.allclose(national.allocate("universal_small", 44.0, readiness), 0.22)
    assert not national.allocate("none", 44.0, readiness).any()


@pytest.mark.parametrize("argv, culprit", [
    (["--budget", "-1"], "--budget"),
    (["--funding-rule", "lottery"], "known rules: none, competitive"),
    (["--approach", "utopia"], "known approaches: baseline"),
    (["--sites", "0"], "--sites"),
    (["--replicates", "0"], "--replicates"),
])
def test_bad_input(tmp_path, argv, culprit):
    assert_refused(tmp_path, ["national", *argv, "--out", str(tmp_path / "out")], culprit)


def test_an_interrupted_national_run_resumes_to_the_same_result(tmp_path):
    argv = ["national", "--sites", "70", "--replicates", "3", "--funding-rule",
            "targeted,none", "--workers", "1"]
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert main([*argv, "--out", str(full)]) == 0
    assert main([*argv, "--out", str(cut)]) == 0
    parts = sorted((cut / "runs").glob("*.parquet"))
    assert len(parts) == 2  # 420 runs, 400 a part: one part survives the cut
    parts[-1].unlink()  # as if the coordinator had been killed before its last part
    (cut / "sites.parquet").unlink()
    assert main([*argv, "--resume", "--out", str(cut)]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(full / "sites.parquet"),
                                  pd.read_parquet(cut / "sites.parquet"))
    assert main([*argv[:2], "71", *argv[3:], "--resume", "--out", str(cut)]) == 2


def test_both_engines_give_the_same_national_view(tmp_path):
    from sim.cli import main

    for engine in ("fast", "mesa"):
        assert main(["national", "--sites", "30", "--replicates", "3", "--funding-rule",
                     "competitive,none", "--engine", engine, "--quiet",
                     "--out", str(tmp_path / engine)]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "fast" / "sites.parquet"),
                                  pd.read_parquet(tmp_path / "mesa" / "sites.parquet"))
    assert (tmp_path / "fast" / "rules.csv").read_text() == \
        (tmp_path / "mesa" / "rules.csv").read_text()
