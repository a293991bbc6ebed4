"""Targets on a national run: what evaluations say about many sites at once.

A target with ``of = "national"`` reads statistics of a *national run* instead of one
project: every simulation of the calibration runs ``sites`` sites of a country under one
funding rule (as ``icsim national`` does, ``sim.studies.national``), all with the
simulation's parameter draw, and the target's statistic is arithmetic of the run's
national fields::

    [national]                  # how each simulation's national run is made
    sites = 40                  # sites in the country
    rule = "competitive"        # funding rule: none | competitive | targeted | universal_small
    budget_per_site = 0.3       # national budget per site, in full-pilot costs (default:
                                # the registry's national_budget_per_site)
    country = "fixed"           # "fixed": one country for every simulation (drawn from the
                                # calibration's seed); "redraw": a new country each

    [[targets]]
    name = "N1"
    of = "national"
    statistic = "share_pilot_m36"   # the share of sites with a pilot by month 36
    min = 0.2
    max = 0.5

National fields: ``share_<gate>_m<month>`` -- the share of the country's sites that
reached ``<gate>`` (``pilot``, ``commissioned``, ``integrated``, ``small_tasks``,
``collapse``) by the end of month ``<month>`` -- optionally of the funded or unfunded sites
only (``share_pilot_m36_funded``; a country with no such site reads NaN: the target is
missed); ``share_funded`` (the share of sites the rule funds); and ``average_<field>``, the
mean over sites of a float output of a run (``average_dac_alignment``, ``average_spent``).

A simulation with seed *s* is replicate *s* of ``icsim national`` with the calibration's
seed as its national seed: site *j* runs with ``run_seed(seed, j, s)``, the country is
``draw_sites(sites, seed)`` (fixed) or ``draw_sites(sites, seed, s)`` (redraw), and the
allocation is the rule's over that country. A site takes the draw's values, then the
country's local conditions (``SITE_CONDITIONS``: those the draw sets are overridden by
the site's own), then the rule's money added to the draw's initial grant -- exactly what a
site of ``icsim national --posterior`` gets (tests/studies/test_calibration_national.py).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.core.errors import UsageError
from sim.core.outputs import FLOAT_FIELDS
from sim.engine.layout import PARAM_DTYPE
from sim.experiment.design import run_seeds
from sim.run import run_projects
from sim.studies.national import (
    DEFAULT_BUDGET_PER_SITE,
    RULES,
    SITE_CONDITIONS,
    allocate,
    draw_sites,
)

#: The gates a national share reads, and the run field holding the month each was reached.
GATES = {"pilot": "pilot_month", "commissioned": "commissioned_month",
         "integrated": "integrated_month", "small_tasks": "small_tasks_month",
         "collapse": "collapse_month"}
SHARE = re.compile(r"^share_(?P<gate>[a-z_]+?)_m(?P<month>\d+)(?:_(?P<group>funded|unfunded))?$")
MEAN_FIELDS = tuple(FLOAT_FIELDS)
AVERAGE = "average_"  # average_<field>: the mean over sites (run fields may start mean_)
KEYS = ("sites", "rule", "budget_per_site", "country")
MAX_SITES = 10_000


@dataclass(frozen=True)
class NationalRuns:
    """How each simulation's national run is made (a calibration file's ``[national]``)."""

    sites: int = 40
    rule: str = "none"
    budget_per_site: float = DEFAULT_BUDGET_PER_SITE
    country: str = "fixed"
    seed: int = 0

    def key(self) -> dict[str, Any]:
        """What a reference table of national fields depends on."""
        return {"sites": self.sites, "rule": self.rule,
                "budget_per_site": self.budget_per_site, "country": self.country}


def parse_national(raw: Any, seed: int, where: str) -> NationalRuns:
    """A calibration file's ``[national]`` table; one-line ``UsageError`` naming the key."""
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: [national] must be a table ({', '.join(KEYS)})")
    unknown = [k for k in raw if k not in KEYS]
    if unknown:
        raise UsageError(f"{where}: [national] has unknown key '{unknown[0]}'; allowed: "
                         f"{', '.join(KEYS)}")
    sites = raw.get("sites", 40)
    if isinstance(sites, bool) or not isinstance(sites, int) or not 2 <= sites <= MAX_SITES:
        raise UsageError(f"{where}: [national] sites must be a whole number in "
                         f"[2, {MAX_SITES}], got {sites!r}")
    rule = raw.get("rule", "none")
    if rule not in RULES:
        raise UsageError(f"{where}: [national] rule must be one of {', '.join(RULES)}, "
                         f"got {rule!r}")
    budget = raw.get("budget_per_site", DEFAULT_BUDGET_PER_SITE)
    if isinstance(budget, bool) or not isinstance(budget, int | float) \
            or not math.isfinite(budget) or not 0 <= budget <= 100:
        raise UsageError(f"{where}: [national] budget_per_site must be a number in [0, 100], "
                         f"got {budget!r}")
    country = raw.get("country", "fixed")
    if country not in ("fixed", "redraw"):
        raise UsageError(f"{where}: [national] country must be 'fixed' or 'redraw', "
                         f"got {country!r}")
    return NationalRuns(sites=sites, rule=rule, budget_per_site=float(budget),
                        country=country, seed=seed)


