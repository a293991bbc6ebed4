"""How the runner calls a model: the project's ``run_project`` or a plug-in function.

This module runs inside the workers. It knows the model only through its contract:

* the project's model:
  ``sim.mesa.model.run_project(scenario=..., seed=..., months=..., **params)`` returns a
  summary dict; the numeric outcomes are derived from it here
  (:func:`sim.core.outputs.project_outcomes`). With ``engine = "fast"`` (the default) a
  batch runs in one call of the fast engine (``sim.engine.fast.run_many``), which gives
  the same result run for run;
* a plug-in ``"module:function"``: ``function(params: dict, seed: int)`` returns a dict of
  numeric outcomes. A plug-in may also carry a vectorised form as the attribute
  ``function.batch(params_list, seeds) -> list[dict]``, which the ``fast`` engine uses for
  a whole batch (``sim.studies.national.site_run`` does: it runs the sites in the fast engine).

A run that raises -- any exception, and also ``SystemExit``, ``KeyboardInterrupt`` or
``GeneratorExit`` raised by model code -- or returns a missing or non-numeric outcome, is
recorded as ``failed`` with its error text; it never stops the batch. A run whose outcomes
include an infinite value (``inf``, ``-inf``) is recorded as ``invalid``: its values are
kept for inspection, but analysis leaves it out like a failed run. NaN is not invalid: it
means "undefined" (e.g. ``pilot_month`` when no pilot happened; a plug-in may return NaN or
``None``), and analysis never computes an index over undefined values. A run that kills its
worker process is isolated by the executor (see ``sim.experiment.execute``) and recorded
by :func:`failed_batch`.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, cast

import numpy as np

from sim.core.outputs import PROBE_FIELDS, _number, column_outcomes, column_series, project_outcomes
from sim.core.registry import PARAMETERS, Parameter, validate
from sim.core.scenarios import parameters_for
from sim.engine.layout import pack_many
from sim.experiment.timeout import KILL_SIGNALS, RunTimeout, run_limit
from sim.experiment.timeout import PREFIX as TIMEOUT_PREFIX
from sim.experiment.timeout import describe as describe_timeout
from sim.run import run_projects

#: The name by which an experiment file selects the project's own model.
PROJECT_MODEL = "icsim"


@dataclass(frozen=True)
class ModelCall:
    """Everything a worker needs to run one model: small and picklable."""

    model: str  # "icsim" or "module:function"
    outcomes: tuple[str, ...]
    scenario: str = "baseline"
    months: int = 60
    constants: Mapping[str, Any] = field(default_factory=dict)
    engine: str = "fast"  # the project's model: "fast" or "mesa" (same results run for run)
    timeout: float | None = None  # seconds a run may take (sim.experiment.timeout)
    #: National levers changing in time (a scenario file's [[changes]]): ``((month,
    #: {lever: value}), ...)``, the same for every run.
    schedule: tuple[tuple[int, Mapping[str, Any]], ...] = ()
    #: Monthly outcomes to record (``[timeseries]``) and the months to record them at.
    series: tuple[str, ...] = ()
    series_months: tuple[int, ...] = ()

    @property
    def probe_months(self) -> tuple[int, ...]:
        """The months the project's engines must probe: none unless a recorded series is
        a probe field (the gate series come from the summary's gate months)."""
        return self.series_months if set(self.series) & set(PROBE_FIELDS) else ()

    def empty_series(self, n: int) -> np.ndarray | None:
        """NaN series for ``n`` runs (runs x months x series), or ``None`` without any."""
        if not self.series:
            return None
        return np.full((n, len(self.series_months), len(self.series)), np.nan)


#: The project's engines: the fast engine and the Mesa (reference) engine.
ENGINES = ("fast", "mesa")


class Rows(Sequence[dict[str, Any]]):
    """Consecutive runs' parameter values held as columns, as the design makes them (and,
    under a posterior, the draw each run takes): the fast engine packs the columns as they
    are, and a run becomes a dict only where it needs one -- a plug-in, the Mesa engine, a
    run rerun alone, a value that fails validation. ``rows[i]`` is the dict the runner
    always passed: the swept values as Python scalars over the run's draw."""

    __slots__ = ("columns", "draw_of", "draws", "size")

    def __init__(self, columns: Mapping[str, np.ndarray], size: int,
                 draws: Sequence[Mapping[str, Any]] | None = None,
                 draw_of: np.ndarray | None = None) -> None:
        self.columns = dict(columns)
        self.size = size
        self.draws = list(draws) if draws else None
        self.draw_of = draw_of

    def __len__(self) -> int:
        return self.size

    def _row(self, i: int) -> dict[str, Any]:
        row = {}
        for name, column in self.columns.items():
            value = column[i]
            row[name] = value.item() if hasattr(value, "item") else value
        if self.draws is not None and self.draw_of is not None:
            return {**self.draws[int(self.draw_of[i])], **row}
        return row

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            start, stop, step = i.indices(self.size)
            if step != 1:
                return [self._row(j) for j in range(start, stop, step)]
            columns = {name: c[start:stop] for name, c in self.columns.items()}
            if self.draws is None or self.draw_of is None:
                return Rows(columns, max(0, stop - start))
            # only the draws this slice uses travel with it
            used, draw_of = np.unique(self.draw_of[start:stop], return_inverse=True)
            return Rows(columns, max(0, stop - start), [self.draws[int(u)] for u in used],
                        draw_of.reshape(-1))
        if not -self.size <= i < self.size:
            raise IndexError(i)
        return self._row(i % self.size)

    def value_columns(self) -> dict[str, np.ndarray]:
        """Every parameter a run sets, as one array per parameter: the draws' (where no
        swept value replaces them), then the swept values."""
        out: dict[str, np.ndarray] = {}
        if self.draws is not None and self.draw_of is not None:
            for name in self.draws[0] if self.draws else ():
                if name not in self.columns:
                    values = [d[name] for d in self.draws]
                    out[name] = np.asarray(values)[self.draw_of] if values else \
                        np.empty(0)
        out.update(self.columns)
        return out


#: A run's status: it succeeded with finite outcomes, returned an infinite outcome, passed
#: its time limit, or failed (:attr:`BatchResult.status_codes` indexes this).
STATUSES = ("ok", "invalid", "timeout", "failed")


@dataclass(frozen=True)
class Batch:
    """A slice of consecutive runs of one part (chunk) of the sweep."""

    chunk: int
    first: int  # index of the first run in the sweep
    params: Sequence[Mapping[str, Any]]
    seeds: Sequence[int] | np.ndarray


@dataclass
class BatchResult:
    """The outcomes of a batch: one row per run, in the batch's order."""

    chunk: int
    first: int
    ok: np.ndarray  # bool, one per run: the run succeeded with finite outcomes
    errors: list[str | None]
    values: np.ndarray  # float64, runs x outcomes (NaN where a run failed)
    invalid: np.ndarray | None = None  # bool, one per run: an outcome is infinite
    #: float64, runs x months x series (``[timeseries]``; NaN where a run failed), or None
    series: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.invalid is None:
            self.invalid = np.zeros(len(self.ok), dtype=bool)

    @property
    def status_codes(self) -> np.ndarray:
        """One status per run as an index into :data:`STATUSES` (``int8``): ``ok``,
        ``invalid``, ``timeout`` (a run past its time limit, whose error starts with
        ``timeout:``) or ``failed``."""
        assert self.invalid is not None
        codes = np.zeros(len(self.ok), dtype=np.int8)
        if self.ok.all():  # the usual batch: no run's error to look at
            return codes
        timed = np.array([e is not None and e.startswith(TIMEOUT_PREFIX)
                          for e in self.errors], dtype=np.bool_)
        codes[~self.ok] = np.where(self.invalid, 1, np.where(timed, 2, 3))[~self.ok]
        return codes


def describe(exc: BaseException) -> str:
    """``"Type: message"`` for the record of a failed run, even when the exception's
    ``__str__`` itself raises (then ``"Type: <unprintable message>"``)."""
    try:
        name = type(exc).__name__
    except BaseException:  # noqa: BLE001 - a hostile metaclass
        name = "Exception"
    try:
        text = str(exc)
        if not isinstance(text, str):
            raise TypeError
    except BaseException:  # noqa: BLE001 - an exception whose message raises
        text = "<unprintable message>"
    return f"{name}: {text}"[:2000] if text else name


def failed_batch(call: ModelCall, batch: Batch, cause: str) -> BatchResult:
    """Every run of ``batch`` failed with ``cause`` -- e.g. the runs whose worker process
    died while running them alone, or whose model could not be imported. A worker the
    kernel ended for a run past its time limit makes the run ``timeout``."""
    n, k = len(batch.seeds), len(call.outcomes)
    if call.timeout and any(f"signal {name})" in cause for name in KILL_SIGNALS):
        cause = f"{describe_timeout(call.timeout)}; its worker was killed ({cause})"
    return BatchResult(batch.chunk, batch.first, np.zeros(n, dtype=bool), [cause] * n,
                       np.full((n, k), np.nan), series=call.empty_series(n))


def split_batch(call: ModelCall, batch: Batch) -> list[tuple[ModelCall, Batch]]:
    """A batch as one task per run, to find the run that kills its worker."""
    return [(call, Batch(batch.chunk, batch.first + i, [batch.params[i]], [batch.seeds[i]]))
            for i in range(len(batch.seeds))]


_FUNCTIONS: dict[str, Callable[..., Any]] = {}


def _function(ref: str) -> Callable[..., Any]:
    func = _FUNCTIONS.get(ref)
    if func is None:
        if ref == PROJECT_MODEL:
            func = importlib.import_module("sim.run").run_project
        else:
            module, _, name = ref.partition(":")
            func = getattr(importlib.import_module(module), name)
        _FUNCTIONS[ref] = func
    return func


def _probed() -> Callable[..., Any]:
    """``sim.run.probe_project``: the project's model with probes (the Mesa engine)."""
    return cast(Callable[..., Any], importlib.import_module("sim.run").probe_project)


def _plugin_outcomes(result: Any, names: Sequence[str]) -> list[float]:
    if not isinstance(result, Mapping):
        raise TypeError(f"the model returned {type(result).__name__}, not a dict of outcomes")
    row = []
    for name in names:
        if name not in result:
            raise KeyError(f"outcome '{name}' missing from the model's result")
        try:
            row.append(_number(result[name]))
        except TypeError as exc:
            raise TypeError(f"outcome '{name}' {exc}") from None
    return row


def _plugin_series(result: Mapping[str, Any], call: ModelCall) -> np.ndarray:
    """A plug-in's monthly series at the recorded months (months x series): each is a
    sequence of numbers, month 1 first, at least as long as the last month recorded."""
    months = np.asarray(call.series_months) - 1
    out = np.empty((len(months), len(call.series)))
    for k, name in enumerate(call.series):
        if name not in result:
            raise KeyError(f"time series '{name}' missing from the model's result")
        try:
            values = np.asarray([_number(v) for v in result[name]], dtype=float)
        except TypeError as exc:
            raise TypeError(f"time series '{name}': a value {exc}") from None
        if values.ndim != 1 or len(values) <= months[-1]:
            raise ValueError(f"time series '{name}' has {values.size} values; month "
                             f"{months[-1] + 1} is recorded, so it needs at least that many")
        out[:, k] = values[months]
    return out


def _summary_columns(summary: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """One run's summary as the engines' one-row columns (``None``: NaN)."""
    return {name: np.array([value if isinstance(value, str)
                            else np.nan if value is None else value])
            for name, value in summary.items() if not isinstance(value, Mapping)}


def run_batch(call: ModelCall, batch: Batch) -> BatchResult:
    """Run every run of ``batch``; exceptions are caught per run and recorded."""
    if call.model == PROJECT_MODEL and call.engine == "fast":
        return _run_fast(call, batch)
    try:
        func = _function(call.model)
    except BaseException as exc:  # noqa: BLE001 - e.g. the module raises on import here
        return failed_batch(call, batch, describe(exc))
    if call.engine == "fast" and hasattr(func, "columns") and isinstance(batch.params, Rows):
        return _run_plugin_columns(func.columns, call, batch, batch.params)
    if call.engine == "fast" and hasattr(func, "batch"):
        return _run_plugin_batch(func.batch, call, batch)
    n, k = len(batch.seeds), len(call.outcomes)
    values = np.full((n, k), np.nan)
    series = call.empty_series(n)
    ok = np.zeros(n, dtype=bool)
    errors: list[str | None] = [None] * n
    for i, (params, seed) in enumerate(zip(batch.params, batch.seeds, strict=True)):
        try:
            with run_limit(call.timeout):
                if call.model == PROJECT_MODEL:
                    run = partial(_probed(), call.probe_months) if call.probe_months else func
                    summary = run(scenario=call.scenario, seed=int(seed), months=call.months,
                                  schedule=_schedule(call), **call.constants, **params)
                    row = project_outcomes(summary, call.months, call.outcomes)
                    if series is not None:
                        series[i] = column_series(_summary_columns(summary),
                                                  call.series_months, call.series)[0]
                else:
                    result = func({**call.constants, **params}, int(seed))
                    row = _plugin_outcomes(result, call.outcomes)
                    if series is not None:
                        series[i] = _plugin_series(result, call)
        except RunTimeout as exc:
            errors[i] = str(exc)
            continue
        except BaseException as exc:  # noqa: BLE001 - every failure is recorded, none stops
            # SystemExit, KeyboardInterrupt, GeneratorExit raised by model code included:
            # the worker ignores Ctrl-C (the coordinator handles it), so none is the user's.
            errors[i] = describe(exc)
            continue
        values[i] = row
        ok[i] = True
    if series is not None:
        series[~ok] = np.nan  # a run that failed after its series were read records none
    return _result(batch, ok, errors, values, call.outcomes, series, call)


_BASES: dict[tuple[Any, ...], Any] = {}


def _schedule(call: ModelCall) -> list[tuple[int, dict[str, Any]]] | None:
    """The call's schedule as the engines take it (``None``: nothing changes in time)."""
    return [(m, dict(v)) for m, v in call.schedule] or None


def _base_values(scenario: str, constants: Mapping[str, Any]) -> dict[str, Any]:
    """The scenario's values with the experiment's constants, validated once per batch
    key (not once per run)."""
    key = (scenario, tuple(sorted(constants.items())))
    base = _BASES.get(key)
    if base is None:
        base = _BASES[key] = parameters_for(scenario, constants)
    return base


_RECORDS: dict[tuple[Any, ...], np.ndarray] = {}


def _base_record(scenario: str, constants: Mapping[str, Any]) -> np.ndarray:
    """:func:`_base_values` packed for the engine (``PARAM_DTYPE``), once per batch key."""
    key = (scenario, tuple(sorted(constants.items())))
    record = _RECORDS.get(key)
    if record is None:
        record = _RECORDS[key] = pack_many([_base_values(scenario, constants)])
    return record


def _pack_column(param: Parameter, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One parameter's values for many runs as the engine packs them, and which of them
    pass validation (``Parameter.coerce``), checked on the whole column at once: what
    ``pack_many([{**base, **validate(row)}])`` gives run by run, bit for bit."""
    kind = param.kind
    if kind in ("float", "int") and values.dtype.kind in "fiu":
        v = values.astype(np.float64)
        ok = (v >= param.low) & (v <= param.high)  # NaN fails, as in coerce
        if kind == "int":
            ok &= np.floor(v) == v
            v = v + 0.0  # coerce makes an int: -0.0 packs as 0.0
        return v, ok
    if kind == "bool" and values.dtype.kind == "b":
        return values.astype(np.float64), np.ones(len(values), dtype=bool)
    packed = np.zeros(len(values))
    ok = np.ones(len(values), dtype=bool)
    known: dict[Any, float | None] = {}
    for j, value in enumerate(values.tolist()):  # Python scalars, as rows[i] holds them
        try:
            key = (type(value), repr(value))  # repr: -0.0 is not 0.0
            if key not in known:
                try:
                    coerced = param.coerce(value)
                    known[key] = float(param.choices.index(coerced) if kind == "choice"
                                       else coerced)
                except Exception:  # noqa: BLE001 - the run's own message is made later
                    known[key] = None
            result = known[key]
        except Exception:  # noqa: BLE001 - an odd value: checked run by run later
            result = None
        if result is None:
            ok[j] = False
        else:
            packed[j] = result
    return packed, ok


def _run_fast_columns(call: ModelCall, batch: Batch, rows: Rows) -> BatchResult:
    """A batch held as columns in one call of the fast engine: the scenario's values packed
    once, each swept parameter validated and packed as a column, no dict or DataFrame per
    run. A run whose values fail validation is checked alone, as the runner always did,
    for its own message."""
    n, k = len(batch.seeds), len(call.outcomes)
    values = np.full((n, k), np.nan)
    series = call.empty_series(n)
    ok = np.zeros(n, dtype=bool)
    errors: list[str | None] = [None] * n
    try:
        base = _base_values(call.scenario, call.constants)
        params = np.repeat(_base_record(call.scenario, call.constants), n)
    except BaseException as exc:  # noqa: BLE001 - recorded for every run of the batch
        return BatchResult(batch.chunk, batch.first, ok, [describe(exc)] * n, values,
                           series=series)
    bad = np.zeros(n, dtype=bool)
    for name, column in rows.value_columns().items():
        param = PARAMETERS.get(name)
        if param is None:
            bad[:] = True
            continue
        packed, good = _pack_column(param, np.asarray(column))
        params[name] = packed
        bad |= ~good
    for i in np.flatnonzero(bad):
        try:
            params[i] = pack_many([{**base, **validate(rows[int(i)])}])[0]
        except BaseException as exc:  # noqa: BLE001 - every failure is recorded, none stops
            errors[i] = describe(exc)
            continue
        bad[i] = False
    index = np.flatnonzero(~bad)
    seeds = np.asarray(batch.seeds, dtype=np.int64)
    if index.size == n:  # every run valid (the usual case): no copy of the records
        _run_valid(call, params, seeds, index, values, series, ok, errors)
    elif index.size:
        _run_valid(call, params[index], seeds[index], index, values, series, ok, errors)
    return _result(batch, ok, errors, values, call.outcomes, series, call)


def _run_valid(call: ModelCall, params: Any, seeds: Any, index: Any, values: np.ndarray,
               series: np.ndarray | None, ok: np.ndarray, errors: list[str | None]) -> None:
    """The batch's valid runs (``index``) in one call of the fast engine: their outcomes and
    series filled in, or the batch's timeout or error recorded for each of them."""
    n = len(index)
    try:
        with run_limit(call.timeout and call.timeout * n):
            columns = run_projects(params, seeds, call.months, schedule=_schedule(call),
                                   as_arrays=True, probe_months=call.probe_months)
        values[index] = column_outcomes(columns, call.months, call.outcomes)
        if series is not None:
            series[index] = column_series(columns, call.series_months, call.series)
        ok[index] = True
    except RunTimeout:
        for i in index:
            errors[i] = describe_timeout(call.timeout or 0.0) + " (its batch of " \
                f"{n} runs in the fast engine passed {n} x the limit)"
    except BaseException as exc:  # noqa: BLE001 - recorded for every run of the batch
        for i in index:
            errors[i] = describe(exc)


def _run_fast(call: ModelCall, batch: Batch) -> BatchResult:
    """A batch of the project's model in one call of the fast engine."""
    if isinstance(batch.params, Rows):
        return _run_fast_columns(call, batch, batch.params)
    n, k = len(batch.seeds), len(call.outcomes)
    values = np.full((n, k), np.nan)
    series = call.empty_series(n)
    ok = np.zeros(n, dtype=bool)
    errors: list[str | None] = [None] * n
    rows: list[dict[str, Any]] = []
    index: list[int] = []
    try:
        base = _base_values(call.scenario, call.constants)
    except BaseException as exc:  # noqa: BLE001 - recorded for every run of the batch
        return BatchResult(batch.chunk, batch.first, ok, [describe(exc)] * n, values,
                           series=series)
    for i, params in enumerate(batch.params):
        try:
            rows.append({**base, **validate(params)})
        except BaseException as exc:  # noqa: BLE001 - every failure is recorded, none stops
            errors[i] = describe(exc)
            continue
        index.append(i)
    if index:
        _run_valid(call, rows, [int(batch.seeds[i]) for i in index], index, values, series,
                   ok, errors)
    return _result(batch, ok, errors, values, call.outcomes, series, call)


def _run_plugin_batch(batch_func: Callable[..., Any], call: ModelCall,
                      batch: Batch) -> BatchResult:
    """A batch of a plug-in through its vectorised ``batch`` form; if the batch raises,
    each run is tried alone through the scalar form, so one bad run costs one run."""
    n, k = len(batch.seeds), len(call.outcomes)
    values = np.full((n, k), np.nan)
    series = call.empty_series(n)
    ok = np.zeros(n, dtype=bool)
    errors: list[str | None] = [None] * n
    params = [{**call.constants, **p} for p in batch.params]
    try:
        with run_limit(call.timeout and call.timeout * n):
            results = batch_func(params, [int(s) for s in batch.seeds])
        rows = [_plugin_outcomes(r, call.outcomes) for r in results]
        if series is not None:
            series[:] = [_plugin_series(r, call) for r in results]
    except BaseException:  # noqa: BLE001 - fall back to one run at a time
        return run_batch(dataclasses.replace(call, engine="mesa"), batch)
    values[:] = rows
    ok[:] = True
    return _result(batch, ok, errors, values, call.outcomes, series, call)


def _run_plugin_columns(columns_func: Callable[..., Any], call: ModelCall, batch: Batch,
                        rows: Rows) -> BatchResult:
    """A batch of a plug-in through its columnar form, ``columns(columns, constants)`` ->
    one array per outcome (one value per run); if it raises, the batch goes through the
    plug-in's other forms, so one bad run costs one run."""
    n = len(batch.seeds)
    series = call.empty_series(n)
    try:
        with run_limit(call.timeout and call.timeout * n):
            out = columns_func(rows.value_columns(), dict(call.constants))
        values = np.empty((n, len(call.outcomes)))
        for j, name in enumerate(call.outcomes):
            if name not in out:
                raise KeyError(f"outcome '{name}' missing from the model's result")
            values[:, j] = np.asarray(out[name], dtype=float)
        if series is not None:  # one array per series: runs x months, month 1 first
            months = np.asarray(call.series_months) - 1
            for k, name in enumerate(call.series):
                if name not in out:
                    raise KeyError(f"time series '{name}' missing from the model's result")
                series[:, :, k] = np.asarray(out[name], dtype=float)[:, months]
    except BaseException:  # noqa: BLE001 - fall back to the batch or scalar form
        func = _function(call.model)
        if hasattr(func, "batch"):
            return _run_plugin_batch(func.batch, call, Batch(batch.chunk, batch.first,
                                                              list(rows), batch.seeds))
        return run_batch(dataclasses.replace(call, engine="mesa"), batch)
    return _result(batch, np.ones(n, dtype=bool), [None] * n, values, call.outcomes, series,
                   call)


def _result(batch: Batch, ok: np.ndarray, errors: list[str | None], values: np.ndarray,
            outcomes: Sequence[str], series: np.ndarray | None = None,
            call: ModelCall | None = None) -> BatchResult:
    """The batch's result, with runs that returned an infinite outcome (or an infinite
    value in a recorded series) marked invalid."""
    infinite = np.isinf(values) & ok[:, None]
    invalid = infinite.any(axis=1)
    for i in np.flatnonzero(invalid):
        j = int(np.flatnonzero(infinite[i])[0])
        errors[i] = (f"invalid: outcome '{outcomes[j]}' is {values[i, j]:g}; a non-finite "
                     f"outcome is left out of the analysis")
    if series is not None and call is not None:
        endless = np.isinf(series) & ok[:, None, None] & ~invalid[:, None, None]
        for i in np.flatnonzero(endless.any(axis=(1, 2))):
            j, k = (int(x[0]) for x in np.nonzero(endless[i]))
            errors[i] = (f"invalid: time series '{call.series[k]}' is {series[i, j, k]:g} in "
                         f"month {call.series_months[j]}; a non-finite value is left out of "
                         f"the analysis")
            invalid[i] = True
    return BatchResult(batch.chunk, batch.first, ok & ~invalid, errors, values, invalid,
                       series)
