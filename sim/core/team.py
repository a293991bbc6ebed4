"""The transformation team's seats and the organisations they come from (case, Method).

The case's team had "nearly twenty members": a clinical lead for each provider and the
pilot locality's lead, commissioners, consultants, specialist nurses, GPs, practice nurses,
a mental-health specialist and a patient representative, from four organisations — the
clinical commissioning group (the host), the hospital trust, the community trust and the
GP federation. These are data both engines read: the seat layout of
:mod:`sim.engine.layout` and the Mesa agents of :mod:`sim.mesa.agents`.
"""

from __future__ import annotations

from dataclasses import dataclass

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
# turnover_commissioner (sources there and in docs/sources.md, "Turnover").
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


def team_roles(size: int) -> list[Role]:
    """The case's team: a lead per provider, the locality lead, then members in turn."""
    members = [MEMBER_ROLES[i % len(MEMBER_ROLES)] for i in range(size - len(LEAD_ROLES))]
    return list(LEAD_ROLES) + members
