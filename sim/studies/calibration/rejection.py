"""Rejection ABC on the reference table, and the checks that say whether to trust it.

* :func:`nearest` keeps the ``accept`` runs closest to an observed pattern of terms (the
  case: every target met), ties broken by run index, so the posterior is a pure function
  of the table;
* :func:`coverage` is simulation-based calibration (Talts et al. 2018): synthetic cases
  drawn from the prior, each one simulated run put through the same targets, each
  calibrated on the same table; the rank of the truth among the accepted draws is uniform
  when the posterior is calibrated, so its 90% central intervals cover the truth in 90%
  of cases;
* :func:`predictive` runs posterior draws again with new seeds: the share of runs meeting
  each target, and all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.core.registry import PARAMETERS
from sim.studies.calibration import priors
from sim.studies.calibration.reference import Reference
from sim.studies.calibration.spec import CalibrationSpec
from sim.studies.calibration.targets import Target, features, simulate, weights


def table_features(targets: tuple[Target, ...], reference: Reference,
                   block: int = 1_000_000) -> np.ndarray:
    """The terms of every run of the table, ``float32[runs, targets]``."""
    out = np.empty((len(reference), len(targets)), dtype=np.float32)
    for start in range(0, len(reference), block):
        part = {f: reference.stats[start:start + block, i].astype(float)
                for i, f in enumerate(reference.fields)}
        out[start:start + block] = features(targets, part)
    return out


def nearest(table: np.ndarray, observed: np.ndarray, w: np.ndarray,
            accept: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``accept`` runs nearest ``observed`` (weighted L1 over the terms): their
    indices (ties by index) and distances."""
    d = np.abs(table - observed.astype(np.float32)) @ w.astype(np.float32)
    if accept < len(d):
        cut = np.partition(d, accept - 1)[accept - 1]
        candidates = np.flatnonzero(d <= cut)
        order = candidates[np.argsort(d[candidates], kind="stable")][:accept]
    else:
        order = np.argsort(d, kind="stable")
    return order, d[order]


@dataclass
class Posterior:
    """The accepted runs: their indices in the table, distances and parameters."""

    indices: np.ndarray
    distances: np.ndarray
    params: np.ndarray  # packed (PARAM_DTYPE)
    values: pd.DataFrame  # registry values of the inferred entries


def posterior(spec: CalibrationSpec, table: np.ndarray) -> Posterior:
    """Rejection ABC for the case: every target met (all terms 0)."""
    observed = np.zeros(table.shape[1])
    idx, dist = nearest(table, observed, weights(spec.targets), spec.accept)
    params = priors.rows(spec, priors.REFERENCE, idx, spec.simulations)
    return Posterior(indices=idx, distances=dist, params=params,
                     values=priors.as_values(spec, params))


def _codes(spec: CalibrationSpec, params: np.ndarray) -> np.ndarray:
    """``float[rows, inferred]`` of packed rows (choices as codes)."""
    return np.stack([np.asarray(params[n], dtype=float) for n in spec.inferred], axis=1)


def coverage(spec: CalibrationSpec, table: np.ndarray, cases: int,
             progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """Simulation-based calibration on ``cases`` synthetic cases: one row per case and
    inferred entry with the normalised rank of the truth among the accepted draws
    (ties broken at random) and whether the central 90% interval covers it."""
    params, seeds = priors.chunk(spec, priors.SYNTHETIC, 0, cases)
    observed = features(spec.targets,
                        simulate(spec.targets, params, seeds, spec.months, spec.national))
    truth = _codes(spec, params)
    w = weights(spec.targets)
    accepted = np.empty((cases, spec.accept), dtype=np.int64)
    for j in range(cases):
        accepted[j] = nearest(table, observed[j], w, spec.accept)[0]
        if progress is not None:
            progress(1)
    # the accepted runs' parameters, drawn again chunk by chunk in one pass
    flat = np.unique(accepted)
    drawn = _codes(spec, priors.rows(spec, priors.REFERENCE, flat, spec.simulations))
    where = np.searchsorted(flat, accepted)
    rng = priors.generator(spec, priors.SYNTHETIC, 1)
    rows = []
    for j in range(cases):
        sample = drawn[where[j]]  # [accept, inferred]
        below = (sample < truth[j]).sum(axis=0)
        ties = (sample == truth[j]).sum(axis=0)
        rank = (below + rng.uniform(size=len(spec.inferred)) * ties) / spec.accept
        for k, name in enumerate(spec.inferred):
            rows.append((j, name, rank[k], 0.05 <= rank[k] <= 0.95))
    return pd.DataFrame(rows, columns=["case", "parameter", "rank", "covered"])


def predictive(spec: CalibrationSpec, params: np.ndarray, stream: int = priors.PREDICTIVE,
               replicates: int = 1) -> pd.DataFrame:
    """Runs of ``params`` with new seeds: each run's terms (0 = target met)."""
    runs = np.repeat(params, replicates)
    rng = priors.generator(spec, stream, 0)
    seeds = rng.integers(0, 2**62, size=len(runs), dtype=np.int64)
    terms = features(spec.targets,
                     simulate(spec.targets, runs, seeds, spec.months, spec.national))
    return pd.DataFrame(terms, columns=[t.name for t in spec.targets])


def per_draw(spec: CalibrationSpec, params: np.ndarray, replicates: int) -> pd.DataFrame:
    """Each draw run ``replicates`` times with new seeds: per draw, the share of its runs
    meeting each target and all of them. The best draw's share bounds what any value the
    posterior holds can reproduce; a target no draw meets often is beyond the model's
    reach at these values (chance events of one run, or its structure)."""
    terms = predictive(spec, params, stream=priors.PREDICTIVE + 30, replicates=replicates)
    met = terms.to_numpy().reshape(len(params), replicates, -1) == 0
    shares = pd.DataFrame(met.mean(axis=1), columns=terms.columns)
    shares["all"] = met.all(axis=2).mean(axis=1)
    return shares


def met_shares(terms: pd.DataFrame) -> dict[str, float]:
    """The share of runs meeting each target, and all of them (``all``)."""
    met = terms.to_numpy() == 0
    shares = {name: float(met[:, i].mean()) for i, name in enumerate(terms.columns)}
    shares["all"] = float(met.all(axis=1).mean())
    return shares


def point_params(spec: CalibrationSpec) -> np.ndarray:
    """The scenario's registry values (no draw) as one packed row."""
    return priors.base(spec)


def is_numeric(name: str) -> bool:
    return PARAMETERS[name].kind in ("float", "int")
