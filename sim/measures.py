"""Direction, alignment and commitment (Drath et al. 2008) at every level, and the outcome.

The case study reads leadership at each level of Ferlie & Shortell (2001) through these
three outcomes: *direction* — agreement on goals; *alignment* — coordination of action,
tools and decision pathways; *commitment* — willingness to put the shared effort first.
Each is a number in [0, 1]. The functions here read the model's state and never change it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.model import IntegrationModel

LEVELS = ("system", "organisation", "team")
DAC = ("direction", "alignment", "commitment")
DAC_KEYS = tuple(f"{level}_{outcome}" for level in LEVELS for outcome in DAC)
OUTCOMES = ("integrated", "pilot", "stalled", "collapsed")

_sum = np.add.reduce


def system_dac(model: IntegrationModel) -> tuple[float, float, float]:
    """System level (case, Table 1 and 'Rhetoric and reality').

    direction: the national narrative; alignment: the regulatory, payment and incentive
    tools; commitment: national resources committed to this site, relative to the cost of
    a full-scope pilot.
    """
    s = model.system
    return s.narrative, s.tools, min(1.0, s.funding_received)


def organisation_profile(managers) -> tuple[float, float]:
    """The parts of organisational DAC that change only when a manager changes.

    direction: chief executives' strategic support; alignment: decision pathways, management
    leads matching the clinical leads and project-management support, weighted by the
    registry's ``align_pathway_weight`` and ``align_lead_weight`` (PM support: the rest).
    """
    n = len(managers)
    return (sum(m.ceo_support for m in managers) / n,
            sum(m.alignment for m in managers) / n)


def organisation_dac(model: IntegrationModel) -> tuple[float, float, float]:
    """Organisational level (case, Table 2).

    direction and alignment: :func:`organisation_profile` (kept by the model);
    commitment: senior and middle managers' operational support.
    """
    direction, alignment = model.organisation_profile
    return direction, alignment, float(_sum(model.support[:-1])) * model.inv_managers


def team_dac(model: IntegrationModel) -> tuple[float, float, float]:
    """Transformation-team level (case, Table 3).

    direction: members' agreement with the shared vision; alignment: clarity of who leads
    (weight ``team_alignment_leadership_weight``) and of members' roles; commitment:
    members' engagement.
    """
    t = model.team
    direction = float(_sum(t.vision)) * t.inv_size
    w = model.p["team_alignment_leadership_weight"]
    alignment = w * model.leadership_clarity + (1.0 - w) * float(_sum(t.role_clarity)) \
        * t.inv_size
    commitment = float(_sum(t.engagement)) * t.inv_size
    return direction, alignment, commitment


def dac(model: IntegrationModel) -> tuple[float, ...]:
    """The nine values in ``DAC_KEYS`` order."""
    return system_dac(model) + organisation_dac(model) + team_dac(model)


def outcome(model: IntegrationModel) -> str:
    """The run's outcome: integrated, pilot, stalled (still meeting) or collapsed."""
    if model.integrated_month is not None:
        return "integrated"
    if model.pilot_month is not None:
        return "pilot"
    if model.collapse_month is not None:
        return "collapsed"
    return "stalled"
