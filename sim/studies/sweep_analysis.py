"""Analysis of a sweep: sensitivity (SALib), noise, time-varying indices, PRIM (EMA).

Everything works on a sweep directory written by ``icsim sweep``:

* Sobol S1/ST (S2 where sampled) and Morris mu*/sigma on the *replicate means* of each
  design point -- for a binary outcome such as reaching a pilot, the probability -- with
  bootstrap confidence intervals (SALib);
* beside them, the stochastic share of variance: how much of the run-to-run variance is
  noise between replicates of the same point, and how much of that noise is left in the
  means the indices decompose;
* Sobol indices of P(pilot by month m), every six months, from the stored pilot month:
  which levers matter early and which late;
* scenario discovery of stalling projects (no pilot by the horizon) with the EMA
  Workbench's PRIM;
* figures and a ``summary.md`` for policy analysts;
* :func:`load_ema`, the sweep as the EMA Workbench's ``(experiments, outcomes)`` pair.

Failed runs are counted and reported (``failed_runs.csv`` and the summary); means are
taken over the successful replicates of each point, and an index that cannot be computed
(a point without any successful run, a constant outcome) is reported as such, never as NaN
numbers. Invalid runs (an infinite outcome: status ``invalid``) are left out like failed
ones, counted apart in the summary; no index is ever computed from an infinite value.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.core.errors import UsageError
from sim.experiment.design import Design, make_design
from sim.experiment.spec import Experiment, parse_experiment
from sim.experiment.store import SweepStore, code_label, mixed_code_message, write_atomic

#: Months between the time-varying Sobol indices of P(pilot by month).
MONTH_STEP = 6
#: Share of noise in the replicate means above which indices are flagged as unreliable.
NOISY = 0.3
#: Outcomes read as probabilities when averaged over replicates.
BINARY_HINT = ("pilot", "integrated", "collapsed", "stalled")


@dataclass
class Sweep:
    """A finished sweep, read back: its experiment, design and runs."""

    root: Path
    manifest: dict[str, Any]
    experiment: Experiment
    design: Design
    runs: pd.DataFrame

    @property
    def ok(self) -> pd.DataFrame:
        return self.runs[self.runs["status"] == "ok"]

    @property
    def failed(self) -> pd.DataFrame:
        return self.runs[self.runs["status"] != "ok"]


@dataclass
class AnalysisResult:
    """What :func:`analyze` wrote."""

    name: str
    out: Path
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------ loading


def load_sweep(root: str | Path, require_complete: bool = True) -> Sweep:
    """Read a sweep directory; regenerate its design from the stored experiment file.

    Every part is verified first -- its checksum against the manifest, its provenance (this
    experiment, this design) and its rows -- and parts from different code versions are
    refused unless the manifest records that the user allowed mixing them. Any failure is
    a one-line ``UsageError`` naming the part.
    """
    root = Path(root)
    store = SweepStore(root)
    manifest = store.read_manifest()
    text = manifest["experiment"]["text"]
    experiment = parse_experiment(text, source=str(manifest["experiment"].get("file",
                                                                              "<manifest>")),
                                  check_model=False)
    design = make_design(experiment)
    if design.sha256 != manifest["design"]["sha256"]:
        raise UsageError(f"{root}: the design regenerated from the manifest differs from the "
                         f"sweep's (package versions changed?)")
    resume = (f"icsim national --out {root} --resume (with its other arguments as before)"
              if experiment.source == "icsim national"
              else f"icsim sweep {experiment.source} --out {root} --resume")
    verified = store.verify(experiment, design, manifest, tables=True)
    if verified.damaged:
        raise UsageError(verified.damage_message(resume))
    if len(verified.codes()) > 1 and not manifest.get("mixed_code", {}).get("allowed"):
        raise UsageError(f"{mixed_code_message(root, verified)}, and its manifest does not "
                         "record that mixing them was allowed; run the sweep again into a "
                         "new --out")
    if not verified.parts:
        raise UsageError(f"{root} holds no runs yet; run icsim sweep first")
    runs = pa.concat_tables([verified.parts[c].table for c in sorted(verified.parts)]
                            ).to_pandas()
    runs = runs.sort_values(["point", "replicate"], kind="stable").reset_index(drop=True)
    if require_complete and len(runs) != design.n_runs:
        raise UsageError(
            f"the sweep in {root} is incomplete ({len(runs)} of {design.n_runs} runs); "
            f"complete it with: {resume}")
    return Sweep(root, manifest, experiment, design, _mark_infinite(runs, experiment.outcomes))


def _mark_infinite(runs: pd.DataFrame, outcomes: Sequence[str]) -> pd.DataFrame:
    """Runs recorded ``ok`` with an infinite outcome (sweeps written before the runner
    marked them) become ``invalid`` here too: no index, mean or PRIM box uses them."""
    values = runs[list(outcomes)].to_numpy(dtype=float)
    bad = (runs["status"] == "ok").to_numpy() & np.isinf(values).any(axis=1)
    if bad.any():
        runs = runs.copy()
        runs.loc[bad, "status"] = "invalid"
        runs.loc[bad, "error"] = "invalid: an outcome is infinite"
    return runs


def load_ema(root: str | Path, include_failed: bool = False,
             ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """A sweep as the EMA Workbench's ``(experiments, outcomes)`` pair.

    ``experiments`` has one row per run: a column per swept parameter, then ``scenario``
    (the run's index, point x replicates + replicate), ``policy`` and ``model`` as the
    Workbench writes them; ``outcomes`` maps each outcome name to a 1-D array aligned with
    the rows. Failed runs are left out with a warning that counts them (or kept, with NaN
    outcomes, if ``include_failed``). All of the Workbench's analysis -- ``prim.Prim``,
    ``feature_scoring``, ``cart``, ``dimensional_stacking`` -- applies to the pair.
    """
    sweep = load_sweep(root, require_complete=False)
    runs = sweep.runs
    n_failed = int((runs["status"] != "ok").sum())
    if n_failed and not include_failed:
        warnings.warn(f"load_ema: {n_failed} failed runs of {len(runs)} left out "
                      f"(include_failed=True keeps them)", UserWarning, stacklevel=2)
        runs = runs[runs["status"] == "ok"]
    experiments = runs[sweep.design.names].reset_index(drop=True).copy()
    for name in experiments.columns:
        if experiments[name].dtype == object or pd.api.types.is_string_dtype(
                experiments[name]):
            experiments[name] = experiments[name].astype("category")
    replicates = sweep.design.replicates
    experiments["scenario"] = (runs["point"].to_numpy() * replicates
                               + runs["replicate"].to_numpy())
    experiments["policy"] = "none"
    experiments["model"] = sweep.experiment.name
    outcomes = {name: runs[name].to_numpy(dtype=float) for name in sweep.experiment.outcomes}
    return experiments, outcomes


# ------------------------------------------------------------------ numbers per outcome


def replicate_means(sweep: Sweep, values: pd.Series | np.ndarray,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``values`` (aligned with ``sweep.runs``) over each point's successful runs.

    Returns the means and the number of successful runs per point. A mean is NaN where a
    point has no successful run, or where the outcome is undefined (NaN) in one of them.
    """
    ok = (sweep.runs["status"] == "ok").to_numpy()
    v = np.asarray(values, dtype=float)[ok]
    frame = pd.DataFrame({"point": sweep.runs["point"].to_numpy()[ok], "v": v,
                          "undefined": np.isnan(v)})
    grouped = frame.groupby("point")
    index = pd.RangeIndex(sweep.design.n_points)
    means = grouped["v"].mean().reindex(index).to_numpy(dtype=float, copy=True)
    undefined = grouped["undefined"].any().reindex(index, fill_value=False).to_numpy(bool)
    means[undefined] = np.nan
    counts = grouped.size().reindex(index, fill_value=0).to_numpy()
    return means, counts


def stochastic_variance(sweep: Sweep, values: pd.Series | np.ndarray) -> dict[str, float]:
    """How much of the variance is noise between replicates of the same point.

    ``stochastic_share``: within-point (replicate) variance / total run-level variance.
    ``noise_in_means``: the share of the variance of the replicate means (what the
    indices decompose) that is sampling noise, ``mean within variance / replicates``
    divided by the variance of the means.
    """
    ok = (sweep.runs["status"] == "ok").to_numpy()
    frame = pd.DataFrame({"point": sweep.runs["point"].to_numpy()[ok],
                          "v": np.asarray(values, dtype=float)[ok]}).dropna()
    total = float(frame["v"].var(ddof=1)) if len(frame) > 1 else math.nan
    grouped = frame.groupby("point")["v"]
    within_by_point = grouped.var(ddof=1).dropna()
    within = float(within_by_point.mean()) if len(within_by_point) else math.nan
    means = grouped.mean()
    var_means = float(means.var(ddof=1)) if len(means) > 1 else math.nan
    n_rep = float(grouped.count().mean()) if len(means) else math.nan
    share = within / total if total and total > 0 else math.nan
    noise = (within / n_rep) / var_means if var_means and var_means > 0 else math.nan
    return {"total_variance": total, "within_variance": within,
            "stochastic_share": min(share, 1.0) if not math.isnan(share) else share,
            "variance_of_means": var_means, "replicates": n_rep,
            "noise_in_means": min(noise, 1.0) if not math.isnan(noise) else noise}


def _captured(call: Any, captured: list[str] | None) -> Any:
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


def bootstrap_rng(seed: int) -> np.random.Generator:
    """A generator for SALib's Sobol bootstrap: ``sobol.analyze`` tests ``if seed:``, so
    seed 0 would silently draw from numpy's global state; a generator is always honoured."""
    return np.random.default_rng(seed)


def sobol_table(design: Design, y: np.ndarray, resamples: int = 1000,
                seed: int = 0, captured: list[str] | None = None,
                ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """SALib Sobol S1/ST with bootstrap intervals (and S2 if sampled) of ``y`` per point.
    The library's warnings are collected in ``captured``."""
    from SALib.analyze import sobol

    result = _captured(lambda: sobol.analyze(
        design.problem, np.asarray(y, dtype=float), calc_second_order=design.second_order,
        num_resamples=resamples, conf_level=0.95, seed=bootstrap_rng(seed)), captured)
    table = pd.DataFrame({"parameter": design.names, "S1": result["S1"],
                          "S1_conf": result["S1_conf"], "ST": result["ST"],
                          "ST_conf": result["ST_conf"]})
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
    from SALib.analyze import morris

    x = design.x if x is None else x
    result = _captured(lambda: morris.analyze(
        design.problem, x, np.asarray(y, dtype=float), num_resamples=resamples,
        conf_level=0.95, num_levels=design.levels, seed=seed), captured)
    return pd.DataFrame({"parameter": design.names, "mu_star": result["mu_star"],
                         "mu_star_conf": result["mu_star_conf"], "sigma": result["sigma"],
                         "mu": result["mu"]})


#: Largest change of an index between half and all the samples that counts as converged.
CONVERGED = 0.05


def convergence(design: Design, y: np.ndarray, resamples: int = 200, seed: int = 0,
                captured: list[str] | None = None) -> dict[str, Any]:
    """Indices from the first half of the samples against all of them.

    Sobol: ST from the first half of the base samples (each base sample is a block of
    D+2, or 2D+2, design rows); Morris: mu* (scaled by the largest) from the first half of
    the trajectories (D+1 rows each). The indices have converged when no index moves by
    more than ``CONVERGED`` and the ranking of the top three does not change.
    """
    d = len(design.names)
    key = "ST" if design.method == "sobol" else "mu_star"
    block = (2 * d + 2 if design.second_order else d + 2) if design.method == "sobol" \
        else d + 1
    blocks = design.n_points // block
    half = blocks // 2
    out: dict[str, Any] = {"samples": blocks, "half": half, "converged": None,
                           "max_change": float("nan"), "ranking_changed": None,
                           "suggested_samples": None}
    if half < 2:
        return out
    rows = half * block
    if design.method == "sobol":
        full, _ = sobol_table(design, y, resamples, seed, captured)
        part, _ = sobol_table(design, y[:rows], resamples, seed, captured)
        a, b = full[key].to_numpy(), part[key].to_numpy()
    else:
        full = morris_table(design, y, resamples, seed, captured)
        part = morris_table(design, y[:rows], resamples, seed, captured, x=design.x[:rows])
        scale = float(full[key].max()) or 1.0
        a, b = full[key].to_numpy() / scale, part[key].to_numpy() / scale
    top = min(3, d)
    ranking_changed = list(np.argsort(-a, kind="stable")[:top]) != \
        list(np.argsort(-b, kind="stable")[:top])
    change = float(np.nanmax(np.abs(a - b)))
    converged = bool(change <= CONVERGED and not ranking_changed)
    # Monte-Carlo error shrinks as 1/sqrt(N): the samples for the change to fall to the
    # threshold, at least twice the current number.
    factor = max(2.0, (change / CONVERGED) ** 2) if math.isfinite(change) else 2.0
    suggested = int(2 ** math.ceil(math.log2(blocks * factor)))
    out.update(converged=converged, max_change=change, ranking_changed=ranking_changed,
               suggested_samples=None if converged else suggested, index=key)
    return out


def delta_table(design: Design, y: np.ndarray, seed: int = 0,
                captured: list[str] | None = None) -> pd.DataFrame:
    """SALib's moment-independent delta (Borgonovo) and first-order S1 for any design
    with numeric coordinates (LHS in particular), from the points and their means."""
    from SALib.analyze import delta

    result = _captured(lambda: delta.analyze(
        design.problem, design.x, np.asarray(y, dtype=float), num_resamples=100,
        conf_level=0.95, seed=seed), captured)
    # SALib >= 1.6 reports the raw and a bias-balanced estimator; older ones 'delta'
    key = "delta" if "delta" in result else "delta_raw"
    return pd.DataFrame({"parameter": design.names, "delta": result[key],
                         "delta_conf": result[f"{key}_conf"], "S1": result["S1"],
                         "S1_conf": result["S1_conf"]})


def pilot_months(sweep: Sweep) -> np.ndarray | None:
    """Each run's pilot month (NaN without a pilot), from the stored outcomes."""
    runs, outcomes = sweep.runs, sweep.experiment.outcomes
    if "pilot_month" in outcomes:
        return runs["pilot_month"].to_numpy(dtype=float)
    if "time_to_pilot" in outcomes and "pilot" in outcomes:
        return np.where(runs["pilot"].to_numpy(dtype=float) > 0.5,
                        runs["time_to_pilot"].to_numpy(dtype=float), np.nan)
    return None


def reached_pilot(sweep: Sweep) -> np.ndarray | None:
    """1 where a run reached a pilot by the horizon, from ``pilot`` or the pilot month."""
    if "pilot" in sweep.experiment.outcomes:
        return sweep.runs["pilot"].to_numpy(dtype=float)
    months = pilot_months(sweep)
    return None if months is None else (~np.isnan(months)).astype(float)


def horizon(sweep: Sweep, months: np.ndarray) -> int:
    """The sweep's horizon: ``months`` for the project's model, else the data's."""
    if sweep.experiment.is_project_model:
        return sweep.experiment.months
    finite = months[np.isfinite(months)]
    top = float(finite.max()) if len(finite) else 0.0
    return int(math.ceil(top / MONTH_STEP) * MONTH_STEP)


def pilot_by_month(sweep: Sweep, resamples: int = 1000, captured: list[str] | None = None,
                   ) -> tuple[pd.DataFrame, list[str]]:
    """Sobol indices of P(pilot by month m) for m = 6, 12, ... up to the horizon.

    Months at which the probability is the same at every point (e.g. no pilot anywhere
    yet) have no indices; they are named in the returned notes.
    """
    months = pilot_months(sweep)
    notes: list[str] = []
    if months is None:
        return pd.DataFrame(), ["no pilot month stored: time-varying indices skipped"]
    end = horizon(sweep, months)
    rows = []
    for m in range(MONTH_STEP, end + 1, MONTH_STEP):
        by_m = (months <= m).astype(float)
        y, _ = replicate_means(sweep, by_m)
        if np.isnan(y).any():
            notes.append(f"month {m}: points without a successful run; no indices")
            continue
        if np.ptp(y) == 0:
            notes.append(f"month {m}: P(pilot) = {y[0]:.2f} at every point; no indices")
            continue
        table, _ = sobol_table(sweep.design, y, resamples, seed=sweep.experiment.seed + m,
                               captured=captured)
        table.insert(0, "month", m)
        table["p_pilot"] = float(np.mean(y))
        table["noise_in_means"] = stochastic_variance(sweep, by_m)["noise_in_means"]
        rows.append(table)
    return (pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()), notes


# ------------------------------------------------------------------------------- PRIM


@dataclass
class PrimResult:
    """PRIM boxes of one case of interest, with the first box's peeling trajectory."""

    boxes: pd.DataFrame  # one row per restricted parameter per box
    stats: pd.DataFrame  # one row per box: coverage, density, mass, res_dim
    trajectory: pd.DataFrame  # peeling trajectory of box 1
    selected: int  # index of the chosen box on that trajectory
    base_rate: float
    ranges: dict[str, tuple[Any, Any]]


def prim_boxes(x: pd.DataFrame, y: np.ndarray, max_boxes: int = 3, mass_min: float = 0.05,
               max_dims: int = 4, min_coverage: float = 0.1) -> PrimResult:
    """Scenario discovery with the EMA Workbench's PRIM (``ema_workbench.analysis.prim``).

    PRIM proposes a peeling trajectory of ever smaller, denser boxes; the analyst picks
    one. Here the pick is automatic and stated: among the boxes restricting at most
    ``max_dims`` parameters (so that they can be read), the one of highest coverage whose
    density is at least halfway from the base rate to 1 -- or the densest if none is.
    Further boxes are sought among the remaining cases while they hold at least
    ``min_coverage`` of the cases at a density above the base rate.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim

    y = np.asarray(y, dtype=bool)
    x = x.reset_index(drop=True)
    for name in x.columns:
        if x[name].dtype == bool or x[name].dtype == object or pd.api.types.is_string_dtype(
                x[name]):
            x[name] = x[name].astype(str).astype("category")
        elif pd.api.types.is_integer_dtype(x[name]):
            # EMA's pasting writes midpoints into the box limits; integer limits (pandas 3)
            # reject them, so integer levers are treated as real numbers.
            x[name] = x[name].astype(float)
    base = float(y.mean())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the Workbench's own pandas deprecations
        finder = prim.Prim(x, y, mass_min=mass_min)
    threshold = base + 0.5 * (1.0 - base)
    box_rows, stat_rows = [], []
    trajectory, selected = pd.DataFrame(), 0
    init = finder.box_init
    ranges = {name: _limits(init, name) for name in x.columns}
    for b in range(max_boxes):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            box = finder.find_box()
        if box is None:
            break
        traj = box.peeling_trajectory.reset_index(drop=True)
        readable = traj[(traj["res_dim"] <= max_dims) & (traj["res_dim"] > 0)]
        if not len(readable):
            break
        meets = readable[readable["density"] >= threshold]
        i = int(meets["coverage"].idxmax()) if len(meets) else int(
            readable["density"].idxmax())
        box.select(i)
        if b == 0:
            trajectory, selected = traj, i
        elif traj.loc[i, "density"] <= base or traj.loc[i, "coverage"] < min_coverage:
            break
        limits = box.box_lims[i]
        restricted = [n for n in x.columns if _limits(limits, n) != ranges[n]]
        stat_rows.append({"box": b + 1, "coverage": float(traj.loc[i, "coverage"]),
                          "density": float(traj.loc[i, "density"]),
                          "mass": float(traj.loc[i, "mass"]),
                          "res_dim": len(restricted), "cases": int(traj.loc[i, "k"]),
                          "runs": int(traj.loc[i, "n"])})
        qp = box.p_values[i] if i < len(box.p_values) else {}
        for name in restricted:
            low, high = _limits(limits, name)
            full_low, full_high = ranges[name]
            q = qp.get(name, [math.nan, math.nan])
            box_rows.append({"box": b + 1, "parameter": name, "low": low, "high": high,
                             "range_low": full_low, "range_high": full_high,
                             "qp_low": _qp(q[0]), "qp_high": _qp(q[1])})
    return PrimResult(pd.DataFrame(box_rows), pd.DataFrame(stat_rows), trajectory, selected,
                      base, ranges)


def _limits(box: pd.DataFrame, name: str) -> tuple[Any, Any]:
    column = box[name]
    low, high = column.iloc[0], column.iloc[1]
    if isinstance(low, set | frozenset):
        text = ", ".join(sorted(str(v) for v in low))
        return text, text
    return float(low), float(high)


def _qp(value: Any) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return math.nan
    return math.nan if value < 0 else value


# --------------------------------------------------------------------------- analyze


def analyze(root: str | Path, resamples: int = 1000, formats: Sequence[str] = ("png",),
            prim_outcome: str | None = None, prim_threshold: float = 0.5,
            prim_above: bool = False) -> AnalysisResult:
    """Analyse the sweep in ``root``; write CSV, figures (in every format of ``formats``)
    and ``summary.md`` to ``root/analysis``.

    PRIM looks for where stalling (no pilot by the horizon) concentrates, or, with
    ``prim_outcome``, where that outcome is below ``prim_threshold`` (above it with
    ``prim_above``).
    """
    from sim.core.limits import check_size
    from sim.report import figures as plots

    check_size("resamples", resamples)
    sweep = load_sweep(root)
    exp = sweep.experiment
    if prim_outcome is not None and prim_outcome not in sweep.runs.columns:
        raise UsageError(f"--prim-outcome: unknown outcome '{prim_outcome}'; the sweep has: "
                         f"{', '.join(exp.outcomes)}")
    from sim.experiment.safepaths import refuse_symlinks

    refuse_symlinks(sweep.root, "analyze")  # nothing written through a link in DIR
    out = sweep.root / "analysis"
    out.mkdir(exist_ok=True)
    result = AnalysisResult(exp.name, out)
    md = _Summary(sweep)

    def csv(frame: pd.DataFrame, name: str) -> None:
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False, float_format="%.6g")
        path = out / name
        write_atomic(path, buffer.getvalue().encode("utf-8"))
        result.files.append(path)

    def figure(fig: Any, name: str) -> None:
        stem = Path(name).stem
        for fmt in formats:
            result.files.append(plots.save(fig, out / f"{stem}.{fmt}"))

    # Failed runs: counted, listed, never dropped silently.
    failed = sweep.failed
    if len(failed):
        csv(failed[["point", "replicate", "seed", *sweep.design.names, "status", "error"]],
            "failed_runs.csv")
    md.failures(failed)

    colours, legend = _level_colours(sweep.design.names)
    noise_rows = []
    for outcome in exp.outcomes:
        values = sweep.runs[outcome]
        y, counts = replicate_means(sweep, values)
        noise = stochastic_variance(sweep, values)
        noise_rows.append({"outcome": outcome, **noise})
        label = _label(outcome)
        why = _cannot_index(y, counts, outcome)
        if exp.method == "lhs":
            if why:
                md.skipped(outcome, why)
                result.notes.append(f"{outcome}: {why}")
                continue
            table = delta_table(sweep.design, y, seed=exp.seed, captured=md.library_warnings)
            csv(table, f"delta_{outcome}.csv")
            md.delta(outcome, table, noise)
            continue
        if exp.method not in ("sobol", "morris"):
            continue
        if why:
            md.skipped(outcome, why)
            result.notes.append(f"{outcome}: {why}")
            continue
        check = convergence(sweep.design, y, min(resamples, 200), exp.seed,
                            md.library_warnings)
        if exp.method == "sobol":
            table, pairs = sobol_table(sweep.design, y, resamples, seed=exp.seed,
                                       captured=md.library_warnings)
            csv(table, f"sobol_{outcome}.csv")
            if pairs is not None:
                csv(pairs, f"sobol_{outcome}_S2.csv")
            figure(plots.sensitivity_bars(table, f"Sobol indices of {label}",
                                          noise["noise_in_means"], colours, legend),
                   f"sobol_{outcome}.png")
            md.sobol(outcome, table, noise, pairs)
            md.convergence(outcome, check)
        else:
            table = morris_table(sweep.design, y, resamples, seed=exp.seed,
                                 captured=md.library_warnings)
            csv(table, f"morris_{outcome}.csv")
            figure(plots.morris_scatter(table, f"Morris screening of {label}", colours,
                                        legend),
                   f"morris_{outcome}.png")
            md.morris(outcome, table, noise)
            md.convergence(outcome, check)
    noise_table = pd.DataFrame(noise_rows)
    csv(noise_table, "stochastic_variance.csv")
    md.noise(noise_table)

    if exp.method == "sobol" and pilot_months(sweep) is not None:
        by_month, notes = pilot_by_month(sweep, resamples, md.library_warnings)
        result.notes += notes
        if len(by_month):
            csv(by_month, "sobol_pilot_by_month.csv")
            # The figure shows the months whose indices are not dominated by noise.
            shown = by_month[by_month["noise_in_means"] < NOISY]
            figure(plots.sensitivity_over_time(
                shown if len(shown) else by_month,
                "Which levers decide P(pilot by month m): early and late"
                + (f" (months with replicate noise < {NOISY:.0%})" if len(shown) else "")),
                "sobol_pilot_by_month.png")
        md.by_month(by_month, notes)

    if exp.method == "grid":
        for outcome in exp.outcomes:
            y, counts = replicate_means(sweep, sweep.runs[outcome])
            frame = pd.DataFrame(sweep.design.point_columns)
            frame[f"mean_{outcome}"] = y
            frame["ok_runs"] = counts
            csv(frame, f"grid_{outcome}.csv")
        md.grid(sweep)

    reached = reached_pilot(sweep)
    case = "stalled projects (no pilot by the horizon)"
    if prim_outcome is not None:
        reached = sweep.runs[prim_outcome].to_numpy(dtype=float)
        case = (f"runs with {_label(prim_outcome)} {'above' if prim_above else 'below'} "
                f"{prim_threshold:g}")
    if reached is not None:
        ok = (sweep.runs["status"] == "ok").to_numpy()
        value = reached[ok]
        if prim_outcome is None:
            stall = value < 0.5
        else:
            stall = value > prim_threshold if prim_above else value < prim_threshold
        if 0 < stall.sum() < len(stall):
            x = sweep.runs.loc[ok, sweep.design.names]
            found = prim_boxes(x, stall)
            csv(found.stats, "prim_stall_boxes.csv")
            csv(found.boxes, "prim_stall_limits.csv")
            csv(found.trajectory, "prim_stall_trajectory.csv")
            figure(plots.prim_tradeoff(found.trajectory, found.selected, f"PRIM: {case}"),
                   "prim_stall_tradeoff.png")
            if len(found.boxes):
                figure(plots.prim_box_limits(found.boxes, found.stats,
                                             f"PRIM boxes: {case}"),
                       "prim_stall_limits.png")
            md.prim(found, case if prim_outcome is not None else None)
        else:
            md.prim_skipped(float(stall.mean()) if len(stall) else math.nan)

    md.warnings()
    summary = out / "summary.md"
    write_atomic(summary, md.text().encode("utf-8"))
    result.files.append(summary)
    return result


def _cannot_index(y: np.ndarray, counts: np.ndarray, outcome: str) -> str | None:
    missing = int(np.sum(counts == 0))
    if missing:
        return (f"{missing} design points have no successful run (all failed or invalid), so "
                f"the design is broken and the indices of {outcome} cannot be computed (see "
                f"failed_runs.csv)")
    if np.isinf(y).any():  # never reached: infinite runs are invalid, not ok
        return f"{outcome} is infinite at {int(np.isinf(y).sum())} points"
    if np.isnan(y).any():
        n = int(np.isnan(y).sum())
        return (f"the outcome is undefined at {n} points (e.g. no pilot, so no pilot month); "
                f"index a censored outcome such as time_to_pilot instead")
    if np.ptp(y) == 0:
        return f"{outcome} is {y[0]:g} at every design point; nothing to apportion"
    return None


def _code_words(manifest: dict[str, Any]) -> str:
    """The code that wrote the sweep, or the code versions it mixes (allowed by the user)."""
    mixed = manifest.get("mixed_code", {})
    if mixed.get("allowed") and len(mixed.get("versions", [])) > 1:
        return ("**mixed code versions**, allowed with --allow-mixed-code: "
                + "; ".join(code_label(v["code"]) for v in mixed["versions"]))
    return f"code commit `{str(manifest.get('git', {}).get('commit'))[:12]}`"


def _label(outcome: str) -> str:
    if outcome in BINARY_HINT:
        return f"P({outcome})"
    return outcome.replace("_", " ")


def _level_colours(names: Sequence[str]) -> tuple[list[str], dict[str, str] | None]:
    """Colours of the levers by level (registry parameters), and the legend for them."""
    from sim.core.registry import PARAMETERS
    from sim.report.figures import CYCLE, LEVEL_COLOURS

    if not all(n in PARAMETERS for n in names):
        return [CYCLE[0]] * len(names), None
    levels = [PARAMETERS[n].level for n in names]
    legend = {f"{level} level": LEVEL_COLOURS[level] for level in LEVEL_COLOURS
              if level in levels}
    return [LEVEL_COLOURS[level] for level in levels], legend


# --------------------------------------------------------------------------- summary.md


def _pct(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{100 * value:.0f}%"


def _index(value: float, conf: float) -> str:
    """An index in words: 'indistinguishable from 0' when negative or its interval
    spans 0, else a percentage with its interval."""
    if math.isnan(value):
        return "n/a"
    if value - conf <= 0:
        return "indistinguishable from 0"
    return f"{_pct(value)} [{_pct(value - conf)}, {_pct(value + conf)}]"


def _zero_mark(value: float, conf: float) -> str:
    return " \\*" if not math.isnan(value) and value - conf <= 0 else ""


def _num(value: Any, digits: int = 2) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


class _Summary:
    """Builds ``summary.md``: plain words first, numbers and files after."""

    def __init__(self, sweep: Sweep) -> None:
        self.sweep = sweep
        exp, design, manifest = sweep.experiment, sweep.design, sweep.manifest
        self.head = [f"# {exp.name}: what the sweep says", ""]
        if exp.description:
            self.head += [exp.description, ""]
        model = ("the project's model" + (f", scenario `{exp.scenario}`, horizon "
                                          f"{exp.months} months"
                                          if exp.is_project_model else "")
                 if exp.is_project_model else f"plug-in model `{exp.model}`")
        started, finished = manifest.get("started"), manifest.get("finished")
        self.head += [
            f"- **Design**: {exp.method}, {design.n_points:,} parameter combinations x "
            f"{design.replicates} replicate{'s' if design.replicates > 1 else ''} = "
            f"{design.n_runs:,} simulated {'projects' if exp.is_project_model else 'runs'} "
            f"of {model}.",
            f"- **Levers varied**: {', '.join(f'`{n}`' for n in design.names)}.",
            f"- **Ran**: {started} to {finished}; experiment file sha256 "
            f"`{manifest['experiment']['sha256'][:12]}`, {_code_words(manifest)}.",
            "",
            "Indices are computed on the mean over each combination's replicates -- for a "
            "yes/no outcome such as reaching a pilot, the probability. Ranges in square "
            "brackets are 95% bootstrap confidence intervals.",
            "",
        ]
        self.body: list[str] = []
        self.library_warnings: list[str] = []

    def failures(self, failed: pd.DataFrame) -> None:
        n, total = len(failed), len(self.sweep.runs)
        if not n:
            self.head += [f"- **Failed runs**: none of {total:,}.", ""]
            return
        points = failed["point"].nunique()
        invalid = int((failed["status"] == "invalid").sum())
        of_which = (f" ({invalid:,} of them invalid: an outcome was infinite, so the run is "
                    f"excluded from every index and mean)" if invalid else "")
        first = failed["error"].dropna().astype(str).value_counts().head(3)
        self.head += [f"- **Failed runs**: {n:,} of {total:,} ({_pct(n / total)}){of_which} "
                      f"at {points:,} combinations, excluded from the analysis; means use "
                      f"the successful replicates. "
                      f"All are listed in `failed_runs.csv`. Most common errors:"]
        self.head += [f"  - {count} x `{error[:160]}`" for error, count in first.items()]
        self.head.append("")

    def skipped(self, outcome: str, why: str) -> None:
        self.body += [f"## {_label(outcome)}", "", f"No indices: {why}.", ""]

    def sobol(self, outcome: str, table: pd.DataFrame, noise: dict[str, float],
              pairs: pd.DataFrame | None) -> None:
        label = _label(outcome)
        ranked = table.sort_values("ST", ascending=False)
        lines = [f"## What drives {label}", ""]
        if noise["noise_in_means"] < NOISY:
            words = []
            for _, row in ranked.head(3).iterrows():
                words.append(f"`{row.parameter}` (alone {_index(row.S1, row.S1_conf)}, "
                             f"with its interactions {_index(row.ST, row.ST_conf)})")
            lines += ["The levers that matter most: " + "; ".join(words) + ".", ""]
            first, total = float(table["S1"].sum()), float(table["ST"].sum())
            lines += [f"The first-order indices (S1) sum to {_num(first)} and the total "
                      f"indices (ST) to {_num(total)}, as computed (estimates, each with its "
                      f"own error). For a model whose levers act alone both sums are 1; "
                      + ("the gap between them points to levers acting together (an "
                         "interaction is counted in the ST of every lever in it)"
                         if total - first > 0.1 else
                         "the two sums are close, so interactions are small")
                      + ("; a sum of ST above 1 can also come from noise left in the means"
                         if total > 1 else "") + ".", ""]
            spans = [r.parameter for r in table.itertuples() if r.S1 - r.S1_conf <= 0]
            if spans:
                lines += [f"S1 indistinguishable from 0 (negative, or its interval spans "
                          f"0): {', '.join(f'`{p}`' for p in spans)}.", ""]
        lines += self._noise_words(noise)
        lines += ["| lever | S1 [95% CI] | ST [95% CI] |", "|---|---|---|"]
        for _, row in ranked.iterrows():
            lines.append(f"| `{row.parameter}` | {_num(row.S1)} "
                         f"[{_num(row.S1 - row.S1_conf)}, {_num(row.S1 + row.S1_conf)}]"
                         f"{_zero_mark(row.S1, row.S1_conf)} | "
                         f"{_num(row.ST)} [{_num(row.ST - row.ST_conf)}, "
                         f"{_num(row.ST + row.ST_conf)}]{_zero_mark(row.ST, row.ST_conf)} |")
        lines += ["", "(\\* indistinguishable from 0: the index is negative or its 95% "
                  "interval spans 0.)", "",
                  f"Files: `sobol_{outcome}.csv`, `sobol_{outcome}.png`"
                  + (f", `sobol_{outcome}_S2.csv`" if pairs is not None else "") + ".", ""]
        self.body += lines

    def morris(self, outcome: str, table: pd.DataFrame, noise: dict[str, float]) -> None:
        label = _label(outcome)
        ranked = table.sort_values("mu_star", ascending=False)
        top = ranked.iloc[0]["mu_star"] if len(ranked) else 0.0
        small = ranked[ranked["mu_star"] < 0.1 * top]["parameter"].tolist() if top > 0 else []
        lines = [f"## Screening {label}", "",
                 "Levers ranked by mu* (mean absolute effect of moving the lever across "
                 "its range); a large sigma means the effect depends on the other levers.",
                 ""]
        lines += ["Most influential: " + ", ".join(f"`{p}`" for p in
                                                   ranked["parameter"].head(5)) + ".", ""]
        if small:
            lines += [f"Negligible (mu* below a tenth of the largest): "
                      f"{', '.join(f'`{p}`' for p in small)}.", ""]
        switches = [lv.name for lv in self.sweep.design.levers if lv.arrow_type == "bool"]
        if switches:
            lines += [f"Switches ({', '.join(f'`{p}`' for p in switches)}) are on/off: their "
                      "mu* averages Morris steps that flip the switch and steps that do not, "
                      "so it ranks them but understates the effect of switching; a grid "
                      "compares their two values directly.", ""]
        lines += self._noise_words(noise)
        lines += ["| lever | mu* [95% CI] | sigma |", "|---|---|---|"]
        for _, row in ranked.iterrows():
            lines.append(f"| `{row.parameter}` | {_num(row.mu_star, 3)} "
                         f"[{_num(row.mu_star - row.mu_star_conf, 3)}, "
                         f"{_num(row.mu_star + row.mu_star_conf, 3)}]"
                         f"{_zero_mark(row.mu_star, row.mu_star_conf)} | "
                         f"{_num(row.sigma, 3)} |")
        lines += ["", f"Files: `morris_{outcome}.csv`, `morris_{outcome}.png`.", ""]
        self.body += lines

    @staticmethod
    def _noise_words(noise: dict[str, float]) -> list[str]:
        if math.isnan(noise["within_variance"]):
            return ["Noise: with one replicate per combination the noise between runs of "
                    "the same levers cannot be estimated; for a stochastic model the "
                    "indices below include it.", ""]
        lines = [f"Noise: {_pct(noise['stochastic_share'])} of the run-to-run variance is "
                 f"chance (replicates of the same levers differ); averaging "
                 f"{noise['replicates']:.0f} replicates leaves "
                 f"{_pct(noise['noise_in_means'])} of the variance the indices apportion as "
                 f"noise.", ""]
        if noise["noise_in_means"] >= NOISY:
            lines += ["**Caution**: with this much noise the indices below mostly measure "
                      "chance (total indices of noise-dominated outcomes can exceed 1). Run "
                      "more replicates before reading them.", ""]
        return lines

    def noise(self, table: pd.DataFrame) -> None:
        self.body += ["## How much is chance", "",
                      "| outcome | stochastic share of run variance | noise left in the "
                      "replicate means |", "|---|---|---|"]
        for _, row in table.iterrows():
            self.body.append(f"| {row.outcome} | {_pct(row.stochastic_share)} | "
                             f"{_pct(row.noise_in_means)} |")
        self.body += ["", "File: `stochastic_variance.csv`.", ""]

    def by_month(self, table: pd.DataFrame, notes: list[str]) -> None:
        lines = ["## Early and late levers: P(pilot by month m)", ""]
        if not len(table):
            lines += ["No time-varying indices: " + "; ".join(notes) + ".", ""]
            self.body += lines
            return
        noise = table.groupby("month")["noise_in_means"].first()
        reliable = [m for m in sorted(noise.index) if noise[m] < NOISY]
        if not reliable:
            lines += [f"At every month, replicate noise is at least {_pct(NOISY)} of the "
                      f"variance the indices apportion: the indices mostly measure noise. "
                      f"Run more replicates.", ""]
            self.body += lines
            return
        first, last = reliable[0], reliable[-1]

        def leaders(m: int) -> str:
            rows = table[table["month"] == m].sort_values("ST", ascending=False).head(3)
            return ", ".join(f"`{r.parameter}` (ST {_num(r.ST)})" for r in rows.itertuples())

        p_first = table[table["month"] == first]["p_pilot"].iloc[0]
        p_last = table[table["month"] == last]["p_pilot"].iloc[0]
        lines += [f"By month {first} ({_pct(p_first)} of projects have a pilot) the levers "
                  f"that decide it are {leaders(first)}.",
                  f"By month {last} ({_pct(p_last)}) they are {leaders(last)}.", ""]
        lines += [f"Replicate noise is {_pct(noise[first])} of the variance these indices "
                  f"apportion at month {first} and {_pct(noise[last])} at month {last}; "
                  f"indices no larger than that are indistinguishable from noise.", ""]
        noisy = [m for m in sorted(noise.index) if noise[m] >= NOISY]
        if noisy:
            which = (f"Month {noisy[0]} is" if len(noisy) == 1
                     else f"Months {', '.join(map(str, noisy))} are")
            lines += [f"{which} left out of this comparison: "
                      f"too few pilots by then, so noise is {_pct(NOISY)} or more of the "
                      f"variance (their indices are in the CSV, but are not to be trusted).",
                      ""]
        early = table[table["month"] == first].set_index("parameter")
        late = table[table["month"] == last].set_index("parameter")
        gain = (late["ST"] - early["ST"]).sort_values()
        # a change counts only where the two 95% intervals do not overlap
        beyond = (late["ST"] - early["ST"]).abs() > (late["ST_conf"] + early["ST_conf"])
        if len(gain) and first != last:
            moves = []
            up, down = gain.index[-1], gain.index[0]
            if gain[up] > 0 and beyond[up]:
                moves.append(f"gaining most weight over time: `{up}` ({_num(early.ST[up])} "
                             f"-> {_num(late.ST[up])})")
            if gain[down] < 0 and beyond[down]:
                moves.append(f"losing most: `{down}` ({_num(early.ST[down])} -> "
                             f"{_num(late.ST[down])})")
            if moves:
                text = "; ".join(moves)
                lines += [text[0].upper() + text[1:] + " (changes beyond the two months' "
                          "95% intervals).", ""]
            else:
                lines += [f"No lever's total index changes between month {first} and month "
                          f"{last} by more than the two months' 95% intervals: no trend can "
                          f"be told from noise at these samples.", ""]
        if notes:
            lines += ["Not computed: " + "; ".join(notes) + ".", ""]
        lines += ["Files: `sobol_pilot_by_month.csv`, `sobol_pilot_by_month.png`.", ""]
        self.body += lines

    def grid(self, sweep: Sweep) -> None:
        lines = ["## The grid, lever by lever", "",
                 "Mean outcome at each level of each lever, averaged over the other levers.",
                 ""]
        for outcome in sweep.experiment.outcomes:
            y, _ = replicate_means(sweep, sweep.runs[outcome])
            frame = pd.DataFrame(sweep.design.point_columns)
            frame["y"] = y
            lines += [f"### {_label(outcome)}", "", "| lever | level | mean |", "|---|---|---|"]
            for name in sweep.design.names:
                for level, mean in frame.groupby(name)["y"].mean().items():
                    lines.append(f"| `{name}` | {level} | {_num(mean, 3)} |")
            best = frame.loc[frame["y"].idxmax()] if frame["y"].notna().any() else None
            if best is not None:
                setting = ", ".join(f"`{n}` = {best[n]}" for n in sweep.design.names)
                lines += ["", f"Highest mean {_label(outcome)}: {_num(best['y'], 3)} at "
                          f"{setting}."]
            lines += ["", f"File: `grid_{outcome}.csv`.", ""]
        self.body += lines

    def prim(self, found: PrimResult, case: str | None = None) -> None:
        if case is None:
            lines = ["## Where projects stall (PRIM scenario discovery)", "",
                     f"A project *stalls* when it has no pilot by the horizon: "
                     f"{_pct(found.base_rate)} of all runs. PRIM (EMA Workbench) looks for "
                     f"ranges of the levers where stalling is concentrated. *Coverage* is the "
                     f"share of all stalls that fall in the box; *density* the share of "
                     f"projects in the box that stall.", ""]
        else:
            lines = ["## Where the cases of interest are (PRIM scenario discovery)", "",
                     f"Cases of interest: {case}, {_pct(found.base_rate)} of all runs. PRIM "
                     f"(EMA Workbench) looks for ranges of the levers where they concentrate. "
                     f"In the boxes below 'stall' reads as 'is a case of interest'.", ""]
        limits = found.boxes
        for _, stat in found.stats.iterrows():
            rows = limits[limits["box"] == stat["box"]] if len(limits) else limits
            conds = []
            for _, r in rows.iterrows():
                if isinstance(r["low"], str):
                    conds.append(f"`{r.parameter}` in {{{r.low}}}")
                elif r["low"] > r["range_low"] and r["high"] < r["range_high"]:
                    conds.append(f"{_num(r.low)} <= `{r.parameter}` <= {_num(r.high)}")
                elif r["low"] > r["range_low"]:
                    conds.append(f"`{r.parameter}` >= {_num(r.low)}")
                else:
                    conds.append(f"`{r.parameter}` <= {_num(r.high)}")
            where = " and ".join(conds) if conds else "anywhere"
            lines.append(f"- **Box {int(stat['box'])}**: when {where}, {_pct(stat.density)} "
                         f"of projects stall (vs {_pct(found.base_rate)} overall); the box "
                         f"holds {_pct(stat.coverage)} of all stalls and {_pct(stat.mass)} "
                         f"of the runs.")
        lines += ["", "Files: `prim_stall_boxes.csv`, `prim_stall_limits.csv` (restricted "
                  "ranges, with quasi-p values), `prim_stall_trajectory.csv`, "
                  "`prim_stall_tradeoff.png`, `prim_stall_limits.png`.", ""]
        self.body += lines

    def prim_skipped(self, rate: float) -> None:
        self.body += ["## Where projects stall", "",
                      f"No scenario discovery: {_pct(rate)} of runs stall, so there is "
                      f"nothing to separate.", ""]

    def convergence(self, outcome: str, check: dict[str, Any]) -> None:
        """The half-samples check, as a plain warning where the indices have not settled."""
        if check["converged"] is None:
            self.body += [f"Convergence of {_label(outcome)}: not checked ({check['samples']} "
                          "samples are too few to halve).", ""]
        elif check["converged"]:
            self.body += [f"Convergence: with half the samples ({check['half']}) every "
                          f"{check['index']} is within {_num(check['max_change'])} of the "
                          f"value from all {check['samples']} and the top three keep their "
                          f"order.", ""]
        else:
            why = []
            if check["max_change"] > CONVERGED:
                why.append(f"an index moves by {_num(check['max_change'])} between half "
                           f"({check['half']}) and all ({check['samples']}) samples")
            if check["ranking_changed"]:
                why.append("the order of the top three levers changes")
            self.body += [f"**Warning: the indices of {_label(outcome)} have not converged**"
                          f" -- {' and '.join(why)}. Read rankings as provisional and run "
                          f"again with `samples = {check['suggested_samples']}` or more.", ""]

    def delta(self, outcome: str, table: pd.DataFrame, noise: dict[str, float]) -> None:
        label = _label(outcome)
        ranked = table.sort_values("delta", ascending=False)
        lines = [f"## What drives {label} (moment-independent delta)", "",
                 "A Latin hypercube has no Sobol or Morris structure, so the indices are "
                 "SALib's delta (Borgonovo: how far the outcome's whole distribution shifts "
                 "when a lever is known, 0 = not at all) and a first-order S1 estimated from "
                 "the same points. Ranges are 95% bootstrap intervals.", ""]
        lines += self._noise_words(noise)
        lines += ["| lever | delta [95% CI] | S1 [95% CI] |", "|---|---|---|"]
        for r in ranked.itertuples():
            lines.append(f"| `{r.parameter}` | {_num(r.delta)} [{_num(r.delta - r.delta_conf)}"
                         f", {_num(r.delta + r.delta_conf)}]{_zero_mark(r.delta, r.delta_conf)}"
                         f" | {_num(r.S1)} [{_num(r.S1 - r.S1_conf)}, "
                         f"{_num(r.S1 + r.S1_conf)}]{_zero_mark(r.S1, r.S1_conf)} |")
        lines += ["", "(\\* indistinguishable from 0.)", "", f"File: `delta_{outcome}.csv`.",
                  ""]
        self.body += lines

    def warnings(self) -> None:
        if self.library_warnings:
            self.body += ["## Warnings from the libraries", "",
                          "SALib and numpy warned while computing the indices (each warning "
                          "once):", "",
                          *[f"- `{w}`" for w in self.library_warnings], ""]

    def text(self) -> str:
        return "\n".join(self.head + self.body).rstrip() + "\n"
