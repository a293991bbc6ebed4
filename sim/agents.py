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
    """A seat on the team: profession, organisation and turnover group.

    ``turnover_group`` names the registry entry ``turnover_<group>`` that scales the
    all-staff leaver rate for this profession; ``"staff"`` means the all-staff rate itself
    (the reference category: multiplier 1).
    """

    title: str
    organisation: int
    turnover_group: str


# Relative annual leaver rates against all NHS staff (~11%) are registry assumptions:
# turnover_consultant, turnover_specialist_nurse, turnover_gp, turnover_practice_nurse and
# turnover_commissioner (sources there and in shared/SOURCES.md, "Turnover").
LEAD_ROLES = (
    Role("hospital clinical lead (consultant)", 1, "consultant"),
    Role("community clinical lead (specialist nurse)", 2, "specialist_nurse"),
    Role("primary care clinical lead (GP)", 3, "gp"),
    Role("pilot locality clinical lead (GP)", 3, "gp"),
)
MEMBER_ROLES = (
    Role("commissioner", 0, "commissioner"),
    Role("consultant diabetologist", 1, "consultant"),
    Role("diabetes specialist nurse", 2, "specialist_nurse"),
    Role("general practitioner", 3, "gp"),
    Role("practice nurse", 3, "practice_nurse"),
    Role("consultant diabetologist", 1, "consultant"),
    Role("commissioning manager", 0, "commissioner"),
    Role("patient representative", PATIENTS, "staff"),
    Role("mental health specialist", 2, "staff"),
    Role("general practitioner", 3, "gp"),
    Role("diabetes specialist nurse", 2, "specialist_nurse"),
    Role("consultant diabetologist", 1, "consultant"),
    Role("general practitioner", 3, "gp"),
    Role("practice nurse", 3, "practice_nurse"),
    Role("hospital service manager", 1, "staff"),
)
LOCALITY_LEAD_SLOT = 3


def turnover_multiplier(role: Role, p: dict) -> float:
    """The profession's leaver rate relative to all staff (registry: ``turnover_<group>``)."""
    return 1.0 if role.turnover_group == "staff" else p[f"turnover_{role.turnover_group}"]


def team_roles(size: int) -> list[Role]:
    """The case's team: a lead per provider, the locality lead, then members in turn."""
    members = [MEMBER_ROLES[i % len(MEMBER_ROLES)] for i in range(size - len(LEAD_ROLES))]
    return list(LEAD_ROLES) + members


