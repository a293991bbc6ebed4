"""One executor interface, two back ends: local processes or a Dask distributed cluster.

Both implement the same small interface (:class:`Executor`): submit a task, wait for the
first of some pending tasks to finish. The one windowed loop,
:meth:`Executor.imap_unordered`, is shared: it keeps a bounded number of tasks in flight
(so memory stays flat) and yields results in whatever order they complete. The coordinator
writes them; workers need no shared filesystem.
"""

from __future__ import annotations

import contextlib
import functools
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

from sim.core.errors import SchedulerLost, UsageError
from sim.core.limits import check_scheduler_address, check_size

#: How often a task may be resubmitted after losing its worker before the sweep stops
#: (callers that give no ``give_up`` to :meth:`Executor.imap_unordered`).
MAX_RETRIES = 3
#: How often a single run is tried alone before it is recorded as the one that kills
#: its worker (twice: once may be an outside ``kill`` or the out-of-memory killer).
ALONE_TRIES = 2
#: Seconds to wait for a Dask scheduler before giving up.
DASK_CONNECT_TIMEOUT = 10.0
#: Seconds to wait, after a lost Dask worker, for the cluster's workers to be back up
#: before a suspect runs alone (then it runs anyway).
DASK_SETTLE_TIMEOUT = 30.0
#: Seconds more once they are: a worker lost again at once, while its nanny was still
#: finishing the restart, was seen never to be restarted.
DASK_SETTLE_GRACE = 1.0
#: A Dask client's states while it still has (or is getting) its scheduler.
_CONNECTED = ("running", "connecting", "newly-created")
#: What a Dask future or client raises when its scheduler went away.
_SCHEDULER_GONE = ("CommClosedError", "FuturesCancelledError", "CancelledError")


def scheduler_lost(client: Any, exc: BaseException) -> bool:
    """Whether ``exc``, met while waiting on a Dask ``client``, means its scheduler is
    gone (rather than an error of the task itself)."""
    return client.status not in _CONNECTED or type(exc).__name__ in _SCHEDULER_GONE


@contextlib.contextmanager
def quiet_client_log() -> Iterator[None]:
    """Silence the Dask client's log of every reconnection attempt: a lost scheduler is
    reported once, as :class:`SchedulerLost`."""
    log = logging.getLogger("distributed.client")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


