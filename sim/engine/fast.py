"""The ``fast`` engine: many projects in one compiled loop, the same submodels as Mesa's.

A run's result depends only on its parameters and seed (its two random streams are
numpy's ``default_rng(seed)`` and that generator's first spawned child, as in the Mesa
engine), never on which runs share its batch, so batches can be any size and split across
workers. The engine returns the summaries ``run_project`` returns and, where asked, the
monthly distribution of the nine DAC measures as streaming histograms (bounded memory
whatever the number of runs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numba
import numpy as np
import pandas as pd

from sim.core.outputs import (
    FLOAT_FIELDS,
    GATE_FIELDS,
    INT_FIELDS,
    PROBE_FIELDS,
    SUMMARY_FIELDS,
    outcome_names,
)
from sim.core.registry import PARAMETERS, resolve
from sim.engine import compiling, rng
from sim.engine.kernels import (
    allocate,
    apply_levers,
    initialise,
    month_step,
    scratch,
    summary_floats,
)
from sim.engine.layout import (
    C_HOST_CHANGES,
    C_MONTHS_RUN,
    C_PILOT,
    C_POLICY_CHURNS,
    C_TURNOVER_EVENTS,
    G_FUNDING_RECEIVED,
    INT_SOURCES,
    N_DAC,
    NOT_YET,
    PARAM_DTYPE,
    T_ENGAGEMENT,
    T_FRUSTRATION,
    pack_many,
)

_INT_SOURCES = np.array(INT_SOURCES, dtype=np.int64)
_N_FLOATS = len(FLOAT_FIELDS)
_GATES = len(GATE_FIELDS)  # the first int fields are gate months (None when not reached)
#: Bins of the monthly DAC histograms on [0, 1] (quantiles to within 1/HIST_BINS).
HIST_BINS = 200

@numba.njit(cache=True)
def run_batch(params: np.ndarray, streams: np.ndarray, months: int,
              schedule_months: np.ndarray, schedule_params: np.ndarray, histogram: np.ndarray,
              probe_months: np.ndarray, probes: np.ndarray, pilot_funding: np.ndarray,
              ) -> tuple[np.ndarray, np.ndarray]:
    """Run ``len(params)`` projects for ``months`` months.

    ``streams`` is ``uint64[runs, 2, 4]`` (consumed); ``schedule_months`` ``int64[K]`` and
    ``schedule_params`` ``PARAM_DTYPE[runs, K]`` give each run's scheduled lever changes
    (``K = 0``: none); ``histogram`` is ``int64[months + 1, 9, HIST_BINS]``, added to
    (pass shape ``(0, 9, HIST_BINS)`` for none); ``probes[r, j]`` receives the
    ``PROBE_FIELDS`` at the end of month ``probe_months[j]`` and ``pilot_funding[r]`` the
    national money received by the month a pilot started (NaN: no pilot) — pass empty
    arrays for none. Returns ``(ints, floats)``.
    """
    runs = params.shape[0]
    ints = np.empty((runs, len(_INT_SOURCES)), dtype=np.int64)
    floats = np.empty((runs, _N_FLOATS))
    bins = histogram.shape[2]
    record = histogram.shape[0] > 0
    for r in range(runs):
        p = params[r]
        n = int(p.team_size)
        g, c, dac, dac_sum, m, support, t, ti = allocate(n)
        work, attend = scratch(n)
        st = streams[r]
        initialise(p, g, c, dac, dac_sum, m, support, t, ti, st)
        if record:
            _add_to_histogram(histogram, 0, dac, bins)
        _months(r, p, months, schedule_months, schedule_params, histogram, probe_months,
                probes, pilot_funding, g, c, dac, dac_sum, m, support, t, ti, st, work, attend)
        for k in range(len(_INT_SOURCES)):
            ints[r, k] = c[_INT_SOURCES[k]]
        months_run = max(c[C_MONTHS_RUN], 1)
        for k in range(N_DAC):
            floats[r, k] = dac[k]
            floats[r, N_DAC + k] = dac_sum[k] / months_run
        summary_floats(floats[r, 2 * N_DAC:], g, t, months_run)
    return ints, floats


# Compiled without numba's reference counting (``_nrt=False``): it allocates nothing, and
# with counting on, every array handed to an inlined submodel was counted up and down again
# (an atomic add each, around which the registers were spilled) -- a fifth of a run's time.
@numba.njit(cache=True, _nrt=False)  # type: ignore[call-overload]  # not in numba's stubs
def _months(r: int, p: Any, months: int, schedule_months: np.ndarray,
            schedule_params: np.ndarray, histogram: np.ndarray, probe_months: np.ndarray,
            probes: np.ndarray, pilot_funding: np.ndarray, g: np.ndarray, c: np.ndarray,
            dac: np.ndarray, dac_sum: np.ndarray, m: np.ndarray, support: np.ndarray,
            t: np.ndarray, ti: np.ndarray, st: np.ndarray, work: np.ndarray,
            attend: np.ndarray) -> None:
    """Months 1..``months`` of run ``r`` (parameters ``p``, state initialised), for
    :func:`run_batch`."""
    probing = probes.shape[0] > 0
    bins = histogram.shape[2]
    record = histogram.shape[0] > 0
    for month in range(1, months + 1):
        for j in range(schedule_months.shape[0]):
            if schedule_months[j] == month:
                p = schedule_params[r, j]
                apply_levers(p, g, m)
        month_step(p, g, c, dac, dac_sum, m, support, t, ti, st, work, attend, month,
                   months)
        if record:
            _add_to_histogram(histogram, month, dac, bins)
        if probing:
            if c[C_PILOT] == month:
                pilot_funding[r] = g[G_FUNDING_RECEIVED]
            for j in range(probe_months.shape[0]):
                if probe_months[j] == month:
                    probe(probes[r, j], g, c, dac, t)


@numba.njit(cache=True)
def probe(out: np.ndarray, g: np.ndarray, c: np.ndarray, dac: np.ndarray,
          t: np.ndarray) -> None:
    """Write the ``PROBE_FIELDS`` of a project's state (``g``, ``c``, ``dac``, ``t``) to
    ``out``: both engines read their probes through this one function."""
    n = t.shape[1]
    out[0] = c[C_HOST_CHANGES]
    out[1] = c[C_POLICY_CHURNS]
    out[2] = c[C_TURNOVER_EVENTS]
    out[3] = g[G_FUNDING_RECEIVED]
    frustration = 0.0
    mean = 0.0
    for s in range(n):
        frustration += t[T_FRUSTRATION, s]
        mean += t[T_ENGAGEMENT, s]
    mean /= n
    spread = 0.0
    for s in range(n):
        spread += (t[T_ENGAGEMENT, s] - mean) ** 2
    out[4] = frustration / n
    out[5] = math.sqrt(spread / n)
    for k in range(N_DAC):
        out[6 + k] = dac[k]


@numba.njit(cache=True)
def _add_to_histogram(histogram: np.ndarray, month: int, dac: np.ndarray, bins: int) -> None:
    for k in range(dac.shape[0]):
        b = int(dac[k] * bins)
        histogram[month, k, min(max(b, 0), bins - 1)] += 1


_warm = False


def warm() -> None:
    """Compile the fast engine now, or load it from the cache (``sim.engine``): call it
    before forking workers so they inherit it instead of each compiling or loading it;
    the first :func:`run_arrays` calls it otherwise. A compile says so on stderr, once."""
    global _warm
    if _warm:
        return
    _warm = True  # first: the warm-up run goes through run_arrays itself
    with compiling("fast"):
        histogram = np.zeros((3, N_DAC, HIST_BINS), dtype=np.int64)
        run_arrays(pack_many([resolve({})]), [0], 2, histogram=histogram, probe_months=(1,))


def streams_for(seeds: Sequence[int] | np.ndarray) -> np.ndarray:
    """The random streams of runs with these seeds, ``uint64[runs, 2, 4]`` (numpy's
    ``default_rng(seed)`` and its first spawned child, seeded in compiled code)."""
    array = np.asarray(seeds)
    if array.size and (array.dtype.kind not in "iu" or array.min() < 0
                       or int(array.max()) >= 2**63):
        raise ValueError("seeds must be whole numbers in [0, 2**63)")
    out = np.empty((array.size, 2, 4), dtype=np.uint64)
    rng.seed_streams(array.astype(np.int64).reshape(-1), out)
    return out


def _schedule_arrays(params: np.ndarray,
                     schedule: Mapping[int, Mapping[str, Any]] | None,
                     ) -> tuple[np.ndarray, np.ndarray]:
    """A validated schedule (``sim.core.scenarios.check_schedule``) as arrays for ``run_batch``:
    the records each run switches to, cumulative over the scheduled months."""
    months = sorted(schedule or {})
    out = np.zeros((params.shape[0], len(months)), dtype=PARAM_DTYPE)
    if not months:  # nothing scheduled: no copy of the records (a megabyte per 1,000 runs)
        return np.zeros(0, dtype=np.int64), out
    current = params.copy()
    schedule = schedule or {}
    for j, month in enumerate(months):
        for name, value in schedule[month].items():
            param = PARAMETERS[name]
            current[name] = param.choices.index(value) if param.kind == "choice" else value
        out[:, j] = current
    return np.asarray(months, dtype=np.int64), out


def run_many(params: np.ndarray, seeds: Sequence[int] | np.ndarray, months: int = 60,
             schedule: Mapping[int, Mapping[str, Any]] | None = None,
             histogram: np.ndarray | None = None,
             probe_months: Sequence[int] = ()) -> pd.DataFrame:
    """Run one project per ``(params[i], seeds[i])``; return their summaries.

    ``params`` is a ``PARAM_DTYPE`` array (``sim.engine.layout.pack_many``); ``schedule``
    a validated schedule shared by all runs; ``histogram`` an optional
    ``int64[months + 1, 9, HIST_BINS]`` array that the monthly DAC values are added to.
    The frame has the columns of ``run_project``'s summary (but ``parameters``, ``scenario``
    and ``months``), gate months as nullable integers. With ``probe_months`` it also has
    ``<field>_m<month>`` columns for every ``PROBE_FIELDS`` entry at the end of each probed
    month, and ``pilot_funding`` (national money received by the pilot month).
    """
    columns = run_arrays(params, seeds, months, schedule, histogram, probe_months)
    frame = pd.DataFrame({name: columns[name] for name in FLOAT_FIELDS})
    for name in columns:
        if name.endswith(tuple(f"_m{m}" for m in probe_months)) or name == "pilot_funding":
            frame[name] = columns[name]
    for k, name in enumerate(INT_FIELDS):
        if k < _GATES:
            missing = np.isnan(columns[name])
            frame[name] = pd.arrays.IntegerArray(
                np.where(missing, 0, columns[name]).astype(np.int64), missing)
        else:
            frame[name] = columns[name]
    frame.insert(0, "outcome", columns["outcome"])
    frame["seed"] = columns["seed"]
    return frame[list(SUMMARY_FIELDS) + [c for c in frame.columns if c not in SUMMARY_FIELDS]]


def run_arrays(params: np.ndarray, seeds: Sequence[int] | np.ndarray, months: int = 60,
               schedule: Mapping[int, Mapping[str, Any]] | None = None,
               histogram: np.ndarray | None = None,
               probe_months: Sequence[int] = ()) -> dict[str, np.ndarray]:
    """What :func:`run_many` returns, as a dict of numpy arrays (gate months as floats,
    NaN where not reached): no DataFrame, for callers that run few projects many times
    (calibration)."""
    warm()
    params = np.ascontiguousarray(params, dtype=PARAM_DTYPE).reshape(-1)
    if len(seeds) != params.shape[0]:
        raise ValueError(f"{len(seeds)} seeds for {params.shape[0]} parameter sets")
    sched_months, sched_params = _schedule_arrays(params, schedule)
    if histogram is None:
        histogram = np.zeros((0, N_DAC, HIST_BINS), dtype=np.int64)
    probe_at = np.asarray(sorted(set(int(m) for m in probe_months)), dtype=np.int64)
    if probe_at.size and (probe_at.min() < 1 or probe_at.max() > months):
        raise ValueError(f"probe months must lie in [1, {months}]")
    runs = params.shape[0] if probe_at.size else 0
    probes = np.full((runs, probe_at.size, len(PROBE_FIELDS)), np.nan)
    pilot_funding = np.full(runs, np.nan)
    ints, floats = run_batch(params, streams_for(seeds), int(months), sched_months,
                             sched_params, histogram, probe_at, probes, pilot_funding)
    out: dict[str, np.ndarray] = {name: floats[:, k] for k, name in enumerate(FLOAT_FIELDS)}
    for k, name in enumerate(INT_FIELDS):
        column = ints[:, k]
        out[name] = np.where(column == NOT_YET, np.nan, column) if k < _GATES else column
    for j, month in enumerate(probe_at):
        for k, name in enumerate(PROBE_FIELDS):
            out[f"{name}_m{month}"] = probes[:, j, k]
    if probe_at.size:
        out["pilot_funding"] = pilot_funding
    out["outcome"] = outcome_names(ints[:, 1], ints[:, 0], ints[:, 2])
    out["seed"] = np.asarray(seeds, dtype=np.int64)
    return out


def histogram_quantiles(histogram: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Quantiles of the monthly DAC histograms: ``float[months + 1, 9, len(qs)]``, each
    the upper edge of the bin where the cumulative share first reaches q (exact to within
    one bin, 1 / HIST_BINS)."""
    counts = histogram.cumsum(axis=2)
    total = counts[..., -1:]
    edges = (np.arange(histogram.shape[2]) + 1) / histogram.shape[2]
    out = np.empty(histogram.shape[:2] + (len(qs),))
    for j, q in enumerate(qs):
        idx = (counts >= q * total).argmax(axis=2)
        out[..., j] = edges[idx]
    return out
