"""The people of one integration project, at the levels of Ferlie & Shortell (2001).

* ``SystemLeader`` — national leadership: the narrative, the regulatory, payment and
  incentive tools, transformation-funding rounds and policy churn (case, Table 1).
* ``OrganisationalManager`` — the responsible manager of each organisation: commissioner
  (the host), hospital trust, community trust, GP federation (case, Table 2).
* ``ClinicalLead`` and ``TeamMember`` — the transformation team (case, Table 3).

Team members are many and change every month, so their state lives in arrays held by
:class:`TeamState` (one vectorised update a month); each member agent is a view of its
slot, so ``lead.engagement`` reads like the domain while the hot path stays lean. When a
person leaves (personnel turnover) their agent is removed and a new agent, a new person
with no project knowledge, takes the slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mesa
import numpy as np

if TYPE_CHECKING:
    from sim.model import IntegrationModel

ORGANISATIONS = ("commissioner", "hospital_trust", "community_trust", "gp_federation")
PATIENTS = 4  # organisation index of the patient representative: no organisation's agenda


@dataclass(frozen=True, slots=True)
class Role:
    """A seat on the team: profession, organisation and relative leaver rate."""

    title: str
    organisation: int
    turnover_multiplier: float  # relative to the all-staff rate (see docs/ODD.md)


# Relative annual leaver rates against all NHS staff (~11%): consultants 6-7% (0.6),
# nurses 9-11% (0.9; community trusts about twice acute, hence 1.3 for community
# specialist nurses), GPs 11-18% at practice level (1.3), commissioners 1.5 (CCG
# structural churn 2013-20). Sources: shared/SOURCES.md, "Turnover".
LEAD_ROLES = (
    Role("hospital clinical lead (consultant)", 1, 0.6),
    Role("community clinical lead (specialist nurse)", 2, 1.3),
    Role("primary care clinical lead (GP)", 3, 1.3),
    Role("pilot locality clinical lead (GP)", 3, 1.3),
)
MEMBER_ROLES = (
    Role("commissioner", 0, 1.5),
    Role("consultant diabetologist", 1, 0.6),
    Role("diabetes specialist nurse", 2, 1.3),
    Role("general practitioner", 3, 1.3),
    Role("practice nurse", 3, 0.9),
    Role("consultant diabetologist", 1, 0.6),
    Role("commissioning manager", 0, 1.5),
    Role("patient representative", PATIENTS, 1.0),
    Role("mental health specialist", 2, 1.0),
    Role("general practitioner", 3, 1.3),
    Role("diabetes specialist nurse", 2, 1.3),
    Role("consultant diabetologist", 1, 0.6),
    Role("general practitioner", 3, 1.3),
    Role("practice nurse", 3, 0.9),
    Role("hospital service manager", 1, 1.0),
)
LOCALITY_LEAD_SLOT = 3


def team_roles(size: int) -> list[Role]:
    """The case's team: a lead per provider, the locality lead, then members in turn."""
    members = [MEMBER_ROLES[i % len(MEMBER_ROLES)] for i in range(size - len(LEAD_ROLES))]
    return list(LEAD_ROLES) + members


