"""The sweep runner: seeds, Parquet store, failures, local and Dask execution, resume."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.core.errors import UsageError
from sim.experiment.design import SEED_SCHEME, run_seed
from sim.experiment.spec import load_experiment
from sim.experiment.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[2]

LINEAR = """
name = "linear"
model = "sim.experiment.examples:noisy_linear"
method = "lhs"
samples = 40
replicates = 3
seed = 11
outcomes = ["y", "above"]
runs_per_part = 16
[parameters]
x1 = [0.0, 1.0]
x2 = [0.0, 1.0]
level = { values = ["low", "mid", "high"] }
"""


#: A plug-in with monthly outcomes (``[timeseries]``): parts in runs/ and timeseries/.
TOY_SERIES = """
name = "toy_series"
model = "sim.experiment.examples:toy_pilot"
method = "sobol"
samples = 32
replicates = 4
seed = 3
outcomes = ["pilot", "pilot_month"]
runs_per_part = 24
[parameters]
early = [0.0, 0.5]
late = [0.0, 0.9]
dud = [0.0, 1.0]
[timeseries]
outcomes = ["piloted"]
every = 6
months = [6, 60]
"""


def write(tmp_path: Path, text: str, name: str = "exp.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def runs(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "runs")


# --------------------------------------------------------------------------- seeds


def test_seed_scheme_is_fixed_and_distinct() -> None:
    # Pinned values: changing the scheme would silently change every published sweep.
    assert run_seed(0, 0, 0) == 7896617691693857887
    assert run_seed(1, 2, 3) == 6498626229777268288
    seeds = {run_seed(5, p, r) for p in range(200) for r in range(5)}
    assert len(seeds) == 1000
    assert all(0 <= s < 2**63 for s in seeds)
    assert run_seed(5, 1, 0) != run_seed(6, 1, 0)
    assert "SeedSequence" in SEED_SCHEME


def test_sweep_writes_one_row_per_run_with_seeds_and_manifest(tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = run_sweep(write(tmp_path, LINEAR), out, workers=2, progress=False)
    assert report.complete and report.runs_total == 120 and report.runs_failed == 0
    df = runs(out)
    assert list(df.columns[:5]) == ["point", "replicate", "seed", "status", "error"]
    assert list(df.columns[5:]) == ["x1", "x2", "level", "y", "above"]
    assert len(df) == 120 and not df.duplicated(["point", "replicate"]).any()
    assert (df["status"] == "ok").all() and df["error"].isna().all()
    assert df["seed"].tolist() == [run_seed(11, p, r) for p, r in zip(df.point, df.replicate,
                                                                      strict=True)]
    # Replicates of a point share its parameters and differ by their noise only.
    first = df[df.point == 0]
    assert first[["x1", "x2", "level"]].nunique().max() == 1
    assert first["y"].nunique() == 3
    assert set(df["level"]) == {"low", "mid", "high"}
    assert sorted(p.name for p in (out / "runs").iterdir()) == [
        f"part-{i:06d}.parquet" for i in range(8)]
    manifest = json.loads((out / "manifest.json").read_text())
    exp = load_experiment(tmp_path / "exp.toml")
    assert manifest["experiment"]["sha256"] == exp.sha256
    assert manifest["experiment"]["text"] == exp.text
    assert manifest["seed_scheme"] == SEED_SCHEME
    assert manifest["status"] == "complete" and manifest["finished"]
    assert manifest["runs_done"] == 120 and manifest["runs_failed"] == 0
    assert {"numpy", "SALib", "pyarrow", "python"} <= set(manifest["versions"])
    assert "commit" in manifest["git"]


@pytest.mark.parametrize("text", [LINEAR, TOY_SERIES], ids=["plain", "timeseries"])
def test_results_do_not_depend_on_worker_count(tmp_path: Path, text: str) -> None:
    exp = write(tmp_path, text)
    one = run_sweep(exp, tmp_path / "one", workers=1, progress=False)
    two = run_sweep(exp, tmp_path / "two", workers=2, progress=False, runs_per_task=3)
    pd.testing.assert_frame_equal(runs(one.out), runs(two.out))
    folders = ("runs", "timeseries") if "[timeseries]" in text else ("runs",)
    for folder in folders:
        parts = sorted((one.out / folder).iterdir())
        assert len(parts) == len(list((two.out / folder).iterdir())) > 1
        for part in parts:
            assert part.read_bytes() == (two.out / folder / part.name).read_bytes()


# ------------------------------------------------------------------------ failures


def test_a_raising_run_is_recorded_and_the_sweep_goes_on(tmp_path: Path) -> None:
    text = LINEAR.replace("examples:noisy_linear", "examples:fails_sometimes") \
        .replace('"y", "above"', '"y"').replace("[parameters]",
                                                "[constants]\nfail_rate = 0.3\n[parameters]")
    report = run_sweep(write(tmp_path, text), tmp_path / "out", workers=2, progress=False)
    df = runs(tmp_path / "out")
    expected_fail = np.array([np.random.default_rng(s).random() < 0.3 for s in df["seed"]])
    assert 10 < expected_fail.sum() < 60
    assert ((df["status"] == "failed").to_numpy() == expected_fail).all()
    failed = df[df.status == "failed"]
    assert failed["error"].str.startswith("ValueError: unlucky seed").all()
    assert failed["y"].isna().all()
    assert df.loc[df.status == "ok", "y"].notna().all()
    assert report.complete and report.runs_failed == int(expected_fail.sum())
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["runs_failed"] == \
        report.runs_failed


def test_a_model_that_always_fails_still_completes(tmp_path: Path) -> None:
    text = LINEAR.replace("examples:noisy_linear", "examples:always_fails")
    report = run_sweep(write(tmp_path, text), tmp_path / "out", workers=1, progress=False)
    df = runs(tmp_path / "out")
    assert report.complete and report.runs_failed == 120
    assert (df["error"] == "RuntimeError: this model always fails").all()
    assert df[["y", "above"]].isna().all().all()


def test_a_lost_worker_is_replaced_and_its_runs_redone(tmp_path: Path) -> None:
    grid = """
    name = "lost"
    model = "sim.experiment.examples:dies_once"
    method = "grid"
    replicates = 4
    outcomes = ["y"]
    runs_per_part = 8
    [parameters]
    x1 = { values = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] }
    [constants]
    die_at = 6
    marker = "MARKER"
    """
    marker = tmp_path / "died"
    dying = run_sweep(write(tmp_path, grid.replace("MARKER", str(marker)), "a.toml"),
                      tmp_path / "a", workers=2, progress=False, allow_plugin=True)
    assert marker.exists()  # a worker really died
    reference = grid.replace("examples:dies_once", "examples:noisy_linear")
    run_sweep(write(tmp_path, reference, "b.toml"), tmp_path / "b", workers=1, progress=False)
    assert dying.complete and dying.runs_failed == 0
    pd.testing.assert_frame_equal(runs(tmp_path / "a"), runs(tmp_path / "b"))


# ------------------------------------------------------------------------- resume


def _start_sweep(exp: Path, out: Path) -> subprocess.Popen:
    """The coordinator in its own process (and session), as a user would start it."""
    cli = ROOT / "sim" / "cli.py"
    if (ROOT / "sim" / "__main__.py").exists() and cli.exists() and \
            "add_parsers" in cli.read_text():
        cmd = [sys.executable, "-m", "sim", "sweep", str(exp), "--out", str(out),
               "--workers", "2", "--quiet"]
    else:
        cmd = [sys.executable, "-c",
               "import sys; from sim.experiment.sweep import run_sweep; "
               "run_sweep(sys.argv[1], sys.argv[2], workers=2, progress=False)",
               str(exp), str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _live_members(pgid: int) -> list[int]:
    """Processes of a process group that are still running (not zombies), from /proc."""
    live = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            live.append(int(stat.parent.name))
    return live


SLOW = LINEAR.replace("samples = 40", "samples = 100").replace(
    "[parameters]", "[constants]\nsleep = 0.01\n[parameters]")
#: (the sweep a kill -9 interrupts, the same without the sleep, runs, runs per part)
KILLED = {"plain": (SLOW, LINEAR.replace("samples = 40", "samples = 100"), 300, 16),
          "timeseries": (TOY_SERIES.replace("[parameters]",
                                            "[constants]\nsleep = 0.01\n[parameters]"),
                         TOY_SERIES, 640, 24)}


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(KILLED))
def test_killed_sweep_resumes_to_the_uninterrupted_result(tmp_path: Path, kind: str) -> None:
    slow, uninterrupted, total, per_part = KILLED[kind]
    exp = write(tmp_path, slow)
    out = tmp_path / "out"
    proc = _start_sweep(exp, out)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            parts = list((out / "runs").glob("part-*.parquet")) if (out / "runs").exists() \
                else []
            if len(parts) >= 3 or proc.poll() is not None:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)  # kill -9 the coordinator
        proc.wait(timeout=10)
        # Its workers notice and exit by themselves (and with them the fork server).
        deadline = time.monotonic() + 15
        while _live_members(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _live_members(proc.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # its orphaned workers, if any
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    kept = {p.name: p.stat().st_ino for p in (out / "runs").glob("part-*.parquet")}
    total_parts = -(-total // per_part)
    assert 3 <= len(kept) < total_parts
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"

    report = run_sweep(exp, out, workers=2, resume=True, progress=False)
    assert report.resumed and report.complete
    assert report.runs_this_session == total - sum(
        len(pd.read_parquet(out / "runs" / name)) for name in kept)
    # Parts finished before the kill were kept, not rewritten.
    assert all((out / "runs" / name).stat().st_ino == ino for name, ino in kept.items())
    assert not [p for p in (out / "runs").iterdir() if p.name.startswith(".")]

    # The same experiment without the sleep (constants are not stored): uninterrupted.
    reference = run_sweep(write(tmp_path, uninterrupted, "ref.toml"), tmp_path / "ref",
                          workers=1, progress=False)
    resumed = runs(out)
    assert not resumed.duplicated(["point", "replicate"]).any()
    pd.testing.assert_frame_equal(resumed, runs(reference.out))
    if "[timeseries]" in slow:  # each part's series beside it, as uninterrupted
        assert not [p for p in (out / "timeseries").iterdir() if p.name.startswith(".")]
        pd.testing.assert_frame_equal(pd.read_parquet(out / "timeseries"),
                                      pd.read_parquet(reference.out / "timeseries"))
        assert len(list((out / "timeseries").iterdir())) == total_parts
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and len(manifest["sessions"]) == 2


def test_rerun_into_a_finished_sweep_does_nothing(tmp_path: Path) -> None:
    exp = write(tmp_path, LINEAR)
    run_sweep(exp, tmp_path / "out", workers=1, progress=False)
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out" / "runs").iterdir()}
    again = run_sweep(exp, tmp_path / "out", workers=1, progress=False)
    assert again.resumed and again.runs_this_session == 0 and again.complete
    assert before == {p.name: p.stat().st_mtime_ns
                      for p in (tmp_path / "out" / "runs").iterdir()}


def test_resume_with_a_changed_experiment_file_is_refused(tmp_path: Path) -> None:
    exp = write(tmp_path, LINEAR)
    run_sweep(exp, tmp_path / "out", workers=1, progress=False)
    manifest = (tmp_path / "out" / "manifest.json").read_text()
    exp.write_text(exp.read_text().replace("seed = 11", "seed = 12"))
    with pytest.raises(UsageError, match="different experiment file"):
        run_sweep(exp, tmp_path / "out", workers=1, progress=False, resume=True)
    assert (tmp_path / "out" / "manifest.json").read_text() == manifest


def test_a_sweep_in_the_earlier_default_part_size_resumes_and_analyzes(
        tmp_path: Path) -> None:
    """A folder written when the project's model's parts held 256 runs by default (the
    file does not set ``runs_per_part``) keeps its parts' size: resumed, then analyzed."""
    import dataclasses

    from sim.experiment.spec import PROJECT_RUNS_PER_PART
    from sim.studies.sweep_analysis import load_sweep

    path = write(tmp_path, """
    name = "old_parts"
    method = "grid"
    replicates = 150
    seed = 2
    months = 12
    outcomes = ["pilot", "time_to_pilot"]
    [parameters]
    incentives = { values = [0.2, 0.8] }
    """)
    exp = load_experiment(path)
    assert exp.runs_per_part == PROJECT_RUNS_PER_PART and not exp.runs_per_part_given
    out = tmp_path / "out"
    # as the earlier icsim wrote it: the same file, its hash with parts of 256 runs
    run_sweep(dataclasses.replace(exp, runs_per_part=256), out, workers=1, progress=False)
    written = {p.name: p.read_bytes() for p in (out / "runs").iterdir()}
    assert sorted(written) == ["part-000000.parquet", "part-000001.parquet"]
    (out / "runs" / "part-000001.parquet").unlink()
    report = run_sweep(path, out, workers=1, resume=True, progress=False)
    assert report.resumed and report.complete and report.runs_this_session == 300 - 256
    assert {p.name: p.read_bytes() for p in (out / "runs").iterdir()} == written
    sweep = load_sweep(out)
    assert sweep.experiment.runs_per_part == 256 and len(sweep.runs) == 300


