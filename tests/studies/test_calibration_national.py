"""Calibration targets on a national run (``of = "national"``): the national fields a
simulation's country of sites gives are those of ``icsim national``'s sites under the same
draw, seeds and country; bad national targets are refused in one line; and a calibration
with a national target runs end to end."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest

from sim.core.errors import UsageError
from sim.core.registry import resolve
from sim.core.scenarios import parameters_for
from sim.engine.layout import pack_many
from sim.experiment.posterior import CASE_POSTERIOR, draws_sha256, load_posterior
from sim.studies import national
from sim.studies.calibration.spec import parse_calibration
from sim.studies.calibration.targets import features, simulate

HEAD = """
name = "nat"
seed = 11
simulations = 3000
accept = 60
chunk = 1000
coverage_cases = 10
predictive_runs = 200
months = 48
infer = "listed"

[priors]
progress_rate = "plausible"
clinical_leadership = "plausible"
"""
NATIONAL = """
[national]
sites = 12
rule = "competitive"
budget_per_site = 0.5
country = "{country}"

[[targets]]
name = "N1"
of = "national"
label = "between a fifth and two thirds of the sites pilot within four years"
statistic = "share_pilot_m48"
min = 0.2
max = 0.67

[[targets]]
name = "N2"
of = "national"
statistic = "share_pilot_m48_funded - share_pilot_m48_unfunded"
min = -1
max = 1

