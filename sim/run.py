"""Run projects: the one function that turns parameter sets and seeds into run summaries.

Every study (compare, national, sensitivity, calibration, the dashboard's "run many") and
the sweep runner's project model call :func:`run_projects`; it is the only place that
picks an engine:

* ``"fast"`` (default) — :mod:`sim.engine.fast`: many projects in one compiled loop;
* ``"mesa"`` — :class:`sim.mesa.model.IntegrationModel`, the reference engine, one Mesa
  model per run. The same kernels, the same draws: the two agree run for run
  (tests/engine/test_engines.py).

A run depends only on its parameter values and its seed, never on which runs share its
call, so callers may split runs into batches of any size and across workers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, overload

import numpy as np
import pandas as pd

from sim.core.errors import UsageError
from sim.core.outputs import DAC_KEYS, SUMMARY_FIELDS
from sim.core.registry import PARAMETERS, resolve
from sim.core.scenarios import check_schedule
from sim.engine import fast
from sim.engine.layout import pack_many

#: The engines: the fast engine and the Mesa (reference) engine.
ENGINES = ("fast", "mesa")

Values = Sequence[Mapping[str, Any]] | np.ndarray


def engine_modules(engine: str | None) -> list[str]:
    """The modules an engine runs on, worth importing (and compiling: see
    :func:`sim.engine.fast.warm`) once in a coordinator before it forks its workers. The
    fast engine's never include Mesa."""
    if engine == "mesa":
        return ["sim.engine.fast", "sim.mesa.model"]
    return ["sim.engine.fast"]


def warm(engines: Sequence[str] = ENGINES) -> None:
    """Compile the engines now (or load them from the cache): ``make setup`` calls it, so
    the first real run compiles nothing."""
    for engine in engines:
        check_engine(engine)
    fast.warm()
    if "mesa" in engines:
        from sim.mesa.model import warm as warm_mesa  # Mesa only when asked for

        warm_mesa()


