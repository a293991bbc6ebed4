"""The published sensitivity analysis (docs/sensitivity.md): the computations.

``make sensitivity`` (``python -m sim.ui.sensitivity``) regenerates everything:

1. the Morris screening of every lever and assumption (``experiments/screening_all.toml``)
   and a Sobol analysis of the most influential numeric entries it finds
   (written from the screening to ``results/sobol_top.toml``; the tracked
   ``experiments/sobol_top.toml`` is the published copy), through the sweep runner
   (``--resume``: finished parts are reused);
2. a stability check: the Morris ranking from the first half of the trajectories and the
   Sobol ranking from the first half of the base samples, against the full runs -- every
   order the full run tells (95% intervals apart) must hold at half the run; entries whose
   intervals overlap are tied and the report puts them in no order (:class:`Stability`);
3. the structural alternatives (registry choices) against today's forms, paired over
   common seeds in a few scenarios;
4. docs/sensitivity.md and the figures in docs/images/sensitivity/
   (``sim.report.sensitivity``, ``sim.report.figures``).

Every number in the report is computed here from the sweeps; nothing is typed by hand.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from sim.analysis import indices
from sim.analysis.stats import kaplan_meier
from sim.core.registry import PARAMETERS
from sim.core.scenarios import parameters_for
from sim.run import run_projects
from sim.studies.sweep_analysis import Sweep, load_sweep, replicate_means, stochastic_variance

ROOT = Path(__file__).resolve().parents[2]
#: The outcomes the report ranks entries for, as the sweeps name them.
OUTCOMES = {"pilot": "P(pilot)", "integrated": "P(integrated)",
            "time_to_pilot": "time to pilot (months, censored at 60)",
            "collapsed": "P(collapse)"}
#: The outcomes the Sobol follow-up estimates indices for. Not P(integrated): within the
#: follow-up's ranges integration is a rare event (0.14% of runs), and its indices did not
#: settle at any size probed, up to 2,048 base samples x 256 replicates (7.3 million runs;
#: experiments/README.md). The screening ranks entries for it (section 1).
SOBOL_OUTCOMES = ("pilot", "time_to_pilot", "collapsed")
#: How many entries the Sobol follow-up takes from the screening.
TOP = 12
#: Scenarios in which the structural alternatives are compared.
#: Bootstrap resamples of the published indices' intervals.
RESAMPLES = 500
ALTERNATIVE_SCENARIOS = ("baseline", "enabling_national", "toolkit", "austerity")


# ------------------------------------------------------------------ screening (Morris)
def morris_indices(problem: dict, x: np.ndarray, y: np.ndarray, levels: int,
                   seed: int = 0) -> pd.DataFrame:
    """Morris mu*, its 95% bootstrap interval (500 resamples) and sigma of ``y``
    (replicate means), from :mod:`sim.analysis.indices`."""
    result = indices.morris_indices(problem, x, y, levels, resamples=RESAMPLES, seed=seed)
    return pd.DataFrame({"parameter": problem["names"], "mu_star": result["mu_star"],
                         "mu_star_conf": result["mu_star_conf"], "sigma": result["sigma"]})


def sobol_indices(problem: dict, y: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """Sobol S1 and ST with 95% bootstrap intervals (500 resamples; first order and total
    only), from :mod:`sim.analysis.indices`."""
    return indices.sobol_frame(problem["names"], indices.sobol_indices(
        problem, y, resamples=RESAMPLES, seed=seed, second_order=False))


class Stability(NamedTuple):
    """The ranking from half the run against all of it.

    ``rho``: Spearman's rho over every entry (information: most entries' small indices
    overlap, so their order is not claimed); ``shared``: entries the two top-``top`` sets
    share; ``reversed``: pairs (higher, lower) that the full run separates -- the first of
    the top ``top``, its 95% interval wholly above the second's -- and that half the run
    puts the other way round. Stable: ``reversed`` is empty (and, for the screening, the
    top sets share at least ``SHARED_MIN``; for the Sobol follow-up, whose numbers are
    shares of variance, also no index moves by more than ``indices.CONVERGED``, as in
    ``icsim analyze``'s check). ``max_change``: the largest change of an index (Morris:
    of mu* over the largest mu*)."""

    rho: float
    shared: int
    top: int
    reversed: list[tuple[str, str]]
    max_change: float = math.nan


#: The screening's top-10 sets from half and all the trajectories must share this many.
SHARED_MIN = 8


@dataclass
class Screening:
    """The Morris screening: indices per outcome, noise shares, the half-run check."""

    tables: dict[str, pd.DataFrame]  # outcome -> mu*, interval, sigma, group, half-run mu*
    noise: dict[str, float]  # outcome -> share of the means' variance that is noise
    points: int
    replicates: int
    runs: int
    trajectories: int
    stability: dict[str, Stability]  # outcome -> the half-run check


def _means(sweep: Sweep, outcome: str) -> np.ndarray:
    means, _ = replicate_means(sweep, sweep.runs[outcome])
    return means


def _noise(sweep: Sweep, outcome: str) -> float:
    return float(stochastic_variance(sweep, sweep.runs[outcome])["noise_in_means"])


def _spearman(a: pd.Series, b: pd.Series) -> float:
    """Rank correlation of two rankings (NaN where one of them does not vary)."""
    if a.nunique() < 2 or b.nunique() < 2:
        return math.nan
    return float(stats.spearmanr(a, b).statistic)


def _overlap(a: pd.Series, b: pd.Series, k: int = 10) -> int:
    return len(set(a.nlargest(k).index) & set(b.nlargest(k).index))


#: Per outcome: (indices from all the runs, indices from the first half).
IndexPair = Callable[[np.ndarray], tuple[pd.DataFrame, pd.DataFrame]]


def _reversed(full: pd.DataFrame, value: str, top: int) -> list[tuple[str, str]]:
    """Pairs the full run orders (intervals apart, the higher among the top ``top``) that
    the half run reverses."""
    names = list(full.index)
    return [(names[i], names[j]) for i, j in indices.reversed_pairs(
        full[value].to_numpy(float), full[f"{value}_half"].to_numpy(float),
        full[f"{value}_conf"].to_numpy(float), top)]


def _max_change(full: pd.DataFrame, value: str) -> float:
    """The largest change of an index between half and all the run (mu* over the largest
    mu*, so that Morris compares with the same threshold as Sobol)."""
    scale = float(full[value].max()) if value == "mu_star" else 1.0
    change = (full[value] - full[f"{value}_half"]).abs() / (scale or 1.0)
    return float(change.max())


def _rank(sweep: Sweep, indices: IndexPair, value: str, top: int, claimed: int,
          ) -> tuple[dict[str, pd.DataFrame], dict[str, float], dict[str, Stability]]:
    """Per outcome of :data:`OUTCOMES` the sweep recorded: ``indices(y) -> (full, half)``
    tables ranked by ``value``, with the half-run column, labels and groups; the outcome's
    noise; the stability of the ranking at half the run against all of it
    (:class:`Stability`): the top ``top`` sets, and the order of the first ``claimed``
    entries (the rows the report lists in order)."""
    tables: dict[str, pd.DataFrame] = {}
    noise: dict[str, float] = {}
    stability: dict[str, Stability] = {}
    for outcome in (o for o in OUTCOMES if o in sweep.experiment.outcomes):
        full, part = indices(_means(sweep, outcome))
        full[f"{value}_half"] = part[value]
        full["group"] = [PARAMETERS[n].group for n in full.parameter]
        full["label"] = [PARAMETERS[n].display for n in full.parameter]
        full = full.set_index("parameter")
        stability[outcome] = Stability(_spearman(full[value], full[f"{value}_half"]),
                                       _overlap(full[value], full[f"{value}_half"], top),
                                       top, _reversed(full, value, claimed),
                                       _max_change(full, value))
        tables[outcome] = full.sort_values(value, ascending=False)
        noise[outcome] = _noise(sweep, outcome)
    return tables, noise, stability


def screen(root: Path) -> Screening:
    """Morris indices per outcome from a finished screening sweep."""
    sweep = load_sweep(root)
    design = sweep.design
    k = len(design.names)
    trajectories = design.n_points // (k + 1)
    half = (trajectories // 2) * (k + 1)
    tables, noise, stability = _rank(
        sweep, lambda y: (morris_indices(design.problem, design.x, y, design.levels),
                          morris_indices(design.problem, design.x[:half], y[:half],
                                         design.levels)), "mu_star", 10, 10)
    return Screening(tables, noise, design.n_points, design.replicates, design.n_runs,
                     trajectories, stability)


def most_influential(screening: Screening, top: int = TOP) -> list[str]:
    """The rule for the Sobol follow-up: rank every numeric entry by its largest
    normalised mu* over the four outcomes (mu* / the outcome's largest mu*), keep ``top``.
    Switches and structural choices are left to the screening and the alternatives table;
    an outcome on which nothing has an effect (every mu* 0) ranks nothing.
    """
    scores = pd.concat([t.mu_star / t.mu_star.max() for t in screening.tables.values()
                        if t.mu_star.max() > 0], axis=1).max(axis=1)
    numeric = [n for n in scores.index if PARAMETERS[n].kind in ("float", "int")]
    return list(scores[numeric].sort_values(ascending=False).index[:top])


def sobol_file_text(names: Sequence[str], samples: int = 2048, replicates: int = 8) -> str:
    """The Sobol follow-up's experiment file (``sobol_top.toml``) for the entries the
    screening ranked highest."""
    lines = [
        "# Sobol indices (S1, ST) of the entries the screening of everything ranked most",
        "# influential (docs/sensitivity.md; written by 'make sensitivity' from",
        "# experiments/screening_all.toml), each over its plausible range.",
        f"# {samples} x ({len(names)} + 2) = {samples * (len(names) + 2):,} design points, "
        f"{replicates} replicates each: {samples * (len(names) + 2) * replicates:,} runs.",
        "",
        'name = "sobol_top"',
        'description = "Sobol indices of the most influential levers and assumptions"',
        'method = "sobol"', f"samples = {samples}", "second_order = false",
        f"replicates = {replicates}", "seed = 20261129", "months = 60",
        "# Not P(integrated): a rare event in these ranges, whose indices do not settle",
        "# (experiments/README.md); the screening ranks entries for it.",
        "outcomes = [" + ", ".join(f'"{o}"' for o in SOBOL_OUTCOMES) + "]", "",
        "[parameters]"]
    for name in names:
        p = PARAMETERS[name]
        low, high = p.plausible_range
        lines.append(f"{name} = [{int(low)}, {int(high)}]" if p.kind == "int"
                     else f"{name} = [{float(low)!r}, {float(high)!r}]")
    return "\n".join(lines) + "\n"


@dataclass
class SobolResult:
    tables: dict[str, pd.DataFrame]
    noise: dict[str, float]
    samples: int
    points: int
    replicates: int
    runs: int
    stability: dict[str, Stability]


def sobol(root: Path) -> SobolResult:
    """Sobol S1/ST per outcome, with the ranking from half the base samples."""
    sweep = load_sweep(root)
    design = sweep.design
    k = len(design.names)
    samples = design.n_points // (k + 2)
    half = (samples // 2) * (k + 2)
    tables, noise, stability = _rank(
        sweep, lambda y: (sobol_indices(design.problem, y),
                          sobol_indices(design.problem, y[:half])), "ST", min(10, k), k)
    return SobolResult(tables, noise, samples, design.n_points, design.replicates,
                       design.n_runs, stability)


# ------------------------------------------------------------------ structural alternatives
def km_median(pilot_month: np.ndarray, horizon: int) -> float:
    """Kaplan–Meier median month to a pilot (NaN: not reached within the horizon), from
    the comparison's estimator (``sim.analysis.stats.kaplan_meier``)."""
    return kaplan_meier(pd.Series(pilot_month, dtype="float64"), horizon).median()[0]


def alternatives(scenarios: Sequence[str] = ALTERNATIVE_SCENARIOS, runs: int = 2000,
                 months: int = 60, choices: Sequence[str] | None = None) -> pd.DataFrame:
    """Each structural alternative against today's form, paired over seeds 0..runs-1.

    One row per (choice, alternative, scenario): P(pilot), P(integrated), P(collapse)
    under the default and the alternative, their paired differences with 95% intervals
    (normal, from the per-seed differences), and the Kaplan–Meier median month to a pilot.
    """
    names = choices or [n for n, p in PARAMETERS.items() if p.kind == "choice"]
    seeds = list(range(runs))
    rows = []
    for scenario in scenarios:
        base_values = parameters_for(scenario)
        for name in names:
            default = base_values[name]
            base = run_projects([base_values] * runs, seeds, months)
            for value in PARAMETERS[name].choices:
                if value == default:
                    continue
                alt = run_projects([{**base_values, name: value}] * runs, seeds, months)
                row = {"choice": name, "alternative": value, "default": default,
                       "scenario": scenario, "runs": runs}
                for label, test in (("pilot", ("pilot", "integrated")),
                                    ("integrated", ("integrated",)),
                                    ("collapse", ("collapsed",))):
                    a = base.outcome.isin(test).to_numpy(float)
                    b = alt.outcome.isin(test).to_numpy(float)
                    d: np.ndarray = b - a
                    half = 1.96 * d.std(ddof=1) / math.sqrt(runs) if runs > 1 else math.nan
                    row[f"p_{label}_default"] = a.mean()
                    row[f"p_{label}_alternative"] = b.mean()
                    row[f"diff_{label}"] = d.mean()
                    row[f"diff_{label}_lo"] = d.mean() - half
                    row[f"diff_{label}_hi"] = d.mean() + half
                for tag, frame in (("default", base), ("alternative", alt)):
                    row[f"median_pilot_{tag}"] = km_median(
                        frame.pilot_month.to_numpy(dtype=float, na_value=np.nan), months)
                rows.append(row)
    return pd.DataFrame(rows)
