"""Direction, alignment and commitment (Drath et al. 2008) at every level, and the outcome.

The case study reads leadership at each level of Ferlie & Shortell (2001) through these
three outcomes: *direction* — agreement on goals; *alignment* — coordination of action,
tools and decision pathways; *commitment* — willingness to put the shared effort first.
Each is a number in [0, 1], measured every month for the system, the organisations and the
team (nine values, ``DAC_KEYS`` order). The equations are one compiled function,
:func:`sim.engine.submodels.measure`, shared by both engines (docs/ODD.md §7.13):

* system — direction: the national narrative; alignment: the mean of the regulatory,
  payment and incentive tools; commitment: national money received, relative to the cost
  of a full-scope pilot (case, Table 1 and 'Rhetoric and reality');
* organisation — direction: chief executives' strategic support; alignment: decision
  pathways, management leads and project-management support, weighted by
  ``align_pathway_weight`` and ``align_lead_weight``; commitment: senior and middle
  managers' operational support (case, Table 2);
* team — direction: members' agreement with the shared vision; alignment: clarity of who
  leads (weight ``team_alignment_leadership_weight``) and of members' roles; commitment:
  members' engagement (case, Table 3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.model import IntegrationModel

LEVELS = ("system", "organisation", "team")
DAC = ("direction", "alignment", "commitment")
DAC_KEYS = tuple(f"{level}_{outcome}" for level in LEVELS for outcome in DAC)
OUTCOMES = ("integrated", "pilot", "stalled", "collapsed")


def outcome_name(integrated_month: int | None, pilot_month: int | None,
                 collapse_month: int | None) -> str:
    """The run's outcome from its gate months (``None`` or a negative month: not
    reached): integrated, pilot, collapsed, or stalled (still meeting)."""
    def reached(month: int | None) -> bool:
        return month is not None and month >= 0

    if reached(integrated_month):
        return "integrated"
    if reached(pilot_month):
        return "pilot"
    if reached(collapse_month):
        return "collapsed"
    return "stalled"


def outcome(model: IntegrationModel) -> str:
    """The outcome of a Mesa-engine model so far."""
    return outcome_name(model.integrated_month, model.pilot_month, model.collapse_month)
