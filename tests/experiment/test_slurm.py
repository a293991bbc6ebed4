"""The HPC recipe of docs/hpc.md on a real SLURM: tools/slurm/cluster.py starts
dask-jobqueue's ``SLURMCluster`` (2 batch jobs of one single-threaded worker each), and
``icsim sweep``, ``calibrate`` and ``validate --scheduler ADDRESS``, run as processes as a
user would, write what the same commands write on local processes, byte for byte; so
does ``icsim national``, the recipe's fourth command.

Needs SLURM's commands, a controller that answers with a node that takes jobs, and
dask-jobqueue (the ``hpc`` and ``test`` extras). ``tools/slurm/start_local_slurm.sh`` (as
root) installs Debian's SLURM and starts a one-node cluster on this machine. Without
them the test skips, unless ``ICSIM_REQUIRE_SLURM=1`` (set by ``.ci/run``), which turns
the skip into a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import OWN_NO_COVERAGE, VALIDATION_BROKE, VALIDATION_PROGRAMME, VALIDATION_TINY
from test_sweep import PROJECT_LHS

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "tools" / "slurm" / "cluster.py"
START = "tools/slurm/start_local_slurm.sh"
REQUIRED = os.environ.get("ICSIM_REQUIRE_SLURM", "") not in ("", "0")

#: Six parts of 16 runs of the project's model: work for both workers.
SWEEP = PROJECT_LHS.replace("runs_per_part = 32", "runs_per_part = 16")
#: The calibration tests' own case without the coverage check: 6,000 simulations.
CALIBRATION = OWN_NO_COVERAGE
#: Two small countries (20 sites, 3 replicates, 6 months) and a statement on each kind of
#: site selection.
VALIDATION = VALIDATION_TINY + VALIDATION_BROKE + VALIDATION_PROGRAMME + """
[[statements]]
id = "contrast"
configuration = "tiny"
contrast = "broke"
statistic = "collapsed"
month = 6
sites = "all"
low = -1.0
high = 1.0
source = "a test"
passage = "any difference"
comparability = "direct"
"""

#: The commands of docs/hpc.md's recipe, small; each runs with ``--workers 2`` and with
#: ``--scheduler ADDRESS``, into ``local/NAME`` and ``slurm/NAME``.
COMMANDS = {
    "sweep": ["sweep", "sweep.toml"],
    "calibrate": ["calibrate", "calibrate.toml"],
    "national": ["national", "--sites", "40", "--replicates", "4", "--months", "24",
                 "--funding-rule", "competitive,targeted"],
    "validate": ["validate", "validate.toml"],
}

#: Files that record when, where and how long a run took (times, the executor, the order
#: in which parts finished, the output folder's name), so they differ between any two
#: runs; every other file must be the same byte for byte.
PROVENANCE = {".icsim.lock", "manifest.json", "checksums.jsonl", "table.json", "summary.md",
              "validation.md"}


def _require_slurm() -> None:
    """Skip without SLURM or dask-jobqueue, or fail when the environment demands them."""
    problem = None
    missing = [c for c in ("sbatch", "sinfo", "squeue", "scancel") if shutil.which(c) is None]
    if missing:
        problem = f"SLURM's commands are not installed ({', '.join(missing)}; {START})"
    else:
        try:
            proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True,
                                  text=True, timeout=60)
            states = proc.stdout.split()
            if proc.returncode != 0:
                problem = (f"no SLURM controller answers ({proc.stderr.strip()[:200]}; "
                           f"{START})")
            elif not any(s.startswith(("idle", "mixed")) for s in states):
                problem = f"no SLURM node takes jobs (sinfo: {' '.join(states) or 'none'})"
        except subprocess.TimeoutExpired:
            problem = f"no SLURM controller answers (sinfo took over 60 s; {START})"
    try:
        import dask_jobqueue  # noqa: F401
    except ImportError:
        problem = "dask-jobqueue is not installed (pip install -e '.[hpc]')"
    if problem is not None:
        if REQUIRED:
            pytest.fail(f"ICSIM_REQUIRE_SLURM is set but {problem}")
        pytest.skip(problem)


def _icsim(*argv: str, cwd: Path) -> str:
    proc = subprocess.run([sys.executable, "-m", "sim", *argv, "--quiet"], cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"icsim {' '.join(argv)}: {proc.stderr}"
    return proc.stdout


def _queued(jobs: list[str]) -> dict[str, str]:
    """The state of each of ``jobs`` that squeue still shows."""
    out = subprocess.run(["squeue", "-h", "-o", "%i %T"], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    states = dict(line.split() for line in out.splitlines() if line.strip())
    return {job: states[job] for job in jobs if job in states}


def _how(name: Path, local: Path, remote: Path) -> str:
    """How two parquet files differ: their values, or the provenance they record (a part
    names the commit and the working tree's diff, so a tracked file edited while the test
    runs makes the two runs' parts differ)."""
    if local.suffix != ".parquet":
        return str(name)
    import pyarrow.parquet as pq

    a, b = pq.read_table(local), pq.read_table(remote)
    keys = sorted(k.decode() for k in set(a.schema.metadata or {}) | set(b.schema.metadata or {})
                  if (a.schema.metadata or {}).get(k) != (b.schema.metadata or {}).get(k))
    return f"{name} (values {'equal' if a.equals(b) else 'differ'}; metadata {keys})"


def _assert_same_outputs(local: Path, remote: Path) -> None:
    names = sorted(p.relative_to(local) for p in local.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(remote) for p in remote.rglob("*") if p.is_file())
    assert len(names) > 3, names
    differ = [_how(n, local / n, remote / n) for n in names if n.name not in PROVENANCE
              and (local / n).read_bytes() != (remote / n).read_bytes()]
    assert not differ, f"differ between local processes and SLURM: {differ}"
    for checksums in local.rglob("checksums.jsonl"):  # the same parts, in another order
        lines = sorted(checksums.read_text().splitlines())
        assert lines == sorted((remote / checksums.relative_to(local)).read_text()
                               .splitlines())


@pytest.mark.slurm
@pytest.mark.slow
def test_sweep_calibrate_national_and_validate_on_slurm_equal_local_processes(
        tmp_path: Path) -> None:
    _require_slurm()
    from distributed import Client

    (tmp_path / "sweep.toml").write_text(textwrap.dedent(SWEEP))
    (tmp_path / "calibrate.toml").write_text(CALIBRATION)
    (tmp_path / "validate.toml").write_text(VALIDATION)
    logs = tmp_path / "logs"
    out = tmp_path / "cluster.out"
    err = tmp_path / "cluster.err"
    jobs: list[str] = []
    with open(out, "w") as stdout, open(err, "w") as stderr:
        cluster = subprocess.Popen(
            [sys.executable, str(CLUSTER), "--jobs", "2", "--cores", "1", "--processes", "1",
             "--memory", "2GB", "--walltime", "00:15:00", "--interface", "lo",
             "--log-directory", str(logs), "--timeout", "120"],
            stdout=stdout, stderr=stderr, cwd=tmp_path)
    try:
        # The local references run while SLURM starts the workers.
        for name, argv in COMMANDS.items():
            _icsim(*argv, "--workers", "2", "--out", f"local/{name}", cwd=tmp_path)

        deadline = time.monotonic() + 150
        while not out.read_text().startswith("tcp://") or "ready:" not in out.read_text():
            assert cluster.poll() is None, f"cluster.py exited: {err.read_text()}"
            assert time.monotonic() < deadline, f"no workers: {out.read_text()}"
            time.sleep(0.2)
        lines = out.read_text().splitlines()
        address = lines[0]
        jobs = lines[1].split("SLURM jobs ")[1].split()
        assert len(jobs) == 2, lines
        # The workers are SLURM jobs: running in the queue, and each worker in one of them.
        assert _queued(jobs) == {job: "RUNNING" for job in jobs}
        with Client(address) as client:
            where = client.run(lambda: os.environ.get("SLURM_JOB_ID"))
            assert sorted(where.values()) == sorted(jobs), where

            for name, argv in COMMANDS.items():
                _icsim(*argv, "--scheduler", address, "--out", f"slurm/{name}", cwd=tmp_path)

            executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
            assert sum(executed.values()) > 0, executed
        for manifest in ("sweep", "national", "validate/tiny", "validate/broke"):
            sessions = json.loads((tmp_path / "slurm" / manifest / "manifest.json")
                                  .read_text())["sessions"]
            assert sessions[0]["executor"].startswith(f"dask {address}"), sessions
        assert f"Dask at {address}" in (tmp_path / "slurm/calibrate/summary.md").read_text()
        for name in COMMANDS:
            _assert_same_outputs(tmp_path / "local" / name, tmp_path / "slurm" / name)

        # SIGTERM closes the cluster, which cancels its jobs: none is left in the queue.
        cluster.send_signal(signal.SIGTERM)
        assert cluster.wait(timeout=60) == 0, err.read_text()
        assert "closed the cluster" in err.read_text()
        deadline = time.monotonic() + 30
        while _queued(jobs):
            assert time.monotonic() < deadline, f"jobs left in squeue: {_queued(jobs)}"
            time.sleep(0.2)
    finally:
        if cluster.poll() is None:
            cluster.send_signal(signal.SIGTERM)
            try:
                cluster.wait(timeout=60)
            except subprocess.TimeoutExpired:
                cluster.kill()
                cluster.wait()
        if jobs and _queued(jobs):
            subprocess.run(["scancel", *jobs], check=False, timeout=60)
