"""The sweep directory: Parquet parts written atomically, the manifest, and resume.

Layout::

    DIR/manifest.json            what ran, with which code, seeds and versions; progress
    DIR/checksums.jsonl          the sha256 of every part, appended as each is written
    DIR/runs/part-000000.parquet one part per chunk of consecutive runs, named by chunk
    DIR/timeseries/part-000000.parquet  with [timeseries]: the chunk's monthly outcomes,
                                 long form (point, replicate, month, one column a series),
                                 one row group a month; written and checked with its part

Only the coordinating process writes, each file to a temporary name first and then
``os.replace`` -- so a part either exists whole or not at all, whenever the coordinator is
killed. Resuming reads back which (point, replicate) pairs each part holds and runs exactly
the missing chunks. ``pandas.read_parquet(DIR / "runs")`` reads the whole sweep (temporary
files start with a dot, which readers skip).

Nothing mixed, nothing silently wrong: every part carries, in its Parquet key-value
metadata, the experiment and design hashes and the code (icsim version, git commit, dirty
flag and a hash of the local changes) that wrote it, and the ledger records the sha256 of
every part before the part is moved into place (the manifest gathers them at the end of a
session). :meth:`SweepStore.verify` checks all of
that -- checksum, provenance, rows exactly its chunk's runs -- for resume and for every
reader; a resume moves a damaged part to ``DIR/discarded/``, says so, and reruns it.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim.core.errors import UsageError
from sim.experiment.design import SEED_SCHEME, Design
from sim.experiment.leftovers import (
    remove_manifest_temporaries,
    remove_stale_staging,
    staging_prefix,
)
from sim.experiment.safepaths import refuse_symlinks
from sim.experiment.spec import SERIES_COLUMNS, Experiment

MANIFEST = "manifest.json"
LOCK = ".icsim.lock"
RUNS = "runs"
#: The time-series parts (``[timeseries]``), one beside each part of ``runs/``.
TIMESERIES = "timeseries"
#: The append-only ledger of part checksums, one JSON line a part, written (and fsynced)
#: before the part is moved into place; the manifest gathers them at the end of a session.
#: Appending keeps the cost of a part constant however many parts the sweep has.
LEDGER = "checksums.jsonl"
#: A ledger past this size is refused unread (a line is about 130 bytes).
MAX_LEDGER_BYTES = 1024 * 2**20
#: A manifest past this size is refused unread (one of 10,000 parts is about 1.6 MB).
MAX_MANIFEST_BYTES = 256 * 2**20
#: Where a resume moves the parts it discards (outside ``runs/``: readers never see them).
DISCARDED = "discarded"
#: The Parquet key-value metadata of a part: which sweep and which code wrote it.
PROVENANCE = ("icsim.experiment_sha256", "icsim.design_sha256", "icsim.version",
              "icsim.commit", "icsim.dirty", "icsim.diff_sha256")
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


def series_schema(experiment: Experiment) -> pa.Schema:
    """The schema of every time-series part: ``point``, ``replicate``, ``month``, then one
    float64 column a monthly outcome."""
    assert experiment.timeseries is not None
    return pa.schema([pa.field(name, pa.int64()) for name in SERIES_COLUMNS]
                     + [pa.field(name, pa.float64())
                        for name in experiment.timeseries.outcomes])


class WriteError(OSError):
    """Writing a file of the sweep failed (disk full, read-only, ...); nothing half-written
    is left: the temporary file is removed."""

    def __init__(self, path: Path, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror or str(cause))
        self.path = path

    @property
    def disk_full(self) -> bool:
        return self.errno in (errno.ENOSPC, errno.EDQUOT)

    @property
    def next_step(self) -> str:
        """What the user does about it, before "with --resume" where that applies."""
        return "free space and run again" if self.disk_full else "fix that and run again"

    def describe(self) -> str:
        """``disk full writing PATH`` or ``cannot write PATH (reason)``."""
        if self.disk_full:
            return f"disk full writing {self.path}"
        return f"cannot write {self.path} ({self.strerror})"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and ``os.replace``.

    Raises :class:`WriteError` (an ``OSError``) if that fails; the temporary file is gone.
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise WriteError(path, exc) from exc


def text_columns(fields: pa.Schema) -> list[str]:
    """The names of a table's text columns: the ones worth Parquet's dictionary pages
    (few distinct values), where on numbers, nearly all distinct, they cost time and
    space (``use_dictionary=text_columns(table.schema)``)."""
    return [f.name for f in fields
            if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]


@contextmanager
def staged(out_dir: str | Path) -> Iterator[Path]:
    """Yield a staging folder beside ``out_dir``; on success move its files into
    ``out_dir``, one ``os.replace`` each, so that an interrupted command leaves nothing
    half-written (the folder-sized counterpart of :func:`write_atomic`)."""
    out = Path(out_dir)
    parent = out.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(out)  # a killed earlier run's
    stage = Path(tempfile.mkdtemp(prefix=staging_prefix(out), suffix=".staging", dir=parent))
    try:
        yield stage
        out.mkdir(parents=True, exist_ok=True)
        for item in sorted(stage.iterdir()):
            target = out / item.name
            if target.is_dir() and item.is_dir():
                shutil.rmtree(target)
            item.replace(target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            if name == "icsim":
                # the package is imported already (this module is part of it)
                versions[name] = getattr(sys.modules.get("sim"), "__version__", "unknown")
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
        diff = subprocess.run(["git", "diff", "HEAD", "--no-ext-diff", "--binary"], cwd=root,
                              env=env, capture_output=True, timeout=30, check=True
                              ).stdout if status.strip() else b""
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None, "diff_sha256": None}
    return {"commit": commit, "dirty": bool(status.strip()),
            "diff_sha256": hashlib.sha256(diff).hexdigest() if diff else None}


def code_state() -> dict[str, Any]:
    """The code running now: icsim's version, git commit, dirty flag and changes' hash."""
    return {"icsim": package_versions()["icsim"], **git_state()}


def code_key(code: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes two code states the same code."""
    return (code.get("icsim"), code.get("commit"), code.get("dirty"), code.get("diff_sha256"))


