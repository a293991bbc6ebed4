"""Faults on shared output directories: a second writer is refused, nothing is mixed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sim.errors import UsageError
from sim.experiment.store import LOCK, DirectoryLock
from sim.experiment.sweep import run_sweep

GRID = """
name = "grid"
model = "sim.examples:noisy_linear"
method = "grid"
levels = 2
replicates = 2
seed = 3
outcomes = ["y"]
runs_per_part = 4
[parameters]
x1 = [0.0, 1.0]
x2 = [0.0, 1.0]
level = { values = ["low", "high"] }
"""


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_a_second_writer_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    exp = tmp_path / "exp.toml"
    exp.write_text(textwrap.dedent(GRID))
    out = tmp_path / "out"
    run_sweep(exp, out, workers=1, progress=False)
    before = _tree(out)
    # Another process holds the directory (flock: per open file, so a second open in
    # this process conflicts exactly as another process would).
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from sim.experiment.store import "
         "DirectoryLock; DirectoryLock(sys.argv[1]).acquire(); print('held', flush=True); "
         "time.sleep(60)", str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UsageError, match="in use by another icsim job"):
            run_sweep(exp, out, workers=1, progress=False, resume=True)
        other = tmp_path / "other.toml"
        other.write_text(textwrap.dedent(GRID).replace("seed = 3", "seed = 4"))
        with pytest.raises(UsageError, match="in use by another icsim job"):
            run_sweep(other, out, workers=1, progress=False)
        assert _tree(out) == before
    finally:
        holder.kill()
        holder.wait()
    # The holder died: its lock went with it, the stale lock file blocks nothing.
    assert (out / LOCK).exists()
    again = run_sweep(exp, out, workers=1, progress=False, resume=True)
    assert again.complete and again.runs_this_session == 0


def test_a_refused_sweep_leaves_no_lock_file_or_directory(tmp_path: Path) -> None:
    exp = tmp_path / "exp.toml"
    exp.write_text(textwrap.dedent(GRID))
    with pytest.raises(UsageError, match="holds no sweep to resume"):
        run_sweep(exp, tmp_path / "a" / "b", workers=1, progress=False, resume=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp.toml"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("x")
    with pytest.raises(UsageError, match="not a sweep directory"):
        run_sweep(exp, mine, workers=1, progress=False)
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_out_at_an_existing_file_is_refused(tmp_path: Path) -> None:
    exp = tmp_path / "exp.toml"
    exp.write_text(textwrap.dedent(GRID))
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="--out"):
        run_sweep(exp, tmp_path / "file", workers=1, progress=False)
    with pytest.raises(UsageError, match="--out"):
        run_sweep(exp, tmp_path / "file" / "under", workers=1, progress=False)
    assert (tmp_path / "file").read_text() == "x"


def test_lock_is_exclusive_within_one_process_too(tmp_path: Path) -> None:
    with DirectoryLock(tmp_path / "d"), pytest.raises(UsageError, match="in use"):
        DirectoryLock(tmp_path / "d").acquire()
    with DirectoryLock(tmp_path / "d"):  # released on exit
        pass
