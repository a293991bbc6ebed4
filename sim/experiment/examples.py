"""Plug-in models for tests and docs: ``function(params: dict, seed: int) -> dict``.

Any such function can be swept by naming it in an experiment file, e.g.
``model = "sim.experiment.examples:ishigami"``. They are small enough to run in
microseconds, and some have known answers, so that the runner and the analysis can be
checked against them.

They are marked ``@register_model`` (so an experiment file may run them without
``--allow-plugin``), except :func:`dies_once`, which writes a file where its parameters
say and kills its worker: a test helper that only runs when allowed explicitly.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sim.experiment.plugins import register_model

#: Analytic Sobol indices of :func:`ishigami` with a = 7, b = 0.1 (Ishigami & Homma 1990).
ISHIGAMI_S1 = {"x1": 0.3139, "x2": 0.4424, "x3": 0.0}
ISHIGAMI_ST = {"x1": 0.5576, "x2": 0.4424, "x3": 0.2437}


@register_model
def ishigami(params: Mapping[str, Any], seed: int) -> dict[str, float]:
    """The Ishigami function on x1, x2, x3 in [-pi, pi] (deterministic; ``seed`` unused)."""
    a, b = 7.0, 0.1
    x1, x2, x3 = (float(params[k]) for k in ("x1", "x2", "x3"))
    return {"y": math.sin(x1) + a * math.sin(x2) ** 2 + b * x3 ** 4 * math.sin(x1)}


@register_model
def noisy_linear(params: Mapping[str, Any], seed: int) -> dict[str, float]:
    """``y = x1 + 2 x2 + noise * N(0, 1)``, the noise drawn from ``seed``.

    Optional parameters: ``noise`` (default 0.5) and ``sleep`` (seconds per run, to make
    a sweep last long enough to be interrupted in tests).
    """
    if params.get("sleep"):
        time.sleep(float(params["sleep"]))
    rng = np.random.default_rng(seed)
    noise = float(params.get("noise", 0.5))
    y = float(params["x1"]) + 2.0 * float(params.get("x2", 0.0)) + noise * rng.standard_normal()
    return {"y": y, "above": float(y > 1.5)}


@register_model
def always_fails(params: Mapping[str, Any], seed: int) -> dict[str, float]:
    """Raises on every run."""
    raise RuntimeError("this model always fails")


@register_model
def fails_sometimes(params: Mapping[str, Any], seed: int) -> dict[str, float]:
    """Raises ``ValueError`` for a share ``fail_rate`` (default 0.2) of seeds, else ``y = x1``."""
    rng = np.random.default_rng(seed)
    if rng.random() < float(params.get("fail_rate", 0.2)):
        raise ValueError(f"unlucky seed {seed}")
    return {"y": float(params["x1"])}


def dies_once(params: Mapping[str, Any], seed: int) -> dict[str, float]:
    """Kills its worker process the first time it runs point ``die_at`` (a lost worker).

    The first death leaves the file ``marker`` behind, so the rerun succeeds; otherwise
    it behaves as :func:`noisy_linear`.
    """
    marker = Path(str(params["marker"]))
    if float(params["x1"]) == float(params["die_at"]) and not marker.exists():
        marker.write_text("died\n")
        os._exit(17)
    return noisy_linear(params, seed)


@register_model
def toy_pilot(params: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """A toy project with a known story: ``early`` makes pilots come early, ``late`` late.

    With probability ``early`` a pilot starts in months 1-12; otherwise, with probability
    ``late``, in months 30-60; otherwise never (a stall). ``dud`` does nothing. So
    P(pilot by month 12) depends on ``early`` alone, and ``late`` matters only later;
    stalls concentrate where both are low. ``piloted`` is the monthly series of the same
    story for ``[timeseries]``: 1 from the pilot month on, month 1 first, 60 months.
    Optional: ``sleep`` (seconds per run, to make a sweep last long enough to be
    interrupted in tests).
    """
    if params.get("sleep"):
        time.sleep(float(params["sleep"]))
    rng = np.random.default_rng(seed)
    early, late = float(params["early"]), float(params["late"])
    u = rng.random()
    if u < early:
        month = float(rng.integers(1, 13))
    elif rng.random() < late:
        month = float(rng.integers(30, 61))
    else:
        month = math.nan
    pilot = 0.0 if math.isnan(month) else 1.0
    piloted = np.zeros(60) if math.isnan(month) else (np.arange(1, 61) >= month) * 1.0
    return {"pilot": pilot, "pilot_month": month,
            "time_to_pilot": 60.0 if math.isnan(month) else month, "piloted": piloted}
