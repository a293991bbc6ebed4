"""Analysis of a sweep: sensitivity (SALib), noise, time-varying indices, PRIM (EMA).

Everything works on a sweep directory written by ``icsim sweep``:

* Sobol S1/ST (S2 where sampled) and Morris mu*/sigma on the *replicate means* of each
  design point -- for a binary outcome such as reaching a pilot, the probability -- with
  bootstrap confidence intervals (SALib);
* beside them, the stochastic share of variance: how much of the run-to-run variance is
  noise between replicates of the same point, and how much of that noise is left in the
  means the indices decompose;
* indices over time: of every monthly outcome an experiment records (``[timeseries]``)
  at every recorded month -- Sobol S1/ST, Morris mu*/sigma or, for a Latin hypercube,
  delta -- read one month at a time from ``DIR/timeseries`` (:func:`indices_over_time`);
  Sobol indices of P(pilot by month m), every six months, from the stored pilot month, are
  one case of the same machinery (:func:`pilot_by_month`): which levers matter early and
  which late;
* scenario discovery of stalling projects (no pilot by the horizon) with the EMA
  Workbench's PRIM;
* :func:`load_ema`, the sweep as the EMA Workbench's ``(experiments, outcomes)`` pair.

Failed runs are counted and reported (``failed_runs.csv`` and the summary); means are
taken over the successful replicates of each point, and an index that cannot be computed
(a point without any successful run, a constant outcome) is reported as such, never as NaN
numbers. Invalid runs (an infinite outcome: status ``invalid``) are left out like failed
ones, counted apart in the summary; no index is ever computed from an infinite value.

This module computes (:func:`compute` returns a :class:`SweepAnalysis`); the indices come
from ``sim.analysis.indices``, the boxes from ``sim.analysis.prim``, and
``sim.report.analysis`` writes the CSV, the figures and ``summary.md``.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.analysis.indices import convergence, delta_table, morris_table, sobol_table
from sim.analysis.prim import PrimResult, prim_boxes
from sim.core.errors import UsageError
from sim.core.limits import check_size
from sim.experiment.design import Design, make_design
from sim.experiment.spec import (
    RESULT_COLUMNS,
    Experiment,
    parse_experiment,
    with_stored_part_size,
)
from sim.experiment.store import SweepStore, mixed_code_message

#: Months between the time-varying Sobol indices of P(pilot by month).
MONTH_STEP = 6
#: Share of noise in the replicate means above which indices are flagged as unreliable.
NOISY = 0.3
#: Outcomes read as probabilities when averaged over replicates.
BINARY_HINT = ("pilot", "integrated", "collapsed", "stalled")


#: The columns of a part every analysis reads (the runner's own); the outcomes follow. The
#: inputs of each run are not read: they are the design's values at its point
#: (``Sweep.inputs``).
RUN_COLUMNS = RESULT_COLUMNS


@dataclass
class Sweep:
    """A finished sweep, read back: its experiment, design and runs.

    ``runs`` holds ``point``, ``replicate``, ``seed``, ``status``, ``error`` and the
    outcomes of every run -- and the varied inputs too only if loaded with ``inputs=True``
    (:func:`load_ema`): each run's inputs are its point's values in the design, so
    :meth:`inputs` gives them for the rows that need them, and memory grows with the runs
    times the outcomes, not times every input (1.9 million runs of 146 inputs were 6.7 GB).
    """

    root: Path
    manifest: dict[str, Any]
    experiment: Experiment
    design: Design
    runs: pd.DataFrame
    #: The time-series parts (``[timeseries]``), in chunk order: read a month at a time.
    series_parts: list[Path] = field(default_factory=list)

    def inputs(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The varied inputs of the runs ``rows`` (rows of ``runs``, their index kept), as
        the parts store them: the design's values at each run's point."""
        points = rows["point"].to_numpy()
        return pd.DataFrame({name: column[points]
                             for name, column in self.design.point_columns.items()},
                            index=rows.index)

    @property
    def ok(self) -> pd.DataFrame:
        return self.runs[self.runs["status"] == "ok"]

    @property
    def failed(self) -> pd.DataFrame:
        """The runs that failed or are invalid, with their inputs (``failed_runs.csv``)."""
        failed = self.runs[self.runs["status"] != "ok"]
        if all(name in failed.columns for name in self.design.names):
            return failed
        return pd.concat([failed, self.inputs(failed)], axis=1)


# ------------------------------------------------------------------------------ loading


