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

The compiled code is cached once per machine and user, in a folder named after the
*content* of the sources it is built from (:func:`source_digest`), never their path: a
fresh clone at another path, a worktree or CI's checkout of the same sources reuses it.
``make setup`` compiles ahead (``python -m sim.engine``); a compile that does happen says
so in one line on stderr; folders of other sources unused for :data:`KEEP_DAYS` days are
pruned when a new one is made.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numba
from numba.core import caching

#: The package's folder (``sim/``): the engine's sources and the registry and team they
#: read live under it.
_PACKAGE = Path(__file__).resolve().parent.parent
#: Cache folders of other sources are removed after this many days unused.
KEEP_DAYS = 14
#: What a process prints (once) before it compiles.
COMPILE_MESSAGE = "icsim: compiling the engine, first run only, ~15 s"


def engine_sources(package: Path = _PACKAGE) -> list[Path]:
    """The files the compiled code is built from: the engine, the registry, the team."""
    here = package / "engine"
    return sorted([*here.glob("*.py"), package / "core" / "registry.py",
                   package / "core" / "team.py"])


def source_digest(package: Path = _PACKAGE) -> str:
    """A key for the compiled code: numba's version and the names and *contents* of
    :func:`engine_sources` (not their paths or times), 16 hex digits.

    Numba's own cache is invalidated only by the file that holds a function, not by the
    files its callees, constants and parameter layout come from; keying the folder on all
    of them means an edit anywhere in the engine, the registry or the team's roles
    compiles afresh instead of running stale code.
    """
    digest = hashlib.sha256(numba.__version__.encode())
    digest.update(f"{sys.version_info[:2]}".encode())
    for path in engine_sources(package):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cache_root() -> Path:
    """The per-user folder that holds one cache folder per :func:`source_digest`:
    ``$ICSIM_CACHE_DIR``, else ``$XDG_CACHE_HOME/icsim/numba`` (``~/.cache/icsim/numba``).
    (``NUMBA_CACHE_DIR``, numba's own setting, is honoured too, as before.)"""
    root = (os.environ.get("ICSIM_CACHE_DIR") or os.environ.get("NUMBA_CACHE_DIR")
            or os.path.join(os.environ.get("XDG_CACHE_HOME")
                            or os.path.join(os.path.expanduser("~"), ".cache"),
                            "icsim", "numba"))
    return Path(root)


CACHE_DIR = cache_root() / source_digest()
# numba.config sets its attributes from the environment at import time, so its type
# declares none of them.
numba.config.CACHE_DIR = str(CACHE_DIR)  # type: ignore[attr-defined]


class ContentCacheLocator(caching.UserProvidedCacheLocator):
    """Numba's locator for a user-given cache folder, without the source folder's absolute
    path in the cache path (numba's own adds a hash of it): the cache folder is already
    keyed by the sources' content, so the same sources anywhere share one compile. Only
    for this package's files; any other code falls through to numba's locators."""

    def __init__(self, py_func: Any, py_file: str) -> None:
        super().__init__(py_func, py_file)
        self._cache_path = os.path.join(numba.config.CACHE_DIR,  # type: ignore[attr-defined]
                                        Path(py_file).parent.name)

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> Any:
        if Path(py_file).resolve().parent != _PACKAGE / "engine":
            return None
        return super().from_function(py_func, py_file)


# Numba's locators are tried in order; ours first (numba.core.caching.CacheImpl is the
# class every cached function's cache asks).
if ContentCacheLocator not in caching.CacheImpl._locator_classes:
    caching.CacheImpl._locator_classes.insert(0, ContentCacheLocator)


_announced = False


@contextlib.contextmanager
def compiling(name: str, cache_dir: Path | None = None) -> Iterator[None]:
    """Wrap the first call of the compiled code named ``name`` ("fast", "mesa"): when
    this cache folder has not compiled it yet, say so in one line on stderr, and once it
    has, mark it done and prune other sources' stale folders."""
    folder = cache_dir or CACHE_DIR
    marker = folder / f"{name}.compiled"
    if marker.exists():
        with contextlib.suppress(OSError):
            os.utime(folder)  # used: kept by prune()
        yield
        return
    global _announced
    if not _announced:  # one line per process, whatever it compiles
        _announced = True
        print(COMPILE_MESSAGE, file=sys.stderr, flush=True)
    yield
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        marker.touch()
        prune(folder)


def prune(keep: Path, now: float | None = None) -> list[Path]:
    """Remove the cache folders beside ``keep`` (other sources' compiles) unused for
    :data:`KEEP_DAYS` days; return them. Only folders named like a :func:`source_digest`
    are touched (a folder's time is its last use: :func:`compiling` touches it)."""
    now = time.time() if now is None else now
    others = []
    for path in keep.parent.iterdir():
        if path == keep or not path.is_dir() or len(path.name) != 16 or \
                any(c not in "0123456789abcdef" for c in path.name):
            continue
        with contextlib.suppress(OSError):
            others.append((path.stat().st_mtime, path))
    removed = []
    for used, path in others:
        if now - used > KEEP_DAYS * 86400:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
