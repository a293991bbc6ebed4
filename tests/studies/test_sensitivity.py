"""The published sensitivity report: its numbers come from the sweeps it states."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from sim.experiment.spec import load_experiment
from sim.experiment.sweep import run_sweep
from sim.report import sensitivity as R
from sim.studies import sensitivity as S

ROOT = Path(__file__).resolve().parents[2]

MORRIS = """
name = "tiny_morris"
method = "morris"
samples = 6
levels = 4
replicates = 3
seed = 5
months = 36
outcomes = ["pilot", "integrated", "time_to_pilot", "collapsed"]
[parameters]
initial_engagement = [0.3, 1.0]
reopen = [0.075, 0.225]
win_memory = [0.6, 0.9]
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("sens")
    path = root / "m.toml"
    path.write_text(textwrap.dedent(MORRIS))
    run_sweep(load_experiment(path), root / "morris", workers=1, progress=False)
    names = ["initial_engagement", "reopen", "win_memory"]
    sobol = root / "s.toml"
    sobol.write_text(S.sobol_file_text(names, samples=32, replicates=2)
                     .replace("months = 60", "months = 36"))
    run_sweep(load_experiment(sobol), root / "sobol", workers=1, progress=False)
    return S.screen(root / "morris"), S.sobol(root / "sobol"), names


def test_the_report_states_what_the_sweeps_hold(tiny):
    screening, sob, names = tiny
    assert screening.runs == 6 * 4 * 3 and screening.trajectories == 6
    text = R.report(screening, sob, None, names)
    assert f"**{screening.runs:,} runs**" in text and f"**{sob.runs:,} runs**" in text
    for outcome, title in S.OUTCOMES.items():
        table = screening.tables[outcome]
        assert list(table.mu_star) == sorted(table.mu_star, reverse=True)
        section = text.split(f"### {title}")[1]
        first = re.search(r"\| 1(–\d+)? \| `(\w+)`", section).group(2)
        assert first == table.index[0]  # the top row is the table's top entry
        assert "Stability: the first 3 of 6 trajectories against all" in section
        assert f"{screening.noise[outcome]:.0%} of the variance" in section
    # the follow-up estimates its own outcomes only, and says which it leaves out
    assert list(sob.tables) == list(S.SOBOL_OUTCOMES)
    assert "Not estimated here: P(integrated)" in text
    assert "### P(integrated)" not in text.split("## 2 Sobol")[1]
    # an index whose interval spans zero is said to be indistinguishable from 0
    assert R._interval(0.01, 0.02).endswith("(indistinguishable from 0)")
    assert not R._interval(0.3, 0.02).endswith("(indistinguishable from 0)")


def test_tied_entries_get_one_rank_range_and_stability_asks_only_told_orders():
    import pandas as pd

    table = pd.DataFrame({"mu_star": [1.0, 0.6, 0.58, 0.57, 0.2, 0.1],
                          "mu_star_conf": [0.05, 0.02, 0.02, 0.02, 0.02, 0.02]},
                         index=list("abcdef"))
    assert R._ranks(table, "mu_star", 5) == ["1", "2–4", "2–4", "2–4", "5"]
    # the half run swaps the tied b, c, d: stable; it lifts f above a: not stable
    table["mu_star_half"] = [1.0, 0.55, 0.6, 0.59, 0.2, 0.1]
    st = S.Stability(0.95, 10, 10, S._reversed(table, "mu_star", 5))
    assert st.reversed == []
    assert "**stable**" in R._stability(st, "half", "the rows", True)
    table.loc["f", "mu_star_half"] = 1.1
    st = S.Stability(0.95, 10, 10, S._reversed(table, "mu_star", 5))
    assert st.reversed == [(hi, "f") for hi in "abcde"]  # f was told below all five
    text = R._stability(st, "half", "the rows", True)
    assert "**NOT stable**" in text and "`a` above `f`" in text
    # too few of the top shared: not stable whatever the order
    assert "**NOT stable**" in R._stability(S.Stability(0.95, 7, 10, []), "half", "r", True)
    # the Sobol follow-up also asks the values: an index that moves by 0.26 is not stable
    moved = R._stability(S.Stability(0.95, 10, 10, [], 0.26), "half", "r", False, True)
    assert "**NOT stable**" in moved and "largest change of an index 0.260" in moved
    assert "**stable**" in R._stability(S.Stability(0.95, 10, 10, [], 0.01), "half", "r",
                                        False, True)


def test_the_follow_up_takes_the_top_numeric_entries(tiny):
    screening, _, _ = tiny
    top = S.most_influential(screening, top=2)
    tables = [t for t in screening.tables.values() if t.mu_star.max() > 0]
    scores = {n: max(t.mu_star[n] / t.mu_star.max() for t in tables)
              for n in screening.tables["pilot"].index}
    assert top == sorted(scores, key=scores.get, reverse=True)[:2]


def test_paired_alternatives_and_kaplan_meier_median():
    """The table compares each alternative with the default (the default itself is never
    an 'alternative'); its differences are the arms' shares subtracted; the KM median of
    known data is the month where half have piloted."""
    table = S.alternatives(scenarios=["baseline"], runs=60, months=36,
                           choices=["evaluation_form"])
    assert len(table) == 1 and table.alternative.iloc[0] == "threshold"
    row = table.iloc[0]
    for tag in ("pilot", "integrated", "collapse"):
        assert row[f"diff_{tag}"] == pytest.approx(row[f"p_{tag}_alternative"]
                                                   - row[f"p_{tag}_default"])
        assert row[f"diff_{tag}_lo"] <= row[f"diff_{tag}"] <= row[f"diff_{tag}_hi"]
    months = np.array([10.0, 20.0, 30.0, np.nan])
    assert S.km_median(months, 36) == 20.0
    assert np.isnan(S.km_median(np.array([np.nan, np.nan]), 36))


def test_the_published_report_matches_the_shipped_experiment_files():
    text = (ROOT / "docs" / "sensitivity.md").read_text()
    screening = load_experiment(ROOT / "experiments" / "screening_all.toml")
    k = len(screening.levers)
    runs = screening.samples * (k + 1) * screening.replicates
    assert f"all {k} entries" in text and f"**{runs:,} runs**" in text
    sobol = load_experiment(ROOT / "experiments" / "sobol_top.toml")
    runs = sobol.samples * (len(sobol.levers) + 2) * sobol.replicates
    assert f"**{runs:,} runs**" in text
    for name in sobol.names:
        assert f"`{name}`" in text.split("## 2 Sobol")[1]
    for image in ("screening.png", "sobol.png"):
        assert (ROOT / "docs" / "images" / "sensitivity" / image).stat().st_size > 20_000


def test_sobol_intervals_repeat_whatever_numpys_global_state():
    """SALib's Sobol bootstrap ignores seed 0 (it tests ``if seed:``); the project passes a
    generator so the published intervals repeat."""
    from SALib.sample import sobol as sobol_sample

    problem = {"num_vars": 2, "names": ["a", "b"], "bounds": [[0, 1], [0, 1]]}
    x = sobol_sample.sample(problem, 64, calc_second_order=False, seed=1)
    y = x[:, 0] + 0.3 * x[:, 1] ** 2
    first = S.sobol_indices(problem, y)
    np.random.seed(123)
    np.random.rand(5)
    assert S.sobol_indices(problem, y).equals(first)
