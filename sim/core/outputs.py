"""Direction, alignment and commitment (Drath et al. 2008) at every level, and the outcome.

The case study reads leadership at each level of Ferlie & Shortell (2001) through these
three outcomes: *direction* — agreement on goals; *alignment* — coordination of action,
tools and decision pathways; *commitment* — willingness to put the shared effort first.
Each is a number in [0, 1], measured every month for the system, the organisations and the
team (nine values, ``DAC_KEYS`` order). The equations are one compiled function,
:func:`sim.engine.kernels.measure`, shared by both engines (docs/ODD.md §7.13):

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

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

LEVELS = ("system", "organisation", "team")
DAC = ("direction", "alignment", "commitment")
DAC_KEYS = tuple(f"{level}_{outcome}" for level in LEVELS for outcome in DAC)
OUTCOMES = ("integrated", "pilot", "stalled", "collapsed")
#: Outcomes in which the project reached a pilot (a pilot that became full integration
#: included): "reached a pilot" is defined here and nowhere else.
PILOT_OUTCOMES = ("pilot", "integrated")

# ---------------------------------------------------------------- the run summary's schema
#: Gate months: the month a gate was reached, ``None`` (NaN in arrays) where it was not.
GATE_FIELDS = ("pilot_month", "integrated_month", "collapse_month", "business_case_month",
               "small_tasks_month", "evaluated_month", "commissioned_month")
#: Counts of events over the run.
COUNT_FIELDS = ("turnover_events", "host_changes", "manager_changes", "policy_churns",
                "small_wins", "localities_live")
#: Money (in units of a full-scope pilot's cost): national money received, local money
#: committed, the pooled budget, money withdrawn at re-plans, money spent and unspent;
#: received + local_committed + pooled - withdrawn - spent = unspent.
MONEY_FIELDS = ("funding_received", "local_committed", "pooled", "withdrawn", "spent",
                "unspent")
#: Integer summary fields, in the order of the fast engine's ``ints`` output.
INT_FIELDS = GATE_FIELDS + COUNT_FIELDS
#: Float summary fields, in the order of the fast engine's ``floats`` output.
FLOAT_FIELDS = (tuple(f"dac_{k}" for k in DAC_KEYS) + tuple(f"mean_dac_{k}" for k in DAC_KEYS)
                + ("mean_engagement", "final_progress", "pilot_scope", "mean_frustration")
                + MONEY_FIELDS)
#: The fields of a run's summary, in order (``summary.json`` adds ``scenario``, ``months``
#: and ``parameters``; a frame of many runs has these columns).
SUMMARY_FIELDS = (("outcome",) + GATE_FIELDS + FLOAT_FIELDS[:2 * len(DAC_KEYS) + 2]
                  + COUNT_FIELDS + ("pilot_scope", "mean_frustration") + MONEY_FIELDS
                  + ("seed",))
#: What a probe records at the end of a probed month (calibration's targets read them).
PROBE_FIELDS = ("host_changes", "policy_churns", "turnover_events", "funding_received",
                "mean_frustration", "engagement_sd") + tuple(f"dac_{k}" for k in DAC_KEYS)
#: Outcomes derived from the summary for sweeps: indicators of the outcome class, the
#: pilot month (NaN without a pilot) and the time to pilot (the horizon if censored).
DERIVED_OUTCOMES = ("pilot", "integrated", "collapsed", "stalled", "pilot_month",
                    "time_to_pilot")
#: Every numeric outcome a sweep of the project's model can store, in order.
NUMERIC_OUTCOMES = DERIVED_OUTCOMES + tuple(
    f for f in SUMMARY_FIELDS if f not in DERIVED_OUTCOMES and f not in ("outcome", "seed"))


def reached_pilot(outcome: Any) -> Any:
    """Whether a run (a string) or runs (an array or Series of strings) reached a pilot."""
    if isinstance(outcome, str):
        return outcome in PILOT_OUTCOMES
    if hasattr(outcome, "isin"):
        return outcome.isin(PILOT_OUTCOMES)
    return np.isin(np.asarray(outcome), PILOT_OUTCOMES)


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


def outcome_names(integrated_month: np.ndarray, pilot_month: np.ndarray,
                  collapse_month: np.ndarray) -> np.ndarray:
    """:func:`outcome_name` of many runs at once, from their gate months as whole numbers
    (negative: not reached): an array of outcome names, no Python loop over the runs."""
    return np.select([np.asarray(integrated_month) >= 0, np.asarray(pilot_month) >= 0,
                      np.asarray(collapse_month) >= 0],
                     ["integrated", "pilot", "collapsed"], "stalled")



def _number(value: Any) -> float:
    """A summary value as a float: ``None`` (not reached) becomes NaN."""
    if value is None:
        return math.nan
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    raise TypeError(f"is not numeric ({type(value).__name__})")


def project_outcomes(summary: Mapping[str, Any], months: int,
                     names: Sequence[str]) -> list[float]:
    """Derive the named numeric outcomes from one run's summary.

    ``pilot`` is 1 if the project reached a pilot (outcome pilot or integrated);
    ``integrated``, ``collapsed``, ``stalled`` are indicators of the outcome class;
    ``pilot_month`` is NaN without a pilot; ``time_to_pilot`` is the pilot month, or the
    horizon ``months`` if censored. Any other name is read from the summary.
    """
    outcome = summary["outcome"]
    pilot_month = summary.get("pilot_month")
    row = []
    for name in names:
        if name == "pilot":
            value = float(reached_pilot(outcome))
        elif name in ("integrated", "collapsed", "stalled"):
            value = float(outcome == name)
        elif name == "pilot_month":
            value = _number(pilot_month)
        elif name == "time_to_pilot":
            value = float(months) if pilot_month is None else _number(pilot_month)
        else:
            if name not in summary:
                raise KeyError(f"outcome '{name}' missing from the run summary")
            try:
                value = _number(summary[name])
            except TypeError as exc:
                raise TypeError(f"outcome '{name}' {exc}") from None
        row.append(value)
    return row


def column_outcomes(columns: Mapping[str, Any], months: int,
                    names: Sequence[str]) -> np.ndarray:
    """The named numeric outcomes of many runs, as :func:`project_outcomes` derives them
    from one summary: runs x outcomes. ``columns`` are the fast engine's arrays
    (``as_arrays``: gate months as floats, NaN where not reached)."""
    outcome = columns["outcome"]
    pilot_month = np.asarray(columns["pilot_month"], dtype=float)
    out = np.empty((len(outcome), len(names)))
    for j, name in enumerate(names):
        if name == "pilot":
            out[:, j] = reached_pilot(outcome)
        elif name in ("integrated", "collapsed", "stalled"):
            out[:, j] = outcome == name
        elif name == "pilot_month":
            out[:, j] = pilot_month
        elif name == "time_to_pilot":
            out[:, j] = np.where(np.isnan(pilot_month), float(months), pilot_month)
        elif name in columns:
            out[:, j] = np.asarray(columns[name], dtype=float)
        else:
            raise KeyError(f"outcome '{name}' missing from the run summary")
    return out


# ------------------------------------------------------------------- monthly time series
#: Gate outcomes as monthly series: whether the project had reached a pilot (or
#: integration), integration, a collapse (without a pilot) or none of them -- stalled --
#: by the end of month m. At the horizon each equals the run's outcome of the same name.
GATE_SERIES = ("pilot", "integrated", "collapsed", "stalled")
#: Every monthly series a sweep of the project's model can record (``[timeseries]``):
#: the gate series, then the state the probes read at the end of a month
#: (:data:`PROBE_FIELDS`), the same in both engines.
SERIES_OUTCOMES = GATE_SERIES + PROBE_FIELDS


def column_series(columns: Mapping[str, Any], months: Sequence[int],
                  names: Sequence[str]) -> np.ndarray:
    """The named monthly series of many runs at ``months``: runs x months x series.

    ``columns`` are the engines' arrays (gate months as floats, NaN where not reached;
    ``<field>_m<month>`` probe columns for every probed month). A gate series is 1 where
    the gate was reached by the end of the month, else 0 (see :data:`GATE_SERIES`); a
    probe field is its value at the end of the month.
    """
    at = np.asarray(months, dtype=float)[None, :]
    n = len(columns["outcome"])

    def by(name: str) -> np.ndarray:
        gate = np.asarray(columns[name], dtype=float)[:, None]
        return np.nan_to_num(gate, nan=np.inf) <= at

    pilot = by("pilot_month") | by("integrated_month")
    collapsed = by("collapse_month") & ~pilot
    gates = {"pilot": pilot, "integrated": by("integrated_month"), "collapsed": collapsed,
             "stalled": ~pilot & ~collapsed}
    out = np.empty((n, len(months), len(names)))
    for k, name in enumerate(names):
        if name in gates:
            out[:, :, k] = gates[name]
        else:
            for j, month in enumerate(months):
                out[:, j, k] = np.asarray(columns[f"{name}_m{month}"], dtype=float)
    return out