class TeamState:
    """Per-person state of the transformation team as arrays (one slot per seat)."""

    __slots__ = ("engagement", "disposition", "threshold", "vision", "role_clarity",
                 "knowledge", "frustration", "organisation", "leave_hazard", "is_lead",
                 "joined", "size", "inv_size")

    def __init__(self, roles: list[Role], turnover_rate: float) -> None:
        n = len(roles)
        self.size = n
        self.inv_size = 1.0 / n
        self.organisation = np.array([r.organisation for r in roles], dtype=np.intp)
        self.is_lead = np.arange(n) < len(LEAD_ROLES)
        annual = np.minimum(turnover_rate * np.array([r.turnover_multiplier for r in roles]),
                            0.999)
        self.leave_hazard = 1.0 - (1.0 - annual) ** (1.0 / 12.0)
        self.engagement = np.zeros(n)
        self.disposition = np.zeros(n)
        self.threshold = np.zeros(n)
        self.vision = np.zeros(n)
        self.role_clarity = np.zeros(n)
        self.knowledge = np.zeros(n)
        self.frustration = np.zeros(n)
        self.joined = np.zeros(n, dtype=np.intp)

    def newcomers(self, slots: np.ndarray, draws: np.ndarray, p: dict, month: int,
                  knowledge: float = 0.0, vision_scale: float = 1.0) -> None:
        """Seat new people in ``slots``; ``draws`` is uniform, shape (len(slots), 4).

        A newcomer has no project knowledge (case: 'too many personnel changes'; Carley
        1992: memory sits in people), their own disposition and motivation threshold
        (Granovetter 1978: the spread of thresholds matters), and a vision and role
        clarity drawn around the levers' means.
        """
        disp = np.clip(p["initial_engagement"] + 0.3 * (draws[:, 0] - 0.5), 0.05, 1.0)
        self.disposition[slots] = disp
        self.engagement[slots] = disp
        self.threshold[slots] = np.clip(p["motivation_threshold"] + 0.3 * (draws[:, 1] - 0.5),
                                        0.0, 0.95)
        self.vision[slots] = np.clip(
            vision_scale * p["initial_vision"] + 0.3 * (draws[:, 2] - 0.5), 0.0, 1.0)
        self.role_clarity[slots] = np.clip(
            p["initial_role_clarity"] + 0.2 * (draws[:, 3] - 0.5), 0.0, 1.0)
        self.knowledge[slots] = knowledge
        self.frustration[slots] = 0.0
        self.joined[slots] = month


class SystemLeader(mesa.Agent):
    """National leadership (system level): narrative, tools, funding rounds, policy churn.

    Case, Table 1: the system level 'empowered the local leaders … but did not provide
    sufficient regulatory, financial and incentive solutions', awarded 'transformation
    funding to some but not all local integrated care initiatives', and new programmes
    (the STP) made the team re-think its plan.
    """

    def __init__(self, model: IntegrationModel) -> None:
        super().__init__(model)
        p = model.p
        self.narrative: float = p["national_narrative"]
        self.regulatory_alignment: float = p["regulatory_alignment"]
        self.payment_integration: float = p["payment_integration"]
        self.incentives: float = p["incentives"]
        self.prescriptiveness: float = p["prescriptiveness"]
        self.round_prob: float = 1.0 - np.exp(-p["funding_round_rate"] / 12.0)
        self.churn_prob: float = 1.0 - np.exp(-p["policy_churn_rate"] / 12.0)
        # Money granted up front by a national programme (the national view's allocation).
        self.funding_received: float = p["initial_funding"]
        self.funding_rounds: int = 0
        self.policy_churns: int = 0

    @property
    def tools(self) -> float:
        """Alignment tools: regulation, payment and incentives (system alignment)."""
        return (self.regulatory_alignment + self.payment_integration + self.incentives) / 3.0

    @property
    def enablers(self) -> float:
        """What full integration needs from the nation: aligned regulation *and* payment.

        A product, because each is necessary: pooled budgets are of little use while the
        services are still regulated apart, and vice versa (case, 'Gaps at the system level').
        """
        return self.regulatory_alignment * self.payment_integration

    def funding_round(self, u_round: float, u_award: float) -> float:
        """A round may open; the site is funded with the award probability. Returns award."""
        if u_round >= self.round_prob:
            return 0.0
        self.funding_rounds += 1
        award_prob = self.model.p["funding_award_prob"]
        if self.model.small_mode:  # case: the team learned 'to apply for smaller funding'
            award_prob = min(1.0, award_prob * SMALL_BID_ADVANTAGE)
        if u_award >= award_prob:
            return 0.0
        amount = self.model.p["funding_amount"]
        self.funding_received += amount
        return amount

    def policy_churn(self, u_churn: float) -> bool:
        """A new national programme forces a re-plan (case: the STP re-think)."""
        if u_churn >= self.churn_prob:
            return False
        self.policy_churns += 1
        return True


