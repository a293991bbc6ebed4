"""The sweep directory: Parquet parts written atomically, the manifest, and resume.

Layout::

    DIR/manifest.json            what ran, with which code, seeds and versions; progress
    DIR/runs/part-000000.parquet one part per chunk of consecutive runs, named by chunk

Only the coordinating process writes, each file to a temporary name first and then
``os.replace`` -- so a part either exists whole or not at all, whenever the coordinator is
killed. Resuming reads back which (point, replicate) pairs each part holds and runs exactly
the missing chunks. ``pandas.read_parquet(DIR / "runs")`` reads the whole sweep (temporary
files start with a dot, which readers skip).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import platform
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim.errors import UsageError
from sim.experiment.design import SEED_SCHEME, Design
from sim.experiment.spec import Experiment

MANIFEST = "manifest.json"
LOCK = ".icsim.lock"
RUNS = "runs"
_PART = re.compile(r"^part-(\d{6,})\.parquet$")
_PACKAGES = ("icsim", "numpy", "scipy", "pandas", "pyarrow", "SALib", "mesa", "dask",
             "distributed", "ema_workbench", "tqdm")


def part_name(chunk: int) -> str:
    return f"part-{chunk:06d}.parquet"


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def schema(experiment: Experiment) -> pa.Schema:
    """The one schema of every part of a sweep."""
    fields = [pa.field("point", pa.int64()), pa.field("replicate", pa.int64()),
              pa.field("seed", pa.int64()), pa.field("status", pa.string()),
              pa.field("error", pa.string())]
    types = {"float64": pa.float64(), "int64": pa.int64(), "bool": pa.bool_(),
             "string": pa.string()}
    fields += [pa.field(lever.name, types[lever.arrow_type]) for lever in experiment.levers]
    fields += [pa.field(name, pa.float64()) for name in experiment.outcomes]
    return pa.schema(fields)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and ``os.replace``."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            if name == "icsim":
                import sim

                versions[name] = getattr(sim, "__version__", "unknown")
            else:
                versions[name] = "not installed"
    return versions


def git_state() -> dict[str, Any]:
    """The commit of the code that ran, and whether the worktree had local changes.

    Read-only: ``GIT_OPTIONAL_LOCKS=0`` keeps ``git status`` from touching the index.
    """
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, env=env,
                                capture_output=True, text=True, timeout=10, check=True
                                ).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                cwd=root, env=env, capture_output=True, text=True, timeout=10,
                                check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(status.strip())}


@dataclass
class Progress:
    """Runs finished so far: which chunks are complete, and how many runs failed."""

    chunks: set[int]
    runs_done: int = 0
    runs_failed: int = 0  # every run that is not ok, the invalid ones included
    runs_invalid: int = 0  # runs that returned an infinite outcome


class DirectoryLock:
    """An exclusive lock on an output directory, held for the life of one job.

    ``fcntl.flock`` on ``DIR/.icsim.lock``: the kernel releases it when the holder exits,
    however it exits (``kill -9`` included), so a stale lock file never blocks a resume.
    A second writer is refused with a ``UsageError`` naming the directory. ``acquire``
    creates the directory if needed; ``release(discard=True)`` removes what it created
    (for a job refused before it wrote anything).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._fd: int | None = None
        self._created: list[Path] = []
        self._new_file = False

    def acquire(self) -> DirectoryLock:
        missing = []
        for parent in (self.root, *self.root.parents):
            if parent.exists():
                break
            missing.append(parent)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--out {self.root}: cannot create it ({exc.strerror}); "
                             "choose another --out") from None
        self._created = missing
        path = self.root / LOCK
        self._new_file = not path.exists()
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            self._discard()
            raise UsageError(f"--out {self.root}: cannot write there ({exc.strerror}); "
                             "choose another --out") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UsageError(f"--out {self.root} is in use by another icsim job; wait for it "
                             "to finish or choose another --out") from None
        self._fd = fd
        return self

    def release(self, discard: bool = False) -> None:
        if self._fd is not None:
            if discard:
                self._discard()
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def _discard(self) -> None:
        if self._new_file:
            (self.root / LOCK).unlink(missing_ok=True)
        for path in self._created:  # deepest first
            try:
                path.rmdir()
            except OSError:
                break

    def __enter__(self) -> DirectoryLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class SweepStore:
    """One sweep directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.runs = self.root / RUNS
        self.manifest_path = self.root / MANIFEST

    # ------------------------------------------------------------------ checks (no writes)

    def read_manifest(self) -> dict[str, Any]:
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"{self.root} holds no sweep (no {MANIFEST})") from None
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read {self.manifest_path}: {exc}") from None

    def check(self, experiment: Experiment, design: Design, resume: bool) -> bool:
        """Check the directory can take this sweep; return whether it resumes one.

        Refuses (``UsageError``) a directory holding another experiment, or anything but a
        sweep; with ``resume``, a directory holding nothing to resume.
        """
        if not self.manifest_path.exists():
            if resume:
                raise UsageError(f"--resume: {self.root} holds no sweep to resume")
            if self.root.exists() and (not self.root.is_dir() or any(
                    p.name != LOCK for p in self.root.iterdir())):
                raise UsageError(f"{self.root} exists and is not a sweep directory; "
                                 f"choose another --out")
            return False
        manifest = self.read_manifest()
        old = manifest.get("experiment", {}).get("sha256")
        if old != experiment.sha256:
            raise UsageError(
                f"{self.root} holds a sweep of a different experiment file (sha256 "
                f"{str(old)[:12]}, now {experiment.sha256[:12]}); refusing to resume -- "
                f"restore the file or choose another --out")
        old_design = manifest.get("design", {}).get("sha256")
        if old_design != design.sha256:
            raise UsageError(
                f"{self.root}: the design generated now differs from the stored sweep's "
                f"(package versions changed?); refusing to mix them -- choose another --out")
        return True

    # ------------------------------------------------------------------------ progress

    def progress(self, experiment: Experiment, design: Design) -> Progress:
        """Read back finished (point, replicate) pairs from the parts.

        A part whose rows are not exactly its chunk's runs (which atomic writes should make
        impossible) is removed so that its chunk runs again.
        """
        state = Progress(chunks=set())
        if not self.runs.is_dir():
            return state
        size = experiment.runs_per_part
        for path in sorted(self.runs.iterdir()):
            match = _PART.match(path.name)
            if path.name.startswith(".") and ".tmp-" in path.name:
                path.unlink(missing_ok=True)  # left by a killed coordinator
                continue
            if not match:
                continue
            chunk = int(match.group(1))
            start, stop = chunk * size, min((chunk + 1) * size, design.n_runs)
            try:
                table = pq.read_table(path, columns=["point", "replicate", "status"])
            except (OSError, pa.ArrowException):
                path.unlink()
                continue
            expected = np.arange(start, stop)
            got = (table.column("point").to_numpy() * design.replicates
                   + table.column("replicate").to_numpy())
            if start >= stop or got.shape != expected.shape or not np.array_equal(
                    np.sort(got), expected):
                path.unlink()
                continue
            state.chunks.add(chunk)
            state.runs_done += len(expected)
            status = table.column("status").to_numpy(zero_copy_only=False)
            state.runs_failed += int(np.sum(status != "ok"))
            state.runs_invalid += int(np.sum(status == "invalid"))
        return state

    # -------------------------------------------------------------------------- writes

    def begin(self, experiment: Experiment, design: Design, executor: str,
              resumed: bool, progress: Progress) -> dict[str, Any]:
        """Create the directory (or reopen it) and record this session in the manifest."""
        self.runs.mkdir(parents=True, exist_ok=True)
        if resumed:
            manifest = self.read_manifest()
        else:
            n_parts = -(-design.n_runs // experiment.runs_per_part)
            manifest = {
                "experiment": {"name": experiment.name, "file": experiment.source,
                               "sha256": experiment.sha256, "text": experiment.text},
                "model": experiment.model,
                "design": {"method": design.method, "parameters": design.names,
                           "points": design.n_points, "replicates": design.replicates,
                           "runs": design.n_runs, "runs_per_part": experiment.runs_per_part,
                           "parts": n_parts, "sha256": design.sha256},
                "outcomes": list(experiment.outcomes),
                "seed": experiment.seed,
                "seed_scheme": SEED_SCHEME,
                "started": now(),
                "finished": None,
                "sessions": [],
            }
        manifest.update({
            "status": "running", "runs_total": design.n_runs,
            "runs_done": progress.runs_done, "runs_failed": progress.runs_failed,
            "runs_invalid": progress.runs_invalid,
            "versions": package_versions(), "git": git_state(),
        })
        manifest["sessions"].append({"started": now(), "ended": None, "executor": executor,
                                     "runs_done_before": progress.runs_done})
        self.write_manifest(manifest)
        return manifest

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        write_atomic(self.manifest_path,
                     (json.dumps(manifest, indent=2, default=str) + "\n").encode("utf-8"))

    def end(self, manifest: dict[str, Any], status: str, progress: Progress) -> None:
        """Record the end of a session: ``complete``, ``interrupted`` or ``failed``."""
        manifest["status"] = status
        manifest["runs_done"] = progress.runs_done
        manifest["runs_failed"] = progress.runs_failed
        manifest["runs_invalid"] = progress.runs_invalid
        manifest["sessions"][-1]["ended"] = now()
        manifest["sessions"][-1]["status"] = status
        if status == "complete":
            manifest["finished"] = now()
        self.write_manifest(manifest)

    def write_part(self, chunk: int, table: pa.Table) -> Path:
        """Write one part atomically (temporary file, fsync, ``os.replace``)."""
        path = self.runs / part_name(chunk)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        pq.write_table(table, tmp, compression="zstd")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return path
