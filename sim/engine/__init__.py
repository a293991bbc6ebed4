"""The model's equations, compiled once and shared by both engines.

* :mod:`sim.engine.rng` — numpy's PCG64 bit generator re-implemented for compiled code,
  draw for draw identical to ``numpy.random.default_rng(seed)``;
* :mod:`sim.engine.layout` — how a project's state and parameters are laid out in arrays;
* :mod:`sim.engine.kernels` — the monthly submodels (funding, churn, host and manager
  changes, support, turnover, meeting, vision, role clarity, knowledge, wins, frustration,
  engagement, the switch to small tasks, gates, measures), written once;
* :mod:`sim.engine.fast` — the ``fast`` engine: many projects in one compiled loop.

The Mesa engine (:class:`sim.mesa.model.IntegrationModel`) calls the same submodels for its
one project, a month at a time, and keeps its agents as views of the state arrays; so a
change to a mechanism cannot reach one engine and miss the other, and the two engines
give the same result run for run (tests/engine/test_engines.py).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba


def _cache_dir() -> Path:
    """Where compiled submodels are cached, keyed by the sources they are built from.

    Numba's own cache is invalidated only by the file that holds a function, not by the
    files its callees, constants and parameter layout come from; keying the directory on
    all of them (and on numba's version) means an edit anywhere in the engine, the
    registry or the team's roles compiles afresh instead of running stale code.
    """
    here = Path(__file__).parent
    digest = hashlib.sha256(numba.__version__.encode())
    for path in sorted([*here.glob("*.py"), here.parent / "core" / "registry.py",
                        here.parent / "core" / "team.py"]):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    root = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "icsim", "numba")
    return Path(root) / digest.hexdigest()[:16]


CACHE_DIR = _cache_dir()
# numba.config sets its attributes from the environment at import time, so its type
# declares none of them.
numba.config.CACHE_DIR = str(CACHE_DIR)  # type: ignore[attr-defined]
