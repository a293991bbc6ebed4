"""A time limit per run: a run that hangs costs one run, not the sweep.

Inside a local worker process (the main thread of a process, on POSIX) a run is given
``seconds``: past them ``SIGALRM`` raises :class:`RunTimeout` in the run, which is recorded
with status ``timeout`` and the batch goes on. A run that swallows that exception or
hangs where Python cannot interrupt it (C code holding the interpreter) is killed with its
worker process ``GRACE`` seconds later (the signal's default action, by the kernel); the
executor then isolates the run as it does any run that kills its worker, and records it
``timeout``.

The limit: ``run_timeout_s`` in the experiment file or ``--run-timeout``; otherwise
:data:`PLUGIN_DEFAULT` seconds for a plug-in and, for the project's model (which never
waits on anything), :func:`project_limit` of its horizon.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
from collections.abc import Iterator
from typing import Any

from sim.core.errors import UsageError

#: A plug-in run's limit when neither the file nor the command line gives one (seconds).
PLUGIN_DEFAULT = 600.0
#: Seconds after the limit before a run that did not stop is killed with its worker.
GRACE = 2.0
#: The largest limit accepted (a week), so that a typo cannot disable the limit silently.
MAXIMUM = 7 * 24 * 3600.0
#: The signals by which a worker dies when the kernel ends a run past its limit.
KILL_SIGNALS = ("SIGALRM", "SIGPROF")
#: How the record of a run past its limit begins (``status`` is then ``timeout``).
PREFIX = "timeout:"


class RunTimeout(Exception):
    """Raised in a run that passed its time limit."""


def project_limit(months: int) -> float:
    """The project's model: a run of ``months`` takes milliseconds in the fast engine and
    well under a second a month in Mesa; one minute plus two seconds a month is ample."""
    return 60.0 + 2.0 * months


def check_timeout(value: Any, label: str = "--run-timeout") -> float | None:
    """``value`` seconds: a finite number > 0 and at most :data:`MAXIMUM`, or ``None``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value) or value <= 0 or value > MAXIMUM:
        raise UsageError(f"{label} must be a number of seconds > 0 and at most {MAXIMUM:.0f} "
                         f"(a week), got {value!r}")
    return float(value)


def limit_for(model_is_project: bool, months: int, given: float | None) -> float:
    """The limit a run gets: ``given`` if any, else the default of its kind of model."""
    if given is not None:
        return given
    return project_limit(months) if model_is_project else PLUGIN_DEFAULT


def describe(seconds: float) -> str:
    return f"{PREFIX} the run passed its time limit of {seconds:g} s (run_timeout_s)"


def _usable() -> bool:
    return (hasattr(signal, "setitimer") and
            threading.current_thread() is threading.main_thread())


@contextlib.contextmanager
def run_limit(seconds: float | None) -> Iterator[None]:
    """Give the code inside ``seconds``: then :class:`RunTimeout` is raised in it, and
    :data:`GRACE` seconds later the process is killed if it is still inside.

    Does nothing outside a process's main thread (a Dask worker's task thread), where no
    signal can reach the run.
    """
    if not seconds or not _usable():
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        # If the run swallows this, the kernel ends the process after the grace.
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.setitimer(signal.ITIMER_REAL, GRACE)
        raise RunTimeout(describe(seconds))

    previous = signal.signal(signal.SIGALRM, expired)
    # CPU time as a backstop: C code that never returns to Python cannot see SIGALRM's
    # handler, but its busy loop runs this down and the kernel ends the process.
    prof = signal.signal(signal.SIGPROF, signal.SIG_DFL)
    signal.setitimer(signal.ITIMER_PROF, seconds + GRACE)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGALRM, previous)
        signal.signal(signal.SIGPROF, prof)