def test_resume_needs_a_sweep_and_out_must_be_a_sweep_directory(tmp_path: Path) -> None:
    exp = write(tmp_path, LINEAR)
    with pytest.raises(UsageError, match="holds no sweep to resume"):
        run_sweep(exp, tmp_path / "empty", workers=1, resume=True, progress=False)
    assert not (tmp_path / "empty").exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not a sweep directory"):
        run_sweep(exp, other, workers=1, progress=False)
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


# ----------------------------------------------------------------- the project model


def test_project_model_sweep_derives_outcomes_from_run_project(tmp_path: Path) -> None:
    from sim.mesa.model import run_project

    text = """
    name = "project"
    method = "grid"
    replicates = 3
    seed = 4
    months = 36
    scenario = "toolkit"
    outcomes = ["pilot", "time_to_pilot", "pilot_month", "integrated", "collapsed",
                "stalled", "mean_engagement", "turnover_events"]
    [parameters]
    regulatory_alignment = { values = [0.1, 0.9] }
    team_size = { values = [8, 30] }
    [constants]
    small_tasks = true
    """
    run_sweep(write(tmp_path, text), tmp_path / "out", workers=2, progress=False)
    df = runs(tmp_path / "out")
    assert len(df) == 12 and (df.status == "ok").all()
    assert df["team_size"].dtype.kind == "i"
    pilot = df["pilot"] == 1.0
    assert (df.loc[~pilot, "time_to_pilot"] == 36).all()
    assert df.loc[~pilot, "pilot_month"].isna().all()
    assert (df.loc[pilot, "time_to_pilot"] == df.loc[pilot, "pilot_month"]).all()
    assert (df[["integrated", "collapsed", "stalled"]].sum(axis=1) <= 1).all()
    for row in df.iloc[[0, 7, 11]].itertuples():
        summary = run_project(scenario="toolkit", seed=row.seed, months=36, small_tasks=True,
                              regulatory_alignment=row.regulatory_alignment,
                              team_size=row.team_size)
        assert row.pilot == float(summary["outcome"] in ("pilot", "integrated"))
        assert row.stalled == float(summary["outcome"] == "stalled")
        assert row.mean_engagement == pytest.approx(summary["mean_engagement"])
        assert row.turnover_events == summary["turnover_events"]