def code_label(code: Mapping[str, Any]) -> str:
    """``commit 1a2b3c4d5e6f (with local changes 9f8e7d6c), icsim 0.1.0``."""
    commit = code.get("commit")
    text = f"commit {str(commit)[:12]}" if commit else "an unknown commit"
    if code.get("dirty"):
        diff = code.get("diff_sha256")
        text += f" (with local changes {str(diff)[:8]})" if diff else " (with local changes)"
    return f"{text}, icsim {code.get('icsim')}"


def _provenance(experiment_sha256: str, design_sha256: str,
                code: Mapping[str, Any]) -> dict[bytes, bytes]:
    values = (experiment_sha256, design_sha256, code.get("icsim"), code.get("commit"),
              code.get("dirty"), code.get("diff_sha256"))
    return {key.encode(): json.dumps(value).encode() for key, value in zip(PROVENANCE, values,
                                                                            strict=True)}


def _read_provenance(metadata: Mapping[bytes, bytes] | None) -> dict[str, Any] | None:
    """A part's provenance from its key-value metadata, or ``None`` if it has none."""
    metadata = metadata or {}
    try:
        values = [json.loads(metadata[key.encode()]) for key in PROVENANCE]
    except (KeyError, ValueError):
        return None
    experiment, design, icsim, commit, dirty, diff = values
    return {"experiment_sha256": experiment, "design_sha256": design,
            "code": {"icsim": icsim, "commit": commit, "dirty": dirty, "diff_sha256": diff}}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Progress:
    """Runs finished so far: which chunks are complete, and how many runs failed."""

    chunks: set[int]
    runs_done: int = 0
    runs_failed: int = 0  # every run that is not ok, the invalid ones included
    runs_invalid: int = 0  # runs that returned an infinite outcome


@dataclass
class Part:
    """A part that passed verification."""

    chunk: int
    path: Path
    rows: int
    failed: int
    code: dict[str, Any]
    table: pa.Table | None = None
    invalid: int = 0  # rows with status "invalid" (an infinite outcome)
    series: Path | None = None  # its time-series part ([timeseries]), checked with it