class Executor(ABC):
    """Runs ``fn(*args)`` tasks somewhere and reports them as they complete."""

    #: The number of workers tasks run on in parallel.
    workers: int = 1
    #: A short description for the manifest, e.g. ``"local processes (2)"``.
    description: str = ""
    #: Whether one lost worker loses every task in flight (a local process pool does;
    #: Dask reschedules the tasks of a lost worker itself).
    pool_breaks: bool = False
    #: How many tasks a sweep cuts each part into, at least (a sweep with few parts cuts
    #: them finer so that every worker has work: ``sim.experiment.sweep``). Whole parts:
    #: each task costs the coordinator a submission, two pickles and its bookkeeping, and
    #: the worker an engine call's fixed cost (about half a millisecond of the fast
    #: engine's), so a part of 256 runs in 4 tasks cost a quarter more CPU in all than in
    #: one (benchmarks/bench_runner.py); on Dask a task also costs milliseconds of
    #: scheduling. (The last part a worker is cut finer too, so the workers end together.)
    tasks_per_part: int = 1

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

    def settle(self) -> None:  # noqa: B027 - optional hook
        """Wait, after a lost worker, until the workers are back (a suspect then runs alone
        on a worker that is fully up)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the workers."""

    def abort(self) -> None:
        """Release the workers at once, dropping the tasks in flight (after Ctrl-C or an
        error): never waits for a run that may hang. By default, :meth:`close`."""
        self.close()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()

    def lost_cause(self, exc: BaseException) -> str:
        """Why a task's worker was lost, in a few words, for the record of a failed run."""
        return "worker process died"

    def imap_unordered[T: tuple[Any, ...]](
            self, fn: Callable[..., Any], args: Iterable[T], window: int | None = None,
            split: Callable[[T], list[T]] | None = None,
            give_up: Callable[[T, str], Any] | None = None) -> Iterator[Any]:
        """Run ``fn(*a)`` for every ``a`` in ``args``; yield results as they complete.

        At most ``window`` tasks are in flight (default: four per worker).

        A lost worker (a crash, a segfault, ``os._exit`` in model code, ``kill -9``) makes
        every task then in flight a suspect: suspects are rerun *alone*, one at a time, so
        a task that loses its worker alone is the culprit. With ``split``, a culprit that
        holds several runs is cut into single-run tasks (``split(task)``), each again run
        alone; a single run that loses its worker alone twice is handed to
        ``give_up(task, cause)``, whose return value is yielded in place of the result
        (e.g. the run recorded as failed), so a crashing run costs one run and the sweep
        finishes. Without ``give_up``, such a task is retried up to :data:`MAX_RETRIES`
        times, then the error is raised.
        """
        window = window or 4 * self.workers
        source = iter(args)
        exhausted = False
        pending: dict[Any, tuple[T, bool, int]] = {}  # task, alone, tries
        suspects: deque[tuple[T, int]] = deque()
        limit = ALONE_TRIES if give_up is not None else MAX_RETRIES + 1
        unsettled = False  # a worker was lost since the last settle()
        task: T | None

        while True:
            if suspects:
                # A suspect runs with nothing else in flight, so a crash names it.
                if not pending:
                    task, tries = suspects.popleft()
                    if unsettled:
                        self.settle()
                        unsettled = False
                    try:
                        pending[self.submit(fn, *task)] = (task, True, tries)
                    except BaseException as exc:
                        if not self.worker_lost(exc):
                            raise
                        suspects.appendleft((task, tries))
                        self.recover()
                        continue
            else:
                while not exhausted and len(pending) < window:
                    task = next(source, None)
                    if task is None:
                        exhausted = True
                        break
                    try:
                        pending[self.submit(fn, *task)] = (task, False, 0)
                    except BaseException as exc:
                        if not self.worker_lost(exc):
                            raise
                        suspects.append((task, 0))
                        break
            if not pending:
                if suspects:
                    self.recover()
                    continue
                return
            lost = False
            for future in self.wait_first(set(pending)):
                task, alone, tries = pending.pop(future)
                try:
                    result = future.result()
                except BaseException as exc:
                    if not self.worker_lost(exc):
                        if isinstance(exc, KeyboardInterrupt | SystemExit):
                            # Raised by task code, not by the user: not an interrupt here.
                            raise RuntimeError(f"a task raised {type(exc).__name__}") \
                                from None
                        raise
                    lost = unsettled = True
                    if not alone:
                        suspects.append((task, 0))
                        continue
                    parts = split(task) if split is not None else [task]
                    if len(parts) > 1:
                        suspects.extendleft((part, 0) for part in reversed(parts))
                    elif tries + 1 < limit:
                        suspects.appendleft((task, tries + 1))
                    elif give_up is not None:
                        yield give_up(task, self.lost_cause(exc))
                    else:
                        raise
                    continue
                yield result
            if lost and self.pool_breaks:
                # A lost local worker breaks its pool: every task in flight is lost with
                # it, except those that finished first.
                for future, (task, _alone, _tries) in list(pending.items()):
                    if future.done() and not future.cancelled() and \
                            future.exception() is None:
                        yield future.result()
                    else:
                        suspects.append((task, 0))
                pending.clear()
                self.recover()


def progress_bar(**kwargs: Any) -> Any:
    """A ``tqdm.auto`` progress bar without tqdm's monitor thread.

    tqdm starts that thread with its first bar, even a disabled one, and it outlives the
    bar; a coordinator that runs a thread is never forked (:class:`LocalExecutor`), so every
    later local pool in the process -- each configuration of a validation after the
    first, the second stage of ``icsim sensitivity`` -- started its workers from a fork
    server: slower, and their CPU time not counted as the coordinator's children. The
    thread only adjusts ``miniters`` of a bar that stalls; the runner's bars do without."""
    return _bar_class()(**kwargs)


