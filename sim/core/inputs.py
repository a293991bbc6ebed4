"""Checks of a run's inputs that every entry point shares: horizon, seed, generator.

Each raises :class:`~sim.core.errors.UsageError` with one line naming the culprit and what
is allowed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.core.errors import UsageError
from sim.core.limits import ceiling, how_to_raise


def check_months(months: Any) -> int:
    """Months must be a whole number ≥ 1 and at most the ceiling (``sim.core.limits``)."""
    if isinstance(months, bool) or not isinstance(months, int | np.integer) or months < 1:
        raise UsageError(f"months must be a whole number >= 1, got {months!r}")
    if months > ceiling("months"):
        raise UsageError(f"months {months} is past the ceiling {ceiling('months'):,}; "
                         f"{how_to_raise('months')}")
    return int(months)


def check_seed(seed: Any) -> int:
    """A seed must be a whole number >= 0 (numpy integers included); ``None`` is refused
    because it would give an unrepeatable run."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise UsageError(f"seed must be a whole number >= 0, got {seed!r}")
    return int(seed)


def check_rng(rng: Any) -> Any:
    """The model's ``rng`` is a seed (see :func:`check_seed`) or a numpy ``Generator``;
    ``None`` is refused because it would give an unrepeatable run."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, bool) or not isinstance(rng, int | np.integer) or rng < 0:
        raise UsageError(f"rng (the seed) must be a whole number >= 0 or a numpy Generator, "
                         f"got {rng!r}")
    return int(rng)
