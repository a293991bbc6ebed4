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

Every pattern can fail: ``ALTERNATIVES`` names, for each, one plausible parameter set or
structural alternative under which the model does not show it, and
``test_each_pattern_fails_under_its_alternative`` shows that it does not.
"""

from functools import cache

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.core.registry import resolve
from sim.core.scenarios import scenario_values
from sim.experiment.posterior import CASE_POSTERIOR, load_posterior
from sim.run import run_projects

#: Ensembles of 2,000 runs a condition under the posterior: slow (make test, not test-fast).
pytestmark = pytest.mark.slow

N = 2000
ALPHA = 0.01
TAIL = 0.05


@cache
def draws() -> tuple[dict, ...]:
    return tuple(load_posterior(CASE_POSTERIOR).to_dict("records"))


def ensemble(scenario: str = "baseline", months: int = 60, **overrides) -> pd.DataFrame:
    """N runs: draw i and seed i, then the scenario's values, then the overrides."""
    return _ensemble(scenario, months, tuple(sorted(overrides.items())))


@cache
def _ensemble(scenario: str, months: int, overrides: tuple) -> pd.DataFrame:
    d = draws()
    values = [resolve({**d[i % len(d)], **scenario_values(scenario), **dict(overrides)})
              for i in range(N)]
    frame = run_projects(values, list(range(N)), months, probe_months=(36,))
    for name in ("host_change_rate", "national_narrative", "regulatory_alignment",
                 "payment_integration", "incentives", "ceo_support"):
        frame[name] = [v[name] for v in values]  # each run's inputs (posterior draws vary)
    return frame


def piloted(frame: pd.DataFrame) -> np.ndarray:
    return frame.outcome.isin(["pilot", "integrated"]).to_numpy()


