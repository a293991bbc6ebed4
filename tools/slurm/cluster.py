"""A Dask cluster whose workers are SLURM batch jobs, for ``icsim ... --scheduler ADDRESS``.

Starts dask-jobqueue's ``SLURMCluster`` (the scheduler runs in this process), submits
``--jobs`` jobs of ``--processes`` single-threaded workers each, prints the scheduler's
address as its first line, and once every worker has registered, one line ``ready: ...``
naming the workers' SLURM job ids. It then stays up until SIGTERM or SIGINT (Ctrl-C),
which close the cluster: its jobs are cancelled (``scancel``) before it exits.

    python tools/slurm/cluster.py --cores 32 --processes 32 --memory 64GB \\
        --walltime 02:00:00 --queue compute --account myproject --jobs 4 \\
        --prologue "source $PWD/.venv/bin/activate" > scheduler.txt &
    icsim sweep experiments/sobol_pilot.toml --scheduler "$(head -1 scheduler.txt)"

Needs the optional extra ``hpc`` (``pip install -e '.[hpc]'``: dask-jobqueue). Bad
arguments: one line on stderr, exit status 2. docs/hpc.md has the recipe, and
tests/experiment/test_slurm.py runs this script on a one-node SLURM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from types import FrameType
from typing import NoReturn

try:
    from dask_jobqueue import SLURMCluster
    from distributed import Client
except ImportError:
    sys.exit("cluster.py: error: dask-jobqueue is not installed (pip install -e '.[hpc]')")


class _Parser(argparse.ArgumentParser):
    """Errors in one line, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"cluster.py: error: {message} (see '{self.prog} --help')\n")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = _Parser(prog="cluster.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=_positive, default=1,
                        help="SLURM jobs to submit (default: 1)")
    parser.add_argument("--cores", type=_positive, default=1,
                        help="cores a job asks for (default: 1)")
    parser.add_argument("--processes", type=_positive, default=None,
                        help="worker processes a job runs, one thread each "
                             "(default: --cores; the engine holds the GIL, so threads "
                             "would not add speed)")
    parser.add_argument("--memory", default="2GB",
                        help="memory a job asks for, e.g. 64GB (default: 2GB)")
    parser.add_argument("--walltime", default="01:00:00",
                        help="a job's time limit, HH:MM:SS (default: 01:00:00)")
    parser.add_argument("--queue", default=None, help="SLURM partition (default: the site's)")
    parser.add_argument("--account", default=None, help="SLURM account (default: none)")
    parser.add_argument("--prologue", action="append", default=[], metavar="LINE",
                        help="a shell line the job script runs before the worker starts, "
                             "e.g. 'source /path/to/icsim/.venv/bin/activate' (repeatable)")
    parser.add_argument("--interface", default=None,
                        help="network interface of the scheduler and the workers, e.g. "
                             "ib0 (default: Dask's choice)")
    parser.add_argument("--log-directory", default=None,
                        help="where the jobs' output goes (default: SLURM's, the current "
                             "folder)")
    parser.add_argument("--timeout", type=_positive, default=3600,
                        help="seconds to wait for every worker to register, queueing "
                             "included (default: 3600)")
    args = parser.parse_args(argv)
    if args.processes is None:
        args.processes = args.cores
    if args.processes > args.cores:
        parser.error(f"--processes {args.processes} is more than --cores {args.cores}: "
                     "each worker needs a core")
    if args.cores % args.processes:
        parser.error(f"--cores {args.cores} is not a multiple of --processes "
                     f"{args.processes}")
    return args


class _Stop(Exception):
    """SIGTERM or SIGINT arrived."""


def _stop(signum: int, frame: FrameType | None) -> None:
    # A second signal must not interrupt the closing (it would leave jobs queued).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise _Stop(signal.Signals(signum).name)


#: Seconds sbatch may take to submit a job (it returns at once when SLURM accepts it, and
#: fails when SLURM refuses it: an unknown partition or account).
SUBMIT_SECONDS = 60


def _wait(cluster: SLURMCluster, client: Client, workers: int, timeout: int) -> str | None:
    """Wait until ``workers`` workers have registered: None, or what went wrong."""
    start = time.monotonic()
    while True:
        try:
            client.wait_for_workers(workers, timeout=2)
            return None
        except TimeoutError:
            pass
        waited = time.monotonic() - start
        if waited > SUBMIT_SECONDS and any(job.job_id is None
                                           for job in cluster.workers.values()):
            return f"sbatch submitted no job in {SUBMIT_SECONDS} s (its error is above)"
        if waited > timeout:
            return (f"{len(client.scheduler_info()['workers'])} of {workers} workers "
                    f"registered in {timeout} s (jobs pending in the queue? see squeue)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    workers = args.jobs * args.processes
    try:
        with SLURMCluster(cores=args.cores, processes=args.processes, memory=args.memory,
                          walltime=args.walltime, queue=args.queue, account=args.account,
                          job_script_prologue=args.prologue, interface=args.interface,
                          log_directory=args.log_directory) as cluster, \
                Client(cluster) as client:
            print(cluster.scheduler_address, flush=True)
            cluster.scale(jobs=args.jobs)
            problem = _wait(cluster, client, workers, args.timeout)
            if problem is not None:
                print(f"cluster.py: error: {problem}; cancelling the jobs", file=sys.stderr)
                return 1
            jobs = sorted((str(job.job_id) for job in cluster.workers.values()), key=int)
            print(f"ready: {workers} workers in SLURM jobs {' '.join(jobs)}", flush=True)
            while True:
                signal.pause()  # until SIGTERM or SIGINT raises _Stop
    except _Stop as stop:
        print(f"cluster.py: {stop}: closed the cluster, cancelled its jobs", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
