"""Named scenarios: national approaches, the local toolkit, and how they compose.

A scenario is a set of parameter values over the baseline (the case). Names compose with
``+`` in order, later ones winning where two set the same lever:
``"enabling_national+toolkit"``. Every scenario names the finding it stands for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sim.errors import UsageError
from sim.parameters import Value, resolve


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str  # "national" | "toolkit" | "team"
    description: str
    finding: str
    values: Mapping[str, Value] = field(default_factory=dict)


_NATIONAL = (
    Scenario("baseline", "national",
             "Flexible national approach: strong narrative, weak tools, funding to some sites",
             "Case, Table 1: 'promoting a flexible national approach to regulatory, financial, "
             "and incentive solutions'; 'awarding transformation funding to some but not all'"),
    Scenario("enabling_national", "national",
             "Same narrative, plus aligned regulation, integrated payment and incentives",
             "Case: local initiatives 'could succeed only if operating in a regulatory, "
             "financial and incentive system that is conducive of collaboration'",
             {"regulatory_alignment": 0.75, "payment_integration": 0.7, "incentives": 0.7}),
    Scenario("funded_vanguard", "national",
             "Early, sufficient transformation funding and national project support",
             "Case: 'The vanguard sites and ICPs had additional resources to develop and test "
             "the new models'; NAO 2018: £329m direct plus £60m central support",
             {"funding_round_rate": 4.0, "funding_award_prob": 1.0, "funding_amount": 1.2,
              "pm_support": 0.8}),
    Scenario("prescriptive_national", "national",
             "Ready-made national models: less local design work, worse local fit",
             "Case: national programmes 'did not always match what was needed locally and "
             "what was already achieved'",
             {"prescriptiveness": 0.8}),
    Scenario("austerity", "national",
             "Savings before investment, scarce money, rare funding rounds",
             "Case, Discussion: 'scarce resources for transformation', 'prioritising savings "
             "over investment'",
             {"savings_pressure": 0.9, "local_investment": 0.3, "funding_round_rate": 0.2,
              "management_support": 0.2}),
)

_TOOLKIT = (
    Scenario("map_decisions", "toolkit",
             "Map the decision-making structure; a management lead for every clinical lead",
             "Case toolkit: 'know the decision making structure in all organisations … clarify "
             "who will make the final decisions'",
             {"decision_pathway_prob": 1.0, "management_lead_prob": 1.0}),
    Scenario("project_management", "toolkit",
             "Project-management support for every lead",
             "Case toolkit: 'check if all leaders have project management support'",
             {"pm_support": 1.0}),
    Scenario("feedback_meetings", "toolkit",
             "Regular meetings with feedback on action points",
             "Case toolkit: 'held regular meetings … with feedback from action points'",
             {"meeting_feedback": 1.0}),
    Scenario("small_wins", "toolkit",
             "Smaller tasks with celebrated successes, toward a locality pilot",
             "Case toolkit: 'divide the project into smaller tasks requiring cooperation and "
             "celebrate successes'",
             {"small_tasks": True, "task_size": 0.1, "win_boost": 0.25}),
    Scenario("shared_vision", "toolkit",
             "An agreed shared vision and accepted roles",
             "Case toolkit: 'establish if all leaders share the vision and accept their new "
             "roles'",
             {"initial_vision": 0.85, "initial_role_clarity": 0.7}),
    Scenario("strong_clinical_leadership", "toolkit",
             "Strong clinical leadership, clear about who leads and chairs",
             "Case toolkit: 'strong clinical leadership voiced at the meetings but also "
             "clinical practice in everyday interaction'",
             {"clinical_leadership": 0.85, "leadership_clarity": 0.6}),
    Scenario("face_to_face", "toolkit",
             "Face-to-face engagement with providers to hear and address their concerns",
             "Case toolkit: 'face-to-face engagement with providers of care to collect their "
             "views and address their concerns'",
             {"face_to_face": 0.9}),
    Scenario("supportive_engagement", "toolkit",
             "Engagement that supports providers rather than shaming them",
             "Case toolkit: 'engagement … focused on supporting them … avoiding shaming those "
             "who do not achieve'",
             {"shaming": 0.0}),
)


def _toolkit_values() -> dict[str, Value]:
    merged: dict[str, Value] = {}
    for s in _TOOLKIT:
        merged.update(s.values)
    return merged


_COMBINED = (
    Scenario("toolkit", "toolkit", "All eight local-toolkit interventions together",
             "Case, Practical implications: 'the need for practical guidelines and "
             "step-by-step toolkits to support the local leaders'",
             _toolkit_values()),
    Scenario("stable_team", "team", "Low personnel turnover and a stable host",
             "Case: 'there have been too many personnel changes for me to feel that there is a "
             "strong leadership'; the team renamed by successive commissioners",
             {"turnover_rate": 0.04, "host_change_rate": 0.2, "manager_turnover": 0.1}),
)

SCENARIOS: dict[str, Scenario] = {s.name: s for s in _NATIONAL + _TOOLKIT + _COMBINED}
NATIONAL_APPROACHES: tuple[str, ...] = tuple(s.name for s in _NATIONAL)


def split(spec: str) -> list[str]:
    """Split ``"a+b"`` into known scenario names, or raise ``UsageError`` listing them."""
    names = [part.strip() for part in str(spec).split("+")]
    for name in names:
        if name not in SCENARIOS:
            known = ", ".join(SCENARIOS)
            raise UsageError(f"unknown scenario '{name}'; known scenarios: {known}")
    return names


def scenario_values(spec: str) -> dict[str, Value]:
    """The parameter values a (composed) scenario sets over the baseline."""
    values: dict[str, Value] = {}
    for name in split(spec):
        values.update(SCENARIOS[name].values)
    return values


def parameters_for(spec: str = "baseline", overrides: Mapping[str, Any] | None = None,
                   ) -> dict[str, Value]:
    """Every parameter's value: defaults, then the scenario, then the overrides."""
    return resolve(scenario_values(spec), overrides or {})
