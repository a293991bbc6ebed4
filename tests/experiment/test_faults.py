"""Faults on shared output directories: a second writer is refused, nothing is mixed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import GRID

from sim.core.errors import UsageError
from sim.experiment.store import LOCK, DirectoryLock
from sim.experiment.sweep import run_sweep


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.mark.slow
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


@pytest.mark.parametrize(("argv", "culprit"), [
    (["run", "--seed", "-1"], "--seed"),
    (["run", "--months", "1000000000"], "--months"),
    (["run", "--months", "0"], "--months"),
    (["run", "--out", ""], "--out"),
    (["run", "--out", "file"], "--out"),
    (["run", "--out", "file/under"], "--out"),
    (["compare", "baseline", "--replicates", "1000000000"], "--replicates"),
    (["compare", "baseline", "--workers", "100000"], "--workers"),
    (["compare", "baseline", "--out", "file"], "--out"),
    (["national", "--sites", "100000000"], "--sites"),
    (["national", "--seed", "-1"], "--seed"),
    (["national", "--months", "1000000000"], "--months"),
])
def test_bad_sizes_and_outputs_are_refused_before_work(tmp_path: Path, monkeypatch, capsys,
                                                        argv: list[str], culprit: str) -> None:
    from sim.ui.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("x")
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and culprit in lines[0], lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_api_seed_is_checked_by_name() -> None:
    import numpy as np

    from sim.mesa.model import run_project

    for bad in (-1, 1.5, None, True, "3"):
        with pytest.raises(UsageError, match="seed"):
            run_project(seed=bad, months=2)
    assert run_project(seed=np.int64(3), months=2) == run_project(seed=3, months=2)


@pytest.mark.slow
def test_two_experiments_started_at_once_into_one_out_never_mix(tmp_path: Path) -> None:
    """The issue's worst case: two different experiments started at the same moment into
    one --out. One runs; the other is refused in one line; every part is the winner's."""
    import json

    import pyarrow.parquet as pq

    for seed in (3, 4):
        (tmp_path / f"exp{seed}.toml").write_text(
            textwrap.dedent(GRID).replace("seed = 3", f"seed = {seed}")
            + "\n[constants]\nsleep = 0.02\n")
    procs = [subprocess.Popen([sys.executable, "-m", "sim", "sweep", f"exp{seed}.toml",
                               "--out", "out", "--quiet", "--workers", "1"],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for seed in (3, 4)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, err in results if code == 2).strip().splitlines()
    assert len(loser) == 1 and ("in use by another icsim job" in loser[0]
                                or "different experiment" in loser[0]), loser
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    parts = sorted((tmp_path / "out" / "runs").glob("part-*.parquet"))
    assert len(parts) == manifest["design"]["parts"]
    for part in parts:  # every part records the winner's experiment
        meta = pq.read_schema(part).metadata
        assert json.loads(meta[b"icsim.experiment_sha256"]) == manifest["experiment"]["sha256"]


@pytest.mark.parametrize("command", [["sweep", "exp.toml"], ["compare", "baseline"],
                                     ["national", "--sites", "5"], ["run"]])
def test_an_unwritable_out_is_refused_before_any_run(tmp_path: Path, monkeypatch, capsys,
                                                     command) -> None:
    """Read-only or unwritable places cannot be made here (the tests run as root, and root
    may write anywhere), so the permission check answers 'no' for the --out's parent, as
    it would on a read-only filesystem: every command refuses before running anything."""
    import os

    from sim.ui.cli import main

    (tmp_path / "exp.toml").write_text(textwrap.dedent(GRID))
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False if Path(p) == ro
                        else real(p, mode, *a, **k))
    monkeypatch.chdir(tmp_path)
    assert main([*command, "--out", str(ro / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not writable" in err[0] and str(ro) in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp.toml", "ro"]
    assert list(ro.iterdir()) == []


def _dead_pid() -> int:
    """The process id of a process that has exited."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_a_killed_writers_manifest_temporary_is_removed_on_resume(tmp_path: Path) -> None:
    """kill -9 while the manifest was written leaves .manifest.json.tmp-PID: the resume,
    holding the lock, removes it."""
    exp = tmp_path / "exp.toml"
    exp.write_text(textwrap.dedent(GRID))
    out = tmp_path / "out"
    run_sweep(exp, out, workers=1, progress=False)
    leftover = out / f".manifest.json.tmp-{_dead_pid()}"
    leftover.write_text('{"half": ')
    run_sweep(exp, out, workers=1, progress=False, resume=True)
    assert not leftover.exists()


def test_a_killed_commands_staging_folder_is_removed_by_a_rerun(tmp_path: Path,
                                                                monkeypatch) -> None:
    """A compare or run killed before moving its outputs leaves .OUT.PID.XXXX.staging/;
    a rerun into the same --out removes it (a live process's is left alone)."""
    from sim.ui.cli import main

    monkeypatch.chdir(tmp_path)
    stale = tmp_path / f".r.{_dead_pid()}.abcd1234.staging"
    stale.mkdir()
    (stale / "summary.json").write_text("{}")
    live = tmp_path / f".r.{__import__('os').getpid()}.live0000.staging"
    live.mkdir()
    assert main(["run", "--months", "6", "--out", "r"]) == 0
    assert not stale.exists() and live.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".staging") and p != live]
