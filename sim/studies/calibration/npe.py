"""Neural posterior estimation (``method = "npe"``): a conditional density of the inferred
entries given a run's features, trained once on the reference table (amortised).

Training pairs are ``(theta, features)`` of the first ``training`` runs of the reference
table (:mod:`sim.studies.calibration.reference`): ``theta`` the inferred entries, the
features the run's target terms (:func:`sim.studies.calibration.rejection.table_features`).
Integer entries and structural choices are *dequantised*: value ``v`` of ``a..b`` becomes
``(v - a + U(0, 1)) / (b - a + 1)``, numbers ``(x - low) / (high - low)``, so every entry
is uniform on (0, 1) under the prior (a box over the dequantised ranges); a draw is mapped
back and integers and choices floored. The density estimator (sbi's ``NPE``, a neural
spline flow by default) is trained on the logits of those (0, 1) values, where the
prior is a product of standard logistic distributions: the same box prior, but with no
mass outside it to leak — with 161 entries a flow on the box loses most draws outside it.

The posterior of a case is the estimator sampled at its features (the case: all zeros,
every target met); conditioning on another case takes seconds, which the coverage check
(:func:`coverage`, the same synthetic cases and ranks as
:func:`sim.studies.calibration.rejection.coverage`) uses.

``sbi`` and ``torch`` are an optional extra (``pip install -e '.[sbi]'``), imported only
here and only when the method runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.core.errors import UsageError
from sim.core.registry import PARAMETERS
from sim.studies.calibration import priors
from sim.studies.calibration.spec import CalibrationSpec
from sim.studies.calibration.targets import features, simulate

MISSING = "method npe needs the optional extra: pip install -e '.[sbi]'"
#: Keeps logits finite at the ends of the box.
EPS = 1e-6


def _sbi() -> tuple[Any, Any]:
    """``(torch, sbi.inference)``, or a one-line error naming the extra."""
    try:
        import sbi.inference
        import torch
    except ImportError:
        raise UsageError(MISSING) from None
    return torch, sbi.inference


def check_installed() -> None:
    """Refuse in one line, before any work, when the extra is missing."""
    _sbi()


@dataclass(frozen=True)
class Box:
    """Each inferred entry's dequantised range: ``a + (b - a + 1) * u`` for integers and
    choices (``a..b`` their values, or positions among the forms), ``low + (high - low) *
    u`` for numbers, ``u`` uniform on (0, 1)."""

    names: tuple[str, ...]
    low: np.ndarray
    width: np.ndarray
    discrete: np.ndarray  # bool per entry
    codes: dict[str, np.ndarray]  # choice -> the registry codes of its forms, in order

    @classmethod
    def of(cls, spec: CalibrationSpec) -> Box:
        low, width, discrete = [], [], []
        codes: dict[str, np.ndarray] = {}
        for name in spec.inferred:
            p = PARAMETERS[name]
            if name in spec.choices:
                codes[name] = np.array([p.choices.index(f) for f in spec.choices[name]],
                                       dtype=float)
                low.append(0.0)
                width.append(float(len(codes[name])))
                discrete.append(True)
            elif p.kind == "int":
                a, b = spec.priors[name]
                a, b = float(np.ceil(a)), float(np.floor(b))
                low.append(a)
                width.append(b - a + 1.0)
                discrete.append(True)
            else:
                a, b = spec.priors[name]
                low.append(a)
                width.append(b - a)
                discrete.append(False)
        return cls(names=spec.inferred, low=np.array(low), width=np.array(width),
                   discrete=np.array(discrete), codes=codes)

    def to_unit(self, params: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``float[rows, entries]`` in (0, 1) of packed rows (discrete ones dequantised)."""
        columns = []
        for name in self.names:
            x = np.asarray(params[name], dtype=float)
            if name in self.codes:
                x = np.searchsorted(self.codes[name], x).astype(float)  # form's position
            columns.append(x)
        v = np.stack(columns, axis=1) if columns else np.empty((len(params), 0))
        v = v + self.discrete * rng.uniform(size=v.shape)
        return np.asarray(np.clip((v - self.low) / self.width, EPS, 1 - EPS))

    def from_unit(self, u: np.ndarray, base: np.ndarray) -> np.ndarray:
        """Packed rows (``base``'s values elsewhere) of ``float[rows, entries]`` in (0, 1)."""
        out = np.repeat(base, len(u))
        v = self.low + self.width * np.clip(u, 0.0, 1.0)
        for k, name in enumerate(self.names):
            x = v[:, k]
            if self.discrete[k]:
                x = np.minimum(np.floor(x), self.low[k] + self.width[k] - 1)
            if name in self.codes:
                x = self.codes[name][x.astype(int)]
            out[name] = x
        return out


def logit(u: np.ndarray) -> np.ndarray:
    return np.asarray(np.log(u) - np.log1p(-u))


def sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


class NullTracker:
    """sbi's tracking protocol, logging nothing (its default writes TensorBoard files to
    ``./sbi-logs`` of the working directory)."""

    @property
    def log_dir(self) -> str | None:
        return None

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        pass

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        pass

    def log_params(self, params: dict[str, Any]) -> None:
        pass

    def add_figure(self, name: str, figure: Any, step: int | None = None) -> None:
        pass

    def flush(self) -> None:
        pass


