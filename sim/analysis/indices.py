"""Sensitivity indices: the one place SALib is called.

Sobol S1/ST (and S2), Morris mu*/sigma and the moment-independent delta, each with 95%
bootstrap intervals, of an outcome ``y`` per design point, and the half-samples
convergence check. The library's warnings are collected (deduplicated) into a list the
caller passes as ``captured``, so that a report can state them; with ``captured=None`` they
are dropped. SALib is imported only when an index is computed (it is heavy).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, cast

import numpy as np
import pandas as pd

from sim.analysis.stats import bootstrap_rng
from sim.experiment.design import Design

#: Largest change of an index between half and all the samples that counts as converged.
CONVERGED = 0.05


def captured_warnings(call: Any, captured: list[str] | None) -> Any:
    """Run ``call()``; the library's warnings go into ``captured`` (deduplicated), not to
    stderr, so that the summary can report them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    if captured is not None:
        for w in caught:
            text = f"{w.category.__name__}: {str(w.message).splitlines()[0][:200]}"
            if text not in captured:
                captured.append(text)
    return result


def sobol_indices(problem: dict, y: np.ndarray, resamples: int = 1000, seed: int = 0,
                  second_order: bool = False, captured: list[str] | None = None,
                  ) -> dict[str, Any]:
    """SALib's Sobol analysis of ``y`` (Saltelli design rows of ``problem``): the raw
    result, with S1, ST (S2 if ``second_order``) and their 95% bootstrap half-widths."""
    from SALib.analyze import sobol

    # SALib is untyped (Any here); analyze returns its ResultDict, a dict subclass.
    return cast(dict[str, Any], captured_warnings(lambda: sobol.analyze(
        problem, np.asarray(y, dtype=float), calc_second_order=second_order,
        num_resamples=resamples, conf_level=0.95, seed=bootstrap_rng(seed)), captured))


def morris_indices(problem: dict, x: np.ndarray, y: np.ndarray, levels: int,
                   resamples: int = 1000, seed: int = 0,
                   captured: list[str] | None = None) -> dict[str, Any]:
    """SALib's Morris analysis of ``y`` at the trajectory rows ``x``: mu*, its bootstrap
    half-width, sigma and mu."""
    from SALib.analyze import morris

    # SALib is untyped (Any here); analyze returns its ResultDict, a dict subclass.
    return cast(dict[str, Any], captured_warnings(lambda: morris.analyze(
        problem, x, np.asarray(y, dtype=float), num_resamples=resamples,
        conf_level=0.95, num_levels=levels, seed=seed), captured))


def sobol_frame(names: list[str], result: dict[str, Any]) -> pd.DataFrame:
    """S1 and ST with their half-widths, one row per parameter."""
    return pd.DataFrame({"parameter": names, "S1": result["S1"],
                         "S1_conf": result["S1_conf"], "ST": result["ST"],
                         "ST_conf": result["ST_conf"]})