def check_engine(engine: str) -> str:
    """``engine`` must be one of :data:`ENGINES` (one line naming the allowed values)."""
    if engine not in ENGINES:
        raise UsageError(f"--engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    return engine


def with_draws(values: Mapping[str, Any], draws: Sequence[Mapping[str, Any]] | None,
               replicates: Sequence[int]) -> list[dict[str, Any]]:
    """Each replicate's values under a posterior: replicate *i* takes draw *i* (cycling),
    and ``values`` (a scenario's own levers) win where both set a parameter. Without
    draws every replicate takes ``values``."""
    if not draws:
        return [dict(values) for _ in replicates]
    return [{**draws[i % len(draws)], **values} for i in replicates]


def pack_draws(values: Mapping[str, Any], draws: pd.DataFrame | None = None) -> np.ndarray:
    """The engine's records (``PARAM_DTYPE``) of :func:`with_draws`, validated and packed
    once, column by column: without ``draws`` one record, ``values`` over the defaults;
    with a posterior's ``draws`` (validated registry values, one row per draw;
    ``sim.experiment.posterior.load_posterior``) one record per draw, the draw's values
    and ``values`` over them. Replicate *i* takes record ``i % len(records)``
    (:func:`for_replicates`): what ``pack_many([resolve(v) for v in with_draws(values,
    draws, replicates)])`` gives, bit for bit, with no dict per run."""
    base = pack_many([resolve(values)])
    if draws is None or draws.empty:
        return base
    records = np.repeat(base, len(draws))
    for name in draws.columns:
        if name in values:
            continue  # the scenario's own value wins over the draw's
        param = PARAMETERS[name]
        column = draws[name]
        if param.kind == "choice":
            codes = {choice: float(i) for i, choice in enumerate(param.choices)}
            records[name] = [codes[value] for value in column.tolist()]
        else:
            records[name] = column.to_numpy(dtype=np.float64)
    return records


def for_replicates(records: np.ndarray, replicates: Sequence[int] | np.ndarray,
                   ) -> np.ndarray:
    """Each replicate's record of :func:`pack_draws`: replicate *i* takes record *i*
    (cycling over the draws)."""
    return records[np.asarray(replicates, dtype=np.int64) % len(records)]


@overload
def run_projects(values: Values, seeds: Sequence[int] | np.ndarray, months: int = 60, *,
                 engine: str = "fast", schedule: Any = None,
                 histogram: np.ndarray | None = None, probe_months: Sequence[int] = (),
                 as_arrays: Literal[False] = False) -> pd.DataFrame: ...
@overload
def run_projects(values: Values, seeds: Sequence[int] | np.ndarray, months: int = 60, *,
                 engine: str = "fast", schedule: Any = None,
                 histogram: np.ndarray | None = None, probe_months: Sequence[int] = (),
                 as_arrays: Literal[True]) -> dict[str, np.ndarray]: ...
def run_projects(values: Values, seeds: Sequence[int] | np.ndarray, months: int = 60, *,
                 engine: str = "fast", schedule: Any = None,
                 histogram: np.ndarray | None = None, probe_months: Sequence[int] = (),
                 as_arrays: bool = False) -> pd.DataFrame | dict[str, np.ndarray]:
    """Run one project per ``(values[i], seeds[i])`` for ``months`` months.

    ``values`` are complete, validated parameter dicts (``sim.core.registry.resolve``) or
    a ``PARAM_DTYPE`` array (``sim.engine.layout.pack_many``); ``schedule`` a schedule of
    national levers shared by every run (validated here); ``histogram`` an optional
    ``int64[months + 1, 9, HIST_BINS]`` array the monthly DAC values are added to;
    ``probe_months`` (fast engine) adds ``<field>_m<month>`` columns.

    Returns a frame with the columns of ``sim.core.outputs.SUMMARY_FIELDS`` (gate months
    as nullable integers), or with ``as_arrays`` (fast engine) a dict of numpy arrays
    (gate months as floats, NaN where not reached) for callers that run few projects many
    times.
    """
    check_engine(engine)
    checked = check_schedule(schedule)
    if engine == "fast":
        params = values if isinstance(values, np.ndarray) else pack_many(list(values))
        run = fast.run_arrays if as_arrays else fast.run_many
        return run(params, seeds, months, schedule=checked, histogram=histogram,
                   probe_months=probe_months)
    if probe_months or as_arrays:
        raise UsageError("probes and array output need the fast engine (--engine fast)")
    if isinstance(values, np.ndarray):
        raise UsageError("the Mesa engine takes parameter dicts, not packed records")
    return _run_mesa(values, seeds, months, schedule, histogram)


def _run_mesa(values: Sequence[Mapping[str, Any]], seeds: Sequence[int] | np.ndarray,
              months: int,
              schedule: Any, histogram: np.ndarray | None) -> pd.DataFrame:
    """The reference engine, one Mesa model per run; the same frame as the fast engine's."""
    from sim.mesa.model import simulate  # Mesa is imported only when it runs

    if len(seeds) != len(values):
        raise ValueError(f"{len(seeds)} seeds for {len(values)} parameter sets")
    rows = []
    collect = histogram is not None
    for run_values, seed in zip(values, seeds, strict=True):
        model = simulate("baseline", int(seed), months, collect=collect, schedule=schedule,
                         **run_values)
        summary = model.summary()
        summary["seed"] = int(seed)
        rows.append({name: summary[name] for name in SUMMARY_FIELDS})
        if histogram is not None:
            _add_trajectory(histogram, model)
    frame = pd.DataFrame(rows, columns=list(SUMMARY_FIELDS))
    for name in SUMMARY_FIELDS[1:6]:  # gate months: nullable integers, as the fast engine's
        frame[name] = frame[name].astype("Int64")
    return frame


def _add_trajectory(histogram: np.ndarray, model: Any) -> None:
    """Add one Mesa run's monthly DAC values to the streaming histogram."""
    bins_count = histogram.shape[2]
    months_index = np.arange(histogram.shape[0])[:, None]
    keys_index = np.arange(len(DAC_KEYS))[None, :]
    traj = np.array([model.datacollector.model_vars[f"dac_{k}"] for k in DAC_KEYS]).T
    bins = np.clip((traj * bins_count).astype(np.int64), 0, bins_count - 1)
    np.add.at(histogram, (months_index, keys_index, bins), 1)


def run_project(scenario: str = "baseline", seed: int = 0, months: int = 60,
                schedule: Any = None, **overrides: Any) -> dict[str, Any]:
    """One project on the Mesa (reference) engine; its summary, the fields of
    ``summary.json`` (``sim.mesa.model.run_project``). For callers that run one project
    at a time and want the reference engine: a plug-in's scalar form, the runner's
    ``engine = "mesa"``."""
    from sim.mesa.model import run_project as run_on_mesa  # Mesa only when it runs

    return run_on_mesa(scenario, seed, months, schedule=schedule, **overrides)


def probe_project(probe_months: Sequence[int], scenario: str = "baseline", seed: int = 0,
                  months: int = 60, schedule: Any = None, **overrides: Any) -> dict[str, Any]:
    """:func:`run_project` with the probes' ``<field>_m<month>`` entries at the end of each
    of ``probe_months``, as the fast engine's ``probe_months`` gives them (the runner's
    ``engine = "mesa"`` with ``[timeseries]``)."""
    from sim.mesa.model import probe_project as probe_on_mesa  # Mesa only when it runs

    return probe_on_mesa(probe_months, scenario, seed, months, schedule=schedule,
                         **overrides)