@functools.cache
def _bar_class() -> Any:
    from tqdm.auto import tqdm

    return type("ProgressBar", (tqdm,), {"monitor_interval": 0})


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
        self._processes: dict[int, Any] = {}
        # Imported once here, before any worker starts, and icsim's engines compiled (a
        # module's ``warm()``): forked workers inherit them; a fork server's or spawned
        # workers load the engines from the compile cache instead of each compiling them.
        # A plug-in's module is imported here only to be forked.
        for name in self._preload:
            ours = name.startswith("sim.")
            if method == "fork" or ours:
                module = importlib.import_module(name)
                if ours and callable(getattr(module, "warm", None)):
                    module.warm()
        if method == "fork":
            self._start()

    def _use(self, method: str) -> None:
        self._context = multiprocessing.get_context(method)
        if method == "forkserver":  # the server compiles the engines it preloads, once
            self._context.set_forkserver_preload(
                [*self._preload, "sim.experiment.forkserver_warmup"])

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

    pool_breaks = True

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        pool = self._get_pool()
        future = pool.submit(fn, *args)
        # The pool's processes (started on demand), to tell later how a lost one died.
        self._processes.update(getattr(pool, "_processes", None) or {})
        return future

    def wait_first(self, pending: set[Any]) -> set[Any]:
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        return set(done)

    def worker_lost(self, exc: BaseException) -> bool:
        return isinstance(exc, BrokenProcessPool)

    def lost_cause(self, exc: BaseException) -> str:
        """How the lost worker died: its signal or exit code (the others of a broken pool
        are ended by the pool with SIGTERM, so that one is the least telling)."""
        # The pool's own thread reaps its processes; reading their exit codes while it
        # does could race it (a forkserver child's code is read from a pipe only once).
        thread = getattr(self._pool, "_executor_manager_thread", None)
        if thread is not None:
            thread.join(timeout=10.0)
        codes = []
        for process in self._processes.values():
            if thread is None or not thread.is_alive():
                process.join(timeout=1.0)
            if process.exitcode not in (None, 0):
                codes.append(process.exitcode)
        codes.sort(key=lambda c: c == -signal.SIGTERM)
        if not codes:
            return "worker process died"
        code = codes[0]
        if code < 0:
            try:
                return f"worker process died (signal {signal.Signals(-code).name})"
            except ValueError:
                return f"worker process died (signal {-code})"
        return f"worker process died (exit code {code})"

    def recover(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = None
        self._processes = {}
        if threading.active_count() > 1 and self._context.get_start_method() == "fork":
            self._use(self._fallback)  # never fork a coordinator that runs threads

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def abort(self) -> None:
        """Kill the workers (SIGKILL: they hold nothing the coordinator needs) and drop the
        pool without waiting, so an interrupt stops a sweep whose runs hang at once."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = dict(getattr(pool, "_processes", None) or {})
        manager = getattr(pool, "_executor_manager_thread", None)
        for process in processes.values():
            with contextlib.suppress(Exception):
                process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes.values():
            with contextlib.suppress(Exception):
                process.join(timeout=1.0)
        # The pool's manager thread sees its workers die and closes its wake-up pipe. Left
        # running, it can close that pipe while the interpreter's exit hook writes to it
        # (concurrent.futures does not lock the two against each other): a traceback
        # ("Bad file descriptor") after the one-line interrupt message. Wait for it.
        if manager is not None:
            manager.join(timeout=2.0)


#: Seconds a scheduler has to answer the probe (a Dask scheduler greets at once).
PROBE_TIMEOUT = 5.0
#: A Dask greeting's first 8 bytes give its length; a handshake is a few hundred bytes.
_MAX_GREETING = 1 << 20


def probe_scheduler(address: str, timeout: float | None = None) -> None:
    """Refuse, in one line (``UsageError``), an address where no Dask scheduler answers,
    before a Dask client connects (which can hang on a server that never greets, or try to
    allocate exabytes for one that sends a banner):

    * ``tcp://HOST:PORT`` (or ``HOST:PORT``): a Dask scheduler sends its handshake as soon
      as a connection is accepted, its first 8 bytes the message's length. Nothing within
      ``timeout`` seconds (an HTTP server waits for a request), a closed connection or an
      implausible length (a banner) is not a Dask scheduler;
    * ``tls://`` and ``wss://`` need certificates (Dask's ``distributed.comm.tls``
      configuration); without them, refused;
    * ``ucx://`` needs ucx-py installed;
    * ``inproc://`` names a scheduler inside this Python process; none there, refused.
    """
    import socket
    import struct

    timeout = timeout or PROBE_TIMEOUT
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    label = f"--scheduler {address}"
    if scheme == "inproc":
        from distributed.comm.inproc import global_manager

        try:  # another process's (or host's) address is a ValueError
            known = global_manager.get_listener_for(rest) is not None
        except ValueError:
            known = False
        if not known:
            raise UsageError(f"{label}: no Dask scheduler runs inside this process (an "
                             "inproc:// address works only in the Python process that "
                             "started the cluster); give tcp://HOST:PORT")
        return
    if scheme == "ucx":
        try:
            importlib.import_module("ucp")
        except Exception:  # noqa: BLE001 - not installed, or broken
            raise UsageError(f"{label}: ucx:// needs ucx-py installed; give "
                             "tcp://HOST:PORT") from None
        return
    if scheme in ("tls", "wss"):
        import dask

        if not dask.config.get("distributed.comm.tls.client.cert", None):
            raise UsageError(f"{label}: {scheme}:// needs certificates "
                             "(dask config distributed.comm.tls.client.cert, .key, .ca-file); "
                             "none is configured")
        return
    if scheme != "tcp":
        return  # ws://: the client's own timeout applies
    host, _, port = rest.rstrip("/").rpartition(":")
    host = host.strip("[]")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as sock:
            sock.settimeout(timeout)
            head = b""
            while len(head) < 8:
                chunk = sock.recv(8 - len(head))
                if not chunk:
                    break
                head += chunk
    except TimeoutError:
        raise UsageError(f"{label}: no Dask scheduler answered within {timeout:g} s (it "
                         "sent no Dask greeting: another kind of server?)") from None
    except OSError as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {address}: "
                         f"{exc.strerror or exc}") from None
    if len(head) < 8:
        raise UsageError(f"{label}: the server closed the connection without a Dask "
                         "greeting; not a Dask scheduler")
    (length,) = struct.unpack("<Q", head)
    if not 0 < length <= _MAX_GREETING:
        raise UsageError(f"{label}: the server's greeting is not Dask's (it announced "
                         f"{length:,} bytes); not a Dask scheduler")


def _nanny_up(dask_worker: Any) -> bool:
    """Run on a Dask nanny: whether its worker process is up (started and connected to the
    scheduler, as the nanny sees it)."""
    process = getattr(dask_worker, "process", None)
    return process is not None and getattr(process.status, "name", "") == "running"


class DaskExecutor(Executor):
    """Workers of a Dask distributed cluster, reached through its scheduler's address.

    Any cluster will do -- ``dask scheduler`` / ``dask worker`` processes, a
    ``LocalCluster``, or dask-jobqueue on SLURM or PBS. Dask resubmits the tasks of a lost
    worker itself. Workers must be able to import ``sim`` (and a plug-in model's module).

    A lost worker's nanny restarts it; but a worker that dies *while its nanny is still
    starting it* is not restarted (distributed 2026.8: a crashing task that waits for a
    worker is handed to the first one that registers, before its nanny has seen it
    start), and with every worker gone that way the cluster runs nothing again -- a sweep
    isolating a run that segfaults hung so. So after a lost worker, :meth:`settle` waits
    until as many workers as before are registered and their nannies have them up before
    the next suspect runs alone. (A ``LocalCluster`` also closes a nanny whose worker is
    still restarting when its ``distributed.deploy.lost-worker-timeout`` timer from an
    earlier loss fires: docs/hpc.md.)
    """

    def __init__(self, address: str, timeout: float | None = None) -> None:
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover - a declared dependency
            raise UsageError("--scheduler needs dask[distributed] installed") from None
        if not isinstance(address, str) or not address.strip():
            raise UsageError(f"--scheduler needs an address such as tcp://host:8786, "
                             f"got {address!r}")
        probe_scheduler(address)
        try:
            self._client = Client(address, timeout=timeout or DASK_CONNECT_TIMEOUT,
                                  set_as_default=False)
        except Exception as exc:  # noqa: BLE001 - whatever the client raises: one line
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise UsageError(f"cannot reach the Dask scheduler at {address}: {text}") from None
        self.address = address
        nthreads = self._client.nthreads()
        self.workers = max(1, sum(nthreads.values()))
        self._worker_count = len(nthreads)
        self.description = f"dask {address} ({len(nthreads)} workers, {self.workers} threads)"
        self._quiet = contextlib.ExitStack()
        self._quiet.enter_context(quiet_client_log())

    def _lost(self, exc: BaseException | None = None) -> SchedulerLost:
        cause = f" ({type(exc).__name__})" if exc is not None else ""
        return SchedulerLost(f"lost the Dask scheduler at {self.address}{cause}")

    def _connected(self) -> bool:
        return self._client.status in _CONNECTED

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

    def settle(self) -> None:
        """Wait (up to :data:`DASK_SETTLE_TIMEOUT` seconds) until the cluster has as many
        workers as it had and each worker's nanny has it up."""
        deadline = time.monotonic() + DASK_SETTLE_TIMEOUT
        while True:
            count = 0
            try:
                count = len(self._client.nthreads())
                up = count >= self._worker_count and all(
                    v is True for v in self._client.run(_nanny_up, nanny=True,
                                                        on_error="return").values())
            except Exception as exc:
                if not self._connected():
                    raise self._lost(exc) from None
                up = False  # e.g. a worker went away while asked
            if up:
                self._worker_count = count
                time.sleep(DASK_SETTLE_GRACE)
                return
            if time.monotonic() > deadline:
                if count == 0:  # every worker gone: nothing would ever run
                    raise UsageError(
                        f"the Dask cluster at {self.address} has had no workers for "
                        f"{DASK_SETTLE_TIMEOUT:g} s after losing one (its nannies did not "
                        "restart them); restart the cluster and resume the sweep")
                self._worker_count = count  # fewer workers now: wait for those next time
                return
            time.sleep(0.1)

    def worker_lost(self, exc: BaseException) -> bool:
        """Dask retries a task whose worker died itself (``distributed.scheduler.
        allowed-failures`` times, 3 by default) before it raises ``KilledWorker``."""
        from distributed import KilledWorker

        return isinstance(exc, KilledWorker)

    def lost_cause(self, exc: BaseException) -> str:
        return "worker process died (Dask KilledWorker: the task's workers died while running it)"

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a client whose scheduler is gone
            self._client.close(timeout=5)
        self._quiet.close()


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
            if scheduler_lost(self.executor._client, exc):
                raise self.executor._lost(exc) from None
            raise


def make_executor(workers: int | None = None, scheduler: str | None = None,
                  preload: Iterable[str] = ()) -> Executor:
    """Local processes by default; a Dask cluster when ``scheduler`` names one."""
    if workers is not None and scheduler is not None:
        raise UsageError("give either --workers or --scheduler, not both")
    if scheduler is not None:
        return DaskExecutor(check_scheduler_address(scheduler))
    if workers is not None:
        check_size("workers", workers)
    return LocalExecutor(workers, preload=preload)
