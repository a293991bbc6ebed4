"""A sweep: design x replicates, run by an executor, streamed to Parquet parts.

The coordinator hands out batches of runs, a bounded number at a time, and writes each
chunk of consecutive runs as one Parquet part as soon as all its batches are back. Memory
holds only the chunks in flight, however many runs the sweep has. A killed or interrupted
sweep is completed by running it again into the same directory: the finished parts are
kept and exactly the missing chunks run.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pyarrow as pa

from sim.core.errors import UsageError
from sim.experiment.design import Design, make_design
from sim.experiment.execute import Executor, make_executor, progress_bar
from sim.experiment.models import (
    ENGINES,
    STATUSES,
    Batch,
    BatchResult,
    ModelCall,
    Rows,
    failed_batch,
    run_batch,
    split_batch,
)
from sim.experiment.posterior import draws_sha256, load_posterior
from sim.experiment.spec import (
    Experiment,
    check_plugin,
    load_experiment,
    with_stored_part_size,
)
from sim.experiment.store import (
    DirectoryLock,
    SweepStore,
    Verified,
    WriteError,
    code_key,
    code_label,
    code_state,
    schema,
    series_schema,
)
from sim.experiment.timeout import check_timeout, limit_for
from sim.run import engine_modules


@dataclass
class SweepReport:
    """What a sweep session did."""

    out: Path
    runs_total: int
    runs_done: int
    runs_failed: int  # every run that is not ok, the invalid ones included
    runs_this_session: int
    seconds: float
    resumed: bool
    executor: str
    manifest: dict[str, Any] = field(repr=False, default_factory=dict)
    runs_invalid: int = 0  # runs with an infinite outcome (status "invalid")

    @property
    def complete(self) -> bool:
        return self.runs_done == self.runs_total


def default_out(experiment: Experiment) -> Path:
    """Where a sweep goes without ``--out``: ``results/<experiment name>``."""
    return Path("results") / experiment.name


def model_call(experiment: Experiment, engine: str | None = None,
               run_timeout: float | None = None) -> ModelCall:
    """How workers call the model; ``engine`` overrides the experiment file's, and
    ``run_timeout`` its ``run_timeout_s`` (else the model's default limit)."""
    timeout = limit_for(experiment.is_project_model, experiment.months,
                        run_timeout if run_timeout is not None else experiment.run_timeout_s)
    scenario, constants = experiment.scenario, dict(experiment.constants)
    schedule: tuple[tuple[int, dict[str, Any]], ...] = ()
    if experiment.scenario_file is not None:  # a scenario file: its values and changes,
        # the constants over them, and a lever the sweep sets taken out of the changes
        resolved = experiment.scenario_file
        scenario, constants = "baseline", {**resolved.values, **constants}
        fixed = set(experiment.constants) | set(experiment.names)
        schedule = tuple((m, kept) for m, values in resolved.schedule
                         if (kept := {k: v for k, v in values.items() if k not in fixed}))
    elif experiment.scenario_sha256:
        raise UsageError(f"{experiment.source}: its scenario file {experiment.scenario} "
                         "was not read; load the experiment with its model checked")
    series = experiment.timeseries
    return ModelCall(model=experiment.model, outcomes=experiment.outcomes,
                     scenario=scenario, months=experiment.months, constants=constants,
                     engine=engine or experiment.engine, timeout=timeout, schedule=schedule,
                     series=series.outcomes if series else (),
                     series_months=series.months if series else ())


def _preload(experiment: Experiment, engine: str | None = None) -> list[str]:
    """Modules worth importing once before workers start (inherited by forked workers, or
    preloaded in the fork server): the project model's engine (never Mesa for the fast
    engine), or a plug-in's module."""
    if experiment.is_project_model:
        return engine_modules(engine or experiment.engine)
    return [experiment.model.partition(":")[0]]


_STATUS_NAMES = pa.array(STATUSES, type=pa.string())


@dataclass
class _OpenChunk:
    columns: dict[str, np.ndarray]
    remaining: int
    results: list[BatchResult] = field(default_factory=list)


class _Plan:
    """Cuts the missing chunks into batches, lazily, remembering the chunks in flight."""

    def __init__(self, experiment: Experiment, design: Design, todo: list[int],
                 runs_per_task: int, draws: list[dict[str, Any]] | None = None,
                 tail: tuple[int, int] = (0, 0)) -> None:
        self.draws = draws
        self.experiment = experiment
        self.design = design
        self.todo = todo
        self.runs_per_task = runs_per_task
        #: (chunks, runs a task): the last chunks cut into smaller tasks, so that the
        #: workers finish together instead of one waiting for another's last whole part.
        self.tail = tail
        self.open: dict[int, _OpenChunk] = {}

    def chunk_range(self, chunk: int) -> tuple[int, int]:
        size = self.experiment.runs_per_part
        return chunk * size, min((chunk + 1) * size, self.design.n_runs)

    def tasks(self, call: ModelCall) -> Iterator[tuple[ModelCall, Batch]]:
        last, tail_step = self.tail
        for index, chunk in enumerate(self.todo):
            start, stop = self.chunk_range(chunk)
            columns = self.design.run_columns(start, stop)
            values = {name: columns[name] for name in self.design.names}
            # Columns, not a dict per run (sim.experiment.models.Rows); replicate r takes
            # posterior draw r, and swept values win.
            params = Rows(values, stop - start, self.draws,
                          columns["replicate"] % len(self.draws) if self.draws else None)
            step = self.runs_per_task
            if index >= len(self.todo) - last:
                step = min(step, tail_step)
            # Counted in runs, not tasks: a batch may come back split run by run.
            self.open[chunk] = _OpenChunk(columns, stop - start)
            for i in range(0, stop - start, step):
                yield call, Batch(chunk, start + i, params[i:i + step],
                                  columns["seed"][i:i + step])

    def table(self, chunk: int, experiment: Experiment) -> tuple[pa.Table, pa.Table | None]:
        """The part of a complete chunk, one row per run in run order, and with
        ``[timeseries]`` its time-series part: one row per run and recorded month, month
        by month (each month a row group), runs in run order within a month."""
        entry = self.open.pop(chunk)
        results = sorted(entry.results, key=lambda r: r.first)
        codes = np.concatenate([r.status_codes for r in results])
        n = len(codes)
        # Arrow columns, not a Python string per run: the statuses by their codes, and
        # the errors (None for every run of the usual part) as one null column.
        status = _STATUS_NAMES.take(codes)
        errors: Any = [e for r in results for e in r.errors] if codes.any() \
            else pa.nulls(n, pa.string())
        values = np.concatenate([r.values for r in results])
        columns = entry.columns
        target = schema(experiment)
        arrays: dict[str, Any] = {
            "point": columns["point"], "replicate": columns["replicate"],
            "seed": columns["seed"], "status": status,
            "error": errors,
        }
        for name in self.design.names:
            col = columns[name]
            arrays[name] = col.tolist() if col.dtype == object else col
        for j, name in enumerate(experiment.outcomes):
            arrays[name] = values[:, j]
        table = pa.Table.from_arrays(
            [a if isinstance(a := arrays[f.name], pa.Array) else pa.array(a, type=f.type)
             for f in target], schema=target)
        if experiment.timeseries is None:
            return table, None
        months = np.asarray(experiment.timeseries.months, dtype=np.int64)
        # runs x months x series -> (months x runs) x series: month-major rows
        series = np.concatenate([r.series for r in results if r.series is not None])
        flat = series.transpose(1, 0, 2).reshape(len(months) * n, -1)
        target = series_schema(experiment)
        keys = [np.tile(columns["point"], len(months)),
                np.tile(columns["replicate"], len(months)), np.repeat(months, n)]
        return table, pa.Table.from_arrays(
            [pa.array(a, type=f.type) for a, f in zip(keys + list(flat.T), target,
                                                      strict=True)], schema=target)


def run_sweep(experiment: Experiment | str | Path, out: str | Path | None = None, *,
              workers: int | None = None, scheduler: str | None = None,
              executor: Executor | None = None, resume: bool = False,
              progress: bool = True, runs_per_task: int | None = None,
              engine: str | None = None, posterior: str | Path | None = None,
              allow_mixed_code: bool = False, lock: DirectoryLock | None = None,
              allow_plugin: bool = False, run_timeout: float | None = None,
              on_part: Callable[[int, pa.Table], None] | None = None) -> SweepReport:
    """Run (or complete) a sweep into ``out``; return what this session did.

    Everything is validated -- the experiment file, the directory, the executor, and on a
    resume every part already written (checksum, provenance, rows) -- before anything is
    written. Raises ``sim.core.errors.UsageError`` on bad input; a ``KeyboardInterrupt`` leaves
    finished parts in place for a later resume. ``engine`` ("fast" or "mesa") overrides the
    experiment file's; both give the same runs, so a sweep may be resumed with either.

    A resume whose existing parts were written by other code (another icsim version, git
    commit or set of local changes) is refused unless ``allow_mixed_code``, which the
    manifest then records. Damaged parts are moved to ``DIR/discarded/``, each named in a
    line on stderr, and rerun. ``lock``: a :class:`DirectoryLock` on ``out`` the caller
    already holds (and keeps holding afterwards, e.g. to write outputs from the runs); it
    is released, with what it created, if the sweep is refused.

    A plug-in model runs only if it is registered or allowed (``allow_plugin``, or an
    experiment loaded with it; see :mod:`sim.experiment.plugins`), checked before its module
    is imported or anything is written.

    ``run_timeout`` (seconds; default the experiment's ``run_timeout_s``, else the model's
    default, see :mod:`sim.experiment.timeout`): a run past it is stopped and recorded with
    status ``timeout``, and the sweep goes on.

    ``on_part(chunk, table)``: called with each part's table of runs once it is written, on
    the calling thread (a caller reading the runs as they come need not read them back).
    """
    run_timeout = check_timeout(run_timeout)
    if engine is not None and engine not in ENGINES:
        raise UsageError(f"--engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    if not isinstance(experiment, Experiment):
        experiment = load_experiment(experiment, allow_plugin=allow_plugin)
    # also for an experiment parsed without the check; the manifest records the permission
    permission = check_plugin(experiment, allow_plugin)
    draws = None
    if posterior is not None:
        draws, experiment = _with_posterior(experiment, posterior)
    store = SweepStore(out if out is not None else default_out(experiment))
    experiment = _stored_part_size(experiment, store)
    design = make_design(experiment)
    # One writer per directory for the whole job: a second sweep, national run or resume
    # into the same directory is refused instead of mixing its parts with this one's.
    own_lock = lock is None
    if lock is None:
        lock = DirectoryLock(store.root).acquire()
    own_executor = executor is None
    code = code_state()
    try:
        resumed = store.check(experiment, design, resume)
        verified, mixed = Verified(), None
        if resumed:
            verified = store.verify(experiment, design, store.read_manifest())
            if len(verified.parts) < -(-design.n_runs // experiment.runs_per_part):
                mixed = _check_code(store.root, verified, code, allow_mixed_code)
        if executor is None:
            executor = make_executor(workers, scheduler, preload=_preload(experiment, engine))
    except BaseException:
        lock.release(discard=True)
        raise
    try:
        return _run(experiment, design, store, executor, resumed, progress, runs_per_task,
                    engine, draws, verified, code, mixed, permission, run_timeout, on_part)
    except _NothingWritten:
        lock.release(discard=True)
        raise
    except BaseException:
        if own_executor:  # Ctrl-C or an error: never wait for runs that may hang
            executor.abort()
        raise
    finally:
        if own_executor:
            executor.close()
        if own_lock:
            lock.release()


def _stored_part_size(experiment: Experiment, store: SweepStore) -> Experiment:
    """``experiment`` in the part size of the sweep already in ``store`` (written with
    another default part size: :func:`sim.experiment.spec.with_stored_part_size`); a
    missing or unreadable manifest changes nothing (:meth:`SweepStore.check` reports it)."""
    path = store.manifest_path
    if experiment.runs_per_part_given or path.is_symlink() or not path.is_file():
        return experiment
    try:
        return with_stored_part_size(experiment, store.read_manifest())
    except UsageError:
        return experiment


def _check_code(root: Path, verified: Verified, code: dict[str, Any],
                allow: bool) -> Verified | None:
    """Refuse to add parts from ``code`` to parts from other code, unless ``allow``; return
    what to record as mixing (or ``None`` if nothing mixes)."""
    others = [(old, names) for key, (old, names) in verified.codes().items()
              if key != code_key(code)]
    if not others:
        return None
    if not allow:
        old, names = others[0]
        more = f" and {len(others) - 1} other code versions" if len(others) > 1 else ""
        raise UsageError(
            f"--resume: {root} holds {len(names)} parts written by {code_label(old)}{more}, "
            f"the code now is {code_label(code)}; refusing to mix code versions -- rerun "
            "with --allow-mixed-code to mix them deliberately (the manifest records it), or "
            "choose another --out")
    return verified


class _NothingWritten(UsageError):
    """A fresh sweep could not write its manifest: the directory is as it was."""


def _write_failed(failure: WriteError | None, manifest_error: WriteError | None,
                  manifest_status: str) -> str:
    """One line: what could not be written, what the manifest says, what to do next."""
    first = failure or manifest_error
    assert first is not None
    todo = f"{first.next_step} with --resume"
    if failure is None:
        return (f"{first.describe()}: every part is written but the manifest still says "
                f"'running' -- {todo}")
    if manifest_error is not None:
        return (f"{failure.describe()}; the manifest could not be updated either "
                f"({manifest_error.describe()}), so it still says 'running' -- {todo}")
    return f"{failure.describe()}; the manifest says '{manifest_status}' -- {todo}"


def _with_posterior(experiment: Experiment, posterior: str | Path,
                    ) -> tuple[list[dict[str, Any]], Experiment]:
    """The posterior's draws as the sweep's base point (replicate r takes draw r), and the
    experiment marked with the draws' hash, so a resume with other draws is refused."""
    import dataclasses

    if not experiment.is_project_model:
        raise UsageError("--posterior applies to the project's model only")
    draws = load_posterior(posterior)
    swept = set(experiment.names) | set(experiment.constants)
    draws = draws[[c for c in draws.columns if c not in swept]]
    digest = draws_sha256(draws)
    records = cast(list[dict[str, Any]], draws.to_dict("records"))  # columns: registry names
    path = Path(posterior)
    path = path / "posterior.parquet" if path.is_dir() else path
    return records, dataclasses.replace(experiment, posterior_sha256=digest,
                                        posterior_file=str(path))


#: A sweep with fewer parts to run than this many a worker cuts them into more tasks (up
#: to this many a part), so that every worker has work.
TASKS_PER_WORKER = 4


def _tasks_per_part(executor: Executor, parts: int) -> int:
    """How many tasks each of ``parts`` parts is cut into: the executor's (whole parts),
    or more when there are few parts for its workers."""
    few = -(-TASKS_PER_WORKER * executor.workers // max(1, parts))
    return max(1, executor.tasks_per_part, min(TASKS_PER_WORKER, few))


def _run(experiment: Experiment, design: Design, store: SweepStore, executor: Executor,
         resumed: bool, progress: bool, runs_per_task: int | None,
         engine: str | None = None, draws: list[dict[str, Any]] | None = None,
         verified: Verified | None = None, code: dict[str, Any] | None = None,
         mixed: Verified | None = None, permission: str | None = None,
         run_timeout: float | None = None,
         on_part: Callable[[int, pa.Table], None] | None = None) -> SweepReport:
    verified = verified or Verified()
    state = verified.progress()
    try:
        discarded = store.discard(verified.damaged, verified.temporary)
        manifest = store.begin(experiment, design, executor.description, resumed, state,
                               code=code, discarded=discarded, mixed=mixed,
                               model_permission=permission)
    except WriteError as exc:
        step = exc.next_step
        if not resumed:
            with contextlib.suppress(OSError):
                store.runs.rmdir()
            raise _NothingWritten(f"{exc.describe()}; nothing was written -- {step}") from None
        raise UsageError(f"{exc.describe()}; the sweep is as it was -- {step} with --resume"
                         ) from None
    call = model_call(experiment, engine, run_timeout)
    # the session's time limit, recorded with the session when it ends
    manifest["sessions"][-1]["run_timeout_s"] = call.timeout
    n_chunks = -(-design.n_runs // experiment.runs_per_part)
    todo = [c for c in range(n_chunks) if c not in state.chunks]
    per_task = runs_per_task or max(1, -(-experiment.runs_per_part
                                         // _tasks_per_part(executor, len(todo))))
    # The last part a worker in smaller tasks (up to TASKS_PER_WORKER a part): whole
    # parts of 4,096 fast-engine runs are 0.2 s of a core each, which one worker would
    # otherwise still be running while the others sit idle at the end of the sweep.
    tail = (0, per_task) if runs_per_task else \
        (executor.workers, max(1, -(-experiment.runs_per_part // TASKS_PER_WORKER)))
    plan = _Plan(experiment, design, todo, per_task, draws, tail)
    window = max(4 * executor.workers,
                 2 * -(-experiment.runs_per_part // min(per_task, tail[1])))
    before = state.runs_done
    started = time.perf_counter()
    bar = progress_bar(total=design.n_runs, initial=state.runs_done, unit="run",
                       disable=not progress, desc=experiment.name, dynamic_ncols=True,
                       smoothing=0.05)
    status = "failed"
    failure: WriteError | None = None
    manifest_error: WriteError | None = None
    try:
        # A run that kills its worker is found (its batch rerun alone, then run by run)
        # and recorded as failed; the other runs get their own results.
        for result in executor.imap_unordered(
                run_batch, plan.tasks(call), window=window,
                split=lambda task: split_batch(*task),
                give_up=lambda task, cause: failed_batch(*task, cause)):
            entry = plan.open[result.chunk]
            entry.results.append(result)
            entry.remaining -= len(result.ok)
            n_failed = int(np.sum(~result.ok))
            state.runs_failed += n_failed
            state.runs_invalid += int(np.sum(result.invalid))
            state.runs_done += len(result.ok)
            bar.update(len(result.ok))
            if n_failed:
                bar.set_postfix(failed=state.runs_failed, refresh=False)
            if entry.remaining == 0:
                runs, series = plan.table(result.chunk, experiment)
                store.write_part(result.chunk, runs, series)
                state.chunks.add(result.chunk)
                if on_part is not None:
                    on_part(result.chunk, runs)
        status = "complete"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except WriteError as exc:  # disk full, read-only, ...: one line, the manifest says so
        failure = exc
    finally:
        bar.close()
        # Runs of chunks not yet written are not done: they will run again on resume.
        for chunk in list(plan.open):
            entry = plan.open.pop(chunk)
            got = sum(len(r.ok) for r in entry.results)
            state.runs_done -= got
            state.runs_failed -= sum(int(np.sum(~r.ok)) for r in entry.results)
            state.runs_invalid -= sum(int(np.sum(r.invalid)) for r in entry.results
                                      if r.invalid is not None)
        try:
            store.end(manifest, status, state,
                      error=failure.describe() if failure is not None else None)
        except WriteError as exc:
            manifest_error = exc
    if failure is not None or manifest_error is not None:
        raise UsageError(_write_failed(failure, manifest_error, status))
    return SweepReport(out=store.root, runs_total=design.n_runs, runs_done=state.runs_done,
                       runs_failed=state.runs_failed, runs_invalid=state.runs_invalid,
                       runs_this_session=state.runs_done - before,
                       seconds=time.perf_counter() - started, resumed=resumed,
                       executor=executor.description, manifest=manifest)