def load_sweep(root: str | Path, require_complete: bool = True, inputs: bool = False,
               ) -> Sweep:
    """Read a sweep directory; regenerate its design from the stored experiment file.

    Only the columns :data:`RUN_COLUMNS` and the outcomes of each part are read, unless
    ``inputs`` (then every column, the varied inputs of every run too).

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
    # A sweep over a posterior hashes the draws too (the experiment's text does not name
    # them): the parts carry that hash, so the experiment read back must as well.
    stored = manifest["experiment"]
    if stored.get("posterior_sha256"):
        experiment = dataclasses.replace(
            experiment, posterior_sha256=str(stored["posterior_sha256"]),
            posterior_file=str(stored.get("posterior_file") or ""))
    if stored.get("scenario_sha256"):  # a scenario file's content, hashed when it ran
        experiment = dataclasses.replace(experiment,
                                         scenario_sha256=str(stored["scenario_sha256"]))
    # a sweep written before the default part size changed keeps its parts' size
    experiment = with_stored_part_size(experiment, manifest)
    design = make_design(experiment)
    if design.sha256 != manifest["design"]["sha256"]:
        raise UsageError(f"{root}: the design regenerated from the manifest differs from the "
                         f"sweep's (package versions changed?)")
    resume = (f"icsim national --out {root} --resume (with its other arguments as before)"
              if experiment.source == "icsim national"
              else f"icsim sweep {experiment.source} --out {root} --resume"
              + _posterior_option(experiment))
    columns = True if inputs else [*RUN_COLUMNS, *experiment.outcomes]
    verified = store.verify(experiment, design, manifest, tables=columns)
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
    if not inputs:  # the schema's order, as a full read gives it
        runs = runs[[*RUN_COLUMNS, *experiment.outcomes]]
    runs = runs.sort_values(["point", "replicate"], kind="stable").reset_index(drop=True)
    if require_complete and len(runs) != design.n_runs:
        raise UsageError(
            f"the sweep in {root} is incomplete ({len(runs)} of {design.n_runs} runs); "
            f"complete it with: {resume}")
    series_parts = [path for c in sorted(verified.parts)
                    if (path := verified.parts[c].series) is not None]
    return Sweep(root, manifest, experiment, design, _mark_infinite(runs, experiment.outcomes),
                 series_parts)


def _posterior_option(experiment: Experiment) -> str:
    """The ``--posterior`` a resume of this sweep needs ("" for a sweep without one)."""
    if not experiment.posterior_sha256:
        return ""
    return f" --posterior {experiment.posterior_file or 'FILE (the one the sweep used)'}"


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
    sweep = load_sweep(root, require_complete=False, inputs=True)
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


#: The index each method ranks levers by over time.
RANK_INDEX = {"sobol": "ST", "morris": "mu_star", "delta": "delta"}


def over_time_method(method: str) -> str | None:
    """The indices a design gives over time: sobol, morris, delta (a Latin hypercube), or
    ``None`` (a grid: no indices)."""
    return {"sobol": "sobol", "morris": "morris", "lhs": "delta"}.get(method)


def indices_over_time(sweep: Sweep, months: Iterable[int],
                      values_at: Callable[[int], Mapping[str, np.ndarray]],
                      resamples: int = 1000, captured: list[str] | None = None,
                      ) -> tuple[pd.DataFrame, list[str]]:
    """The indices of monthly outcomes at each month: one row per outcome, month and
    lever, with the outcome's mean over the points (``mean``; for a yes/no series, the
    probability) and the noise left in the replicate means (``noise_in_means``).

    ``values_at(m)`` gives each outcome's values at month ``m``, one per run (aligned
    with ``sweep.runs``): only one month is held at a time. Sobol S1/ST (seeded with the
    experiment's seed + m), Morris mu*/sigma or, for a Latin hypercube, delta. A month at
    which an outcome cannot be indexed (constant over the points, undefined, points
    without a successful run) is named in the returned notes instead.
    """
    method = over_time_method(sweep.experiment.method)
    if method is None:
        return pd.DataFrame(), ["a grid has no sensitivity indices, over time or not"]
    seed = sweep.experiment.seed
    rows: list[pd.DataFrame] = []
    notes: list[str] = []
    for m in months:
        for outcome, values in values_at(m).items():
            v = np.asarray(values, dtype=float)
            y, counts = replicate_means(sweep, v)
            if np.any(counts == 0):
                notes.append(f"month {m}: points without a successful run; no indices")
                continue
            if np.isnan(y).any():
                notes.append(f"month {m}: {label(outcome)} is undefined at "
                             f"{int(np.isnan(y).sum())} points; no indices")
                continue
            if np.ptp(y) == 0:
                notes.append(f"month {m}: {label(outcome)} = {y[0]:.2f} at every point; no "
                             "indices")
                continue
            if method == "sobol":
                table, _ = sobol_table(sweep.design, y, resamples, seed=seed + m,
                                       captured=captured)
            elif method == "morris":
                table = morris_table(sweep.design, y, resamples, seed=seed + m,
                                     captured=captured)
            else:
                table = delta_table(sweep.design, y, seed=seed + m, captured=captured)
            table.insert(0, "month", m)
            table.insert(0, "outcome", outcome)
            table["mean"] = float(np.mean(y))
            table["noise_in_means"] = stochastic_variance(sweep, v)["noise_in_means"]
            rows.append(table)
    return (pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()), notes


#: Bytes of the time series ``analyze`` reads at once: a block of consecutive recorded
#: months (at least one), so that each part's footer is read once a block, not once a
#: month (benchmarks/README.md). The block is held about twice (Arrow, then numpy).
SERIES_BLOCK_BYTES = 16 * 2**20


def _months_of_part(path: Path, months: Sequence[int], first: int,
                    columns: list[str]) -> pa.Table:
    """The rows of one time-series part at ``months`` (consecutive recorded months, the
    first at row group ``first``): the row groups whose statistics admit them (a part
    holds a row group a month, so those at ``first``, ``first + 1``, ..., checked), read
    alone, then filtered on ``month`` -- one part's footer and those months' rows in
    memory at a time."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    low, high = min(months), max(months)
    with open(path, "rb") as fh:
        part = pq.ParquetFile(fh)
        meta, at = part.metadata, part.schema_arrow.get_field_index("month")

        def bounds(group: int) -> tuple[Any, Any] | None:
            stats = meta.row_group(group).column(at).statistics
            return (stats.min, stats.max) if stats is not None and stats.has_min_max \
                else None

        expected = range(first, first + len(months))
        if expected.stop <= meta.num_row_groups and all(
                bounds(g) == (m, m) for g, m in zip(expected, months, strict=True)):
            groups = list(expected)
        else:  # another layout: every row group that may hold one of the months
            groups = [g for g in range(meta.num_row_groups)
                      if (b := bounds(g)) is None or (b[0] <= high and b[1] >= low)]
        table = part.read_row_groups(groups, columns=["month", *columns])
    return table.filter(pc.is_in(table.column("month"), pa.array(list(months), pa.int64())))


def stored_series(sweep: Sweep, block_bytes: int = SERIES_BLOCK_BYTES,
                  ) -> Callable[[int], dict[str, np.ndarray]]:
    """The sweep's recorded monthly outcomes (``[timeseries]``) as ``values_at(month)``
    for :func:`indices_over_time`, aligned with ``sweep.runs`` (checked).

    The series are read a block of consecutive recorded months at a time, at most
    ``block_bytes`` of values (at least one month): in each part, the row groups of those
    months, found by their statistics, then a pyarrow filter on ``month``. Memory holds one
    block and one part's footer, never the whole series. (A pyarrow dataset over all parts
    held every part's footer, 240 MB at 100k runs x 60 months; reading month by month
    parsed every footer once a month: benchmarks/README.md.)
    """
    series = sweep.experiment.timeseries
    if series is None or not sweep.series_parts:
        raise UsageError(f"{sweep.root} records no time series ([timeseries])")
    names = list(series.outcomes)
    months = list(series.months)
    replicates = sweep.design.replicates
    wanted = (sweep.runs["point"].to_numpy() * replicates
              + sweep.runs["replicate"].to_numpy())
    per_month = max(1, len(wanted) * (len(names) + 3) * 8)
    size = max(1, min(len(months), block_bytes // per_month))
    block: dict[int, dict[str, np.ndarray]] = {}

    def read_block(first: int) -> None:
        block.clear()  # the previous block goes before the next is read
        chosen = months[first:first + size]
        table = pa.concat_tables([_months_of_part(path, chosen, first,
                                                  ["month", "point", "replicate", *names])
                                  for path in sweep.series_parts])
        month_of = table.column("month").to_numpy()
        run = (table.column("point").to_numpy() * replicates
               + table.column("replicate").to_numpy())
        rows = {month: np.flatnonzero(month_of == month) for month in chosen}
        for month in chosen:
            if not np.array_equal(run[rows[month]], wanted):
                raise UsageError(f"{sweep.root / 'timeseries'}: month {month} does not hold "
                                 "one row for every run, in run order; run the sweep again "
                                 "into a new --out")
        del month_of, run
        for month in chosen:
            block[month] = {}
        for name in names:  # a column at a time: one column of the block beside the table
            values = table.column(name).to_numpy()
            for month in chosen:
                block[month][name] = values[rows[month]]
        del table

    def values_at(month: int) -> dict[str, np.ndarray]:
        if month not in block:
            if month not in months:
                raise UsageError(f"month {month} is not recorded; the sweep records months "
                                 f"{months[0]}..{months[-1]} every {series.every}")
            read_block(months.index(month))
        return block[month]

    return values_at


def series_over_time(sweep: Sweep, resamples: int = 1000, captured: list[str] | None = None,
                     ) -> tuple[pd.DataFrame, list[str]]:
    """The indices of every recorded monthly outcome at every recorded month
    (``indices_over_time.csv``)."""
    series = sweep.experiment.timeseries
    assert series is not None
    return indices_over_time(sweep, series.months, stored_series(sweep), resamples,
                             captured)


def pilot_by_month(sweep: Sweep, resamples: int = 1000, captured: list[str] | None = None,
                   ) -> tuple[pd.DataFrame, list[str]]:
    """Sobol indices of P(pilot by month m) for m = 6, 12, ... up to the horizon: the
    indices over time (:func:`indices_over_time`) of the series "pilot by month m" derived
    from the stored pilot month, as ``sobol_pilot_by_month.csv`` has them (the mean is
    ``p_pilot``).

    Months at which the probability is the same at every point (e.g. no pilot anywhere
    yet) have no indices; they are named in the returned notes.
    """
    months = pilot_months(sweep)
    if months is None:
        return pd.DataFrame(), ["no pilot month stored: time-varying indices skipped"]
    end = horizon(sweep, months)

    def values_at(m: int) -> dict[str, np.ndarray]:
        return {"pilot": (months <= m).astype(float)}

    table, notes = indices_over_time(sweep, range(MONTH_STEP, end + 1, MONTH_STEP),
                                     values_at, resamples, captured)
    if len(table):
        table = table.drop(columns="outcome").rename(columns={"mean": "p_pilot"})
    return table, notes


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



@dataclass
class OutcomeAnalysis:
    """The indices of one outcome: the Sobol, Morris or delta table (``None`` with the
    reason in ``skipped`` where they cannot be computed), and the convergence check."""

    outcome: str
    noise: dict[str, float]
    method: str | None = None  # "sobol", "morris", "delta"; None: no indices
    table: pd.DataFrame | None = None
    pairs: pd.DataFrame | None = None  # Sobol S2, where sampled
    check: dict[str, Any] | None = None
    skipped: str | None = None


@dataclass
class PrimFinding:
    """Scenario discovery of the cases of interest (``found`` is ``None`` where every run
    or no run is a case: ``rate`` is then the share of cases)."""

    case: str
    custom: bool  # --prim-outcome named the case, not stalling
    found: PrimResult | None = None
    rate: float = math.nan
    sampled: tuple[int, int] | None = None  # (runs PRIM saw, runs there were) if sampled


@dataclass
class SweepAnalysis:
    """Everything :func:`compute` finds in a sweep; ``sim.report.analysis`` writes it."""

    sweep: Sweep
    outcomes: list[OutcomeAnalysis]
    noise: pd.DataFrame
    by_month: pd.DataFrame | None  # None: not a Sobol sweep with a pilot month
    by_month_notes: list[str]
    grid: dict[str, pd.DataFrame]  # outcome -> mean per grid point (grid sweeps)
    prim: PrimFinding | None
    notes: list[str] = field(default_factory=list)
    library_warnings: list[str] = field(default_factory=list)
    #: Indices of the recorded monthly outcomes at every recorded month (``None``: the
    #: experiment records no ``[timeseries]``), and the months without them.
    over_time: pd.DataFrame | None = None
    over_time_notes: list[str] = field(default_factory=list)


def compute(root: str | Path, resamples: int = 1000, prim_outcome: str | None = None,
            prim_threshold: float = 0.5, prim_above: bool = False) -> SweepAnalysis:
    """Analyse the sweep in ``root``: indices per outcome, noise, P(pilot by month) and
    PRIM boxes.

    PRIM looks for where stalling (no pilot by the horizon) concentrates, or, with
    ``prim_outcome``, where that outcome is below ``prim_threshold`` (above it with
    ``prim_above``).
    """
    check_size("resamples", resamples)
    sweep = load_sweep(root)
    exp = sweep.experiment
    if prim_outcome is not None and prim_outcome not in sweep.runs.columns \
            and prim_outcome not in sweep.design.names:
        raise UsageError(f"--prim-outcome: unknown outcome '{prim_outcome}'; the sweep has: "
                         f"{', '.join(exp.outcomes)}")
    captured: list[str] = []
    notes: list[str] = []
    outcomes: list[OutcomeAnalysis] = []
    noise_rows = []
    for outcome in exp.outcomes:
        values = sweep.runs[outcome]
        y, counts = replicate_means(sweep, values)
        noise = stochastic_variance(sweep, values)
        noise_rows.append({"outcome": outcome, **noise})
        result = OutcomeAnalysis(outcome, noise)
        outcomes.append(result)
        why = _cannot_index(y, counts, outcome)
        if exp.method not in ("sobol", "morris", "lhs"):
            continue
        if why:
            result.skipped = why
            notes.append(f"{outcome}: {why}")
            continue
        if exp.method == "lhs":
            result.method = "delta"
            result.table = delta_table(sweep.design, y, seed=exp.seed, captured=captured)
            continue
        result.method = exp.method
        if exp.method == "sobol":
            result.table, result.pairs = sobol_table(sweep.design, y, resamples,
                                                     seed=exp.seed, captured=captured)
        else:
            result.table = morris_table(sweep.design, y, resamples, seed=exp.seed,
                                        captured=captured)
        # the half samples against this table: its ties are the ones the report states
        result.check = convergence(sweep.design, y, min(resamples, 200), exp.seed, captured,
                                   full=result.table)

    by_month: pd.DataFrame | None = None
    month_notes: list[str] = []
    if exp.method == "sobol" and pilot_months(sweep) is not None:
        by_month, month_notes = pilot_by_month(sweep, resamples, captured)
        notes += month_notes
    over_time: pd.DataFrame | None = None
    time_notes: list[str] = []
    if exp.timeseries is not None:
        over_time, time_notes = series_over_time(sweep, resamples, captured)

    grid = {}
    if exp.method == "grid":
        for outcome in exp.outcomes:
            y, counts = replicate_means(sweep, sweep.runs[outcome])
            frame = pd.DataFrame(sweep.design.point_columns)
            frame[f"mean_{outcome}"] = y
            frame["ok_runs"] = counts
            grid[outcome] = frame

    return SweepAnalysis(sweep, outcomes, pd.DataFrame(noise_rows), by_month, month_notes,
                         grid, _prim(sweep, prim_outcome, prim_threshold, prim_above),
                         notes, captured, over_time, time_notes)


#: PRIM runs on at most this many runs (a seeded random sample beyond it): the EMA
#: Workbench's peeling holds a copy of the box's rows at every step, about 8 GB at 700,000
#: runs, and the boxes of a larger sample differ only by sampling error.
PRIM_MAX_RUNS = 250_000


def _prim(sweep: Sweep, prim_outcome: str | None, threshold: float, above: bool,
          ) -> PrimFinding | None:
    reached = reached_pilot(sweep)
    case = "stalled projects (no pilot by the horizon)"
    if prim_outcome is not None:
        reached = (sweep.runs[prim_outcome].to_numpy(dtype=float)
                   if prim_outcome in sweep.runs.columns else  # a varied input, as before
                   sweep.inputs(sweep.runs[["point"]])[prim_outcome].to_numpy(dtype=float))
        case = (f"runs with {label(prim_outcome)} {'above' if above else 'below'} "
                f"{threshold:g}")
    if reached is None:
        return None
    finding = PrimFinding(case, prim_outcome is not None)
    ok = (sweep.runs["status"] == "ok").to_numpy()
    value = reached[ok]
    if prim_outcome is None:
        stall = value < 0.5
    else:
        stall = value > threshold if above else value < threshold
    rows = sweep.runs.loc[ok, ["point"]]
    if len(stall) > PRIM_MAX_RUNS:  # PRIM's memory grows with the runs: a seeded sample
        rng = np.random.default_rng(np.random.SeedSequence([sweep.experiment.seed, 0x9217]))
        keep = np.sort(rng.choice(len(stall), PRIM_MAX_RUNS, replace=False))
        finding.sampled = (PRIM_MAX_RUNS, len(stall))
        rows, stall = rows.iloc[keep], stall[keep]
    x = sweep.inputs(rows)  # the sampled runs' inputs only
    if 0 < stall.sum() < len(stall):
        finding.found = prim_boxes(x, stall)
    else:
        finding.rate = float(stall.mean()) if len(stall) else math.nan
    return finding


def label(outcome: str) -> str:
    """An outcome as the reports name it: P(...) for a yes/no outcome."""
    if outcome in BINARY_HINT:
        return f"P({outcome})"
    return outcome.replace("_", " ")