def mcnemar(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """Two-sided exact McNemar p-value of paired indicators and the sign of a - b."""
    n10, n01 = int((a & ~b).sum()), int((~a & b).sum())
    p = stats.binomtest(n10, n10 + n01).pvalue if n10 + n01 else 1.0
    return p, int(np.sign(n10 - n01))


def pattern_1(**o) -> bool:
    return bool((ensemble(**o).integrated_month.astype(float) <= 36).sum() == 0)


def pattern_2_team(**o) -> bool:
    frame = ensemble(**o)
    return bool((frame.dac_team_direction_m36 >= 0.6).mean() >= TAIL
                and (frame.dac_team_alignment_m36 <= 0.4).mean() >= TAIL)


def pattern_3(**o) -> bool:
    return bool(ensemble(**o).host_changes_m36.between(2, 3).mean() >= TAIL)


def pattern_4_high(**o) -> bool:
    p, sign = mcnemar(piloted(ensemble(**o)), piloted(ensemble(**{**o, "turnover_rate": 0.3})))
    return p < ALPHA and sign > 0


def pattern_4_low(**o) -> bool:
    p, sign = mcnemar(piloted(ensemble(**{**o, "turnover_rate": 0.04})), piloted(ensemble(**o)))
    return p < ALPHA and sign > 0


def pattern_5(**o) -> bool:
    base, enabled = ensemble(**o), ensemble("enabling_national", **o)
    p, sign = mcnemar(piloted(enabled), piloted(base))
    if not (p < ALPHA and sign > 0):
        return False
    # Integration needs evaluation, commissioning and roll-out: read it over ten years.
    base, enabled = ensemble(months=120, **o), ensemble("enabling_national", months=120, **o)
    p, sign = mcnemar((enabled.outcome == "integrated").to_numpy(),
                      (base.outcome == "integrated").to_numpy())
    return p < ALPHA and sign > 0


def pattern_6_engagement(**o) -> bool:
    d = (ensemble("small_wins", **o).mean_engagement.to_numpy()
         - ensemble(**o).mean_engagement.to_numpy())
    return bool(np.any(d) and stats.wilcoxon(d).pvalue < ALPHA and np.median(d) > 0)


def pattern_6_collapse(**o) -> bool:
    p, sign = mcnemar((ensemble(**o).outcome == "collapsed").to_numpy(),
                      (ensemble("small_wins", **o).outcome == "collapsed").to_numpy())
    return p < ALPHA and sign > 0


def pattern_7(**o) -> bool:
    months = ensemble(**o).pilot_month.dropna().astype(float).to_numpy()
    below, above = (months < 36).mean(), (months > 36).mean()
    return len(months) >= 100 and below >= 0.025 and above >= 0.025


#: For each pattern, a plausible alternative under which the model does not show it.
ALTERNATIVES = {
    # a one-locality service, a six-month evaluation, enablers that help alone, a team
    # working small from the start and commissioners who decide at once
    pattern_1: dict(n_localities=1, evaluation_months=6, enablers_form="mean",
                    commission_enabler_weight=0.5, small_tasks=True, commission_rate=1.0),
    # strong competing agendas (five times the case's pull) under heavy savings pressure
    pattern_2_team: dict(agenda_pull=0.15, savings_pressure=0.9),
    # a stable host: one change in ten years
    pattern_3: dict(host_change_rate=0.1),
    # the earlier newcomer: a clean slate, productive at once, no lost ties or re-opening
    pattern_4_high: dict(newcomer_climate="clean", newcomer_ramp_months=0.5,
                         tie_loss_scale=0.0, reopen=0.0, lead_loss=0.0,
                         lead_reopen_multiplier=1.0),
    pattern_4_low: dict(newcomer_climate="clean", newcomer_ramp_months=0.5,
                        tie_loss_scale=0.0, reopen=0.0, lead_loss=0.0,
                        lead_reopen_multiplier=1.0),
    # managers who ignore national tools and commissioners who do not need them
    pattern_5: dict(w_incentives=0.0, w_regulation=0.0, commission_enabler_weight=0.0),
    # a baseline team that switches to small tasks at once, wins that lift no one, and
    # milestones of the same size either way
    pattern_6_engagement: dict(learn_threshold=0.0, win_boost=0.0, task_size=0.5),
    # a team that never counts as failing (no engagement floor)
    pattern_6_collapse: dict(collapse_floor=0.0),
    # a fast team working small from the start, with pathways, management leads and
    # managers who back it
    pattern_7: dict(small_tasks=True, progress_rate=0.5, decision_pathway_prob=1.0,
                    management_lead_prob=1.0, management_support=0.9),
}


@pytest.mark.parametrize("pattern", list(ALTERNATIVES), ids=lambda f: f.__name__)
def test_each_pattern_fails_under_its_alternative(pattern):
    assert not pattern(**ALTERNATIVES[pattern])


def test_design_check_pattern_1_no_integration_within_36_months():
    """Case: 'After three years of work and full integration not quite implemented'.
    Design check: the case's observation (no integration by month 36) is met by every run
    of the ensemble; the road after a pilot (a two-year evaluation, commissioning, roll-out
    to six localities) makes it near impossible by construction, so this cannot test the
    model. It fails under ``ALTERNATIVES[pattern_1]``."""
    assert pattern_1()


def test_design_check_pattern_2_system_and_organisation_readings_are_inputs():
    """Design check: system direction is the national narrative, system alignment the
    mean of the three tools, organisational direction the chief executives' support — so
    'direction high, alignment low' at these levels restates the parameters."""
    frame = ensemble()
    assert np.allclose(frame.dac_system_direction_m36, frame.national_narrative)
    tools = (frame.regulatory_alignment + frame.payment_integration + frame.incentives) / 3
    assert np.allclose(frame.dac_system_alignment_m36, tools)
    assert np.allclose(frame.dac_organisation_direction_m36, frame.ceo_support)


def test_pattern_2_team_readings_at_month_36_are_not_in_a_tail():
    """Case: the direction 'was present across all leadership levels' while alignment and
    commitment were lacking. Team direction and alignment are outputs: the case's readings
    (direction >= 0.6, alignment <= 0.4) must have predictive probability >= 0.05."""
    assert pattern_2_team()


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
    assert pattern_3()


def test_pattern_4_high_turnover_lowers_the_chance_of_a_pilot():
    """Case: 'there have been too many personnel changes for me to feel that there is a
    strong leadership'. Paired, two-sided: 30% a year against the case's 11%."""
    assert pattern_4_high()


def test_pattern_4_low_turnover_raises_the_chance_of_a_pilot():
    """Paired, two-sided: 4% a year against the case's 11%. Before the revision of the
    newcomer (issue 19) this was a finding: a newcomer joined as a clean slate, so turnover
    relieved frustration (the alternative in ``ALTERNATIVES`` restores that form)."""
    assert pattern_4_low()


def test_design_check_pattern_5_national_tools_raise_pilot_and_integration():
    """Case: local initiatives 'could succeed only if operating in a regulatory, financial
    and incentive system that is conducive of collaboration'. Design check: the tools enter
    managers' support with positive weights and integration through the enablers, so the
    direction is fixed by the equations; the size is what the comparison reports."""
    assert pattern_5()


def test_pattern_6_small_wins_raise_engagement_against_the_baseline():
    """Case: 'what is needed to maintain engagement are: Smaller tasks, shorter timeframe,
    something positive coming out of it'. Paired against the real baseline (which may
    learn the switch too), two-sided Wilcoxon."""
    assert pattern_6_engagement()


def test_pattern_6_small_wins_lower_collapse_against_the_baseline():
    """Before the revision collapse was too rare at baseline (about 2 in 2,000) to tell;
    the revised team collapses more often, and small wins lower it."""
    assert pattern_6_collapse()


def test_pattern_7_the_cases_pilot_month_is_not_in_a_tail():
    """Case: the team piloted 'after three years of work' (about month 36). Two-sided:
    among the ensemble's pilots, month 36 must lie inside the central 95% of pilot
    months."""
    assert pattern_7()
