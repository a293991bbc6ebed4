"""One calibration, by the file's method: its output folder, lock, resumption and checks.

``rejection`` (the default): the reference table of prior simulations
(:mod:`sim.studies.calibration.reference`, resumable exactly), the ``accept`` runs nearest
the case (:mod:`sim.studies.calibration.rejection`), and the checks: prior and posterior
predictive shares of each target, and simulation-based calibration on synthetic cases.
``smc``: pyabc's ABC-SMC (:mod:`sim.studies.calibration.smc`), resampled by its weights;
its predictive check is run too (its coverage check would need one SMC run per case).

``DIR/calibration.json`` records the calibration file's text and hash, so ``--resume``
continues the same calibration (a changed file is refused). It is written first, so a
calibration killed at any later point can be resumed.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.core.errors import UsageError
from sim.core.limits import check_scheduler_address
from sim.experiment.execute import make_executor, probe_scheduler, progress_bar
from sim.experiment.store import LOCK, DirectoryLock, write_atomic
from sim.studies.calibration import npe, priors, reference, rejection, smc
from sim.studies.calibration.spec import CalibrationSpec

META = "calibration.json"
#: Posterior draws, and runs of each, of the check of what any posterior value can reach.
REACH_DRAWS, REACH_REPLICATES = 200, 50


@dataclass
class CalibrationResult:
    spec: CalibrationSpec
    out: Path
    method: str
    where: str
    seconds: float
    cpu_seconds: float
    simulations: int
    resumed: bool
    posterior: pd.DataFrame  # registry values of the inferred entries, equally weighted
    distances: np.ndarray | None  # rejection: each accepted run's distance to the case
    #: share of runs meeting each target (and ``all``): rows point, prior, posterior
    predictive: pd.DataFrame
    posterior_terms: pd.DataFrame  # the posterior predictive runs' terms
    #: per posterior draw (the first ``REACH_DRAWS``), the share of its replicated runs
    #: meeting each target and all of them
    reach: pd.DataFrame | None = None
    coverage: pd.DataFrame | None = None  # rejection: one row per synthetic case, entry
    generations: pd.DataFrame | None = None  # smc: pyabc's generations
    reference_from: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def check_out(out: Path, spec: CalibrationSpec, resume: bool) -> None:
    """The output directory: new (or empty) for a new calibration, the same calibration's
    for ``--resume``. Refusals write nothing."""
    meta = out / META
    if resume:
        if not meta.is_file():
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


def _bar(total: int, unit: str, progress: bool, what: str) -> Any:
    return progress_bar(total=total, unit=unit, disable=not progress, desc=what, leave=False,
                        unit_scale=True, dynamic_ncols=True)


def _cpu() -> float:
    """This process's CPU-seconds (workers report theirs with each task)."""
    return time.process_time()