@dataclass
class Trained:
    """A trained posterior estimator and what it cost."""

    spec: CalibrationSpec
    box: Box
    posterior: Any  # sbi's DirectPosterior over the logits
    simulations: int
    epochs: int
    cpu_seconds: float
    seconds: float
    validation_loss: float
    settings: dict[str, Any] = field(default_factory=dict)


def logistic_prior(dim: int) -> Any:
    """The box prior over (0, 1)^dim, seen through the logit: independent standard
    logistic distributions."""
    torch, _ = _sbi()
    from torch.distributions import (
        Independent,
        SigmoidTransform,
        TransformedDistribution,
        Uniform,
    )

    unit = Uniform(torch.zeros(dim), torch.ones(dim))
    return Independent(TransformedDistribution(unit, [SigmoidTransform().inv]), 1)


def train(spec: CalibrationSpec, params: np.ndarray, table: np.ndarray, *,
          estimator: str = "nsf", max_epochs: int = 100, stop_after_epochs: int = 10,
          batch_size: int = 512, hidden_features: int = 64, num_transforms: int = 5,
          seed: int = 0, threads: int = 1, progress: bool = False) -> Trained:
    """Train NPE on packed prior draws ``params`` and their runs' features ``table``
    (``float[rows, targets]``); early stopping on a 10% validation split."""
    torch, inference = _sbi()
    from sbi.neural_nets import posterior_nn

    if len(params) != len(table):
        raise ValueError(f"{len(params)} parameter rows for {len(table)} feature rows")
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    started, cpu = time.perf_counter(), time.process_time()
    box = Box.of(spec)
    rng = priors.generator(spec, priors.REFERENCE + 100, seed)
    theta = torch.as_tensor(logit(box.to_unit(params, rng)), dtype=torch.float32)
    x = torch.as_tensor(np.asarray(table, dtype=np.float32))
    builder = posterior_nn(model=estimator, hidden_features=hidden_features,
                           num_transforms=num_transforms)
    prior = logistic_prior(len(box.names))
    npe = inference.NPE(prior=prior, density_estimator=builder,
                        show_progress_bars=progress, tracker=NullTracker())
    npe.append_simulations(theta, x)
    net = npe.train(training_batch_size=batch_size, max_num_epochs=max_epochs,
                    stop_after_epochs=stop_after_epochs)
    post = npe.build_posterior(net)
    summary = npe.summary
    return Trained(spec=spec, box=box, posterior=post, simulations=len(params),
                   epochs=int(summary["epochs_trained"][-1]),
                   cpu_seconds=time.process_time() - cpu,
                   seconds=time.perf_counter() - started,
                   validation_loss=float(summary["best_validation_loss"][-1]),
                   settings={"estimator": estimator, "max_epochs": max_epochs,
                             "stop_after_epochs": stop_after_epochs,
                             "batch_size": batch_size, "hidden_features": hidden_features,
                             "num_transforms": num_transforms, "seed": seed})


def sample_unit(trained: Trained, observed: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` posterior draws in (0, 1) per row of ``observed`` (features):
    ``float[cases, n, entries]`` (one case: a 1-d ``observed``, ``float[1, n, entries]``)."""
    torch, _ = _sbi()
    torch.manual_seed(seed)
    xs = np.atleast_2d(np.asarray(observed, dtype=np.float32))
    with torch.no_grad():
        z = trained.posterior.sample_batched((n,), x=torch.as_tensor(xs),
                                             show_progress_bars=False)
    z = np.asarray(z.numpy(), dtype=float)  # [n, cases, entries]
    return sigmoid(np.swapaxes(z, 0, 1))


def sample(trained: Trained, observed: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` packed posterior draws for one case's features."""
    u = sample_unit(trained, observed, n, seed)[0]
    return trained.box.from_unit(u, priors.base(trained.spec))


def coverage(trained: Trained, cases: int, draws: int = 1000, batch: int = 20,
             seed: int = 0) -> pd.DataFrame:
    """Simulation-based calibration of the trained estimator on the synthetic cases of
    :func:`sim.studies.calibration.rejection.coverage` (the same cases, the same rank with
    random tie-breaking on the registry values): one row per case and entry."""
    spec, box = trained.spec, trained.box
    params, seeds = priors.chunk(spec, priors.SYNTHETIC, 0, cases)
    observed = features(spec.targets,
                        simulate(spec.targets, params, seeds, spec.months, spec.national))
    truth = np.stack([np.asarray(params[n], dtype=float) for n in box.names], axis=1)
    base = priors.base(spec)
    rng = priors.generator(spec, priors.SYNTHETIC, 2)
    rows = []
    for start in range(0, cases, batch):
        u = sample_unit(trained, observed[start:start + batch], draws, seed + start)
        for j in range(len(u)):
            drawn = box.from_unit(u[j], base)
            sample = np.stack([np.asarray(drawn[n], dtype=float) for n in box.names], axis=1)
            t = truth[start + j]
            below = (sample < t).sum(axis=0)
            ties = (sample == t).sum(axis=0)
            rank = (below + rng.uniform(size=len(box.names)) * ties) / draws
            for k, name in enumerate(box.names):
                rows.append((start + j, name, rank[k], 0.05 <= rank[k] <= 0.95))
    return pd.DataFrame(rows, columns=["case", "parameter", "rank", "covered"])
