"""ABC-SMC (pyabc) of a calibration file: the run, its store and its resumption.

The store is pyabc's SQLite history database ``DIR/history.db``; ``DIR/calibration.json``
records the calibration file's text and hash, so ``--resume`` continues the same
calibration (a changed file is refused). One particle is one run of the fast engine; its
seed is drawn from numpy's global generator, which ``--workers 1`` seeds from the file's
seed (and the generation), so a single-process calibration repeats exactly. pyabc's
multi-process and Dask samplers draw particles in whatever order workers finish, so their
results are valid but not repeatable run for run — the documentation says so.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.core.errors import JobStopped, SchedulerLost, UsageError
from sim.core.limits import check_scheduler_address
from sim.core.registry import PARAMETERS
from sim.core.scenarios import parameters_for
from sim.experiment.execute import probe_scheduler, quiet_client_log, scheduler_lost
from sim.experiment.store import LOCK, DirectoryLock
from sim.studies.calibration.spec import CalibrationSpec
from sim.studies.calibration.targets import distance, simulate

DB = "history.db"
FAILURES = "failures.log"
META = "calibration.json"


class CaseModel:
    """pyabc's model: parameters -> the run's distance to the case (picklable)."""

    def __init__(self, spec: CalibrationSpec, failures: Path | None = None) -> None:
        self.base = parameters_for(spec.scenario)
        self.spec = spec
        self.failures = failures  # one line per run that raised (any process)

    def values(self, par: Any) -> dict[str, Any]:
        values = dict(self.base)
        for name in self.spec.priors:
            x = float(par[name])
            values[name] = int(round(x)) if PARAMETERS[name].kind == "int" else x
        return values

    def __call__(self, par: Any) -> dict[str, float]:
        seed = int(np.random.randint(0, 2**62))
        try:
            frame = simulate([self.values(par)], [seed], self.spec.months)
            d = float(distance(frame, self.spec.targets, self.spec.thresholds)[0])
        except Exception as exc:  # noqa: BLE001 - a failed run is counted, never fatal
            d = math.inf
            if self.failures is not None:
                with open(self.failures, "a", encoding="utf-8") as log:
                    log.write(f"{dict(par)!r}: {type(exc).__name__}: {exc}"[:2000]
                              .replace("\n", " ") + "\n")
        return {"d": d}


def _distance(x: dict[str, float], x0: dict[str, float]) -> float:
    return x["d"]


@dataclass
class CalibrationReport:
    out: Path
    generations: int
    simulations: int
    seconds: float
    epsilon: float
    resumed: bool
    #: pyabc's history and where it ran: ``sim.report.calibration.write_report`` writes
    #: the posterior, figures and summary from them.
    history: Any = field(default=None, repr=False)
    where: str = ""


def _sampler(workers: int | None, scheduler: str | None):
    import pyabc

    if scheduler is not None:
        from distributed import Client

        scheduler = check_scheduler_address(scheduler)

        probe_scheduler(scheduler)  # not a Dask scheduler: one line, never a hang
        try:
            client = Client(scheduler, timeout=10)
        except Exception as exc:  # noqa: BLE001
            raise UsageError(f"--scheduler: cannot reach a Dask scheduler at {scheduler!r} "
                             f"({type(exc).__name__})") from None
        return pyabc.sampler.DaskDistributedSampler(client, batch_size=20), "dask"
    if workers == 1:
        return pyabc.sampler.SingleCoreSampler(), "1 process"
    return pyabc.sampler.MulticoreEvalParallelSampler(n_procs=workers), \
        f"{workers or 'all'} processes"


class _Progress(logging.Handler):
    """pyabc's log, one line a generation: epsilon, acceptance, simulations."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.t: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("t: "):
            self.t = message.rstrip(".")
        elif message.startswith("Accepted:") and self.t:
            print(f"calibrate: {self.t}; {message.rstrip('.')}", file=sys.stderr, flush=True)
        elif message.startswith("Stop:"):
            print(f"calibrate: {message}", file=sys.stderr, flush=True)