def calibrate(spec: CalibrationSpec, out: str | Path, workers: int | None = None,
              scheduler: str | None = None, resume: bool = False, progress: bool = True,
              reference_dir: str | Path | None = None, model: Any = None,
              coverage: bool = True) -> CalibrationResult:
    """Run (or continue) the calibration ``spec`` into ``out`` and its checks; write the
    report with :func:`sim.report.calibration.write_report`. ``reference_dir`` conditions
    on the reference table of an earlier calibration with the same prior (rejection)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a directory; choose another --out")
    if reference_dir is not None and spec.method == "smc":
        raise UsageError("--reference conditions a rejection or npe calibration's table; the "
                         f"file's method is {spec.method!r}")
    if spec.method == "npe":
        npe.check_installed()  # a refusal writes nothing
    source = Path(reference_dir) if reference_dir is not None else None
    if scheduler is not None:  # not a Dask scheduler: one line, before anything is written
        probe_scheduler(check_scheduler_address(scheduler))
    if source is not None:
        reference.check_table(source / reference.FOLDER, spec)  # before anything is written
    lock = DirectoryLock(out).acquire()
    try:
        check_out(out, spec, resume)
    except BaseException:
        lock.release(discard=True)
        raise
    try:
        if not resume:
            write_atomic(out / META, json.dumps({"source": spec.source, "sha256": spec.sha256,
                                                 "text": spec.text}, indent=2).encode())
        started, cpu = time.perf_counter(), _cpu()
        if spec.method == "smc":
            result = _smc(spec, out, workers, scheduler, resume, progress, model)
        elif spec.method == "npe":
            result = _npe(spec, out, workers, scheduler, progress, source, coverage)
        else:
            result = _rejection(spec, out, workers, scheduler, progress, source, coverage)
        result.seconds = time.perf_counter() - started
        result.cpu_seconds += _cpu() - cpu
        result.resumed = resume
        return result
    finally:
        lock.release()


def _predictive_table(spec: CalibrationSpec, prior_terms: pd.DataFrame,
                      posterior_terms: pd.DataFrame) -> pd.DataFrame:
    point = rejection.predictive(spec, np.repeat(rejection.point_params(spec),
                                                 spec.predictive_runs),
                                 stream=priors.PREDICTIVE + 10)
    rows = {"point (registry values)": rejection.met_shares(point),
            "prior": rejection.met_shares(prior_terms),
            "posterior": rejection.met_shares(posterior_terms)}
    table = pd.DataFrame(rows).T
    table.insert(0, "runs", [len(point), len(prior_terms), len(posterior_terms)])
    return table


def _table(spec: CalibrationSpec, out: Path, workers: int | None, scheduler: str | None,
           progress: bool, source: Path | None, worker_cpu: list[float]) -> np.ndarray:
    """The reference table's features (built, resumed, or read from ``source``)."""
    if source is not None:
        table_ref = reference.load(spec, source)
        missing = [f for f in reference.fields_of(spec.targets) if f not in table_ref.fields]
        if missing:
            raise UsageError(f"--reference {source}: its table has no column {missing[0]!r} "
                             f"(it holds {', '.join(table_ref.fields)}); calibrate without "
                             "--reference")
        order = [table_ref.fields.index(f) for f in reference.fields_of(spec.targets)]
        table_ref = reference.Reference(fields=reference.fields_of(spec.targets),
                                        stats=table_ref.stats[:, order])
    else:
        bar = _bar(spec.simulations, "run", progress, "prior simulations")
        with make_executor(workers, scheduler) as executor:
            table_ref = reference.build(spec, out, executor, bar.update, worker_cpu)
        bar.close()
    return rejection.table_features(spec.targets, table_ref)


def _where(workers: int | None, scheduler: str | None) -> str:
    if scheduler:
        return f"Dask at {scheduler}"
    return "1 process" if workers == 1 else f"{workers or os.cpu_count() or 1} processes"


@dataclass
class _Checks:
    """What a posterior drawn from a reference table is checked by."""

    predictive: pd.DataFrame
    posterior_terms: pd.DataFrame
    reach: pd.DataFrame
    prior_met: pd.Series


def _checks(spec: CalibrationSpec, table: np.ndarray, params: np.ndarray) -> _Checks:
    """The predictive table (the table's first runs are the prior's), the reach of the
    first draws and each target's share of prior runs meeting it."""
    names = [t.name for t in spec.targets]
    prior_terms = pd.DataFrame(table[:spec.predictive_runs].astype(float), columns=names)
    posterior_terms = rejection.predictive(spec, params)
    return _Checks(predictive=_predictive_table(spec, prior_terms, posterior_terms),
                   posterior_terms=posterior_terms,
                   reach=rejection.per_draw(spec, params[:REACH_DRAWS], REACH_REPLICATES),
                   prior_met=pd.Series((table == 0).mean(axis=0), index=names))


