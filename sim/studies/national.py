"""The national view: many local projects under one national policy and budget.

The case's system-level finding is about the country: national leaders awarded
transformation funding to 'some but not all' local initiatives, and projects outside the
funded programmes 'were left to deliver change with their own resources'. Here a country of
N sites (default 200, about the number of English commissioning areas of the period:
211 CCGs in 2013, 191 in 2019) is drawn from documented distributions, one national budget
is shared by a funding rule, and every site runs the project model under the chosen
national approach.

Every replicate draws a new country from the same distributions (``country="redraw"``, the
default) and runs every site's project with new luck, so intervals across replicates show
how the national rate varies between countries like this one as well as between runs; with
``country="fixed"`` the sites are drawn once from the seed and only the projects' luck
varies. Replicate *i* has the same country, and site *s* in it the same seed, under every
rule (common random numbers). Every site runs the approach's levers as given (its own
funding rounds included); the rule's share of the national budget is added to the
approach's initial grant, at the start. Every unit of money is accounted per site
(``SITE_MONEY``) and per rule (``rule_table``).

Runs go through the sweep runner (``sim.experiment``): the same executor interface (local
processes or Dask), seed scheme, resumable Parquet parts and progress bar. With the fast
engine (the default) each batch of sites runs in one call of ``sim.engine.fast``
(``site_run.batch``); the Mesa engine runs them one by one; both give the same runs.
The runs are read one part at a time (:func:`results`), on a fresh run handed over in
memory as the sweep writes them (:class:`PartFeed`, on a thread of ``icsim national``), on
a resume from the part files: ``sites.parquet`` is written as the parts are read and the
tables come from each rule x replicate's counts and sums (:class:`NationalTotals`), so the
coordinator's memory does not grow with the number of runs.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.analysis.stats import mean_ci, t_quantile
from sim.core.errors import UsageError
from sim.core.limits import check_runs, check_size
from sim.core.outputs import reached_pilot
from sim.core.registry import PARAMETERS
from sim.core.scenarios import parameters_for, resolve_scenario
from sim.core.tomlfile import loads as toml_loads
from sim.engine.layout import PARAM_DTYPE, pack_many
from sim.experiment.design import run_seed, run_seeds
from sim.experiment.plugins import register_model
from sim.experiment.posterior import draws_sha256, load_posterior
from sim.experiment.spec import Experiment, Lever, Scalar
from sim.experiment.store import MANIFEST, SweepStore, part_name
from sim.run import run_project, run_projects
from sim.run import warm as warm_engines
from sim.studies.compare import check_horizon

#: The sweep runner's plug-in that runs one site (``site_run`` below), and the source the
#: manifest names for a national run (``sim.experiment.store`` words its resume hint by it).
NATIONAL_MODEL = "sim.studies.national:site_run"


def warm() -> None:
    """Load the fast engine now: a coordinator that preloads this module calls it before
    forking its workers (``sim.experiment.execute.LocalExecutor``), so that they inherit
    the engine ready; otherwise each worker loaded it from the compile cache on its first
    batch, about 1 CPU-s each (numba's first load imports scipy.linalg)."""
    warm_engines(("fast",))


SOURCE = "icsim national"
RULES = ("none", "competitive", "targeted", "universal_small")
#: How replicates treat the country: a new draw per replicate, or one draw held fixed.
COUNTRIES = ("redraw", "fixed")
#: The country's numbers are registry assumptions (level "national"; sources there):
#: the funded share of sites, the default budget per site, and the sites' spreads.
#: Numeric defaults only: the choice levers' text defaults are not read here.
_P: dict[str, float] = {name: p.default for name, p in PARAMETERS.items()
                        if isinstance(p.default, int | float)}
#: Share of sites a competitive or targeted programme funds (~20-25%; NAO 2018).
FUNDED_SHARE = _P["national_funded_share"]
#: Default national budget per site, in full-pilot-cost units.
DEFAULT_BUDGET_PER_SITE = _P["national_budget_per_site"]
#: Each funding rule as a person reads it (reports, figures, the table ``icsim national``
#: prints), worded after what :func:`allocate` does with the budget; the identifiers in
#: ``RULES`` stay in files (``rule`` columns) and on the command line.
RULE_LABELS: dict[str, str] = {
    "none": "No national funding",
    "competitive": f"Competitive: readiest {FUNDED_SHARE:.0%} funded",
    "targeted": f"Targeted: least ready {FUNDED_SHARE:.0%} funded",
    "universal_small": "Universal: a small grant to every site",
}


def rule_label(rule: str) -> str:
    """A funding rule as a person reads it ("No national funding" for ``none``)."""
    return RULE_LABELS.get(rule, rule)
SITE_CONDITIONS = ("team_size", "turnover_rate", "clinical_leadership", "management_support",
                   "initial_vision", "prior_progress", "prior_relationships")
#: Every unit of a site's money (x a full pilot's cost): what the national budget allocated
#: it, what the approach's own funding rounds and initial grant added, local money, the
#: pooled budget, money withdrawn, spent and unspent;
#: allocated + approach_money + local_committed + pooled - withdrawn - spent = unspent.
SITE_MONEY = ("allocated", "approach_money", "local_committed", "pooled", "withdrawn",
              "spent", "unspent")
SITE_OUTCOMES = ("funded", "funding_received", "pilot", "commissioned", "integrated",
                 "collapsed", "small_tasks_month", "pilot_month", "commissioned_month",
                 "integrated_month",
                 "localities_live", "readiness", "prior_work", *SITE_MONEY, *SITE_CONDITIONS)


def _beta(rng: np.random.Generator, mean: float, sd: float, size: int) -> np.ndarray:
    """Beta draws with the given mean and standard deviation."""
    common = mean * (1 - mean) / sd**2 - 1
    return rng.beta(mean * common, (1 - mean) * common, size)


@lru_cache(maxsize=16)
def draw_sites(n: int, seed: int, replicate: int | None = None) -> pd.DataFrame:
    """The country: each site's local conditions, and its readiness.

    ``replicate=None`` gives the one country of ``--country fixed``; replicate *r* of
    ``--country redraw`` gets its own country, from an independent stream of the seed.

    * team size: normal around the case's 19 (sd ``site_team_size_sd``), 8-30 people — the
      case's 'nearly twenty members … fluctuating';
    * turnover: lognormal around the NHS all-staff rate of 11% a year (log sd
      ``site_turnover_log_sd``: 10-90% range about 8-15%; Health Foundation 2019);
    * leadership readiness (``clinical_leadership``), organisational support
      (``management_support``) and starting vision (``initial_vision``): beta around the
      case's values, sd ``site_leadership_sd``, ``site_support_sd``, ``site_vision_sd`` —
    means are the registry's defaults of those levers, spreads registry assumptions.

    * prior work: beta around ``site_prior_work_mean`` (sd ``site_prior_work_sd``), drawn
      after the others so that they do not change; a site's work already done is
      ``prior_progress_scale`` x its prior work, its prior relationships its prior work
      (national programmes chose sites for their earlier work: Erens et al. 2017, E1.1;
      NAO 2018, E2.1).

    Readiness, what a competitive programme selects on, is the mean z-score of leadership
    readiness, organisational support, starting vision and prior work.
    """
    key = [seed, 0x5175] if replicate is None else [seed, 0x5175, 1, replicate]
    rng = np.random.default_rng(np.random.SeedSequence(key))
    sites = pd.DataFrame({
        "team_size": np.clip(np.rint(rng.normal(_P["team_size"], _P["site_team_size_sd"], n)),
                             8, 30).astype(int),
        "turnover_rate": np.clip(_P["turnover_rate"]
                                 * np.exp(rng.normal(0, _P["site_turnover_log_sd"], n)),
                                 0.03, 0.4),
        "clinical_leadership": _beta(rng, _P["clinical_leadership"], _P["site_leadership_sd"],
                                     n),
        "management_support": _beta(rng, _P["management_support"], _P["site_support_sd"], n),
        "initial_vision": _beta(rng, _P["initial_vision"], _P["site_vision_sd"], n),
    })
    sites["prior_work"] = _beta(rng, _P["site_prior_work_mean"], _P["site_prior_work_sd"], n)
    sites["prior_progress"] = _P["prior_progress_scale"] * sites["prior_work"]
    sites["prior_relationships"] = sites["prior_work"]
    sites["readiness"] = _readiness(np.stack([sites[name].to_numpy() for name in READINESS]))
    return sites


#: What readiness averages, as z-scores across the country's sites.
READINESS = ("clinical_leadership", "management_support", "initial_vision", "prior_work")


def _readiness(z: np.ndarray) -> np.ndarray:
    """Each site's mean z-score of the rows of ``z`` (conditions x sites): what pandas'
    ``((z - z.mean()) / z.std(ddof=0).replace(0, 1)).mean(axis=1)`` gives on the sites'
    frame, bit for bit -- the same sums in the same order (a condition's over the sites
    pairwise, as numpy sums a contiguous row; a site's four in order) -- without
    pandas' overhead, which every worker paid for each country it met (a country of
    10,000 sites: 7.2 -> 5.0 CPU-ms in all, the random draws most of what is left).
    ``tests/studies/test_national.py`` holds pandas' form as the oracle."""
    n = float(z.shape[1])
    mean = z.sum(axis=1, dtype=np.float64) / n
    spread = np.sqrt(((mean[:, None] - z) ** 2).sum(axis=1, dtype=np.float64) / n)
    spread[spread == 0] = 1
    scores: np.ndarray = (z - mean[:, None]) / spread[:, None]
    total: np.ndarray = scores[0].copy()
    for row in scores[1:]:
        total += row
    return total / float(len(scores))


def allocate(rule: str, budget: float, readiness: np.ndarray) -> np.ndarray:
    """Each site's share of the national budget under ``rule``."""
    n = len(readiness)
    amounts = np.zeros(n)
    if rule == "none" or budget == 0:
        return amounts
    if rule == "universal_small":
        return np.full(n, budget / n)
    funded = chosen(readiness if rule == "competitive" else -readiness, FUNDED_SHARE)
    amounts[funded] = budget / max(1, len(funded))
    return amounts


def chosen(score: np.ndarray, share: float) -> np.ndarray:
    """The sites a programme takes: the ``ceil(share x n)`` sites (at least one) of highest
    ``score``, highest first, ties in site order. A competitive programme funds by
    readiness, a targeted one by its opposite; a validation file's ``programme`` selects
    by readiness, prior work or a seeded random score (``sim.studies.validation``)."""
    k = max(1, math.ceil(share * len(score)))
    return np.argsort(-np.asarray(score, dtype=float), kind="stable")[:k]


@lru_cache(maxsize=8)
def _approach(values_json: str, schedule_json: str) -> tuple[dict[str, Any], Any]:
    """The national approach's values over the defaults, and its schedule (or None)."""
    schedule = [(int(m), v) for m, v in json.loads(schedule_json)]
    return json.loads(values_json), schedule or None


def _site_values(params: dict[str, Any]) -> tuple[str, dict[str, Any], int, float, float]:
    """A run's scenario, parameter overrides (the approach's values as given, then the
    site's conditions, then the rule's allocation added to the approach's own initial
    grant), seed, allocation and readiness."""
    site, replicate, rule = int(params["site"]), int(params["repeat"]), params["rule"]
    country = replicate if params.get("country", "fixed") == "redraw" else None
    sites = draw_sites(int(params["sites"]), int(params["national_seed"]), country)
    amounts = _amounts(rule, float(params["budget"]), int(params["sites"]),
                       int(params["national_seed"]), country)
    conditions = sites.iloc[site]
    approach_values, _ = _approach(params.get("approach_values", "{}"),
                                   params.get("approach_schedule", "[]"))
    values: dict[str, Any] = {}
    if params.get("posterior"):  # replicate r of every site takes posterior draw r
        values.update(_draw(params["posterior"], params["posterior_sha256"], replicate))
    values.update(approach_values)  # the approach wins over the draw where both set a value
    values.update({name: conditions[name].item() for name in SITE_CONDITIONS})
    approach_grant = float(values.get("initial_funding", _P["initial_funding"]))
    values["initial_funding"] = approach_grant + float(amounts[site])
    seed = run_seed(int(params["national_seed"]), site, replicate)
    return params["approach"], values, seed, float(amounts[site]), float(conditions["readiness"])


@lru_cache(maxsize=64)
def _amounts(rule: str, budget: float, n: int, seed: int,
             replicate: int | None = None) -> np.ndarray:
    return allocate(rule, budget, draw_sites(n, seed, replicate)["readiness"].to_numpy())


def _month(value: Any) -> float:
    return math.nan if value is None or pd.isna(value) else float(value)


def _site_outcomes(run: Any, funded: float, readiness: float,
                   values: dict[str, Any]) -> dict[str, float]:
    """A site's outcomes and money from its run summary (a dict or a frame row)."""
    outcome = run["outcome"]
    return {
        "funded": float(funded > 0),
        "funding_received": float(run["funding_received"]),
        "pilot": float(reached_pilot(outcome)),
        "commissioned": float(not pd.isna(_month(run["commissioned_month"]))),
        "integrated": float(outcome == "integrated"),
        "collapsed": float(outcome == "collapsed"),
        "small_tasks_month": _month(run["small_tasks_month"]),
        "pilot_month": _month(run["pilot_month"]),
        "commissioned_month": _month(run["commissioned_month"]),
        "integrated_month": _month(run["integrated_month"]),
        "localities_live": float(run["localities_live"]),
        "readiness": readiness,
        "prior_work": float(values["prior_relationships"]),
        "allocated": float(funded),
        "approach_money": float(run["funding_received"]) - float(funded),
        "local_committed": float(run["local_committed"]),
        "pooled": float(run["pooled"]),
        "withdrawn": float(run["withdrawn"]),
        "spent": float(run["spent"]),
        "unspent": float(run["unspent"]),
        **{k: float(values[k]) for k in SITE_CONDITIONS},
    }


@register_model
def site_run(params: dict[str, Any], seed: int) -> dict[str, float]:
    """The runner's plug-in: one site, one replicate, one rule (``seed`` is not used: the
    run's seed is derived from (national seed, site, replicate) so that it is the same
    under every rule)."""
    _, values, run_seed_, funded, readiness = _site_values(params)
    _, schedule = _approach(params.get("approach_values", "{}"),
                            params.get("approach_schedule", "[]"))
    summary = run_project("baseline", seed=run_seed_, months=int(params["months"]),
                          schedule=schedule, **values)
    return _site_outcomes(summary, funded, readiness, values)


def _site_run_batch(params_list: list[dict[str, Any]], seeds: list[int],
                    ) -> list[dict[str, float]]:
    """``site_run`` for a batch of sites in one call of the fast engine."""
    prepared = [_site_values(params) for params in params_list]
    base = parameters_for("baseline")
    rows = [{**base, **values} for _, values, _, _, _ in prepared]
    months = {int(params["months"]) for params in params_list}
    schedules = {params.get("approach_schedule", "[]") for params in params_list}
    if len(months) != 1 or len(schedules) != 1:
        raise ValueError("a batch of sites must share its horizon and schedule")
    _, schedule = _approach("{}", schedules.pop())
    frame = run_projects(rows, [p[2] for p in prepared], months.pop(), schedule=schedule)
    records = frame.to_dict("records", into=dict)  # into=dict: str keys, as the default
    return [_site_outcomes(records[i], funded, readiness, values)
            for i, (_, values, _, funded, readiness) in enumerate(prepared)]


def _site_run_columns(columns: Mapping[str, np.ndarray], constants: Mapping[str, Any],
                      ) -> dict[str, np.ndarray]:
    """``site_run`` for a batch of sites held as columns (``rule``, ``repeat``, ``site``)
    in one call of the fast engine: each country's sites, allocations and parameters
    taken a (rule, replicate) group at a time, the outcomes as columns -- no dict, frame
    row or parameter pack per run. The same runs and outcomes as :func:`site_run`, bit for
    bit (tests/studies/test_national.py)."""
    rules = np.asarray(columns["rule"]).astype(str)
    repeats = np.asarray(columns["repeat"], dtype=np.int64)
    site = np.asarray(columns["site"], dtype=np.int64)
    n = len(site)
    n_sites, seed = int(constants["sites"]), int(constants["national_seed"])
    budget, months = float(constants["budget"]), int(constants["months"])
    redraw = constants.get("country", "fixed") == "redraw"
    approach_values, schedule = _approach(constants.get("approach_values", "{}"),
                                          constants.get("approach_schedule", "[]"))
    posterior = constants.get("posterior")
    base = parameters_for("baseline")
    params = np.zeros(n, dtype=PARAM_DTYPE)
    allocated = np.zeros(n)
    readiness = np.zeros(n)
    conditions = {name: np.zeros(n) for name in SITE_CONDITIONS}
    for rule, replicate in dict.fromkeys(zip(rules.tolist(), repeats.tolist(), strict=True)):
        take = np.flatnonzero((rules == rule) & (repeats == replicate))
        country = int(replicate) if redraw else None
        sites = draw_sites(n_sites, seed, country)
        amounts = _amounts(rule, budget, n_sites, seed, country)[site[take]]
        values: dict[str, Any] = {}
        if posterior:
            values.update(_draw(posterior, constants["posterior_sha256"], int(replicate)))
        values.update(approach_values)
        grant = float(values.get("initial_funding", _P["initial_funding"]))
        params[take] = pack_many([{**base, **values}])[0]
        for name in SITE_CONDITIONS:
            column = sites[name].to_numpy()[site[take]]
            conditions[name][take] = column
            params[name][take] = column
        params["initial_funding"][take] = grant + amounts
        allocated[take] = amounts
        readiness[take] = sites["readiness"].to_numpy()[site[take]]
    run = run_projects(params, run_seeds(seed, site, repeats), months, schedule=schedule,
                       as_arrays=True)
    outcome = run["outcome"]
    received = np.asarray(run["funding_received"], dtype=float)
    return {
        "funded": (allocated > 0).astype(float),
        "funding_received": received,
        "pilot": reached_pilot(outcome).astype(float),
        "commissioned": (~np.isnan(run["commissioned_month"])).astype(float),
        "integrated": (outcome == "integrated").astype(float),
        "collapsed": (outcome == "collapsed").astype(float),
        "small_tasks_month": run["small_tasks_month"],
        "pilot_month": run["pilot_month"],
        "commissioned_month": run["commissioned_month"],
        "integrated_month": run["integrated_month"],
        "localities_live": np.asarray(run["localities_live"], dtype=float),
        "readiness": readiness,
        "prior_work": conditions["prior_relationships"],
        "allocated": allocated,
        "approach_money": received - allocated,
        **{name: np.asarray(run[name], dtype=float) for name in
           ("local_committed", "pooled", "withdrawn", "spent", "unspent")},
        **conditions,
    }


# The fast engine's vectorised forms (sim.experiment.models); mypy does not model
# attributes set on a function.
site_run.batch = _site_run_batch  # type: ignore[attr-defined]
site_run.columns = _site_run_columns  # type: ignore[attr-defined]


@dataclass(frozen=True)
class NationalSpec:
    """A validated ``icsim national`` request."""

    sites: int = 200
    approach: str = "baseline"
    rules: tuple[str, ...] = ("competitive",)
    budget: float | None = None
    replicates: int = 20
    seed: int = 0
    months: int = 60
    engine: str = "fast"
    #: "redraw": a new country per replicate; "fixed": one country for all replicates.
    country: str = "redraw"
    #: The approach resolved: its values over the defaults and its schedule, as JSON.
    approach_values: str = "{}"
    approach_schedule: str = "[]"
    approach_description: str = ""
    #: A calibration's posterior (absolute path and content hash), or "" for none.
    posterior: str = ""
    posterior_sha256: str = ""
    #: Runs a part of the runner's store holds (``with_stored_parts``: a folder written
    #: with another part size keeps it on a resume).
    runs_per_part: int = 4000

    @property
    def total_budget(self) -> float:
        return self.sites * DEFAULT_BUDGET_PER_SITE if self.budget is None else self.budget

    def experiment(self) -> Experiment:
        """The runs as an experiment for the sweep runner: a grid of rule x replicate x
        site over ``site_run``, the request's other values as constants. Its canonical
        text (:meth:`Experiment.to_toml`) goes into the manifest, and its hash guards a
        resume."""
        constants: dict[str, Scalar] = {
            "sites": self.sites, "national_seed": self.seed, "country": self.country,
            "budget": self.total_budget, "approach": self.approach,
            "approach_values": self.approach_values,
            "approach_schedule": self.approach_schedule, "months": self.months}
        if self.posterior:
            constants |= {"posterior": self.posterior,
                          "posterior_sha256": self.posterior_sha256}
        experiment = Experiment(
            name="national", model=NATIONAL_MODEL, method="grid", samples=1, levels=3,
            replicates=1, seed=self.seed, outcomes=SITE_OUTCOMES,
            levers=(Lever("rule", "values", values=self.rules),
                    Lever("repeat", "values", values=tuple(range(self.replicates))),
                    Lever("site", "values", values=tuple(range(self.sites)))),
            constants=constants, runs_per_part=self.runs_per_part,
            description="icsim national: many local projects under one national policy",
            source=SOURCE)
        return replace(experiment, text=experiment.to_toml())


def check(sites: Any = 200, approach: str = "baseline", rules: str | Sequence[str] =
          "competitive", budget: Any = None, replicates: Any = 20, seed: Any = 0,
          months: Any = 60, engine: str = "fast", posterior: Any = None,
          country: str = "redraw") -> NationalSpec:
    """Validate a request; raise ``UsageError`` naming the culprit and what is allowed."""
    sites = check_size("sites", sites)
    replicates = check_size("replicates", replicates)
    months = check_size("months", months)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise UsageError(f"--seed must be a whole number >= 0, got {seed!r}")
    seed = int(seed)
    resolved = resolve_scenario(approach)

    check_horizon([resolved], months)
    names = [r.strip() for r in rules.split(",")] if isinstance(rules, str) else list(rules)
    for rule in names:
        if rule not in RULES:
            raise UsageError(f"unknown funding rule '{rule}'; known rules: {', '.join(RULES)}")
    if len(set(names)) != len(names):
        raise UsageError(f"a funding rule is named twice in {','.join(names)}")
    check_runs(sites * replicates * len(names), f"--sites {sites} x --replicates {replicates} "
               f"x {len(names)} funding rules")
    if budget is not None:
        try:
            budget = float(budget)
        except (TypeError, ValueError):
            raise UsageError(f"--budget must be a number >= 0, got {budget!r}") from None
        if not math.isfinite(budget) or budget < 0:
            raise UsageError(f"--budget must be a number >= 0, got {budget!r}")
    if engine not in ("fast", "mesa"):
        raise UsageError(f"--engine must be fast or mesa, got {engine!r}")
    if country not in COUNTRIES:
        raise UsageError(f"--country must be one of {', '.join(COUNTRIES)}, got {country!r}")
    drawn = _posterior_fields(posterior)
    return NationalSpec(
        sites, resolved.name, tuple(names), budget, replicates, seed, months, engine, country,
        approach_values=json.dumps(dict(resolved.values), sort_keys=True),
        approach_schedule=json.dumps([[m, dict(v)] for m, v in resolved.schedule]),
        approach_description=resolved.description,
        posterior=drawn.get("posterior", ""),
        posterior_sha256=drawn.get("posterior_sha256", ""))


def _posterior_fields(posterior: Any) -> dict[str, str]:
    """Check a posterior now (one line on a bad file) and record its path and hash."""
    if posterior is None:
        return {}
    draws = load_posterior(posterior)
    path = Path(posterior)
    path = (path / "posterior.parquet" if path.is_dir() else path).resolve()
    digest = draws_sha256(draws)
    _CHECKED[str(path)] = (digest, draws)
    return {"posterior": str(path), "posterior_sha256": digest}


#: The posterior this process checked last at each path (:func:`_posterior_fields`), with
#: its hash: ``icsim national``'s workers, forked after the check, inherit the draws
#: instead of each loading and checking the file again on its first batch (about 0.1 CPU-s
#: each).
_CHECKED: dict[str, tuple[str, pd.DataFrame]] = {}


@lru_cache(maxsize=4)
def _posterior(path: str, sha256: str) -> pd.DataFrame:
    """The draws at ``path`` whose hash is ``sha256`` (the one the run's manifest
    records): the ones checked here, else read again and compared. Keyed by the hash, so
    a process that ran national over the file before it changed (a notebook, say) does
    not run on the draws it cached then; a file that changed since the run was set up (a
    worker reading it on another machine) is an error naming it."""
    checked = _CHECKED.get(path)
    if checked is not None and checked[0] == sha256:
        return checked[1]
    draws = load_posterior(path)
    if draws_sha256(draws) != sha256:
        raise UsageError(f"{path} has changed since this national run was set up (its "
                         f"draws' sha256 is no longer {sha256[:12]}...); rerun the command")
    return draws


@lru_cache(maxsize=4)
def _posterior_columns(path: str, sha256: str) -> tuple[list[str], list[Any], int]:
    """The posterior's columns, their names and the number of draws: each numeric column
    as a numpy array (a value's ``.item()`` is the Python scalar ``to_dict("records")``
    gives), any other as a list of its Python values (``Series.tolist``). Not every
    column as a list: 4,000 draws of 161 values as Python floats held 24 MB more in every
    process."""
    draws = _posterior(path, sha256)
    columns = []
    for name in draws.columns:
        column = draws[name]
        numeric = isinstance(column.dtype, np.dtype) and column.dtype.kind in "biuf"
        columns.append(column.to_numpy() if numeric else column.tolist())
    return [str(name) for name in draws.columns], columns, len(draws)


@lru_cache(maxsize=256)
def _draw(path: str, sha256: str, replicate: int) -> dict[str, Any]:
    """The posterior draw that replicate ``replicate`` takes (draw r % draws, cycling) as
    a dict (``to_dict("records")``'s values and str keys), made only for the replicates a
    process meets: a dict for each of the case posterior's 4,000 draws cost each worker
    and the report ~0.25 s of CPU. Taken from the posterior's columns (0.1 ms a draw; the
    columns 7 ms once): the draw's one-row frame made into a dict cost 12 ms a replicate
    (0.24 s for 20 replicates in each worker and again in the variance table, after the
    last run)."""
    names, columns, n = _posterior_columns(path, sha256)
    row = replicate % n
    return {name: column[row].item() if isinstance(column, np.ndarray) else column[row]
            for name, column in zip(names, columns, strict=True)}


def prepare_outputs(spec: NationalSpec) -> None:
    """Work out ahead what the outputs need that no run decides: the posterior's draws
    (loaded and split into columns: 0.1-0.2 CPU-s, which the variance table otherwise
    paid after the last run) and the t quantile of the replicates' intervals. ``icsim
    national``'s outputs thread calls it while the runs run."""
    if spec.posterior:
        _posterior_columns(spec.posterior, spec.posterior_sha256)
    if spec.replicates > 1:
        t_quantile(0.975, spec.replicates - 1)


#: Which ``icsim national`` argument each entry of the stored experiment comes from.
ARGUMENTS = {"rule": "--funding-rule", "repeat": "--replicates", "site": "--sites",
             "sites": "--sites", "national_seed": "--seed", "seed": "--seed",
             "budget": "--budget", "approach": "--approach", "approach_values": "--approach",
             "approach_schedule": "--approach", "months": "--months",
             "posterior": "--posterior", "posterior_sha256": "--posterior",
             "country": "--country"}


#: The part size icsim national used before parts grew to 4,000 runs (issue 24): 400 runs
#: a part cost the coordinator ~6 ms of CPU each, as much as the kernel's time for 100 runs.
EARLIER_RUNS_PER_PART = 400


def with_stored_parts(out: Path, spec: NationalSpec) -> NationalSpec:
    """``spec`` with the part size of the national run already in ``out``, if any, so that
    a folder written with parts of another size (400 runs, before issue 24) resumes: the
    part size is part of the experiment's text, which a resume must match. Call it after
    :func:`check_same_request`, which has refused any other difference."""
    path = Path(out) / MANIFEST
    if not path.exists():
        return spec
    try:
        old = toml_loads(SweepStore(out).read_manifest()["experiment"]["text"])
        size = old.get("runs_per_part")
    except (OSError, KeyError, TypeError, ValueError):
        return spec
    if old.get("model") != NATIONAL_MODEL or isinstance(size, bool) \
            or not isinstance(size, int) or size < 1 or size == spec.runs_per_part:
        return spec
    return replace(spec, runs_per_part=size)


def check_same_request(out: Path, spec: NationalSpec) -> None:
    """Refuse, naming the changed argument, to run into a folder holding a national run
    made with other arguments (the runner would otherwise talk of an experiment file)."""
    path = Path(out) / MANIFEST
    if not path.exists():
        return
    try:  # read through the store: a FIFO, a huge or a malformed manifest is not read here
        old_text = SweepStore(out).read_manifest()["experiment"]["text"]
        old = toml_loads(old_text)
    except (OSError, KeyError, TypeError, ValueError):
        return  # not a national run's manifest: the runner's own checks apply
    new = spec.experiment()
    if old.get("model") != new.model:
        return
    flat_old = {**old.get("parameters", {}), **old.get("constants", {}),
                "seed": old.get("seed")}
    flat_new = {**{lever.name: {"values": list(lever.values)} for lever in new.levers},
                **new.constants, "seed": new.seed}
    flat_old.setdefault("country", "fixed")  # runs made before --country held it fixed
    changed = [key for key in flat_new if flat_old.get(key) != flat_new[key]]
    if not changed:
        return
    key = changed[0]

    def shown(value: Any) -> str:
        if isinstance(value, dict) and "values" in value:
            values = value["values"]
            return (",".join(map(str, values)) if key == "rule" else
                    f"{len(values)}")
        return str(value)

    arg = ARGUMENTS.get(key, key)
    raise UsageError(
        f"{out} holds a national run with other arguments ({arg} was "
        f"{shown(flat_old.get(key))}, now {shown(flat_new[key])}); choose a new --out, e.g. "
        f"--out {out}_2, or repeat the earlier arguments")


# ------------------------------------------------------------------ analysis
#: The gates ``national.csv`` follows month by month, and the column holding each's month.
GATES = (("pilot", "pilot_month"), ("commissioned", "commissioned_month"),
         ("integrated", "integrated_month"))
#: The site groups ``national.csv`` splits by: every site, the funded and the unfunded.
GROUPS = ("all", "funded", "unfunded")
#: The columns of ``sites.parquet``, in order.
SITE_COLUMNS = ("rule", "replicate", "site", "funded", "funding_received", "outcome",
                "small_tasks_month", "pilot_month", "commissioned_month", "integrated_month",
                "localities_live", "readiness", "prior_work", *SITE_MONEY, *SITE_CONDITIONS)


def sites_frame(runs: pd.DataFrame, rules: Sequence[str] | None = None) -> pd.DataFrame:
    """``sites.parquet``: one row per site, replicate and rule, rules in the order given."""
    frame = runs[runs.status == "ok"].drop(columns=["replicate"]).rename(
        columns={"repeat": "replicate"})
    frame["outcome"] = np.select(
        [frame.integrated == 1, frame.pilot == 1, frame.collapsed == 1],
        ["integrated", "pilot", "collapsed"], "stalled")
    frame["funded"] = frame.funded.astype(bool)
    frame["team_size"] = frame.team_size.astype(int)
    order = {r: i for i, r in enumerate(rules or sorted(frame.rule.unique()))}
    return frame[list(SITE_COLUMNS)].sort_values(
        ["rule", "replicate", "site"],
        key=lambda c: c.map(order) if c.name == "rule" else c).reset_index(drop=True)


@dataclass
class _Country:
    """The sufficient statistics of one rule's sites in one replicate: counts, money sums
    and, per site group and gate, how many sites reached the gate by each month."""

    n: dict[str, int]  # sites per group (all, funded, unfunded)
    piloted: dict[str, int]  # sites per group that reached a pilot
    integrated: int
    commissioned: int
    money: dict[str, float]  # SITE_MONEY and funding_received summed over the sites
    #: per group and gate, sites reaching it by month m: ``int64[3, 3, months + 1]``
    reached: np.ndarray


#: What a rule x replicate's statistics are computed from (``sites.parquet`` columns).
_STAT_COLUMNS = ("rule", "replicate", "site", "funded", "outcome", "pilot_month",
                 "commissioned_month", "integrated_month", "funding_received", *SITE_MONEY)


def _country(group: Mapping[str, Any], months: int) -> _Country:
    """One rule x replicate's sites (``sites.parquet`` columns, a frame or arrays, rows in
    site order) reduced to what the outputs need. Sums go through the same pandas
    reduction as a whole-frame ``groupby("replicate").sum()``, over the same values in
    the same order, so the streamed totals equal the ones computed from every run at once,
    bit for bit."""
    funded = np.asarray(group["funded"], dtype=bool)
    outcome = np.asarray(group["outcome"], dtype=object)
    piloted = np.isin(outcome, ["pilot", "integrated"])
    masks = {"all": np.ones(len(funded), dtype=bool), "funded": funded, "unfunded": ~funded}
    names = (*SITE_MONEY, "funding_received")
    sums = pd.DataFrame({name: np.asarray(group[name], dtype=float) for name in names}
                        ).groupby(np.asarray(group["replicate"])).sum()
    money = {name: float(sums[name].iloc[0]) for name in names}
    reached = np.zeros((len(GROUPS), len(GATES), months + 1), dtype=np.int64)
    for j, (_, column) in enumerate(GATES):
        month = np.asarray(group[column], dtype=float)
        seen = ~np.isnan(month)
        # x <= m for a whole month m exactly when floor(x) <= m; months past the horizon
        # fall in the last bin, which is cut off
        bins = np.clip(np.floor(month[seen]), 0, months + 1).astype(np.int64)
        for i, g in enumerate(GROUPS):
            counts = np.bincount(bins[masks[g][seen]], minlength=months + 2)
            reached[i, j] = np.cumsum(counts)[:months + 1]
    return _Country(
        n={g: int(m.sum()) for g, m in masks.items()},
        piloted={g: int(piloted[m].sum()) for g, m in masks.items()},
        integrated=int((outcome == "integrated").sum()),
        commissioned=int((~np.isnan(np.asarray(group["commissioned_month"],
                                                dtype=float))).sum()),
        money=money, reached=reached)


class NationalTotals:
    """The national outputs' statistics, gathered one rule x replicate at a time
    (:meth:`add`), so a national run's outputs need memory for one country's sites, not
    for every run; :meth:`series`, :meth:`table` and :meth:`pilot_shares` give what
    :func:`monthly`, :func:`rule_table` and the pairs of rules always gave from the whole
    frame, bit for bit (``tests/studies/test_national_stream.py``)."""

    def __init__(self, months: int, budget: float) -> None:
        self.months = months
        self.budget = budget
        # rule -> replicate -> statistics, rules in the order first seen
        self.countries: dict[str, dict[int, _Country]] = {}
        self.sites: dict[str, np.ndarray] = {}  # rule -> which site numbers ran

    def add(self, group: Mapping[str, Any]) -> None:
        """One rule x replicate's ``sites.parquet`` rows (all of them, in site order): a
        frame, or its columns as arrays."""
        rule, replicate = str(group["rule"][0]), int(group["replicate"][0])
        by_rule = self.countries.setdefault(rule, {})
        if replicate in by_rule:
            raise ValueError(f"rule {rule}, replicate {replicate} added twice")
        by_rule[replicate] = _country(group, self.months)
        site = np.asarray(group["site"], dtype=np.int64)
        seen = self.sites.get(rule, np.zeros(0, dtype=bool))
        if site.size and site.max() >= seen.size:
            seen = np.concatenate([seen, np.zeros(int(site.max()) + 1 - seen.size, bool)])
        seen[site] = True
        self.sites[rule] = seen

    def add_frame(self, sites: pd.DataFrame) -> NationalTotals:
        """Every rule x replicate of a whole ``sites.parquet`` frame."""
        for _, group in sites.groupby(["rule", "replicate"], sort=False):
            self.add({name: group[name].to_numpy() for name in _STAT_COLUMNS})
        return self

    def _by_rule(self) -> Iterator[tuple[str, list[_Country]]]:
        for rule, by_replicate in self.countries.items():
            yield rule, [by_replicate[r] for r in sorted(by_replicate)]

    def series(self) -> pd.DataFrame:
        """``national.csv`` (see :func:`monthly`)."""
        rows = []
        for rule, countries in self._by_rule():
            for month in range(self.months + 1):
                row: dict[str, Any] = {"rule": rule, "month": month}
                for i, group in enumerate(GROUPS):
                    # a replicate without sites in the group has no share (as a groupby)
                    present = [c for c in countries if c.n[group]]
                    for j, (gate, _) in enumerate(GATES):
                        reached = np.array([c.reached[i, j, month] / c.n[group]
                                            for c in present])
                        mean, lo, hi = mean_ci(reached.astype(float))
                        row[f"{gate}_{group}"] = mean
                        row[f"{gate}_{group}_lo"] = lo
                        row[f"{gate}_{group}_hi"] = hi
                rows.append(row)
        return pd.DataFrame(rows)

    def pilot_shares(self) -> dict[str, np.ndarray]:
        """Per rule, the share of sites that reached a pilot in each replicate, in
        replicate order: what every paired comparison of rules compares."""
        return {rule: np.array([c.piloted["all"] / c.n["all"] for c in countries],
                               dtype=float)
                for rule, countries in self._by_rule()}

    def replicate_shares(self) -> pd.DataFrame:
        """Per rule and replicate, the shares of sites that reached a pilot and that
        integrated, in rule then replicate order (``variance.csv`` splits their variance:
        ``sim.studies.national_variance``)."""
        rows = [(rule, replicate, c.piloted["all"] / c.n["all"], c.integrated / c.n["all"])
                for rule, by_replicate in self.countries.items()
                for replicate, c in sorted(by_replicate.items())]
        return pd.DataFrame({"rule": [r[0] for r in rows],
                             "replicate": np.array([r[1] for r in rows], dtype=np.int64),
                             "pilot": np.array([r[2] for r in rows], dtype=float),
                             "integrated": np.array([r[3] for r in rows], dtype=float)})

    def table(self) -> pd.DataFrame:
        """``rules.csv`` (see :func:`rule_table`)."""
        rows = []
        for rule, countries in self._by_rule():
            def shares(count: list[int], n: list[int]) -> np.ndarray:
                return np.array([k / m for k, m in zip(count, n, strict=True) if m],
                                dtype=float)

            n = [c.n["all"] for c in countries]
            pilot, lo, hi = mean_ci(shares([c.piloted["all"] for c in countries], n))
            integ, ilo, ihi = mean_ci(shares([c.integrated for c in countries], n))
            comm, clo, chi = mean_ci(shares([c.commissioned for c in countries], n))
            # Every unit of money, summed over the country and averaged over replicates.
            money = {f"{name}_per_replicate": float(
                pd.Series([c.money[name] for c in countries], dtype=float).mean())
                for name in SITE_MONEY}
            money["balance_per_replicate"] = (
                money["allocated_per_replicate"] + money["approach_money_per_replicate"]
                + money["local_committed_per_replicate"] + money["pooled_per_replicate"]
                - money["withdrawn_per_replicate"] - money["spent_per_replicate"]
                - money["unspent_per_replicate"])
            n_funded = sum(c.n["funded"] for c in countries)
            n_unfunded = sum(c.n["unfunded"] for c in countries)
            k_funded = sum(c.piloted["funded"] for c in countries)
            k_unfunded = sum(c.piloted["unfunded"] for c in countries)
            spent = float(pd.Series([c.money["funding_received"] for c in countries],
                                    dtype=float).mean())
            sites_at_pilot = float(pd.Series([c.piloted["all"] for c in countries],
                                             dtype=np.int64).mean())

            def share(group: str, countries: list[_Country] = countries,
                      ) -> tuple[float, float, float]:
                if not any(c.n[group] for c in countries):
                    return float("nan"), float("nan"), float("nan")
                return mean_ci(shares([c.piloted[group] for c in countries],
                                      [c.n[group] for c in countries]))

            f_mean, f_lo, f_hi = share("funded")
            u_mean, u_lo, u_hi = share("unfunded")
            rows.append({
                "rule": rule, "sites": int(self.sites[rule].sum()),
                "replicates": len(countries),
                "funded_sites": int(countries[0].n["funded"]),
                "p_pilot": pilot, "p_pilot_lo": lo, "p_pilot_hi": hi,
                "p_integrated": integ, "p_integrated_lo": ilo, "p_integrated_hi": ihi,
                "p_commissioned": comm, "p_commissioned_lo": clo, "p_commissioned_hi": chi,
                "p_pilot_funded": k_funded / n_funded if n_funded else float("nan"),
                "p_pilot_unfunded": k_unfunded / n_unfunded if n_unfunded else float("nan"),
                "p_pilot_funded_lo": f_lo, "p_pilot_funded_hi": f_hi,
                "p_pilot_unfunded_lo": u_lo, "p_pilot_unfunded_hi": u_hi,
                "budget": self.budget,
                "national_per_replicate": spent,
                "cost_per_pilot_site": spent / sites_at_pilot if sites_at_pilot
                else float("nan"),
                **money,
            })
        table = pd.DataFrame(rows)
        # every rule against the first, replicate by replicate (the same sites and seeds)
        per = self.pilot_shares()
        first = table.rule.iloc[0]
        for key in ("d_p_pilot", "d_p_pilot_lo", "d_p_pilot_hi"):
            table[key] = float("nan")
        for i, rule in enumerate(table.rule):
            if i == 0:
                continue
            d = per[rule] - per[first]
            mean = float(d.mean())
            half = (t_quantile(0.975, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size)
                    if d.size > 1 else float("nan"))
            table.loc[i, ["d_p_pilot", "d_p_pilot_lo", "d_p_pilot_hi"]] = \
                [mean, mean - half, mean + half]
        return table


def monthly(sites: pd.DataFrame, months: int) -> pd.DataFrame:
    """``national.csv``: per rule and month, shares at pilot and at integration, with 95%
    intervals across replicates, for all, funded and unfunded sites."""
    return NationalTotals(months, 0.0).add_frame(sites).series()


def rule_table(sites: pd.DataFrame, budget: float) -> pd.DataFrame:
    """Per rule: national pilot rate with its interval, the funded-unfunded gap (Fisher
    exact test), and the cost per site reaching a pilot."""
    return NationalTotals(0, budget).add_frame(sites).table()


@dataclass
class NationalResult:
    """A finished national run's outputs: the monthly shares, the table per funding rule
    and each rule's pilot share replicate by replicate (the site rows themselves are
    streamed to ``sites.parquet``, never held together)."""

    series: pd.DataFrame
    table: pd.DataFrame
    pilot_shares: dict[str, np.ndarray]
    #: per rule and replicate, the shares that piloted and integrated (``variance.csv``)
    replicate_shares: pd.DataFrame


def part_paths(out: Path, spec: NationalSpec) -> list[Path]:
    """The finished run's parts, in run order: rule, then replicate, then site."""
    experiment = spec.experiment()
    runs = len(spec.rules) * spec.replicates * spec.sites
    return [Path(out) / "runs" / part_name(chunk)
            for chunk in range(-(-runs // experiment.runs_per_part))]


#: What the outputs read of each part of the runs.
_PART_COLUMNS = ("status", "rule", "repeat", "site", *SITE_OUTCOMES)
#: Rows of ``sites.parquet`` gathered before they are written, one row group each.
_ROWS_PER_GROUP = 65_536


#: ``sites.parquet``'s outcomes, by the codes :func:`_sites_columns` gives them (the
#: first is the default: a site that neither integrated, piloted nor collapsed stalled).
OUTCOMES = ("stalled", "integrated", "pilot", "collapsed")


def _sites_columns(part: pa.Table, rules: Sequence[str]) -> dict[str, np.ndarray]:
    """A part's runs as ``sites.parquet``'s columns (all ok), in rule, replicate and site
    order: :func:`sites_frame` on numpy arrays, with no frame per part. The two text
    columns come as codes, ``rule`` into ``rules`` and ``outcome`` into :data:`OUTCOMES`
    (:func:`_sites_table` and :func:`results` name them): a Python string per run cost
    the coordinator of a 400,000-run ``icsim national`` about 0.5 CPU-s."""
    import pyarrow.compute as pc

    rule = pc.index_in(part.column("rule"), value_set=pa.array(list(rules), pa.string()))
    if rule.null_count:
        unknown = pc.filter(part.column("rule"), pc.is_null(rule))[0].as_py()
        raise ValueError(f"a part holds rule {unknown!r}, not one of {', '.join(rules)}")
    col = {name: part.column(name).to_numpy() for name in _PART_COLUMNS
           if name not in ("status", "rule")}
    code = rule.to_numpy().astype(np.int64)
    out: dict[str, np.ndarray] = {
        "rule": code, "replicate": col["repeat"].astype(np.int64),
        "site": col["site"].astype(np.int64), "funded": col["funded"].astype(bool),
        "outcome": np.select([col["integrated"] == 1, col["pilot"] == 1,
                              col["collapsed"] == 1], [1, 2, 3], 0).astype(np.int8)}
    for name in SITE_COLUMNS:
        if name not in out:
            out[name] = col[name]
    out["team_size"] = out["team_size"].astype(int)
    keys = (out["site"], out["replicate"], code)
    if not _sorted(keys):  # the runner's parts are in this order; any other is sorted
        index = np.lexsort(keys)
        out = {name: column[index] for name, column in out.items()}
    return out


def _named(columns: Mapping[str, np.ndarray], rules: Sequence[str]) -> dict[str, np.ndarray]:
    """:func:`_sites_columns`'s columns with the rules and outcomes named (object arrays
    of the same few strings), as a frame's would be."""
    return {**columns, "rule": np.array(rules, dtype=object)[columns["rule"]],
            "outcome": np.array(OUTCOMES, dtype=object)[columns["outcome"]]}


def _sites_table(columns: Mapping[str, np.ndarray], rules: Sequence[str]) -> pa.Table:
    """``sites.parquet``'s rows from :func:`_sites_columns`'s columns: the same table as
    ``pa.Table.from_pandas`` of the frame would be (its pandas metadata, and missing
    months as nulls), built from the codes without a Python string per row."""
    # the schema of a one-row frame (in a frame of no rows the text columns would hold
    # objects, typed null)
    first = {name: column[:1] for name, column in columns.items()}
    schema = pa.Table.from_pandas(pd.DataFrame(_named(first, rules)),
                                  preserve_index=False).schema
    # from_pandas: a missing month (NaN) is stored as a null, as from a frame
    arrays = {name: pa.array(column, from_pandas=True) for name, column in columns.items()
              if name not in ("rule", "outcome")}
    arrays["rule"] = pa.array(list(rules), pa.large_string()).take(columns["rule"])
    arrays["outcome"] = pa.array(OUTCOMES, pa.large_string()).take(columns["outcome"])
    return pa.Table.from_arrays([arrays[f.name] for f in schema], schema=schema)


def _sorted(keys: tuple[np.ndarray, ...]) -> bool:
    """Whether rows are in lexicographic order of ``keys`` (last key first)."""
    *minor, major = keys
    n = len(major)
    if n < 2:
        return True
    ties = np.ones(n - 1, dtype=bool)
    for key in (major, *reversed(minor)):
        step = np.diff(key)
        if (step[ties] < 0).any():
            return False
        ties &= step == 0
    return True


class RunsStopped(Exception):
    """The runs that :class:`PartFeed` waits for will not all come (the sweep ended
    incomplete, failed or was interrupted)."""


class PartFeed:
    """A national run's parts handed over in memory as the sweep writes them, for
    :func:`results` to read on another thread while the runs run (``icsim national``):
    ``run_sweep(on_part=feed.put)``, then :meth:`finish` once the sweep has ended.

    Iterating yields the parts in run order, each as soon as it is in (parts are written
    in the order their runs finish, so a few may wait here for an earlier one); the
    iteration ends only once the sweep has completed: :class:`RunsStopped` if it did not,
    or if a part never came. Reading each part back from disk instead cost about 0.3 CPU-s
    per 400,000 runs. Only for a fresh sweep: on a resume the parts already there are
    checked by the sweep and read from disk (:func:`results` without ``parts``)."""

    def __init__(self, parts: int) -> None:
        self.parts = parts
        self._tables: dict[int, pa.Table] = {}
        self._state: bool | None = None  # None while the sweep runs, then whether it completed
        self._cond = threading.Condition()

    def put(self, chunk: int, table: pa.Table) -> None:
        """Part ``chunk`` of the runs, as written (only the columns the outputs read are
        kept)."""
        kept = table.select(list(_PART_COLUMNS))
        with self._cond:
            self._tables[chunk] = kept
            self._cond.notify_all()

    def finish(self, completed: bool) -> None:
        """The sweep has ended, completed or not."""
        with self._cond:
            self._state = completed
            self._cond.notify_all()

    def wait_for_runs(self) -> None:
        """Wait until the first part is in or the sweep has ended: work started on another
        thread before that (imports hold the interpreter) would hold back the sweep's first
        tasks while the workers wait for them."""
        with self._cond:
            self._cond.wait_for(lambda: bool(self._tables) or self._state is not None)

    def _ready(self, chunk: int) -> bool:
        return chunk in self._tables or self._state is not None

    def __iter__(self) -> Iterator[pa.Table]:
        for chunk in range(self.parts):
            with self._cond:
                self._cond.wait_for(partial(self._ready, chunk))
                table = self._tables.pop(chunk, None)
            if table is None:
                raise RunsStopped(f"{part_name(chunk)} was not written")
            yield table
        with self._cond:
            self._cond.wait_for(lambda: self._state is not None)
            completed = self._state
        if not completed:
            raise RunsStopped("the runs did not complete")


def stream_sites(out: Path, spec: NationalSpec,
                 parts: Iterable[Path | pa.Table] | None = None,
                 ) -> Iterator[tuple[dict[str, np.ndarray], int]]:
    """Each part of the finished runs (``parts``: files or tables, by default every file
    there), in run order, as ``sites.parquet``'s columns and the number of its runs that
    did not end ok (their columns are then not built)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    for source in part_paths(out, spec) if parts is None else parts:
        part = source if isinstance(source, pa.Table) else \
            pq.ParquetFile(source).read(columns=list(_PART_COLUMNS), use_threads=False)
        failed = int(pc.sum(pc.not_equal(part.column("status"), "ok")).as_py() or 0)
        yield ({} if failed else _sites_columns(part, spec.rules)), failed


def results(out: Path, spec: NationalSpec,
            sink: Callable[[pa.Table], None] | None = None,
            parts: Iterable[Path | pa.Table] | None = None) -> NationalResult:
    """Read the finished runs in ``out/runs`` one part at a time and compute the national
    outputs; ``sink`` receives ``sites.parquet``'s rows in order, a table of at most
    ``_ROWS_PER_GROUP`` rows at a time. Memory holds a part, one rule x replicate's sites
    and one such frame, however many runs there are. Runs that failed are counted over
    every part and raise ``RuntimeError`` at the end (the caller writes into a staging
    folder, so nothing is left half-written). ``parts``: the parts in run order, files or
    tables (default: every part file of ``out``; a :class:`PartFeed` while the sweep
    runs)."""
    totals = NationalTotals(spec.months, spec.total_budget)
    failed = 0
    pending: list[dict[str, np.ndarray]] = []  # the rule x replicate still arriving
    waiting: list[dict[str, np.ndarray]] = []  # rows not yet handed to the sink
    waiting_rows = 0

    def close_group() -> None:
        totals.add(_named({name: np.concatenate([p[name] for p in pending])
                           for name in _STAT_COLUMNS}, spec.rules))
        pending.clear()

    def flush() -> None:
        nonlocal waiting_rows
        if sink is not None and waiting:
            sink(_sites_table({name: np.concatenate([w[name] for w in waiting])
                               for name in SITE_COLUMNS}, spec.rules))
        waiting.clear()
        waiting_rows = 0

    for columns, bad in stream_sites(out, spec, parts):
        failed += bad
        if failed:
            continue  # counted to the end, for the message; nothing more is built
        waiting.append(columns)
        waiting_rows += len(columns["site"])
        if waiting_rows >= _ROWS_PER_GROUP:
            flush()
        rule, replicate = columns["rule"], columns["replicate"]
        # where (rule, replicate) changes: the groups this part closes
        cuts = np.flatnonzero((rule[1:] != rule[:-1]) | (replicate[1:] != replicate[:-1])) + 1
        if pending and (rule[0] != pending[-1]["rule"][-1]
                        or replicate[0] != pending[-1]["replicate"][-1]):
            close_group()
        start = 0
        for cut in cuts:
            pending.append({name: columns[name][start:cut] for name in _STAT_COLUMNS})
            close_group()
            start = int(cut)
        pending.append({name: columns[name][start:] for name in _STAT_COLUMNS})
    if failed:
        raise RuntimeError(f"{failed} site runs failed; see {out / 'runs'} (column 'error')")
    if pending:
        close_group()
    flush()
    return NationalResult(totals.series(), totals.table(), totals.pilot_shares(),
                          totals.replicate_shares())