# -------------------------------------------------------------------------- engines
PROJECT_LHS = """
name = "engines"
method = "lhs"
samples = 24
replicates = 4
seed = 7
months = 48
runs_per_part = 32
outcomes = ["pilot", "time_to_pilot", "integrated", "collapsed", "mean_engagement"]
[parameters]
turnover_rate = [0.0, 0.4]
reopen = [0.05, 0.3]
enablers_form = { values = ["product", "mean"] }
team_size = [8, 30]
"""


def test_an_unknown_engine_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="engine must be one of fast, mesa"):
        load_experiment(write(tmp_path, PROJECT_LHS.replace(
            "months = 48", 'months = 48\nengine = "turbo"')))
    with pytest.raises(UsageError, match="--engine"):
        run_sweep(write(tmp_path, PROJECT_LHS, "b.toml"), tmp_path / "x", engine="turbo",
                  progress=False)
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_a_posterior_is_the_base_point_replicate_r_takes_draw_r(tmp_path: Path) -> None:
    from sim.experiment.posterior import CASE_POSTERIOR, load_posterior
    from sim.mesa.model import run_project

    exp = write(tmp_path, PROJECT_LHS.replace("samples = 24", "samples = 4"))
    report = run_sweep(exp, tmp_path / "post", workers=1, progress=False,
                       posterior=CASE_POSTERIOR)
    draws = load_posterior(CASE_POSTERIOR)
    df = runs(report.out)
    for row in df.iloc[[0, 5, 15]].itertuples():
        values = {**draws.iloc[row.replicate].to_dict(), "turnover_rate": row.turnover_rate,
                  "reopen": row.reopen, "enablers_form": row.enablers_form,
                  "team_size": int(row.team_size)}
        values = {k: int(v) if k in ("planned_months", "recognition_lag") else v
                  for k, v in values.items()}
        summary = run_project(seed=int(row.seed), months=48, **values)
        assert row.mean_engagement == pytest.approx(summary["mean_engagement"])
    other = tmp_path / "other.parquet"
    draws.iloc[::-1].to_parquet(other)
    with pytest.raises(UsageError, match="over a posterior, asked now over another"):
        run_sweep(exp, tmp_path / "post", workers=1, progress=False, resume=True,
                  posterior=other)
    with pytest.raises(UsageError, match="asked now without it"):
        run_sweep(exp, tmp_path / "post", workers=1, progress=False, resume=True)
    with pytest.raises(UsageError, match="project's model only"):
        run_sweep(write(tmp_path, LINEAR, "lin.toml"), tmp_path / "lin", progress=False,
                  posterior=CASE_POSTERIOR)