def _rejection(spec: CalibrationSpec, out: Path, workers: int | None, scheduler: str | None,
               progress: bool, source: Path | None, coverage: bool) -> CalibrationResult:
    worker_cpu = [0.0]
    table = _table(spec, out, workers, scheduler, progress, source, worker_cpu)
    post = rejection.posterior(spec, table)
    checks = _checks(spec, table, post.params)
    cover = None
    if coverage and spec.coverage_cases:
        bar = _bar(spec.coverage_cases, "case", progress, "coverage check")
        cover = rejection.coverage(spec, table, spec.coverage_cases, bar.update)
        bar.close()
    return CalibrationResult(
        spec=spec, out=out, method="rejection", where=_where(workers, scheduler),
        seconds=0.0, cpu_seconds=worker_cpu[0],
        simulations=spec.simulations, resumed=False, posterior=post.values,
        distances=post.distances, predictive=checks.predictive,
        posterior_terms=checks.posterior_terms, reach=checks.reach, coverage=cover,
        reference_from=source,
        extra={"prior_met": checks.prior_met, "params": post.params,
               "table_cost": reference.cost((source or out) / reference.FOLDER)})


def _npe(spec: CalibrationSpec, out: Path, workers: int | None, scheduler: str | None,
         progress: bool, source: Path | None, coverage: bool) -> CalibrationResult:
    """Neural posterior estimation (:mod:`sim.studies.calibration.npe`) trained on the
    first ``spec.training`` runs of the same reference table as rejection; the posterior
    is ``accept`` draws at the case (every term 0)."""
    worker_cpu = [0.0]
    table = _table(spec, out, workers, scheduler, progress, source, worker_cpu)
    n = min(spec.training, spec.simulations)
    params = priors.rows(spec, priors.REFERENCE, np.arange(n), spec.simulations)
    trained = npe.train(spec, params, table[:n], max_epochs=spec.epochs,
                        seed=spec.seed, progress=progress)
    del params
    drawn = npe.sample(trained, np.zeros(table.shape[1]), spec.accept, seed=spec.seed)
    checks = _checks(spec, table, drawn)
    cover = None
    if coverage and spec.coverage_cases:
        cover = npe.coverage(trained, spec.coverage_cases, seed=spec.seed)
    return CalibrationResult(
        spec=spec, out=out, method="npe", where=_where(workers, scheduler), seconds=0.0,
        cpu_seconds=worker_cpu[0], simulations=spec.simulations, resumed=False,
        posterior=priors.as_values(spec, drawn), distances=None,
        predictive=checks.predictive, posterior_terms=checks.posterior_terms,
        coverage=cover, reference_from=source, reach=checks.reach,
        extra={"prior_met": checks.prior_met, "params": drawn,
               "training": {"simulations": trained.simulations, "epochs": trained.epochs,
                            "cpu_seconds": trained.cpu_seconds,
                            "validation_loss": trained.validation_loss,
                            **trained.settings}})


def _smc(spec: CalibrationSpec, out: Path, workers: int | None, scheduler: str | None,
         resume: bool, progress: bool, model: Any) -> CalibrationResult:
    history = smc.run_smc(spec, out, workers, scheduler, resume, progress, model)
    params, w = smc.smc_posterior(spec, history)
    generations = history.get_all_populations()
    generations = generations[generations.t >= 0][["t", "epsilon", "samples",
                                                  "particles"]].reset_index(drop=True)
    generations["acceptance_rate"] = generations.particles / generations.samples
    generations["ess"] = [_ess(history.get_distribution(t=int(t))[1]) for t in generations.t]
    posterior_terms = rejection.predictive(spec, params)
    prior_params, _ = priors.chunk(spec, priors.REFERENCE, 0, spec.predictive_runs)
    prior_terms = rejection.predictive(spec, prior_params, stream=priors.PREDICTIVE + 20)
    return CalibrationResult(
        spec=spec, out=out, method="smc", where=_where(workers, scheduler), seconds=0.0,
        cpu_seconds=0.0,
        simulations=int(generations.samples.sum()), resumed=resume,
        posterior=priors.as_values(spec, params), distances=None,
        predictive=_predictive_table(spec, prior_terms, posterior_terms),
        posterior_terms=posterior_terms, generations=generations,
        reach=rejection.per_draw(spec, params[:REACH_DRAWS], REACH_REPLICATES),
        extra={"prior_met": (prior_terms == 0).mean(axis=0), "params": params,
               "weights": w, "history": history})


def _ess(weights: Any) -> float:
    """Kish's effective sample size of importance weights."""
    w = np.asarray(weights, dtype=float)
    w = w / w.sum()
    return float(1.0 / np.sum(w**2))