class TeamState:
    """Per-person state of the transformation team as arrays (one slot per seat)."""

    __slots__ = ("engagement", "disposition", "threshold", "vision", "role_clarity",
                 "knowledge", "frustration", "organisation", "leave_hazard", "is_lead",
                 "joined", "size", "inv_size")

    def __init__(self, roles: list[Role], p: dict) -> None:
        n = len(roles)
        self.size = n
        self.inv_size = 1.0 / n
        self.organisation = np.array([r.organisation for r in roles], dtype=np.intp)
        self.is_lead = np.arange(n) < len(LEAD_ROLES)
        multiplier = np.array([turnover_multiplier(r, p) for r in roles])
        # the cap keeps the monthly conversion defined (a numerical guard, not a number
        # that shapes the dynamics at any plausible rate)
        annual = np.minimum(p["turnover_rate"] * multiplier, 0.999)
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
        # The clips keep states in their scales; the floor of 0.05 on disposition and the
        # ceiling of 0.95 on thresholds keep everyone able to engage and to disengage.
        disp = np.clip(p["initial_engagement"] + p["disposition_spread"] * (draws[:, 0] - 0.5),
                       0.05, 1.0)
        self.disposition[slots] = disp
        self.engagement[slots] = disp
        self.threshold[slots] = np.clip(
            p["motivation_threshold"] + p["threshold_spread"] * (draws[:, 1] - 0.5), 0.0, 0.95)
        self.vision[slots] = np.clip(
            vision_scale * p["initial_vision"] + p["vision_spread"] * (draws[:, 2] - 0.5),
            0.0, 1.0)
        self.role_clarity[slots] = np.clip(
            p["initial_role_clarity"] + p["role_spread"] * (draws[:, 3] - 0.5), 0.0, 1.0)
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
        self.narrative: float
        self.regulatory_alignment: float
        self.payment_integration: float
        self.incentives: float
        self.prescriptiveness: float
        self.round_prob: float
        self.churn_prob: float
        self.enablers_form: str
        self.apply_levers(p)
        # Money granted up front by a national programme (the national view's allocation).
        self.funding_received: float = p["initial_funding"]
        self.funding_rounds: int = 0
        self.policy_churns: int = 0

    def apply_levers(self, p: dict) -> None:
        """Read the national levers (at the start, and when a schedule changes them)."""
        self.narrative = p["national_narrative"]
        self.regulatory_alignment = p["regulatory_alignment"]
        self.payment_integration = p["payment_integration"]
        self.incentives = p["incentives"]
        self.prescriptiveness = p["prescriptiveness"]
        self.round_prob = 1.0 - np.exp(-p["funding_round_rate"] / 12.0)
        self.churn_prob = 1.0 - np.exp(-p["policy_churn_rate"] / 12.0)
        self.enablers_form = p["enablers_form"]

    @property
    def tools(self) -> float:
        """Alignment tools: regulation, payment and incentives (system alignment)."""
        return (self.regulatory_alignment + self.payment_integration + self.incentives) / 3.0

    @property
    def enablers(self) -> float:
        """What full integration needs from the nation: aligned regulation *and* payment.

        A product, because each is necessary: pooled budgets are of little use while the
        services are still regulated apart, and vice versa (case, 'Gaps at the system level').
        The structural choice ``enablers_form = "mean"`` lets each help alone.
        """
        if self.enablers_form == "mean":
            return 0.5 * (self.regulatory_alignment + self.payment_integration)
        return self.regulatory_alignment * self.payment_integration

    def funding_round(self, u_round: float, u_award: float) -> float:
        """A round may open; the site is funded with the award probability. Returns award."""
        if u_round >= self.round_prob:
            return 0.0
        self.funding_rounds += 1
        award_prob = self.model.p["funding_award_prob"]
        if self.model.small_mode:  # case: the team learned 'to apply for smaller funding'
            award_prob = min(1.0, award_prob * self.model.p["small_bid_advantage"])
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
        self.support: float = min(1.0, max(0.0, p["management_support"]
                                           + p["support_spread"] * (draws[0] - 0.5)))
        self.has_pathway: bool = bool(draws[1] < p["decision_pathway_prob"])
        self.has_management_lead: bool = bool(draws[2] < p["management_lead_prob"])
        self.has_pm_support: bool = bool(draws[3] < p["pm_support"])
        self.approved: bool = False
        # What does not change within a run, computed once: the national tools and the
        # organisation's savings pressure (the target's fixed part), how far the team's
        # signal reaches the decision makers, and the organisation's alignment.
        self.reach: float = (1.0 if self.has_pathway else p["pathway_leak"]) * (
            1.0 if self.has_management_lead else p["no_management_lead"])
        self.fixed_target: float = 0.0
        self.apply_levers(p)
        w_path, w_lead = p["align_pathway_weight"], p["align_lead_weight"]
        self.alignment: float = (w_path * self.has_pathway + w_lead * self.has_management_lead
                                 + (1.0 - w_path - w_lead) * self.has_pm_support)

    def apply_levers(self, p: dict) -> None:
        """The target's fixed part: what national tools and savings pressure justify."""
        self.fixed_target = (
            p["management_support"] + p["w_incentives"] * p["incentives"]
            + p["w_regulation"] * p["regulatory_alignment"]
            - p["w_savings"] * p["savings_pressure"] * (1.0 - p["risk_appetite"]))
        self._w_funding = p["w_funding"]
        self._w_team = p["w_team"]
        self._adjust = p["support_adjust"]

    @property
    def is_host(self) -> bool:
        return self.organisation == 0

    def update_support(self, team_signal: float, funded: float) -> None:
        """Move operational support toward what incentives, money and the team justify.

        Incentives, aligned regulation and national money raise it; savings pressure
        without risk appetite lowers it (case: 'not ready to take a risk', 'prioritising
        savings over investment'); the team's visible commitment raises it only as far as
        it reaches the decision makers through a pathway and a management lead::

            target = management_support + w_incentives incentives
                     + w_regulation regulatory_alignment + w_funding funded
                     - w_savings savings_pressure (1 - risk_appetite)
                     + w_team team_signal reach
        """
        target = self.fixed_target + self._w_funding * funded \
            + self._w_team * team_signal * self.reach
        target = 1.0 if target > 1.0 else (0.0 if target < 0.0 else target)
        self.support += self._adjust * (target - self.support)

    def decide(self, u: float) -> bool:
        """Approve the business case this month? Needs support, faster with a pathway."""
        if not self.approved:
            p = self.model.p
            rate = p["approval_rate"] * self.support * (
                1.0 if self.has_pathway else p["pathway_leak"])
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
