"""One executor interface, two back ends: local processes or a Dask distributed cluster.

Both implement the same small interface (:class:`Executor`): submit a task, wait for the
first of some pending tasks to finish. The one windowed loop,
:meth:`Executor.imap_unordered`, is shared: it keeps a bounded number of tasks in flight
(so memory stays flat) and yields results in whatever order they complete. The coordinator
writes them; workers need no shared filesystem.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from sim.errors import SchedulerLost, UsageError

#: How often a task may be resubmitted after losing its worker before the sweep stops.
MAX_RETRIES = 3
#: Seconds to wait for a Dask scheduler before giving up.
DASK_CONNECT_TIMEOUT = 10.0


class Executor(ABC):
    """Runs ``fn(*args)`` tasks somewhere and reports them as they complete."""

    #: The number of workers tasks run on in parallel.
    workers: int = 1
    #: A short description for the manifest, e.g. ``"local processes (2)"``.
    description: str = ""

    @abstractmethod
    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Start one task; return a future with ``.result()``."""

    @abstractmethod
    def wait_first(self, pending: set[Any]) -> set[Any]:
        """Block until at least one of ``pending`` is done; return the done ones."""

    def worker_lost(self, exc: BaseException) -> bool:
        """Whether ``exc`` means the task's worker died (so the task may be resubmitted)."""
        return False

    def recover(self) -> None:  # noqa: B027 - optional hook
        """Make the executor usable again after a lost worker."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the workers."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def imap_unordered(self, fn: Callable[..., Any], args: Iterable[tuple[Any, ...]],
                       window: int | None = None) -> Iterator[Any]:
        """Run ``fn(*a)`` for every ``a`` in ``args``; yield results as they complete.

        At most ``window`` tasks are in flight (default: four per worker). A task whose
        worker is lost is resubmitted up to :data:`MAX_RETRIES` times.
        """
        window = window or 4 * self.workers
        source = iter(args)
        pending: dict[Any, tuple[tuple[Any, ...], int]] = {}
        retry: deque[tuple[tuple[Any, ...], int]] = deque()
        exhausted = False
        broken = False

        while True:
            # Top up the window: tasks to redo first, then new ones.
            while not broken and len(pending) < window:
                if retry:
                    task, tries = retry.popleft()
                else:
                    task = next(source, None) if not exhausted else None
                    if task is None:
                        exhausted = True
                        break
                    tries = 0
                try:
                    pending[self.submit(fn, *task)] = (task, tries)
                except BaseException as exc:
                    if not self.worker_lost(exc):
                        raise
                    retry.appendleft((task, tries))
                    broken = True
            if broken:
                # A lost worker breaks its pool: every task still in flight is lost too.
                retry.extend(pending.values())
                pending.clear()
                self.recover()
                broken = False
                continue
            if not pending:
                return
            for future in self.wait_first(set(pending)):
                task, tries = pending.pop(future)
                try:
                    result = future.result()
                except BaseException as exc:
                    if self.worker_lost(exc) and tries < MAX_RETRIES:
                        retry.append((task, tries + 1))
                        broken = True
                        continue
                    raise
                yield result


def _ready() -> bool:
    """A no-op task: returns once a worker is up."""
    return True


def _init_worker(coordinator: int) -> None:
    """Set up a local worker process.

    Workers leave Ctrl-C to the coordinator, which shuts them down cleanly. And they
    watch the coordinator: if it dies without shutting them down (``kill -9``), they
    exit rather than wait forever for work (which would also keep the fork server alive).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            try:
                os.kill(coordinator, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:  # pragma: no cover - pid reused by another user
                os._exit(0)

    threading.Thread(target=watch, name="icsim-coordinator-watch", daemon=True).start()


class LocalExecutor(Executor):
    """Worker processes on this machine (the default).

    Where it is safe -- on Linux, while the coordinator runs no other thread -- the
    workers are forked from the coordinator at once, with the model already imported, so
    a sweep starts without paying for the import again. Otherwise (and for a pool that
    replaces one broken by a lost worker, when the coordinator has threads) they start from
    a fork server with the runner's modules preloaded, or by ``spawn`` where there is none.
    """

    def __init__(self, workers: int | None = None, preload: Iterable[str] = ()) -> None:
        if workers is None:
            workers = os.cpu_count() or 1
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise UsageError(f"--workers must be a whole number >= 1, got {workers!r}")
        self.workers = workers
        self._preload = ["sim.experiment.models", *preload]
        methods = multiprocessing.get_all_start_methods()
        self._fallback = "forkserver" if sys.platform != "win32" and "forkserver" in methods \
            else "spawn"
        method = "fork" if (sys.platform.startswith("linux") and "fork" in methods
                            and threading.active_count() == 1) else self._fallback
        self._use(method)
        self.description = f"local processes ({workers}, {method})"
        self._pool: ProcessPoolExecutor | None = None
        if method == "fork":
            for name in self._preload:  # imported once here, inherited by every worker
                importlib.import_module(name)
            self._start()

    def _use(self, method: str) -> None:
        self._context = multiprocessing.get_context(method)
        if method == "forkserver":
            self._context.set_forkserver_preload(self._preload)

    def _start(self) -> None:
        """Start all workers now (a forking pool launches them all on its first task)."""
        for future in [self._get_pool().submit(_ready) for _ in range(self.workers)]:
            future.result()

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=self._context,
                                             initializer=_init_worker,
                                             initargs=(os.getpid(),))
        return self._pool

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        return self._get_pool().submit(fn, *args)

    def wait_first(self, pending: set[Any]) -> set[Any]:
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        return set(done)

    def worker_lost(self, exc: BaseException) -> bool:
        return isinstance(exc, BrokenProcessPool)

    def recover(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = None
        if threading.active_count() > 1 and self._context.get_start_method() == "fork":
            self._use(self._fallback)  # never fork a coordinator that runs threads

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor(Executor):
    """Workers of a Dask distributed cluster, reached through its scheduler's address.

    Any cluster will do -- ``dask scheduler`` / ``dask worker`` processes, a
    ``LocalCluster``, or dask-jobqueue on SLURM or PBS. Dask resubmits the tasks of a lost
    worker itself. Workers must be able to import ``sim`` (and a plug-in model's module).
    """

    def __init__(self, address: str, timeout: float | None = None) -> None:
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover - a declared dependency
            raise UsageError("--scheduler needs dask[distributed] installed") from None
        if not isinstance(address, str) or not address.strip():
            raise UsageError(f"--scheduler needs an address such as tcp://host:8786, "
                             f"got {address!r}")
        try:
            self._client = Client(address, timeout=timeout or DASK_CONNECT_TIMEOUT,
                                  set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise UsageError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        self.address = address
        nthreads = self._client.nthreads()
        self.workers = max(1, sum(nthreads.values()))
        self.description = f"dask {address} ({len(nthreads)} workers, {self.workers} threads)"
        # A lost scheduler is reported once, as SchedulerLost, not as the client's log of
        # every reconnection attempt.
        self._client_log = logging.getLogger("distributed.client")
        self._client_log_level = self._client_log.level
        self._client_log.setLevel(logging.CRITICAL)

    def _lost(self, exc: BaseException | None = None) -> SchedulerLost:
        cause = f" ({type(exc).__name__})" if exc is not None else ""
        return SchedulerLost(f"lost the Dask scheduler at {self.address}{cause}")

    def _connected(self) -> bool:
        return self._client.status in ("running", "connecting", "newly-created")

    def submit(self, fn: Callable[..., Any], *args: Any) -> _DaskTask:
        try:
            return _DaskTask(self, self._client.submit(fn, *args, pure=False))
        except Exception as exc:
            if not self._connected():
                raise self._lost(exc) from None
            raise

    def wait_first(self, pending: set[Any]) -> set[Any]:
        from distributed import wait as dask_wait

        by_future = {task.future: task for task in pending}
        try:
            with self._client.as_current():
                done, _ = dask_wait(list(by_future), return_when="FIRST_COMPLETED")
        except Exception as exc:
            if not self._connected() or "connection" in str(exc).lower():
                raise self._lost(exc) from None
            raise
        if any(f.status == "cancelled" for f in done) and not self._connected():
            raise self._lost()
        return {by_future[f] for f in done}

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a client whose scheduler is gone
            self._client.close(timeout=5)
        self._client_log.setLevel(self._client_log_level)


class _DaskTask:
    """A Dask future whose ``result`` reports a lost scheduler as :class:`SchedulerLost`."""

    __slots__ = ("executor", "future")

    def __init__(self, executor: DaskExecutor, future: Any) -> None:
        self.executor = executor
        self.future = future

    def result(self) -> Any:
        try:
            return self.future.result()
        except Exception as exc:
            if not self.executor._connected() or type(exc).__name__ in (
                    "CommClosedError", "FuturesCancelledError", "CancelledError"):
                raise self.executor._lost(exc) from None
            raise


def make_executor(workers: int | None = None, scheduler: str | None = None,
                  preload: Iterable[str] = ()) -> Executor:
    """Local processes by default; a Dask cluster when ``scheduler`` names one."""
    if workers is not None and scheduler is not None:
        raise UsageError("give either --workers or --scheduler, not both")
    from sim.limits import check_scheduler_address, check_size

    if scheduler is not None:
        return DaskExecutor(check_scheduler_address(scheduler))
    if workers is not None:
        check_size("workers", workers)
    return LocalExecutor(workers, preload=preload)