class OrganisationalManager(mesa.Agent):
    """The responsible senior/middle manager of one organisation (organisational level).

    Case, Table 2: chief executives support the project (strategy), but senior and middle
    managers, who decide on resources, support it less; there is often 'no clear
    decision making pathway', and not every clinical lead has a matching management lead.
    """

    def __init__(self, model: IntegrationModel, organisation: int, draws: np.ndarray) -> None:
        super().__init__(model)
        p = model.p
        self.organisation: int = organisation
        self.name: str = ORGANISATIONS[organisation]
        self.ceo_support: float = p["ceo_support"]
        self.support: float = min(1.0, max(0.0, p["management_support"] + 0.2 * (draws[0] - 0.5)))
        self.has_pathway: bool = bool(draws[1] < p["decision_pathway_prob"])
        self.has_management_lead: bool = bool(draws[2] < p["management_lead_prob"])
        self.has_pm_support: bool = bool(draws[3] < p["pm_support"])
        self.approved: bool = False
        # What does not change within a run, computed once: the national tools and the
        # organisation's savings pressure (the target's fixed part), how far the team's
        # signal reaches the decision makers, and the organisation's alignment.
        system = model.system
        self.reach: float = (1.0 if self.has_pathway else PATHWAY_LEAK) * (
            1.0 if self.has_management_lead else NO_MANAGEMENT_LEAD)
        self.fixed_target: float = (
            p["management_support"] + W_INCENTIVES * system.incentives
            + W_REGULATION * system.regulatory_alignment
            - W_SAVINGS * p["savings_pressure"] * (1.0 - p["risk_appetite"]))
        self.alignment: float = (0.4 * self.has_pathway + 0.3 * self.has_management_lead
                                 + 0.3 * self.has_pm_support)

    @property
    def is_host(self) -> bool:
        return self.organisation == 0

    def update_support(self, team_signal: float, funded: float) -> None:
        """Move operational support toward what incentives, money and the team justify.

        Incentives, aligned regulation and national money raise it; savings pressure
        without risk appetite lowers it (case: 'not ready to take a risk', 'prioritising
        savings over investment'); the team's visible commitment raises it only as far as
        it reaches the decision makers through a pathway and a management lead::

            target = management_support + W_INCENTIVES incentives
                     + W_REGULATION regulatory_alignment + W_FUNDING funded
                     - W_SAVINGS savings_pressure (1 - risk_appetite)
                     + W_TEAM team_signal reach
        """
        target = self.fixed_target + W_FUNDING * funded + W_TEAM * team_signal * self.reach
        target = 1.0 if target > 1.0 else (0.0 if target < 0.0 else target)
        self.support += SUPPORT_ADJUST * (target - self.support)

    def decide(self, u: float) -> bool:
        """Approve the business case this month? Needs support, faster with a pathway."""
        if not self.approved:
            rate = APPROVAL_RATE * self.support * (1.0 if self.has_pathway else PATHWAY_LEAK)
            self.approved = u < rate
        return self.approved


class TeamPerson(mesa.Agent):
    """A member of the transformation team; state is read from the team arrays."""

    def __init__(self, model: IntegrationModel, slot: int, role: Role) -> None:
        super().__init__(model)
        self.slot: int = slot
        self.role: Role = role

    @property
    def organisation(self) -> str:
        o = self.role.organisation
        return ORGANISATIONS[o] if o < len(ORGANISATIONS) else "patients"

    @property
    def engagement(self) -> float:
        return float(self.model.team.engagement[self.slot])

    @property
    def vision(self) -> float:
        return float(self.model.team.vision[self.slot])

    @property
    def role_clarity(self) -> float:
        return float(self.model.team.role_clarity[self.slot])

    @property
    def knowledge(self) -> float:
        return float(self.model.team.knowledge[self.slot])

    @property
    def frustration(self) -> float:
        return float(self.model.team.frustration[self.slot])

    @property
    def tenure(self) -> int:
        return int(self.model.steps - self.model.team.joined[self.slot])


class ClinicalLead(TeamPerson):
    """A clinical lead: one per provider plus the pilot locality's lead (case, Method)."""


class TeamMember(TeamPerson):
    """A commissioner, consultant, nurse, GP, mental-health specialist or patient."""


# Organisational response coefficients (assumptions; docs/ODD.md, "Submodels").
SUPPORT_ADJUST = 0.1  # managers revise their support slowly: ~10 months to adjust
W_INCENTIVES = 0.3
W_REGULATION = 0.2
W_FUNDING = 0.2
W_SAVINGS = 0.35
W_TEAM = 0.3
PATHWAY_LEAK = 0.4  # share of the team's signal that reaches decision makers informally
NO_MANAGEMENT_LEAD = 0.6  # a clinical lead without a management lead is heard less
SMALL_BID_ADVANTAGE = 1.5  # smaller bids are funded more readily (assumption)
APPROVAL_RATE = 1.0  # monthly approval chance at full support with a decision pathway