@dataclass
class Verified:
    """What :meth:`SweepStore.verify` found in ``runs/``."""

    parts: dict[int, Part] = field(default_factory=dict)
    #: ``(path, reason)`` of every part that failed, in name order.
    damaged: list[tuple[Path, str]] = field(default_factory=list)
    #: Temporary files left by a killed writer.
    temporary: list[Path] = field(default_factory=list)

    def progress(self) -> Progress:
        return Progress(chunks=set(self.parts),
                        runs_done=sum(p.rows for p in self.parts.values()),
                        runs_failed=sum(p.failed for p in self.parts.values()),
                        runs_invalid=sum(p.invalid for p in self.parts.values()))

    def codes(self) -> dict[tuple[Any, ...], tuple[dict[str, Any], list[str]]]:
        """The code states that wrote the good parts, each with its parts' names."""
        found: dict[tuple[Any, ...], tuple[dict[str, Any], list[str]]] = {}
        for chunk in sorted(self.parts):
            part = self.parts[chunk]
            found.setdefault(code_key(part.code), (part.code, []))[1].append(part.path.name)
        return found

    def damage_message(self, resume: str) -> str:
        """One line naming the damaged parts and the command (``resume``) that reruns them."""
        (path, reason), rest = self.damaged[0], self.damaged[1:]
        more = (f" (and {len(rest)} more: {', '.join(p.name for p, _ in rest[:3])}"
                f"{', ...' if len(rest) > 3 else ''})" if rest else "")
        return f"{path}: {reason}{more}; rerun the damaged parts with: {resume}"