def check_out(out: Path, spec: CalibrationSpec, resume: bool) -> None:
    """The output directory: new (or empty) for a new calibration, the same calibration's
    for ``--resume``. Refusals write nothing."""
    meta = out / META
    if resume:
        if not meta.is_file() or not (out / DB).is_file():
            raise UsageError(f"--resume: {out} holds no calibration to continue")
        try:
            recorded = json.loads(meta.read_text())
            if not isinstance(recorded, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            raise UsageError(f"--resume: {meta} is damaged ({exc}); use a new --out") from None
        if recorded.get("sha256") != spec.sha256:
            raise UsageError(f"--resume: {out} holds a calibration of a different file "
                             f"({recorded.get('source')}); use a new --out")
        return
    if out.exists() and (not out.is_dir() or any(p.name != LOCK for p in out.iterdir())):
        raise UsageError(f"--out {out} exists and is not empty; continue it with --resume "
                         "or choose a new directory")


def calibrate(spec: CalibrationSpec, out: str | Path, workers: int | None = None,
              scheduler: str | None = None, resume: bool = False,
              progress: bool = True, model: Any = None) -> CalibrationReport:
    """Run (or continue) ABC-SMC for ``spec`` into ``out``. Write the posterior, figures
    and summary with :func:`sim.report.calibration.write_report` from the returned report's
    ``history`` (the caller does, e.g. ``icsim calibrate``). ``model`` replaces the case's model
    (``parameters -> {"d": distance}``), e.g. for a synthetic case in the tests."""

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a directory; choose another --out")
    # One writer for the life of the calibration: a second one into the same --out is
    # refused instead of writing into the same history database.
    lock = DirectoryLock(out).acquire()
    abc_log = logging.getLogger("ABC")
    level = abc_log.level
    try:
        check_out(out, spec, resume)
        if not progress:  # pyabc announces its sampler on the root log: not when quiet
            abc_log.setLevel(logging.WARNING)
        sampler, where = _sampler(workers, scheduler)
        abc_log.setLevel(level)
    except BaseException:
        abc_log.setLevel(level)
        lock.release(discard=True)
        raise
    try:
        return _calibrate(spec, out, sampler, where, scheduler, resume, progress, model)
    finally:
        lock.release()


def _is_database_error(exc: BaseException) -> bool:
    """An error of the SQLite history (through SQLAlchemy or sqlite3)."""
    return isinstance(exc, sqlite3.Error) or type(exc).__module__.startswith(
        ("sqlalchemy", "sqlite3"))


def _database_words(exc: BaseException) -> str:
    """An error's gist in a few words on one line (SQLAlchemy's messages run to pages)."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return (text[0][:120] if text else type(exc).__name__).rstrip(".")


def _database_stop(out: Path, exc: BaseException) -> JobStopped:
    """A full disk or a failing database while writing the history: one line, and the
    finished generations kept for ``--resume``."""
    words = _database_words(exc)
    if "full" in words.lower():
        return JobStopped(f"disk full writing {out / DB}; free some space, then continue "
                          f"with --resume (the finished generations are kept)")
    return JobStopped(f"{out / DB}: the database failed ({words}); continue with --resume "
                      "once it is fixed, or start again with a new --out")


def _calibrate(spec: CalibrationSpec, out: Path, sampler: Any, where: str,
               scheduler: str | None, resume: bool, progress: bool,
               model: Any) -> CalibrationReport:
    import pyabc

    if not resume:
        (out / META).write_text(json.dumps({"source": spec.source, "sha256": spec.sha256,
                                            "text": spec.text}, indent=2))
    priors = pyabc.Distribution(**{name: pyabc.RV("uniform", low, high - low)
                                   for name, (low, high) in spec.priors.items()})
    model = model if model is not None else CaseModel(spec, out / FAILURES)
    abc = pyabc.ABCSMC(model, priors, _distance, population_size=spec.population,
                       sampler=sampler,
                       eps=pyabc.epsilon.QuantileEpsilon(alpha=0.5))
    db = f"sqlite:///{(out / DB).resolve()}"
    handler = _Progress()
    logger = logging.getLogger("ABC")
    saved = logger.handlers[:], logger.propagate, logger.level
    logger.handlers = [handler] if progress else []  # pyabc's own lines are too chatty
    logger.propagate = False
    logger.setLevel(logging.INFO)
    quiet = contextlib.ExitStack()
    if scheduler is not None:
        quiet.enter_context(quiet_client_log())
    started = time.perf_counter()
    try:
        if resume:
            try:
                history = abc.load(db, 1)
                done = history.max_t + 1
            except Exception as exc:  # noqa: BLE001 - pyabc's many database errors
                raise UsageError(f"--resume: {out / DB} is damaged or not a calibration "
                                 f"history ({_database_words(exc)}); start again with a new "
                                 "--out") from None
        else:
            try:
                history = abc.new(db, {"d": 0.0})
            except Exception as exc:
                if _is_database_error(exc):
                    raise _database_stop(out, exc) from None
                raise
            done = 0
        np.random.seed((spec.seed + 1_000_003 * done) % 2**32)
        remaining = spec.generations - done
        if remaining > 0:
            try:
                history = abc.run(minimum_epsilon=spec.min_epsilon,
                                  max_nr_populations=remaining,
                                  min_acceptance_rate=spec.min_acceptance_rate,
                                  max_total_nr_simulations=spec.max_simulations)
            except Exception as exc:
                client = getattr(sampler, "client", None)
                if client is not None and (isinstance(exc, OSError | TimeoutError)
                                           or scheduler_lost(client, exc)):
                    # the generations already finished are in the history database
                    raise SchedulerLost(f"lost the Dask scheduler at {scheduler} "
                                        f"({type(exc).__name__})") from None
                if _is_database_error(exc):
                    raise _database_stop(out, exc) from None
                raise
    finally:
        logger.handlers, logger.propagate, _ = saved
        logger.setLevel(saved[2])
        client = getattr(sampler, "client", None) if scheduler is not None else None
        if client is not None:  # our Dask client: close it before the cluster goes
            with contextlib.suppress(Exception):  # a client whose scheduler is gone
                client.close(timeout=5)
        quiet.close()
    seconds = time.perf_counter() - started
    populations = history.get_all_populations()
    populations = populations[populations.t >= 0]
    return CalibrationReport(out=out, generations=int(history.max_t + 1),
                             simulations=int(populations.samples.sum()), seconds=seconds,
                             epsilon=float(populations.epsilon.iloc[-1]), resumed=resume,
                             history=history, where=where)
