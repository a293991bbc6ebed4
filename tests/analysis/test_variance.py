"""The variance split of sim.analysis.variance on cases with a known answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.analysis.variance import forms_of, split_draws, split_replicates


def test_a_form_that_sets_the_draws_means_carries_the_parametric_variance():
    rng = np.random.default_rng(1)
    form = np.array(["a", "b"] * 200)
    other = rng.choice(["x", "y"], 400)  # a choice that changes nothing
    p = np.where(form == "a", 0.2, 0.8)
    y = (rng.random((400, 200)) < p[:, None]).astype(float)
    part = split_draws(y, pd.DataFrame({"form": form, "other": other}))
    # known: total 0.25 = within 0.16 + between 0.09
    assert part.total == pytest.approx(0.25, abs=0.005)
    assert part.stochastic == pytest.approx(0.16 / 0.25, abs=0.02)
    assert part.stochastic + part.parametric == pytest.approx(1.0)
    assert part.by_form["form"] == pytest.approx(part.parametric, abs=0.01)
    assert part.by_form["other"] < 0.005
    assert part.structural == pytest.approx(part.by_form["form"] + part.by_form["other"])


def test_without_forms_or_variance_the_unknown_parts_are_nan():
    y = np.zeros((10, 5))
    part = split_draws(y)
    assert part.total == 0 and np.isnan(part.stochastic) and np.isnan(part.structural)
    part = split_draws(np.eye(4))
    assert np.isnan(part.structural) and part.by_form == {}


def test_national_shares_split_luck_from_the_draws():
    rng = np.random.default_rng(2)
    sites, reps = 200, 4000
    # the same p in every replicate: all variance across replicates is the sites' luck
    same = rng.binomial(sites, 0.3, reps) / sites
    assert split_replicates(same, sites).stochastic == pytest.approx(1.0, abs=0.06)
    # p set by a form per replicate: luck is small, the form explains the rest
    form = np.array(["lo", "hi"] * (reps // 2))
    shares = rng.binomial(sites, np.where(form == "lo", 0.2, 0.6)) / sites
    part = split_replicates(shares, sites, pd.DataFrame({"form": form}))
    assert part.stochastic < 0.05
    assert part.by_form["form"] == pytest.approx(part.parametric, abs=0.05)


def test_too_few_draws_cannot_tell_a_forms_effect():
    rng = np.random.default_rng(3)
    form = np.array(["a", "b"] * 5)
    y = (rng.random((10, 50)) < np.where(form == "a", 0.2, 0.8)[:, None]).astype(float)
    part = split_draws(y, pd.DataFrame({"form": form}))
    assert np.isnan(part.structural) and part.by_form == {}
    assert part.parametric > 0.2  # the parametric share itself is still estimated


def test_noise_alone_gives_a_form_about_no_effect():
    """Six-way forms with no effect on 40 draws: the plain share of the group means'
    variance would be about 5/39 = 13%; the corrected share is about 0."""
    rng = np.random.default_rng(4)
    shares = [split_draws(rng.random((40, 1)) < 0.5,
                          pd.DataFrame({"f": rng.choice(list("abcdef"), 40)})).structural
              for _ in range(300)]
    assert np.mean(shares) < 0.05


def test_forms_of_reads_only_the_choices_the_draws_hold():
    draws = [{"a": "x", "n": 1.0}, {"a": "y", "n": 2.0}]
    frame = forms_of(draws, ["a", "b"])
    assert list(frame.columns) == ["a"] and list(frame.a) == ["x", "y"]
    assert forms_of([], ["a"]).empty
