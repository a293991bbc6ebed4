"""Pattern-oriented validation (Grimm et al. 2005) under the case's posterior.

Each condition is an ensemble of N = 2,000 runs: replicate *i* uses posterior draw *i*
(``data/case_posterior.parquet``, the calibration to the case, docs/calibration/) and seed
*i* in every condition, so comparisons are paired and their spread includes what the case
leaves uncertain. Tests are two-sided where the case allows: a paired comparison uses an
exact binomial test on the discordant pairs (McNemar) or a Wilcoxon signed-rank test, at
alpha = 0.01, and checks the sign; a reading of the case must not sit in a tail of the
model's predictive distribution (predictive probability >= 0.05, or inside its central
95%).

Checks that hold by construction — an output that equals an input, an effect that the
equations' signs fix — are named ``test_design_check_*`` and say why. Patterns the
calibrated model does not reproduce are findings, reported in docs/ODD.md §12 and marked
``xfail(strict=True)`` here, so a change that makes them pass is noticed; mechanisms are
not tuned to make them pass.
"""

from functools import cache

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.core.registry import resolve
from sim.core.scenarios import scenario_values
from sim.engine.fast import run_many
from sim.engine.layout import pack_many
from sim.experiment.posterior import load_posterior
from sim.experiment.posterior import CASE_POSTERIOR

N = 2000
ALPHA = 0.01
TAIL = 0.05


@cache
def draws() -> tuple[dict, ...]:
    return tuple(load_posterior(CASE_POSTERIOR).to_dict("records"))


@cache
def ensemble(scenario: str = "baseline", months: int = 60, **overrides) -> pd.DataFrame:
    """N runs: draw i and seed i, then the scenario's values, then the overrides."""
    d = draws()
    values = [resolve({**d[i % len(d)], **scenario_values(scenario), **overrides})
              for i in range(N)]
    frame = run_many(pack_many(values), list(range(N)), months, probe_months=(36,))
    frame["host_change_rate"] = [v["host_change_rate"] for v in values]
    return frame


def piloted(frame: pd.DataFrame) -> np.ndarray:
    return frame.outcome.isin(["pilot", "integrated"]).to_numpy()


