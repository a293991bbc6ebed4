"""The model: agents and the case's counts, determinism, measures, outcomes, speed path."""

import math

import mesa
import numpy as np
import pytest

import sim
from sim.core.outputs import DAC_KEYS, OUTCOMES
from sim.core.team import ORGANISATIONS


def test_agent_classes_are_mesa_agents():
    for cls in (sim.SystemLeader, sim.OrganisationalManager, sim.ClinicalLead, sim.TeamMember):
        assert issubclass(cls, mesa.Agent)
    assert issubclass(sim.IntegrationModel, mesa.Model)


def test_baseline_has_the_case_shape():
    model = sim.IntegrationModel(rng=1)
    by_type = model.agents_by_type
    assert len(by_type[sim.SystemLeader]) == 1
    managers = by_type[sim.OrganisationalManager]
    assert sorted(m.name for m in managers) == sorted(ORGANISATIONS)
    leads = by_type[sim.ClinicalLead]
    members = by_type[sim.TeamMember]
    # a clinical lead per provider (hospital, community, primary care) plus the locality's
    assert len(leads) == 4
    assert {lead.organisation for lead in leads} == {"hospital_trust", "community_trust",
                                                     "gp_federation"}
    assert len(leads) + len(members) == 19  # "nearly twenty members"
    assert model.host.name == "commissioner"


def test_turnover_replaces_people_with_newcomers_without_knowledge():
    model = sim.IntegrationModel(rng=5, turnover_rate=0.6)
    model.run_for(12)
    before = {p.slot: p for p in model.people}
    for _ in range(24):
        model.step()
        if "turnover" in model.events:
            break
    assert "turnover" in model.events
    replaced = [p for p in model.people if before[p.slot] is not p]
    assert replaced, "a turnover month must seat new agents"
    assert all(p.tenure == 0 for p in replaced)
    for p in replaced:
        # a newcomer starts with no project knowledge and can have learned at most one
        # meeting's worth since (KNOWLEDGE_RATE scaled by meeting feedback)
        assert p.knowledge <= 0.15 * 1.5 + 1e-9
        assert before[p.slot].model is model and before[p.slot] not in model.agents
    assert len(model.agents_by_type[sim.ClinicalLead]) + \
        len(model.agents_by_type[sim.TeamMember]) == 19


def test_same_seed_same_run_and_different_seeds_differ():
    a = sim.simulate("baseline", seed=42)
    b = sim.simulate("baseline", seed=42)
    ta, tb = sim.timeseries_frame(a), sim.timeseries_frame(b)
    assert ta.equals(tb)
    assert a.summary() == b.summary()
    summaries = {sim.run_project(seed=s)["mean_engagement"] for s in range(5)}
    assert len(summaries) == 5
    assert not ta.equals(sim.timeseries_frame(sim.simulate("baseline", seed=43)))


def test_run_project_equals_model_with_time_series():
    """Collecting data must not consume randomness: the summary is the same either way."""
    with_ts = sim.simulate("baseline", seed=9, collect=True).summary()
    plain = sim.run_project("baseline", seed=9)
    for key, value in with_ts.items():
        if key not in ("seed", "parameters"):
            assert plain[key] == value, key


def test_dac_values_in_unit_interval_every_month():
    for scenario in ("baseline", "enabling_national+toolkit", "austerity"):
        for seed in range(3):
            frame = sim.timeseries_frame(sim.simulate(scenario, seed=seed))
            values = frame[[f"dac_{k}" for k in DAC_KEYS]].to_numpy()
            assert np.all((values >= 0) & (values <= 1)), scenario
            assert len(frame) == 61


def test_summary_fields():
    s = sim.run_project(seed=3)
    for level in ("system", "organisation", "team"):
        for outcome in ("direction", "alignment", "commitment"):
            assert 0 <= s[f"dac_{level}_{outcome}"] <= 1
            assert 0 <= s[f"mean_dac_{level}_{outcome}"] <= 1
    for key in ("pilot_month", "integrated_month", "collapse_month", "mean_engagement",
                "turnover_events", "host_changes", "funding_received", "small_wins", "seed",
                "months", "parameters"):
        assert key in s
    assert s["outcome"] in OUTCOMES
    assert set(s["parameters"]) == set(sim.PARAMETERS)


def _outcomes(scenario, n=60, months=60, **overrides):
    return [sim.run_project(scenario, seed=s, months=months, **overrides)["outcome"]
            for s in range(n)]


@pytest.mark.parametrize("outcome, scenario, overrides", [
    ("stalled", "baseline", {}),
    ("pilot", "baseline", {}),
    ("integrated", "enabling_national+funded_vanguard+toolkit", {"months": 120}),
    ("collapsed", "baseline", {"learn_small_tasks": False, "task_size": 1.0,
                               "frustration_rate": 0.2, "shaming": 1.0}),
])
def test_every_outcome_is_reachable(outcome, scenario, overrides):
    assert outcome in _outcomes(scenario, **overrides)


def test_gates_are_ordered():
    for seed in range(40):
        s = sim.run_project("enabling_national+toolkit", seed=seed)
        if s["integrated_month"] is not None:
            assert s["pilot_month"] is not None
            assert s["commissioned_month"] is not None
            assert s["integrated_month"] >= s["commissioned_month"]
            assert s["localities_live"] == s["parameters"]["n_localities"]
        if s["commissioned_month"] is not None:
            assert s["evaluated_month"] is not None
            assert s["commissioned_month"] >= s["evaluated_month"]
        if s["evaluated_month"] is not None:
            assert (s["evaluated_month"] - s["pilot_month"]
                    >= s["parameters"]["evaluation_months"])
        if s["pilot_month"] is not None:
            assert s["business_case_month"] is not None
            assert s["pilot_month"] >= s["business_case_month"]
            assert s["collapse_month"] is None


