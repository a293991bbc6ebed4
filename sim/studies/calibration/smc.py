"""ABC-SMC (pyabc) of a calibration file (``method = "smc"``): the run, its store and
its resumption.

The store is pyabc's SQLite history database ``DIR/history.db``. One particle is one run
of the fast engine; its seed is drawn from numpy's global generator, which with
``--workers 1`` is seeded from the file's seed and the generation at the start of *every*
generation, so a calibration killed and resumed at a generation's boundary repeats an
uninterrupted one. pyabc's multi-process and Dask
samplers take particles in whatever order workers finish, so their results are valid but
not repeatable run for run. Structural choices are discrete parameters (codes, moved by
pyabc's discrete jump transition).
"""

from __future__ import annotations

import contextlib
import logging
import math
import sqlite3
import sys
from pathlib import Path
from typing import Any

import numpy as np

from sim.core.errors import JobStopped, SchedulerLost, UsageError
from sim.core.limits import check_scheduler_address
from sim.core.registry import PARAMETERS
from sim.experiment.execute import probe_scheduler, quiet_client_log, scheduler_lost
from sim.studies.calibration import priors
from sim.studies.calibration.spec import CalibrationSpec
from sim.studies.calibration.targets import distance, simulate

DB = "history.db"
FAILURES = "failures.log"
META = "calibration.json"


class CaseModel:
    """pyabc's model: parameters -> the run's distance to the case (picklable)."""

    def __init__(self, spec: CalibrationSpec, failures: Path | None = None) -> None:
        self.base = priors.base(spec)
        self.spec = spec
        self.failures = failures  # one line per run that raised (any process)

    def params(self, par: Any) -> np.ndarray:
        params = self.base.copy()
        for name in self.spec.inferred:
            x = float(par[name])
            params[name] = round(x) if PARAMETERS[name].kind in ("int", "choice") else x
        if self.spec.choices:  # codes drawn over the file's forms -> the registry's codes
            for name, forms in self.spec.choices.items():
                params[name] = PARAMETERS[name].choices.index(forms[int(params[name][0])])
        return params

    def __call__(self, par: Any) -> dict[str, float]:
        seed = int(np.random.randint(0, 2**62))
        try:
            columns = simulate(self.spec.targets, self.params(par), [seed], self.spec.months,
                                self.spec.national)
            d = float(distance(self.spec.targets, columns)[0])
        except Exception as exc:  # noqa: BLE001 - a failed run is counted, never fatal
            d = math.inf
            if self.failures is not None:
                with open(self.failures, "a", encoding="utf-8") as log:
                    log.write(f"{dict(par)!r}: {type(exc).__name__}: {exc}"[:2000]
                              .replace("\n", " ") + "\n")
        return {"d": d}


def _distance(x: dict[str, float], x0: dict[str, float]) -> float:
    return x["d"]


def _seeded_sampler(seed: int) -> Any:
    """pyabc's single-core sampler, numpy's global generator seeded by (seed, generation)
    at the start of every generation: a calibration resumed at a generation's boundary
    draws what an uninterrupted one would have."""
    import pyabc

    class SeededSampler(pyabc.sampler.SingleCoreSampler):
        def sample_until_n_accepted(self, n: int, simulate_one: Any, t: int,
                                    **kwargs: Any) -> Any:
            np.random.seed((seed + 1_000_003 * t) % 2**32)
            return super().sample_until_n_accepted(n, simulate_one, t, **kwargs)

    return SeededSampler()


def _sampler(workers: int | None, scheduler: str | None,
             seed: int = 0) -> Any:  # a pyabc sampler
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
        return _seeded_sampler(seed), "1 process"
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


def run_smc(spec: CalibrationSpec, out: Path, workers: int | None, scheduler: str | None,
            resume: bool, progress: bool, model: Any = None) -> Any:
    """Run (or continue) ABC-SMC into ``out/history.db``; return pyabc's history.
    ``model`` replaces the case's model (``parameters -> {"d": distance}``)."""
    import pyabc

    abc_log = logging.getLogger("ABC")
    level = abc_log.level
    if not progress:  # pyabc announces its sampler on the root log: not when quiet
        abc_log.setLevel(logging.WARNING)
    try:
        sampler, _where = _sampler(workers, scheduler, spec.seed)
    finally:
        abc_log.setLevel(level)
    rvs = {}
    for name in spec.inferred:
        if name in spec.choices:
            rvs[name] = pyabc.RV("randint", 0, len(spec.choices[name]))
        else:
            low, high = spec.priors[name]
            rvs[name] = pyabc.RV("uniform", low, high - low)
    prior = pyabc.Distribution(**rvs)
    transitions: Any = pyabc.MultivariateNormalTransition()
    if spec.choices:
        numeric = tuple(n for n in spec.inferred if n not in spec.choices)
        mapping: dict[Any, Any] = {numeric: pyabc.MultivariateNormalTransition()} if numeric \
            else {}
        for name, forms in spec.choices.items():
            mapping[name] = pyabc.DiscreteJumpTransition(domain=np.arange(len(forms)),
                                                         p_stay=0.7)
        transitions = pyabc.AggregatedTransition(mapping=mapping)
    model = model if model is not None else CaseModel(spec, out / FAILURES)
    abc = pyabc.ABCSMC(model, prior, _distance, population_size=spec.population,
                       sampler=sampler, transitions=transitions,
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
    try:
        if resume and (out / DB).exists():
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
        remaining = spec.generations - done
        if remaining > 0:
            try:
                history = abc.run(minimum_epsilon=spec.min_epsilon,
                                  max_nr_populations=remaining,
                                  min_acceptance_rate=spec.min_acceptance_rate,
                                  max_total_nr_simulations=spec.simulations)
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
    return history


def smc_posterior(spec: CalibrationSpec, history: Any) -> tuple[np.ndarray, np.ndarray]:
    """The last generation resampled by its weights to ``accept`` equally weighted draws
    (packed) and the generations' table rows."""
    population, w = history.get_distribution(t=history.max_t)
    w = np.asarray(w, dtype=float)
    rng = priors.generator(spec, priors.PREDICTIVE, 7)
    pick = rng.choice(len(population), size=spec.accept, p=w / w.sum())
    model = CaseModel(spec)
    records = population.reset_index(drop=True).iloc[pick].to_dict("records")
    packed = np.concatenate([model.params(r) for r in records])
    return packed, w