def mcnemar(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """Two-sided exact McNemar p-value of paired indicators and the sign of a - b."""
    n10, n01 = int((a & ~b).sum()), int((~a & b).sum())
    p = stats.binomtest(n10, n10 + n01).pvalue if n10 + n01 else 1.0
    return p, int(np.sign(n10 - n01))


def test_design_check_pattern_1_no_integration_within_36_months():
    """Case: 'After three years of work and full integration not quite implemented'.
    Design check: the case's observation (no integration by month 36) is met by every run
    of the ensemble; the gates (business case, approvals, a pilot that must run
    ``pilot_months``, then integration) make it near impossible by construction, so this
    cannot test the model."""
    frame = ensemble()
    assert (frame.integrated_month.astype(float) <= 36).sum() == 0


def test_design_check_pattern_2_system_and_organisation_readings_are_inputs():
    """Design check: system direction is the national narrative, system alignment the
    mean of the three tools, organisational direction the chief executives' support — so
    'direction high, alignment low' at these levels restates the parameters."""
    frame = ensemble()
    p = resolve({})
    assert np.allclose(frame.dac_system_direction_m36, p["national_narrative"])
    tools = (p["regulatory_alignment"] + p["payment_integration"] + p["incentives"]) / 3
    assert np.allclose(frame.dac_system_alignment_m36, tools)
    assert np.allclose(frame.dac_organisation_direction_m36, p["ceo_support"])


def test_pattern_2_team_readings_at_month_36_are_not_in_a_tail():
    """Case: the direction 'was present across all leadership levels' while alignment and
    commitment were lacking. Team direction and alignment are outputs: the case's readings
    (direction >= 0.6, alignment <= 0.4) must have predictive probability >= 0.05."""
    frame = ensemble()
    assert (frame.dac_team_direction_m36 >= 0.6).mean() >= TAIL
    assert (frame.dac_team_alignment_m36 <= 0.4).mean() >= TAIL


def test_design_check_pattern_3_host_changes_follow_their_rate():
    """Case: three team names under 'a sequence of newly appointed commissioners'.
    Design check: host changes are monthly Bernoulli events of ``host_change_rate``, so
    their count checks the rate (the calibration infers it); the case's two or three by
    month 36 must still be a plausible draw (predictive probability >= 0.05)."""
    frame = ensemble()
    hazard = 1 - np.exp(-frame.host_change_rate / 12)
    expected = float((36 * hazard).mean())
    assert abs(frame.host_changes_m36.mean() - expected) < 4 * frame.host_changes_m36.std() \
        / np.sqrt(N)
    assert frame.host_changes_m36.between(2, 3).mean() >= TAIL


def test_pattern_4_high_turnover_lowers_the_chance_of_a_pilot():
    """Case: 'there have been too many personnel changes for me to feel that there is a
    strong leadership'. Paired, two-sided: 30% a year against the case's 11%."""
    p, sign = mcnemar(piloted(ensemble()), piloted(ensemble(turnover_rate=0.3)))
    assert p < ALPHA and sign > 0, (p, sign)


@pytest.mark.xfail(strict=True, reason="finding under the posterior (ODD §12): lowering "
                   "turnover from 11% to 4% a year does not raise P(pilot)")
def test_pattern_4_low_turnover_raises_the_chance_of_a_pilot():
    p, sign = mcnemar(piloted(ensemble(turnover_rate=0.04)), piloted(ensemble()))
    assert p < ALPHA and sign > 0, (p, sign)


def test_design_check_pattern_5_national_tools_raise_pilot_and_integration():
    """Case: local initiatives 'could succeed only if operating in a regulatory, financial
    and incentive system that is conducive of collaboration'. Design check: the tools enter
    managers' support with positive weights and integration through the enablers, so the
    direction is fixed by the equations; the size is what the comparison reports."""
    base, enabled = ensemble(), ensemble("enabling_national")
    p, sign = mcnemar(piloted(enabled), piloted(base))
    assert p < ALPHA and sign > 0
    p, sign = mcnemar((enabled.outcome == "integrated").to_numpy(),
                      (base.outcome == "integrated").to_numpy())
    assert p < ALPHA and sign > 0


def test_pattern_6_small_wins_raise_engagement_against_the_baseline():
    """Case: 'what is needed to maintain engagement are: Smaller tasks, shorter timeframe,
    something positive coming out of it'. Paired against the real baseline (which may
    learn the switch too), two-sided Wilcoxon."""
    wins, base = ensemble("small_wins"), ensemble()
    d = wins.mean_engagement.to_numpy() - base.mean_engagement.to_numpy()
    assert stats.wilcoxon(d).pvalue < ALPHA and np.median(d) > 0


@pytest.mark.xfail(strict=True, reason="finding under the posterior (ODD §12): collapse "
                   "is too rare at baseline (about 2 in 2,000) to tell whether small wins "
                   "lower it")
def test_pattern_6_small_wins_lower_collapse_against_the_baseline():
    wins, base = ensemble("small_wins"), ensemble()
    p, sign = mcnemar((base.outcome == "collapsed").to_numpy(),
                      (wins.outcome == "collapsed").to_numpy())
    assert p < ALPHA and sign > 0, (p, sign)


def test_pattern_7_the_cases_pilot_month_is_not_in_a_tail():
    """Case: the team piloted 'after three years of work' (about month 36). Two-sided:
    among the ensemble's pilots, month 36 must lie inside the central 95% of pilot
    months."""
    months = ensemble().pilot_month.dropna().astype(float).to_numpy()
    assert len(months) >= 100
    below, above = (months < 36).mean(), (months > 36).mean()
    assert below >= 0.025 and above >= 0.025, (below, above)
