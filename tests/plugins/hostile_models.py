"""Faulty plug-in models for the fault tests: each misbehaves in a chosen share of runs.

Every function is ``function(params, seed) -> dict`` and otherwise returns
``{"y": x1 + 0.1 * N(0, 1)}`` drawn from its seed, so a run that does not misbehave has
the same result whichever model file it came from (see :func:`clean`).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np


def clean(params: Mapping[str, Any], seed: int) -> dict[str, float]:
    """The well-behaved reference: ``y = x1 + 0.1 N(0, 1)``."""
    rng = np.random.default_rng(seed)
    return {"y": float(params["x1"]) + 0.1 * float(rng.standard_normal())}


def _unlucky(seed: int, rate: float) -> bool:
    """Whether this seed misbehaves (a stream apart from the outcome's)."""
    return bool(np.random.default_rng([seed, 99]).random() < rate)


def exits(params: Mapping[str, Any], seed: int) -> dict[str, float]:
    """``sys.exit(3)`` in a share ``rate`` (default 0.1) of runs."""
    if _unlucky(seed, float(params.get("rate", 0.1))):
        sys.exit(3)
    return clean(params, seed)


def interrupts(params: Mapping[str, Any], seed: int) -> dict[str, float]:
    """Raises ``KeyboardInterrupt`` (no user pressed Ctrl-C) in a share of runs."""
    if _unlucky(seed, float(params.get("rate", 0.1))):
        raise KeyboardInterrupt
    return clean(params, seed)


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("this message cannot be printed")


def unprintable(params: Mapping[str, Any], seed: int) -> dict[str, float]:
    """Raises an exception whose ``__str__`` itself raises, in a share of runs."""
    if _unlucky(seed, float(params.get("rate", 0.1))):
        raise _Unprintable()
    return clean(params, seed)


def segfaults(params: Mapping[str, Any], seed: int) -> dict[str, float]:
    """Kills its own worker process with SIGSEGV at the design point ``x1 == crash_at``."""
    if float(params["x1"]) == float(params.get("crash_at", -1)):
        os.kill(os.getpid(), signal.SIGSEGV)
    return clean(params, seed)


def infinite(params: Mapping[str, Any], seed: int) -> dict[str, float]:
    """Returns ``y = inf`` in a share ``rate`` (default 0.1) of runs."""
    if _unlucky(seed, float(params.get("rate", 0.1))):
        return {"y": float("inf")}
    return clean(params, seed)


def hangs(params: Mapping[str, Any], seed: int) -> dict[str, float]:
    """Sleeps (for ever, as far as a sweep can tell) in a share ``rate`` of runs."""
    if _unlucky(seed, float(params.get("rate", 0.1))):
        import time

        time.sleep(1e6)
    return clean(params, seed)


def stubborn(params: Mapping[str, Any], seed: int) -> dict[str, float]:
    """At the design point ``x1 == crash_at``, hangs and swallows whatever is raised in it
    (the time limit's exception included), so only killing its worker stops it."""
    if float(params["x1"]) == float(params.get("crash_at", -1)):
        import time

        while True:
            try:
                time.sleep(1e6)
            except BaseException:  # noqa: BLE001, S110, SIM105 - the point of this model
                continue
    return clean(params, seed)
