"""The people of one integration project, at the levels of Ferlie & Shortell (2001).

* ``SystemLeader`` — national leadership: the narrative, the regulatory, payment and
  incentive tools, transformation-funding rounds and policy churn (case, Table 1).
* ``OrganisationalManager`` — the responsible manager of each organisation: commissioner
  (the host), hospital trust, community trust, GP federation (case, Table 2).
* ``ClinicalLead`` and ``TeamMember`` — the transformation team (case, Table 3).

**The behaviour is in :mod:`sim.engine.kernels`**: the project's state lives in arrays
that the compiled monthly kernels (shared with the fast engine) update; each agent here is
a view of its part of them, so ``lead.engagement`` or ``host.support`` reads like the domain
while the equations exist once. When a person leaves (personnel turnover) their agent is
removed and a new agent, a new person with no project knowledge, takes the seat; when a
manager changes, a new manager agent takes the organisation's row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import mesa
import numpy as np

from sim.core.team import ORGANISATIONS, Role
from sim.engine import kernels
from sim.engine import layout as L

if TYPE_CHECKING:
    from sim.mesa.model import IntegrationModel


class TeamState:
    """The team's per-person state: views (one row per quantity, one column per seat) of
    the model's team arrays, which the compiled submodels update in place."""

    __slots__ = ("engagement", "disposition", "threshold", "vision", "role_clarity",
                 "knowledge", "frustration", "leave_hazard", "organisation", "joined",
                 "is_lead", "left", "size", "inv_size")

    def __init__(self, t: np.ndarray, ti: np.ndarray) -> None:
        self.size = t.shape[1]
        self.inv_size = 1.0 / self.size
        self.engagement = t[L.T_ENGAGEMENT]
        self.disposition = t[L.T_DISPOSITION]
        self.threshold = t[L.T_THRESHOLD]
        self.vision = t[L.T_VISION]
        self.role_clarity = t[L.T_ROLE]
        self.knowledge = t[L.T_KNOWLEDGE]
        self.frustration = t[L.T_FRUSTRATION]
        self.leave_hazard = t[L.T_LEAVE_HAZARD]
        self.organisation = ti[L.TI_ORG]
        self.joined = ti[L.TI_JOINED]
        self.is_lead = ti[L.TI_IS_LEAD].astype(bool)
        self.left = ti[L.TI_LEFT]


class SystemLeader(mesa.Agent):
    """National leadership (system level): narrative, tools, funding rounds, policy churn.

    Case, Table 1: the system level 'empowered the local leaders … but did not provide
    sufficient regulatory, financial and incentive solutions', awarded 'transformation
    funding to some but not all local integrated care initiatives', and new programmes
    (the STP) made the team re-think its plan. The levers may change during a run (a
    schedule of national policy); the submodels read them every month.
    """

    model: IntegrationModel  # set by mesa.Agent, which is untyped

    def __init__(self, model: IntegrationModel) -> None:
        super().__init__(model)

    @property
    def narrative(self) -> float:
        return cast(float, self.model.p["national_narrative"])

    @property
    def regulatory_alignment(self) -> float:
        return cast(float, self.model.p["regulatory_alignment"])

    @property
    def payment_integration(self) -> float:
        return cast(float, self.model.p["payment_integration"])

    @property
    def incentives(self) -> float:
        return cast(float, self.model.p["incentives"])

    @property
    def prescriptiveness(self) -> float:
        return cast(float, self.model.p["prescriptiveness"])

    @property
    def tools(self) -> float:
        """Alignment tools: regulation, payment and incentives (system alignment)."""
        return (self.regulatory_alignment + self.payment_integration + self.incentives) / 3.0

    @property
    def enablers(self) -> float:
        """What full integration needs from the nation: aligned regulation and payment
        (a product, or their mean under ``enablers_form = "mean"``; ODD §7.12)."""
        return float(kernels.enablers(self.model.params))

    @property
    def funding_received(self) -> float:
        """National money received so far, relative to the cost of a full-scope pilot."""
        return float(self.model.state.g[L.G_FUNDING_RECEIVED])

    @property
    def funding_rounds(self) -> int:
        return int(self.model.state.c[L.C_FUNDING_ROUNDS])

    @property
    def policy_churns(self) -> int:
        return int(self.model.state.c[L.C_POLICY_CHURNS])


class OrganisationalManager(mesa.Agent):
    """The responsible senior/middle manager of one organisation (organisational level).

    Case, Table 2: chief executives support the project (strategy), but senior and middle
    managers, who decide on resources, support it less; there is often 'no clear
    decision making pathway', and not every clinical lead has a matching management lead.
    The manager's state is the organisation's row of the model's manager array.
    """

    model: IntegrationModel

    def __init__(self, model: IntegrationModel, organisation: int) -> None:
        super().__init__(model)
        self.organisation: int = organisation
        self.name: str = ORGANISATIONS[organisation]

    def _get(self, field: str) -> float:
        return float(self.model.state.m[self.organisation, getattr(L, field)])

    @property
    def ceo_support(self) -> float:
        return cast(float, self.model.p["ceo_support"])

    @property
    def support(self) -> float:
        """Operational support for the project (organisational commitment)."""
        return self._get("M_SUPPORT")

    @property
    def has_pathway(self) -> bool:
        return bool(self._get("M_PATHWAY"))

    @property
    def has_management_lead(self) -> bool:
        return bool(self._get("M_LEAD"))

    @property
    def has_pm_support(self) -> bool:
        return bool(self._get("M_PM"))

    @property
    def approved(self) -> bool:
        return bool(self._get("M_APPROVED"))

    @property
    def reach(self) -> float:
        """How far the team's signal reaches the decision makers (ODD §7.4)."""
        return self._get("M_REACH")

    @property
    def alignment(self) -> float:
        return self._get("M_ALIGNMENT")

    @property
    def is_host(self) -> bool:
        return self.organisation == 0


class TeamPerson(mesa.Agent):
    """A member of the transformation team; state is read from the team arrays."""

    model: IntegrationModel

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