def national_field(name: str, months: int) -> bool:
    """Whether a national target may read ``name`` in runs of ``months`` months."""
    if name == "share_funded":
        return True
    match = SHARE.match(name)
    if match:
        return match["gate"] in GATES and 0 <= int(match["month"]) <= months
    return name.startswith(AVERAGE) and name[len(AVERAGE):] in MEAN_FIELDS


def national_fields(config: NationalRuns, params: np.ndarray, seeds: np.ndarray,
                    months: int, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The national fields ``names`` of one national run per simulation: ``params``
    (``PARAM_DTYPE[m]``, the draws) and ``seeds`` (``int[m]``) give ``m`` national runs of
    ``config.sites`` sites each, in one call of the fast engine."""
    m, n = len(params), config.sites
    seeds = np.asarray(seeds, dtype=np.int64)
    sites = np.tile(np.arange(n, dtype=np.int64), m)
    replicates = np.repeat(seeds, n)
    runs = np.repeat(np.ascontiguousarray(params, dtype=PARAM_DTYPE).reshape(-1), n)
    budget = config.budget_per_site * n
    funded = np.zeros((m, n), dtype=bool)
    countries = ([None] * m if config.country == "fixed"
                 else [int(s) for s in seeds.tolist()])
    fixed = draw_sites(n, config.seed, None) if config.country == "fixed" else None
    fixed_amounts = allocate(config.rule, budget, fixed["readiness"].to_numpy()) \
        if fixed is not None else None
    for i, country in enumerate(countries):
        frame = fixed if fixed is not None else draw_sites(n, config.seed, country)
        amounts = fixed_amounts if fixed_amounts is not None \
            else allocate(config.rule, budget, frame["readiness"].to_numpy())
        block = slice(i * n, (i + 1) * n)
        for name in SITE_CONDITIONS:
            runs[name][block] = frame[name].to_numpy()
        runs["initial_funding"][block] = runs["initial_funding"][block] + amounts
        funded[i] = amounts > 0
    out = run_projects(runs, run_seeds(config.seed, sites, replicates), months,
                       as_arrays=True)
    fields: dict[str, np.ndarray] = {}
    for name in names:
        if name == "share_funded":
            fields[name] = funded.mean(axis=1)
            continue
        match = SHARE.match(name)
        if match:
            month = np.asarray(out[GATES[match["gate"]]], dtype=float).reshape(m, n)
            with np.errstate(invalid="ignore"):
                reached = (month <= int(match["month"])).astype(float)  # NaN: not reached
            mask = {None: np.ones_like(funded), "funded": funded,
                    "unfunded": ~funded}[match["group"]]
            count = mask.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                fields[name] = np.where(count > 0, (reached * mask).sum(axis=1)
                                        / np.maximum(count, 1), np.nan)
        else:
            fields[name] = np.asarray(out[name[len(AVERAGE):]], dtype=float).reshape(
                m, n).mean(axis=1)
    return fields