def mixed_code_message(root: Path, verified: Verified) -> str:
    """One line naming the code states a sweep's parts come from."""
    codes = sorted(verified.codes().values(), key=lambda item: item[1][0])
    listed = "; ".join(f"{code_label(code)} wrote {len(names)} part"
                       f"{'s' if len(names) > 1 else ''}" for code, names in codes)
    return f"{root} mixes parts written by {len(codes)} code versions ({listed})"


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
        refuse_symlinks(self.root)  # nothing written through a link inside --out
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
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
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
        self.series = self.root / TIMESERIES
        self.manifest_path = self.root / MANIFEST
        self.manifest: dict[str, Any] | None = None
        self._metadata: dict[bytes, bytes] = {}

    # ------------------------------------------------------------------ checks (no writes)

    def read_manifest(self) -> dict[str, Any]:
        """The manifest, checked for the shape this module writes (``UsageError`` if not)."""
        path = self.manifest_path
        fix = "restore it, or run the sweep again into another --out"
        if not _usable_file(path, MAX_MANIFEST_BYTES, "a sweep's manifest", fix):
            raise UsageError(f"{self.root} holds no sweep (no {MANIFEST})")
        try:
            manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"{self.root} holds no sweep (no {MANIFEST})") from None
        except UnicodeDecodeError:
            raise UsageError(f"{path} is damaged (not text); {fix}") from None
        except ValueError as exc:
            raise UsageError(f"{path} is damaged (not JSON: {exc}); {fix}") from None
        except OSError as exc:
            raise UsageError(f"cannot read {path} ({exc.strerror}); {fix}") from None
        problem = _manifest_problem(manifest)
        if problem:
            raise UsageError(f"{path} is damaged ({problem}); {fix}")
        return manifest

    def check(self, experiment: Experiment, design: Design, resume: bool) -> bool:
        """Check the directory can take this sweep; return whether it resumes one.

        Refuses (``UsageError``) a directory holding another experiment, or anything but a
        sweep; with ``resume``, a directory holding nothing to resume.
        """
        if not self.manifest_path.exists() and not self.manifest_path.is_symlink():
            if resume:
                raise UsageError(f"--resume: {self.root} holds no sweep to resume")
            if self.root.exists() and (not self.root.is_dir() or any(
                    p.name != LOCK for p in self.root.iterdir())):
                raise UsageError(f"{self.root} exists and is not a sweep directory; "
                                 f"choose another --out")
            return False
        manifest = self.read_manifest()
        old = manifest["experiment"]["sha256"]
        stored = manifest["experiment"]
        same_text = stored.get("text") == experiment.text
        old_posterior = stored.get("posterior_sha256")  # recorded since 2026-11-28
        if old != experiment.sha256 and same_text and \
                stored.get("scenario_sha256", "") != experiment.scenario_sha256:
            raise UsageError(
                f"{self.root} holds a sweep over scenario file {experiment.scenario} as it "
                f"was when the sweep started; the file has changed since, refusing to mix "
                f"them -- restore the file or choose another --out")
        if old != experiment.sha256 and same_text and old_posterior is not None \
                and old_posterior != experiment.posterior_sha256:
            if not old_posterior:
                was, now_, earlier = "with no posterior", "with one", "without --posterior"
            else:
                was = "over a posterior"
                now_ = "over another" if experiment.posterior_sha256 else "without it"
                earlier = (f"with --posterior {stored['posterior_file']}"
                           if stored.get("posterior_file") else "with the earlier --posterior")
            raise UsageError(
                f"{self.root} holds a sweep of this experiment {was}, asked now {now_}; "
                f"refusing to mix them -- resume {earlier}, or choose another --out")
        if old != experiment.sha256 and same_text and (
                old_posterior == experiment.posterior_sha256
                or (old_posterior is None and not experiment.posterior_sha256)):
            raise UsageError(
                f"{self.root} holds a sweep of this same experiment file written by an older "
                f"icsim, which recorded the experiment differently (sha256 {str(old)[:12]}, "
                f"now {experiment.sha256[:12]}); this version cannot resume it -- choose "
                f"another --out")
        if old != experiment.sha256:
            raise UsageError(
                f"{self.root} holds a sweep of a different experiment file (sha256 "
                f"{str(old)[:12]}, now {experiment.sha256[:12]}); refusing to resume -- "
                f"restore the file or choose another --out")
        old_design = manifest["design"]["sha256"]
        if old_design != design.sha256:
            raise UsageError(
                f"{self.root}: the design generated now differs from the stored sweep's "
                f"(package versions changed?); refusing to mix them -- choose another --out")
        return True

    def verify(self, experiment: Experiment, design: Design, manifest: Mapping[str, Any],
               tables: bool | Sequence[str] = False) -> Verified:
        """Check every part in ``runs/`` without changing anything.

        A part passes if the ledger or the manifest records its sha256 and the file still
        has it, its metadata names this experiment and design, and its rows are exactly its
        chunk's
        runs. Anything in ``runs/`` that is neither a part nor hidden (a name starting with
        a dot, which Parquet readers skip) is refused (``UsageError``): readers of
        ``runs/`` would trip over it. With ``tables``, the good parts' tables are kept:
        every column with ``True``, only the named ones (and those the check reads) with a
        list of names -- a sweep's analysis needs its outcomes, not the inputs of every run
        (146 inputs of 1.9 million runs were 6.7 GB in pandas).
        """
        found = Verified()
        if not self.runs.exists() and not self.runs.is_symlink():
            return found
        recorded = {**(manifest.get("parts") or {}), **self.read_ledger()}
        size = experiment.runs_per_part
        n_chunks = -(-design.n_runs // size)
        strays: list[Path] = []
        for chunk, path in self._part_files(self.runs, found, strays):
            name = path.name
            reason, part = self._verify_part(path, chunk, n_chunks, experiment, design,
                                             recorded.get(name), tables)
            if not reason and experiment.timeseries is not None:
                assert part is not None
                reason = self._verify_series(chunk, part, experiment, design,
                                             recorded.get(name))
            if reason:
                found.damaged.append((path, reason))
            else:
                assert part is not None  # a part without a reason is sound
                found.parts[chunk] = part
        if experiment.timeseries is not None:
            self._scan_series(found, strays)
        if strays:
            where = strays[0].parent
            more = f" (and {len(strays) - 1} more)" if len(strays) > 1 else ""
            raise UsageError(f"{strays[0]} is not a part of this sweep{more}; move it out of "
                             f"{where} and run again")
        return found

    def _scan_series(self, found: Verified, strays: list[Path]) -> None:
        """Temporary files and strays in ``timeseries/``. A time-series part without a
        sound part in ``runs/`` (its coordinator killed between the two renames) is left:
        its chunk runs again and replaces it."""
        if self.series.exists() or self.series.is_symlink():
            for _ in self._part_files(self.series, found, strays):
                pass

    def _part_files(self, folder: Path, found: Verified, strays: list[Path],
                    ) -> Iterator[tuple[int, Path]]:
        """Every part file in ``folder`` as (chunk, path), in name order; hidden temporary
        files go to ``found.temporary``, anything else that is not a part to ``strays``."""
        if not folder.is_dir():
            raise UsageError(f"{folder} is not a directory; move it out of {self.root} "
                             "and run again")
        for path in sorted(folder.iterdir()):
            name = path.name
            if name.startswith("."):
                if ".tmp-" in name and path.is_file():
                    found.temporary.append(path)
                continue
            match = _PART.match(name)
            if not match or name != part_name(int(match.group(1))) or path.is_symlink() \
                    or not path.is_file():
                strays.append(path)
                continue
            yield int(match.group(1)), path

    def _verify_series(self, chunk: int, part: Part, experiment: Experiment, design: Design,
                       entry: Any) -> str:
        """Why the time-series part of a sound part fails (``""`` if it passes): it must
        exist, have the checksum the ledger recorded with the part, this sweep's
        provenance, schema and row count."""
        assert experiment.timeseries is not None
        path = self.series / part_name(chunk)
        want = entry.get("timeseries_sha256") if isinstance(entry, Mapping) else None
        if not path.is_file() or path.is_symlink():
            return f"its time-series part {TIMESERIES}/{path.name} is missing"
        if not isinstance(want, str):
            return f"no checksum recorded for its time-series part {TIMESERIES}/{path.name}"
        try:
            if file_sha256(path) != want:
                return (f"checksum mismatch in its time-series part {TIMESERIES}/{path.name} "
                        "(the file changed after it was written)")
            with open(path, "rb") as fh:
                reader = pq.ParquetFile(fh)
                provenance = _read_provenance(reader.schema_arrow.metadata)
                schema_ok = reader.schema_arrow.remove_metadata().equals(
                    series_schema(experiment))
                rows = reader.metadata.num_rows
        except (OSError, pa.ArrowException) as exc:
            return (f"its time-series part {TIMESERIES}/{path.name} is not a readable "
                    f"Parquet file ({str(exc).splitlines()[0]})")
        if provenance is None or provenance["experiment_sha256"] != experiment.sha256 \
                or provenance["design_sha256"] != design.sha256:
            return f"its time-series part {TIMESERIES}/{path.name} is another sweep's"
        if not schema_ok or rows != part.rows * len(experiment.timeseries.months):
            return (f"its time-series part {TIMESERIES}/{path.name} does not hold its "
                    f"runs' {len(experiment.timeseries.months)} months")
        part.series = path
        return ""

    def read_ledger(self) -> dict[str, dict[str, Any]]:
        """The part checksums in the ledger, the last line of a part winning. Lines that do
        not parse (a write cut short by a full disk or a kill) are skipped: a part whose
        checksum is lost with them fails verification and is rerun."""
        path = self.root / LEDGER
        if not _usable_file(path, MAX_LEDGER_BYTES, "a checksum ledger",
                            f"move it out of {self.root} and run again with --resume (its "
                            "parts rerun)"):
            return {}
        entries: dict[str, dict[str, Any]] = {}
        for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("part"), str) \
                    and isinstance(entry.get("sha256"), str):
                entries[entry["part"]] = {k: v for k, v in entry.items() if k != "part"}
        return entries

    def _verify_part(self, path: Path, chunk: int, n_chunks: int, experiment: Experiment,
                     design: Design, entry: Any, tables: bool | Sequence[str],
                     ) -> tuple[str, Part | None]:
        """``(reason, None)`` for a part that fails, ``("", part)`` for one that passes.

        The file is hashed in blocks and only its footer is read until it has passed every
        check, so a huge or hostile file costs no memory.
        """
        want = entry.get("sha256") if isinstance(entry, Mapping) else None
        try:
            mismatch = want is not None and want != file_sha256(path)
        except OSError as exc:
            return f"cannot be read ({exc.strerror})", None
        try:
            with open(path, "rb") as fh:
                return self._check_contents(pq.ParquetFile(fh), path, chunk, n_chunks,
                                            experiment, design, want, mismatch, tables)
        except (OSError, pa.ArrowException) as exc:
            what = "checksum mismatch and " if mismatch else ""
            return f"{what}not a readable Parquet file ({str(exc).splitlines()[0]})", None

    @staticmethod
    def _check_contents(reader: pq.ParquetFile, path: Path, chunk: int, n_chunks: int,
                        experiment: Experiment, design: Design, want: str | None,
                        mismatch: bool, tables: bool | Sequence[str],
                        ) -> tuple[str, Part | None]:
        provenance = _read_provenance(reader.schema_arrow.metadata)
        if provenance is None:
            return "no provenance in its metadata (not written by this version of icsim)", None
        if provenance["experiment_sha256"] != experiment.sha256:
            return (f"written by another experiment (sha256 "
                    f"{str(provenance['experiment_sha256'])[:12]}, this sweep's is "
                    f"{experiment.sha256[:12]})"), None
        if chunk >= n_chunks:
            return f"chunk {chunk} is past the sweep's {n_chunks} parts", None
        if want is None:
            return "no checksum recorded", None
        if mismatch:
            return "checksum mismatch (the file changed after it was written)", None
        if provenance["design_sha256"] != design.sha256:
            return "written for another design", None
        start, stop = chunk * experiment.runs_per_part, min(
            (chunk + 1) * experiment.runs_per_part, design.n_runs)
        wrong_rows = f"its rows are not chunk {chunk}'s runs {start}..{stop - 1}"
        if reader.metadata.num_rows != stop - start:
            return wrong_rows, None
        try:
            checked = ["point", "replicate", "status"]
            extra = [] if isinstance(tables, bool) else [c for c in tables if c not in checked]
            table = reader.read() if tables is True else reader.read(
                columns=[*checked, *extra])
            got = (table.column("point").to_numpy() * design.replicates
                   + table.column("replicate").to_numpy())
            status = table.column("status").to_numpy(zero_copy_only=False)
        except (KeyError, ValueError) as exc:
            return f"cannot be read ({str(exc).splitlines()[0]})", None
        if not np.array_equal(np.sort(got), np.arange(start, stop)):
            return wrong_rows, None
        return "", Part(chunk, path, stop - start, int(np.sum(status != "ok")),
                        provenance["code"], table.replace_schema_metadata(None)
                        if tables else None, invalid=int(np.sum(status == "invalid")))

    # -------------------------------------------------------------------------- writes

    def discard(self, damaged: list[tuple[Path, str]], temporary: list[Path],
                report: Callable[[str], None] | None = None) -> list[dict[str, str]]:
        """Move damaged parts to ``DIR/discarded/``, saying so; remove temporary files.

        Returns what was discarded, for the manifest. ``report`` (default: a line on
        stderr) is told of every part.
        """
        report = report or (lambda line: print(line, file=sys.stderr, flush=True))
        for tmp in temporary:  # a killed writer's unfinished file: never data
            tmp.unlink(missing_ok=True)
        remove_manifest_temporaries(self.root, MANIFEST)  # the lock is ours: all stale
        done: list[dict[str, str]] = []
        if not damaged:
            return done
        aside = self.root / DISCARDED
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        for path, reason in damaged:
            target = aside / f"{stamp}-{path.name}"
            series = self.series / path.name
            try:
                aside.mkdir(exist_ok=True)
                if series.is_file() and not series.is_symlink():  # it goes with its part
                    os.replace(series, aside / f"{stamp}-{TIMESERIES}-{path.name}")
                os.replace(path, target)
            except OSError as exc:
                raise WriteError(target, exc) from exc
            report(f"icsim: resume discards {path.name}: {reason}; moved to {target}")
            done.append({"part": path.name, "reason": reason, "moved_to": str(target)})
        return done

    def begin(self, experiment: Experiment, design: Design, executor: str,
              resumed: bool, progress: Progress, code: Mapping[str, Any] | None = None,
              discarded: list[dict[str, str]] | None = None,
              mixed: Verified | None = None, model_permission: str | None = None,
              ) -> dict[str, Any]:
        """Create the directory (or reopen it) and record this session in the manifest.

        ``code`` is the code running now (default: :func:`code_state`); ``mixed``, given
        when the user allowed mixing code versions, is recorded as the manifest's
        ``mixed_code``.
        """
        code = dict(code) if code is not None else code_state()
        versions = package_versions()
        for folder in (self.runs, self.series) if experiment.timeseries else (self.runs,):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise WriteError(folder, exc) from exc
        if resumed:
            manifest = self.read_manifest()
        else:
            n_parts = -(-design.n_runs // experiment.runs_per_part)
            manifest = {
                "experiment": {"name": experiment.name, "file": experiment.source,
                               "sha256": experiment.sha256, "text": experiment.text,
                               "posterior_sha256": experiment.posterior_sha256,
                               "posterior_file": experiment.posterior_file,
                               "scenario_sha256": experiment.scenario_sha256},
                "model": experiment.model,
                "design": {"method": design.method, "parameters": design.names,
                           "points": design.n_points, "replicates": design.replicates,
                           "runs": design.n_runs, "runs_per_part": experiment.runs_per_part,
                           "parts": n_parts, "sha256": design.sha256},
                "outcomes": list(experiment.outcomes),
                **({"timeseries": {"outcomes": list(experiment.timeseries.outcomes),
                                   "months": list(experiment.timeseries.months),
                                   "dir": TIMESERIES}}
                   if experiment.timeseries else {}),
                "seed": experiment.seed,
                "seed_scheme": SEED_SCHEME,
                "started": now(),
                "finished": None,
                "sessions": [],
            }
        # The first session's code and versions stay at the top; every session keeps its own.
        manifest.setdefault("versions", versions)
        manifest.setdefault("git", {k: code.get(k) for k in ("commit", "dirty",
                                                               "diff_sha256")})
        parts = manifest.setdefault("parts", {})
        if resumed:  # parts a killed session wrote are only in the ledger
            parts.update(self.read_ledger())
        for entry in discarded or []:
            parts.pop(entry["part"], None)
        manifest.update({
            "status": "running", "runs_total": design.n_runs,
            "runs_done": progress.runs_done, "runs_failed": progress.runs_failed,
            "runs_invalid": progress.runs_invalid,
        })
        session: dict[str, Any] = {"started": now(), "ended": None, "executor": executor,
                   "runs_done_before": progress.runs_done, "code": code, "versions": versions}
        if discarded:
            session["discarded"] = discarded
        if model_permission is not None:  # why the model may run: project, flag, entry point
            session["model_permission"] = model_permission
        manifest["sessions"].append(session)
        if mixed is not None:
            self._record_mixed(manifest, mixed, code)
        self._metadata = _provenance(experiment.sha256, design.sha256, code)
        self.manifest = manifest
        self.write_manifest(manifest)
        return manifest

    @staticmethod
    def _record_mixed(manifest: dict[str, Any], verified: Verified,
                      code: Mapping[str, Any]) -> None:
        """Record that the user allowed this sweep to mix code versions, and which."""
        entry = manifest.setdefault("mixed_code", {"allowed": True, "versions": []})
        entry["allowed"] = True
        known = {code_key(v["code"]) for v in entry["versions"]}
        sessions = len(manifest["sessions"]) - 1
        for key, (old, names) in verified.codes().items():
            if key not in known:
                entry["versions"].append({"code": old, "parts": names})
                known.add(key)
        if code_key(code) not in known:
            entry["versions"].append({"code": dict(code), "parts": []})
        entry.setdefault("allowed_in_sessions", []).append(sessions)

    @staticmethod
    def _update_mixed(manifest: dict[str, Any]) -> None:
        """Bring ``mixed_code``'s list of parts per code version up to date."""
        entry = manifest.get("mixed_code")
        if not entry:
            return
        sessions = manifest["sessions"]
        by_code: dict[tuple[Any, ...], list[str]] = {}
        for name, info in sorted(manifest["parts"].items()):
            index = info.get("session")
            if isinstance(index, int) and 0 <= index < len(sessions) and isinstance(
                    sessions[index].get("code"), dict):
                by_code.setdefault(code_key(sessions[index]["code"]), []).append(name)
        for version in entry["versions"]:
            version["parts"] = by_code.get(code_key(version["code"]), version.get("parts", []))

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        write_atomic(self.manifest_path,
                     (json.dumps(manifest, indent=2, default=str) + "\n").encode("utf-8"))

    def end(self, manifest: dict[str, Any], status: str, progress: Progress,
            error: str | None = None) -> None:
        """Record the end of a session: ``complete``, ``interrupted`` or ``failed``."""
        manifest["status"] = status
        manifest["runs_done"] = progress.runs_done
        manifest["runs_failed"] = progress.runs_failed
        manifest["runs_invalid"] = progress.runs_invalid
        manifest["sessions"][-1]["ended"] = now()
        manifest["sessions"][-1]["status"] = status
        if error:
            manifest["sessions"][-1]["error"] = error
        if status == "complete":
            manifest["finished"] = now()
        self._update_mixed(manifest)
        self.write_manifest(manifest)

    def _write_temporary(self, path: Path, table: pa.Table, **options: Any) -> tuple[Path, str]:
        """``table`` written to a temporary file beside ``path`` with the provenance
        (``options``: pyarrow's, zstd compression by default), fsynced; the file and its
        sha256. :class:`WriteError`, no file left, on failure."""
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            pq.write_table(table.replace_schema_metadata(self._metadata), tmp,
                           **{"compression": "zstd", **options})
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            return tmp, file_sha256(tmp)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise WriteError(path, exc) from exc

    def write_part(self, chunk: int, table: pa.Table, series: pa.Table | None = None,
                   ) -> Path:
        """Write one part atomically, its checksum recorded first.

        The part goes to a temporary file (with its provenance in the Parquet metadata),
        is fsynced and hashed; its checksum is appended (and fsynced) to the ledger
        ``DIR/checksums.jsonl``; then ``os.replace`` puts the part in place. A part on disk
        therefore always has its checksum recorded; the manifest gathers the checksums at
        the end of the session. Raises :class:`WriteError` on failure, leaving no temporary
        file.

        ``series`` (``[timeseries]``) is the chunk's time-series part: written the same way
        (one row group a month: its rows come month by month), its checksum recorded in
        the part's ledger line, and moved into ``timeseries/`` just before the part, so a
        part in ``runs/`` always has its time series beside it.
        """
        if self.manifest is None:
            raise RuntimeError("write_part before begin")
        path = self.runs / part_name(chunk)
        series_tmp: Path | None = None
        entry: dict[str, Any] = {}
        if series is not None:
            per_month = max(1, table.num_rows)
            # Snappy without dictionaries: with a row group a month, zstd and dictionaries
            # cost 3x the CPU for 4% less disk (benchmarks/bench_timeseries.py).
            series_tmp, series_digest = self._write_temporary(
                self.series / part_name(chunk), series, row_group_size=per_month,
                compression="snappy", use_dictionary=False)
            entry = {"timeseries_sha256": series_digest, "timeseries_rows": series.num_rows}
        # Dictionary pages for the text columns only (status, error, text levers): on the
        # numbers, where most values differ, they cost an icsim national part of 4,000
        # runs 8.0 against 5.3 CPU-ms and made it 17% larger. The same values read back.
        try:
            tmp, digest = self._write_temporary(path, table,
                                                use_dictionary=text_columns(table.schema))
        except WriteError:
            if series_tmp is not None:
                series_tmp.unlink(missing_ok=True)
            raise
        entry = {"sha256": digest, "rows": table.num_rows,
                 "session": len(self.manifest["sessions"]) - 1, **entry}
        ledger = self.root / LEDGER
        try:  # a leading newline sets a line cut short by an earlier failure apart
            with open(ledger, "a", encoding="utf-8") as fh:
                fh.write("\n" + json.dumps({"part": path.name, **entry}))
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if series_tmp is not None:
                series_tmp.unlink(missing_ok=True)
            raise WriteError(ledger, exc) from exc
        self.manifest["parts"][path.name] = entry
        try:
            if series_tmp is not None:
                os.replace(series_tmp, self.series / path.name)
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if series_tmp is not None:
                series_tmp.unlink(missing_ok=True)
            raise WriteError(path, exc) from exc
        return path


def _usable_file(path: Path, limit: int, what: str, fix: str) -> bool:
    """Whether ``path`` exists; one that cannot be read, is not a regular file or is past
    ``limit`` bytes is refused (``UsageError`` naming it, ``what`` it should be and the
    ``fix``). Checked without opening it, so a FIFO cannot block."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise UsageError(f"cannot read {path} ({exc.strerror}); {fix}") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise UsageError(f"{path} is {kind}, not {what}; {fix}")
    if info.st_size > limit:
        raise UsageError(f"{path} is {info.st_size / 2**20:.0f} MB, past the "
                         f"{limit // 2**20} MB {what} may be; {fix}")
    return True


def _manifest_problem(manifest: Any) -> str:
    """What is wrong with a manifest's shape, or ``""``."""
    if not isinstance(manifest, dict):
        return f"a JSON {type(manifest).__name__}, not an object"
    for key, kind, sub in (("experiment", dict, ("sha256", "text")),
                           ("design", dict, ("sha256",)), ("sessions", list, ()),
                           ("status", str, ())):
        if key not in manifest:
            return f"no '{key}'"
        if not isinstance(manifest[key], kind):
            return f"'{key}' is not a JSON {'object' if kind is dict else kind.__name__}"
        for name in sub:
            if not isinstance(manifest[key].get(name), str):
                return f"'{key}.{name}' is missing or not a string"
    if not all(isinstance(s, dict) for s in manifest["sessions"]):
        return "'sessions' holds something other than objects"
    parts = manifest.get("parts", {})
    if not isinstance(parts, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("sha256"), str) for v in parts.values()):
        return "'parts' is not an object of {name: {sha256: ...}}"
    mixed = manifest.get("mixed_code", {})
    if not isinstance(mixed, dict) or not isinstance(mixed.get("versions", []), list) or not all(
            isinstance(v, dict) and isinstance(v.get("code"), dict)
            for v in mixed.get("versions", [])):
        return "'mixed_code' is not an object of {allowed, versions: [{code: ...}]}"
    return ""