def test_overrides_are_validated_like_the_command_line():
    with pytest.raises(ValueError, match="turnover_rate.*\\[0, 0.6\\]"):
        sim.run_project(turnover_rate=2.0)
    with pytest.raises(ValueError, match="unknown parameter 'nonsense'"):
        sim.run_project(nonsense=1)
    with pytest.raises(ValueError, match="months"):
        sim.run_project(months=0)
    with pytest.raises(ValueError, match="unknown scenario 'utopia'.*baseline"):
        sim.run_project("utopia")
    with pytest.raises(ValueError, match="team_size.*integer"):
        sim.IntegrationModel(rng=1, team_size=7.5)


@pytest.mark.parametrize("call", [
    lambda seed: sim.run_project(seed=seed),
    lambda seed: sim.simulate(seed=seed),
    lambda seed: sim.IntegrationModel(rng=seed),
    lambda seed: __import__("sim.studies.compare").studies.compare.compare(
        ["baseline"], 2, seed=seed, progress=False),
    lambda seed: __import__("sim.studies.national").studies.national.check(seed=seed),
])
@pytest.mark.parametrize("seed", [-1, 1.5, None, "3", np.int64(-2), True, 2**70 * -1])
def test_a_bad_seed_is_refused_naming_seed(call, seed):
    with pytest.raises(ValueError, match="seed"):
        call(seed)


def test_numpy_values_are_accepted_and_strings_refused_for_numbers():
    assert sim.run_project(seed=np.int64(3)) == sim.run_project(seed=3)
    assert sim.run_project(seed=np.uint8(3))["outcome"] == sim.run_project(seed=3)["outcome"]
    on = sim.run_project(seed=2, small_tasks=np.bool_(True))
    assert on == sim.run_project(seed=2, small_tasks=True)
    assert on["parameters"]["small_tasks"] is True
    for call in (lambda: sim.run_project(turnover_rate="0.2"),
                 lambda: sim.IntegrationModel(rng=1, turnover_rate="0.2"),
                 lambda: sim.core.registry.validate({"turnover_rate": "0.2"}),
                 lambda: sim.run_project(team_size="12"),
                 lambda: sim.run_project(small_tasks="true")):
        with pytest.raises(ValueError, match="turnover_rate|team_size|small_tasks"):
            call()
    # the command line still reads text
    assert sim.core.registry.parse_assignment("turnover_rate=0.2") == ("turnover_rate", 0.2)


def test_integration_model_honours_a_scenario_by_name():
    named = sim.IntegrationModel(rng=5, scenario="austerity")
    assert named.scenario_name == "austerity"
    assert named.p == sim.IntegrationModel(rng=5, scenario_name="austerity").p
    assert named.p != sim.IntegrationModel(rng=5).p
    named.run_for(60)
    same = sim.run_project("austerity", seed=5)
    assert named.outcome == same["outcome"] and named.pilot_month == same["pilot_month"]
    with pytest.raises(ValueError, match="utopia"):
        sim.IntegrationModel(rng=5, scenario="utopia")
    with pytest.raises(ValueError, match="disagree"):
        sim.IntegrationModel(rng=5, scenario="toolkit", scenario_name="austerity")


def test_funding_and_host_changes_are_counted():
    s = sim.run_project("funded_vanguard", seed=1)
    assert s["funding_received"] > 0
    s = sim.run_project(seed=1, host_change_rate=4.0)
    assert s["host_changes"] > 5
    assert math.isfinite(s["mean_engagement"])


def test_every_unit_of_money_is_accounted():
    """Money in (national, local, pooled) minus money out (withdrawn, spent) is the money
    left, in every run, whatever the money's sources (ODD §7.10)."""
    from sim.core.scenarios import parameters_for
    from sim.run import run_projects

    values = []
    for scenario in ("baseline", "funded_vanguard", "enabling_national+toolkit", "austerity"):
        for extra in ({}, {"pooled_budget": 1.0, "churn_withdrawal": 0.3, "local_budget": 0.5,
                           "policy_churn_rate": 1.5}, {"local_money": "capacity"}):
            values.append(parameters_for(scenario, extra))
    runs = run_projects(values * 25, list(range(len(values) * 25)), 120)
    balance = (runs.funding_received + runs.local_committed + runs.pooled - runs.withdrawn
               - runs.spent - runs.unspent)
    assert np.abs(balance).max() < 1e-9
    assert (runs.unspent >= -1e-9).all()
    assert runs.pooled.max() > 0 and runs.withdrawn.max() > 0 and runs.spent.max() > 0


def test_more_money_buys_a_wider_pilot_not_the_same_run():
    """A pilot's scope follows its money: more money than one locality pilot's cost is not
    wasted (the earlier all-or-nothing test gave identical runs)."""
    from sim.core.scenarios import parameters_for
    from sim.run import run_projects

    seeds = list(range(400))
    little = run_projects([parameters_for("baseline", {"initial_funding": 0.1})] * 400, seeds)
    more = run_projects([parameters_for("baseline", {"initial_funding": 0.3})] * 400, seeds)
    piloted = little.pilot_month.notna() & more.pilot_month.notna()
    assert piloted.sum() > 20
    assert (more.pilot_scope[piloted] >= little.pilot_scope[piloted] - 1e-12).all()
    assert (more.pilot_scope[piloted] > little.pilot_scope[piloted]).any()