def sobol_table(design: Design, y: np.ndarray, resamples: int = 1000,
                seed: int = 0, captured: list[str] | None = None,
                ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """SALib Sobol S1/ST with bootstrap intervals (and S2 if sampled) of ``y`` per point.
    The library's warnings are collected in ``captured``."""
    result = sobol_indices(design.problem, y, resamples, seed, design.second_order,
                           captured)
    table = sobol_frame(design.names, result)
    pairs = None
    if design.second_order:
        rows = []
        names = design.names
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                rows.append({"parameter_1": names[i], "parameter_2": names[j],
                             "S2": result["S2"][i, j], "S2_conf": result["S2_conf"][i, j]})
        pairs = pd.DataFrame(rows)
    return table, pairs


def morris_table(design: Design, y: np.ndarray, resamples: int = 1000,
                 seed: int = 0, captured: list[str] | None = None,
                 x: np.ndarray | None = None) -> pd.DataFrame:
    """SALib Morris mu*, its bootstrap interval, sigma (and mu) of ``y`` per point (``x``:
    the design rows ``y`` belongs to, by default all)."""
    x = design.x if x is None else x
    result = morris_indices(design.problem, x, y, design.levels, resamples, seed, captured)
    return pd.DataFrame({"parameter": design.names, "mu_star": result["mu_star"],
                         "mu_star_conf": result["mu_star_conf"], "sigma": result["sigma"],
                         "mu": result["mu"]})


def delta_table(design: Design, y: np.ndarray, seed: int = 0,
                captured: list[str] | None = None) -> pd.DataFrame:
    """SALib's moment-independent delta (Borgonovo) and first-order S1 for any design
    with numeric coordinates (LHS in particular), from the points and their means."""
    from SALib.analyze import delta

    result = captured_warnings(lambda: delta.analyze(
        design.problem, design.x, np.asarray(y, dtype=float), num_resamples=100,
        conf_level=0.95, seed=seed), captured)
    # SALib >= 1.6 reports the raw and a bias-balanced estimator; older ones 'delta'
    key = "delta" if "delta" in result else "delta_raw"
    return pd.DataFrame({"parameter": design.names, "delta": result[key],
                         "delta_conf": result[f"{key}_conf"], "S1": result["S1"],
                         "S1_conf": result["S1_conf"]})


def separated(values: np.ndarray, confs: np.ndarray, i: int, j: int) -> bool:
    """Whether index ``i`` lies above index ``j`` with their 95% intervals apart (the
    lower end of ``i``'s above the upper end of ``j``'s): only then can the data tell their
    order."""
    return bool(values[i] - confs[i] > values[j] + confs[j])


def tie_groups(values: np.ndarray, confs: np.ndarray, top: int) -> list[list[int]]:
    """The first ``top`` entries by value (positions into ``values``), grouped where their
    order cannot be told: ranked neighbours whose 95% intervals overlap fall into one group.
    Groups of one are entries whose place among the ``top`` the data do tell."""
    order = [int(k) for k in np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")]
    groups: list[list[int]] = []
    for k in order[:top]:
        if groups and not separated(values, confs, groups[-1][-1], k):
            groups[-1].append(k)
        else:
            groups.append([k])
    return groups


def reversed_pairs(full: np.ndarray, half: np.ndarray, confs: np.ndarray,
                   top: int) -> list[tuple[int, int]]:
    """Pairs ``(i, j)`` whose order the full sample tells -- ``i`` among its first ``top``,
    its 95% interval wholly above ``j``'s -- and that ``half`` puts the other way round."""
    leaders = [int(k) for k in np.argsort(-full, kind="stable")[:top]]
    return [(i, j) for i in leaders for j in range(len(full))
            if j != i and separated(full, confs, i, j) and half[i] <= half[j]]


def rank_ranges(values: np.ndarray, confs: np.ndarray) -> list[tuple[int, int]]:
    """Each entry's possible ranks (1 = largest) given the 95% intervals: from one more
    than the entries whose intervals lie wholly above its own, to the number of entries
    less those whose intervals lie wholly below it."""
    n = len(values)
    out = []
    for i in range(n):
        above = sum(separated(values, confs, j, i) for j in range(n) if j != i)
        below = sum(separated(values, confs, i, j) for j in range(n) if j != i)
        out.append((above + 1, n - below))
    return out


def convergence(design: Design, y: np.ndarray, resamples: int = 200, seed: int = 0,
                captured: list[str] | None = None,
                full: pd.DataFrame | None = None) -> dict[str, Any]:
    """Indices from the first half of the samples against all of them.

    Sobol: ST from the first half of the base samples (each base sample is a block of
    D+2, or 2D+2, design rows); Morris: mu* (scaled by the largest) from the first half of
    the trajectories (D+1 rows each). The indices have converged when no index moves by
    more than ``CONVERGED`` and the top three keep their order wherever the data can tell
    it: for every lever of the top three (from all the samples) and every other lever
    whose 95% bootstrap interval lies wholly below its own, the half samples must rank
    them the same way. Levers whose intervals overlap are *tied* (``tied``: groups of
    names, from :func:`tie_groups`): an order the full sample cannot tell is not asked of
    half of it, and the report states none. ``full``: the table already computed from all
    the samples (the same estimates; its intervals, from more resamples, are used).
    """
    d = len(design.names)
    key = "ST" if design.method == "sobol" else "mu_star"
    block = (2 * d + 2 if design.second_order else d + 2) if design.method == "sobol" \
        else d + 1
    blocks = design.n_points // block
    half = blocks // 2
    out: dict[str, Any] = {"samples": blocks, "half": half, "converged": None,
                           "max_change": float("nan"), "ranking_changed": None,
                           "suggested_samples": None, "tied": []}
    if half < 2:
        return out
    rows = half * block
    if design.method == "sobol":
        if full is None:
            full, _ = sobol_table(design, y, resamples, seed, captured)
        part, _ = sobol_table(design, y[:rows], resamples, seed, captured)
        scale = 1.0
    else:
        if full is None:
            full = morris_table(design, y, resamples, seed, captured)
        part = morris_table(design, y[:rows], resamples, seed, captured, x=design.x[:rows])
        scale = float(full[key].max()) or 1.0
    a, b = full[key].to_numpy() / scale, part[key].to_numpy() / scale
    conf = full[f"{key}_conf"].to_numpy() / scale
    top = min(3, d)
    ranking_changed = bool(reversed_pairs(a, b, conf, top))
    tied = [[design.names[k] for k in group] for group in tie_groups(a, conf, top)
            if len(group) > 1]
    change = float(np.nanmax(np.abs(a - b)))
    converged = bool(change <= CONVERGED and not ranking_changed)
    # Monte-Carlo error shrinks as 1/sqrt(N): the samples for the change to fall to the
    # threshold, at least twice the current number.
    factor = max(2.0, (change / CONVERGED) ** 2) if math.isfinite(change) else 2.0
    suggested = int(2 ** math.ceil(math.log2(blocks * factor)))
    out.update(converged=converged, max_change=change, ranking_changed=ranking_changed,
               suggested_samples=None if converged else suggested, index=key, tied=tied)
    return out