[[targets]]
name = "T1"
statistic = "pilot_month"
min = 24
max = 48
near = 12
"""


def _spec(country: str = "fixed", extra: str = ""):
    return parse_calibration(textwrap.dedent(HEAD + NATIONAL.format(country=country) + extra))


@pytest.mark.parametrize("country", ["fixed", pytest.param("redraw", marks=pytest.mark.slow)])
def test_national_fields_are_those_of_icsim_national_sites(tmp_path, country):
    """Replicate s of ``icsim national --posterior`` (one draw, national seed = the
    calibration's seed) gives every site the runs simulation s of the calibration does."""
    spec = _spec(country)
    draws = load_posterior(CASE_POSTERIOR).iloc[[3, 17]]
    months = spec.months
    config = spec.national
    assert config is not None and config.seed == 11 and config.sites == 12
    base = parameters_for("baseline")
    for k, (_, draw) in enumerate(draws.iterrows()):
        path = tmp_path / f"draw{k}.parquet"
        draws.iloc[[k]].to_parquet(path)
        digest = draws_sha256(load_posterior(path))  # what national.check records
        seed = 1000 + 7919 * k
        params = pack_many([resolve({**base, **draw.to_dict()})])
        columns = simulate(spec.targets, params, [seed], months, config)
        sites = []
        for site in range(config.sites):
            sites.append(national.site_run({
                "site": site, "repeat": seed, "rule": config.rule, "sites": config.sites,
                "national_seed": config.seed, "budget": config.budget_per_site * config.sites,
                "months": months, "country": country, "posterior": str(path),
                "posterior_sha256": digest, "approach": "baseline"}, 0))
        frame = pd.DataFrame(sites)
        piloted = (frame.pilot_month <= 48).to_numpy()
        funded = frame.funded.to_numpy() > 0
        assert 0 < funded.sum() < config.sites  # the rule funds some sites, not all
        assert columns["share_pilot_m48"][0] == pytest.approx(piloted.mean(), abs=1e-12)
        gap = piloted[funded].mean() - piloted[~funded].mean()
        assert (columns["share_pilot_m48_funded"][0]
                - columns["share_pilot_m48_unfunded"][0]) == pytest.approx(gap, abs=1e-12)
    # the single run's own field is untouched by the national runs beside it
    solo = simulate(spec.targets[2:], params, [seed], months)
    assert solo.keys() <= columns.keys()
    for name, value in solo.items():
        assert np.array_equal(value, columns[name],
                              equal_nan=np.asarray(value).dtype.kind == "f"), name


def test_a_national_run_is_a_country_not_one_site_repeated():
    spec = _spec("fixed", '\n[[targets]]\nname = "N3"\nof = "national"\n'
                 'statistic = "share_funded"\nmin = 0\nmax = 1\n')
    params = pack_many([parameters_for("baseline")] * 40)
    columns = simulate(spec.targets, params, np.arange(40), spec.months, spec.national)
    shares = columns["share_pilot_m48"]
    # 12 sites a simulation: shares are multiples of 1/12 and vary between simulations
    assert np.allclose(shares * 12, np.round(shares * 12)) and shares.std() > 0
    # competitive funds ceil(22% x 12) sites of every country
    assert np.allclose(columns["share_funded"], columns["share_funded"][0])
    assert 0 < columns["share_funded"][0] < 1
    terms = features(spec.targets, columns)
    assert terms.shape == (40, 4) and set(np.unique(terms[:, 0])) <= {0.0, 1.0}


@pytest.mark.parametrize("extra, culprit", [
    ('[[targets]]\nname = "X"\nof = "nation"\nstatistic = "pilot_month"\nmax = 1\n', "'of'"),
    ('[[targets]]\nname = "X"\nof = "national"\nstatistic = "pilot_month"\nmax = 1\n',
     "no field of a national run"),
    ('[[targets]]\nname = "X"\nof = "national"\nstatistic = "share_pilot_m99"\nmax = 1\n',
     "share_pilot_m99"),
    ('[[targets]]\nname = "X"\nof = "national"\nstatistic = "share_lunch_m9"\nmax = 1\n',
     "share_lunch_m9"),
])
def test_bad_national_targets_are_refused_naming_them(extra, culprit):
    with pytest.raises(UsageError) as info:
        _spec("fixed", "\n" + extra)
    message = str(info.value)
    assert "\n" not in message and culprit in message and "'X'" in message


@pytest.mark.parametrize("table, culprit", [
    ('sites = 1', "sites"), ('sites = 20000', "sites"), ('rule = "lottery"', "rule"),
    ('country = "moved"', "country"), ('budget_per_site = -1', "budget_per_site"),
    ('colour = "red"', "colour"),
])
def test_a_bad_national_table_is_refused_naming_the_key(table, culprit):
    targets = NATIONAL[NATIONAL.index("[[targets]]"):]
    text = textwrap.dedent(HEAD) + f"\n[national]\n{table}\n\n" + targets
    with pytest.raises(UsageError) as info:
        parse_calibration(text)
    assert "\n" not in str(info.value) and culprit in str(info.value)


def test_a_national_table_without_national_targets_is_refused():
    text = textwrap.dedent(HEAD) + '\n[national]\nsites = 5\n\n[[targets]]\nname = "T"\n' \
        'statistic = "pilot_month"\nmax = 40\n'
    with pytest.raises(UsageError, match="of = \"national\""):
        parse_calibration(text)


@pytest.mark.slow
def test_a_calibration_with_a_national_target_runs_end_to_end(tmp_path):
    from sim.ui.cli import main

    path = tmp_path / "nat.toml"
    path.write_text(textwrap.dedent(HEAD + NATIONAL.format(country="fixed")))
    out = tmp_path / "nat"
    assert main(["calibrate", str(path), "--out", str(out), "--workers", "1",
                 "--quiet"]) == 0
    draws = pd.read_parquet(out / "posterior.parquet")
    assert len(draws) == 60
    targets = pd.read_csv(out / "targets.csv")
    assert list(targets.target) == ["N1", "N2", "T1"]
    predictive = pd.read_csv(out / "predictive.csv").set_index("runs_of")
    # N2 admits every difference: met by every run whose country has funded and unfunded
    assert predictive.loc["prior", "N2"] == pytest.approx(1.0)
    assert 0 < predictive.loc["prior", "N1"] < 1
    text = (out / "summary.md").read_text()
    assert "between a fifth and two thirds" in text
    # the funding rule as a person reads it, not its identifier
    assert f"rule “{national.rule_label('competitive')}”" in text
    assert "rule `competitive`" not in text
