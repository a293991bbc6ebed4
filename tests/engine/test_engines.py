"""The two engines: the same submodels, the same draws, the same result run for run.

The Mesa engine (``run_project``) and the fast engine (``sim.engine.fast.run_many``) call
the same compiled monthly submodels with the same two random streams per seed, so they
agree run for run — the stronger promise than agreeing in distribution — and every
summary field is compared for exact equality.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sim
from sim.core.registry import random_point
from sim.core.scenarios import SCENARIOS, parameters_for
from sim.engine import fast, layout, rng


def _fast(values: dict, seeds, months: int = 60, schedule=None) -> pd.DataFrame:
    return fast.run_many(layout.pack_many([values] * len(seeds)), list(seeds), months,
                         schedule=schedule)


def _mesa(scenario: str, seeds, months: int = 60, schedule=None, **overrides) -> pd.DataFrame:
    return pd.DataFrame([sim.run_project(scenario, seed=s, months=months, schedule=schedule,
                                         **overrides) for s in seeds])


def _assert_same_runs(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert len(got) == len(want)
    for column in got.columns:
        a, b = got[column], want[column]
        if a.dtype.kind == "f":
            np.testing.assert_array_equal(a.to_numpy(), b.to_numpy(float), err_msg=column)
        else:
            left = [None if pd.isna(x) else x for x in a.tolist()]
            right = [None if pd.isna(x) else x for x in b.tolist()]
            assert left == right, column


@pytest.mark.parametrize("seed", [0, 1, 2**40 + 3, 2**62 + 11])
def test_compiled_pcg64_draws_what_numpy_draws(seed):
    streams = rng.project_streams(seed)
    generator = np.random.default_rng(seed)
    child = generator.spawn(1)[0]
    main, people = np.empty(500), np.empty((9, 4))
    rng.fill(streams, 0, main)
    rng.fill(streams, 1, people)
    np.testing.assert_array_equal(main, generator.random(500))
    np.testing.assert_array_equal(people, child.random((9, 4)))
    np.testing.assert_array_equal(rng.state_of(generator.bit_generator), streams[0])


def test_compiled_seeding_gives_numpys_states():
    seeds = [0, 1, 2, 12345, 2**32 - 1, 2**32, 2**32 + 5, 2**62 + 11, 2**63 - 1,
             *range(1000, 1200)]
    np.testing.assert_array_equal(fast.streams_for(seeds),
                                  np.stack([rng.project_streams(s) for s in seeds]))
    with pytest.raises(ValueError, match="seeds"):
        fast.streams_for([-1])


@pytest.mark.parametrize("scenario", sorted(SCENARIOS) + [
    "enabling_national+toolkit", "austerity+stable_team", "prescriptive_national+small_wins"])
def test_engines_agree_run_for_run_in_every_scenario(scenario):
    seeds = range(30)
    _assert_same_runs(_fast(parameters_for(scenario), seeds), _mesa(scenario, seeds)
                      [list(_fast(parameters_for(scenario), [0]).columns)])


def test_engines_agree_run_for_run_at_random_points_of_every_lever_and_assumption():
    generator = np.random.default_rng(20261128)
    for _ in range(12):
        point = random_point(generator)
        seeds = range(8)
        got = _fast(point, seeds)
        _assert_same_runs(got, _mesa("baseline", seeds, **point)[list(got.columns)])


def test_engines_agree_with_a_schedule_and_short_horizons():
    schedule = sim.core.scenarios.check_schedule([(12, {"funding_round_rate": 6.0,
                                               "funding_award_prob": 1.0}),
                                         (24, {"payment_integration": 0.8,
                                               "regulatory_alignment": 0.8}),
                                         (30, {"policy_churn_rate": 2.0})])
    seeds = range(25)
    got = _fast(parameters_for("toolkit"), seeds, schedule=schedule)
    want = _mesa("toolkit", seeds, schedule=schedule)
    _assert_same_runs(got, want[list(got.columns)])
    for months in (1, 7):
        got = _fast(parameters_for("baseline"), seeds, months=months)
        _assert_same_runs(got, _mesa("baseline", seeds, months=months)[list(got.columns)])


def test_a_run_depends_only_on_its_parameters_and_seed_not_on_its_batch():
    points = [parameters_for("baseline"), parameters_for("austerity"),
              parameters_for("toolkit")] * 4
    seeds = list(range(100, 112))
    together = fast.run_many(layout.pack_many(points), seeds)
    order = np.random.default_rng(0).permutation(len(points))
    shuffled = fast.run_many(layout.pack_many([points[i] for i in order]),
                             [seeds[i] for i in order])
    alone = pd.concat([fast.run_many(layout.pack_many([points[i]]), [seeds[i]])
                       for i in range(len(points))], ignore_index=True)
    _assert_same_runs(shuffled.iloc[np.argsort(order)].reset_index(drop=True), together)
    _assert_same_runs(alone, together)


def test_monthly_histograms_give_the_mesa_engines_quantiles_to_within_a_bin():
    seeds = range(60)
    histogram = np.zeros((25, 9, fast.HIST_BINS), dtype=np.int64)
    fast.run_many(layout.pack_many([parameters_for("baseline")] * 60), list(seeds), 24,
                  histogram=histogram)
    assert (histogram.sum(axis=2) == 60).all()
    bands = fast.histogram_quantiles(histogram, [0.1, 0.5, 0.9])
    frames = [sim.timeseries_frame(sim.simulate("baseline", seed=s, months=24))
              for s in seeds]
    for k, key in enumerate(sim.DAC_KEYS):
        values = np.stack([f[f"dac_{key}"].to_numpy() for f in frames])  # runs x months
        for j, q in enumerate((0.1, 0.5, 0.9)):
            exact = np.quantile(values, q, axis=0, method="inverted_cdf")
            assert np.all(np.abs(bands[:, k, j] - exact) <= 1.0 / fast.HIST_BINS + 1e-12), key


def test_probes_record_the_state_at_the_end_of_a_month_as_the_mesa_engine_has_it():
    seeds = list(range(20))
    frame = fast.run_many(layout.pack_many([parameters_for("baseline")] * 20), seeds, 60,
                          probe_months=(6, 36))
    for seed in seeds[:8]:
        model = sim.IntegrationModel(months=60, collect=False, rng=seed)
        model.run_for(36)
        row = frame.iloc[seed]
        assert row["host_changes_m36"] == model.host_changes
        assert row["funding_received_m36"] == model.system.funding_received
        assert row["mean_frustration_m36"] == pytest.approx(model.team.frustration.mean(),
                                                            abs=1e-12)
        assert row["engagement_sd_m36"] == pytest.approx(model.team.engagement.std(),
                                                         abs=1e-12)
        for k, key in enumerate(sim.DAC_KEYS):
            assert row[f"dac_{key}_m36"] == model.dac_now[k]
        pilot = row["pilot_month"]
        assert pd.isna(pilot) == np.isnan(row["pilot_funding"])
