"""The case as data: fourteen statistics of one run and their distance to the case.

docs/case_targets.md lists the case (Oxfordshire's integrated diabetes service, month 0
= 2014, studied in its third year) as one observed trajectory. Each target T1–T14 below is
a statistic of one simulated run with the passage it rests on; the distance of a run to
the case adds one term per target, each in [0, 1]:

* a yes/no target (T2, T4–T10) adds 0 when met and 1 when missed;
* a graded target adds how far the run misses, scaled and capped at 1: T1 the months
  outside 30–42 over 12; T3 the host changes outside 2–3 over 2; T11–T14 the shortfall of
  each DAC reading beyond its threshold over 0.2 (the mean over the readings a target
  names).

So a distance of 0 is a run that meets every target, and the distance counts missed
targets with partial credit for near misses, which lets ABC-SMC's epsilon schedule make
progress. The thresholds of T11–T14 (``high`` 0.6, ``low`` 0.4, and ``middling`` 0.3–0.7
with a spread of at least ``spread`` 0.1 across members) are readings of the case's vague
words ("present", "lacking", "not consistent"); calibration files may move them, and
the report shows how much the posterior moves with them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.core.outputs import DAC_KEYS
from sim.run import run_projects

TARGETS = {
    "T1": "pilot starts in months 30-42",
    "T2": "no full integration by month 36",
    "T3": "two or three host changes by month 36",
    "T4": "no collapse by month 36",
    "T5": "team frustration higher at month 36 than at month 6",
    "T6": "the switch to small tasks after month 12 and by the pilot",
    "T7": "no national money before month 24",
    "T8": "national money by the pilot: more than 0, less than one pilot's cost",
    "T9": "at least one policy churn in months 18-36",
    "T10": "15-25 seats, with people changing by month 36",
    "T11": "direction at month 36 high (>= high) at every level",
    "T12": "alignment at month 36 low (<= low) at system and organisation levels",
    "T13": "organisational commitment at month 36 low (<= low)",
    "T14": "team commitment at month 36 middling and spread across members",
}
PROBE_MONTHS = (6, 17, 23, 36)


@dataclass(frozen=True)
class Thresholds:
    """The readings of vague words (T11–T14)."""

    high: float = 0.6
    low: float = 0.4
    middling: tuple[float, float] = (0.3, 0.7)
    spread: float = 0.1


def _graded(shortfall: np.ndarray, scale: float) -> np.ndarray:
    graded: np.ndarray = np.minimum(1.0, np.maximum(0.0, shortfall) / scale)
    return graded


def target_terms(frame: Any, thresholds: Thresholds = Thresholds()) -> dict[str, np.ndarray]:
    """Each target's term in [0, 1] for every run of a fast-engine frame with probes at
    ``PROBE_MONTHS`` (``sim.engine.fast.run_many(..., probe_months=PROBE_MONTHS)``)."""
    def col(name: str) -> np.ndarray:
        return np.asarray(frame[name], dtype=float)

    pilot = col("pilot_month")
    integrated = col("integrated_month")
    collapse = col("collapse_month")
    switch = col("small_tasks_month")
    hosts = col("host_changes_m36")
    t = thresholds
    terms = {
        "T1": np.where(np.isnan(pilot), 1.0,
                       _graded(np.maximum(30 - pilot, pilot - 42), 12.0)),
        "T2": (integrated <= 36).astype(float),
        "T3": _graded(np.maximum(2 - hosts, hosts - 3), 2.0),
        "T4": (collapse <= 36).astype(float),
        "T5": (col("mean_frustration_m36") <= col("mean_frustration_m6")).astype(float),
        "T6": (~((switch > 12) & (np.isnan(pilot) | (switch <= pilot)))).astype(float),
        "T7": (col("funding_received_m23") > 0).astype(float),
        "T8": (~((col("pilot_funding") > 0) & (col("pilot_funding") < 1))).astype(float),
        "T9": (col("policy_churns_m36") - col("policy_churns_m17") < 1).astype(float),
        "T10": (~((col("team_size") >= 15) & (col("team_size") <= 25)
                  & (col("turnover_events_m36") > 0))).astype(float),
    }
    direction = np.stack([col(f"dac_{k}_m36") for k in DAC_KEYS if k.endswith("direction")])
    terms["T11"] = _graded(t.high - direction, 0.2).mean(axis=0)
    alignment = np.stack([col(f"dac_{k}_m36") for k in ("system_alignment",
                                                         "organisation_alignment")])
    terms["T12"] = _graded(alignment - t.low, 0.2).mean(axis=0)
    terms["T13"] = _graded(col("dac_organisation_commitment_m36") - t.low, 0.2)
    team = col("dac_team_commitment_m36")
    lo, hi = t.middling
    terms["T14"] = 0.5 * (_graded(np.maximum(lo - team, team - hi), 0.2)
                          + _graded(t.spread - col("engagement_sd_m36"), 0.1))
    return terms


def distance(frame: Any, targets: Sequence[str] = tuple(TARGETS),
             thresholds: Thresholds = Thresholds()) -> np.ndarray:
    """The distance of every run to the case: the sum of the chosen targets' terms."""
    terms = target_terms(frame, thresholds)
    return np.sum([terms[name] for name in targets], axis=0)


def simulate(values: Sequence[Mapping[str, Any]], seeds: Sequence[int],
             months: int = 60) -> Any:
    """Runs of the fast engine with the probes the targets need, as a dict of arrays
    (``team_size`` added)."""
    columns = run_projects(list(values), list(seeds), months, probe_months=PROBE_MONTHS,
                           as_arrays=True)
    columns["team_size"] = np.array([int(v["team_size"]) for v in values], dtype=float)
    return columns
