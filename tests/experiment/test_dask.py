"""Sweeps and calibrations on a Dask cluster: the same results as local processes, byte
for byte, and a scheduler lost mid-sweep is one line naming ``--resume``.

Every test that needs a working cluster is in this file and shares the session's
(``conftest.dask_scheduler``): ``--dist loadfile`` runs a file's tests in one pytest-xdist
worker, so the suite starts that cluster once instead of once per worker. The test that
loses its scheduler starts its own, and resumes on the shared one; a worker killed on a
cluster is in tests/experiment/test_plugin_faults.py (its own cluster, configured for it).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from conftest import OWN_NO_COVERAGE, calibrate
from test_sweep import LINEAR, PROJECT_LHS, runs, write
from test_timeseries import files

from sim.experiment.spec import load_experiment
from sim.experiment.sweep import run_sweep
from sim.studies.calibration.spec import parse_calibration
from sim.ui.cli import main

PROJECT_SERIES = """
name = "engines_ts"
method = "lhs"
samples = 8
replicates = 3
seed = 7
months = 36
runs_per_part = 10
outcomes = ["pilot", "collapsed", "stalled", "integrated"]
[parameters]
turnover_rate = [0.0, 0.4]
reopen = [0.05, 0.3]
enablers_form = { values = ["product", "mean"] }
[timeseries]
outcomes = ["pilot", "integrated", "collapsed", "stalled", "host_changes", "policy_churns",
            "turnover_events", "funding_received", "mean_frustration", "engagement_sd",
            "dac_system_alignment", "dac_team_commitment"]
every = 4
months = [4, 36]
"""


@pytest.mark.slow
def test_dask_cluster_gives_the_same_results_as_local_processes(
        tmp_path: Path, dask_scheduler: str) -> None:
    exp = write(tmp_path, LINEAR)
    local = run_sweep(exp, tmp_path / "local", workers=2, progress=False)
    remote = run_sweep(exp, tmp_path / "dask", scheduler=dask_scheduler, progress=False)
    assert remote.executor.startswith("dask tcp://127.0.0.1")
    assert remote.complete
    pd.testing.assert_frame_equal(runs(local.out), runs(remote.out))
    for part in sorted((local.out / "runs").iterdir()):
        assert part.read_bytes() == (remote.out / "runs" / part.name).read_bytes()


@pytest.mark.slow
def test_fast_and_mesa_engines_write_identical_parts_on_any_worker_count_and_dask(
        tmp_path: Path, dask_scheduler: str) -> None:
    exp = write(tmp_path, PROJECT_LHS)
    assert load_experiment(exp).engine == "fast"  # the default
    fast1 = run_sweep(exp, tmp_path / "fast1", workers=1, progress=False)
    fast2 = run_sweep(exp, tmp_path / "fast2", workers=2, progress=False, runs_per_task=5)
    mesa = run_sweep(exp, tmp_path / "mesa", workers=2, progress=False, engine="mesa")
    dask = run_sweep(exp, tmp_path / "dask", scheduler=dask_scheduler, progress=False)
    reference = runs(fast1.out)
    assert len(reference) == 96 and (reference.status == "ok").all()
    for other in (fast2, mesa, dask):
        pd.testing.assert_frame_equal(runs(other.out), reference)
        for part in sorted((fast1.out / "runs").iterdir()):
            assert part.read_bytes() == (other.out / "runs" / part.name).read_bytes()


@pytest.mark.slow
def test_fast_and_mesa_engines_write_identical_series_on_any_worker_count_and_dask(
        tmp_path: Path, dask_scheduler: str) -> None:
    exp = write(tmp_path, PROJECT_SERIES)
    fast1 = run_sweep(exp, tmp_path / "fast1", workers=1, progress=False)
    fast2 = run_sweep(exp, tmp_path / "fast2", workers=2, progress=False, runs_per_task=3)
    mesa = run_sweep(exp, tmp_path / "mesa", workers=2, progress=False, engine="mesa")
    dask = run_sweep(exp, tmp_path / "dask", scheduler=dask_scheduler, progress=False)
    reference = files(fast1.out)
    assert len(reference) == 2 * 3  # 24 runs, 10 a part
    for other in (fast2, mesa, dask):
        assert files(other.out) == reference
    ts = pd.read_parquet(fast1.out / "timeseries")
    assert ts.notna().all().all() and ts["dac_team_commitment"].between(0, 1).all()
    # At the horizon each gate series is the run's outcome of the same name.
    runs = pd.read_parquet(fast1.out / "runs").set_index(["point", "replicate"])
    last = ts[ts["month"] == 36].set_index(["point", "replicate"]).loc[runs.index]
    for name in ("pilot", "integrated", "collapsed", "stalled"):
        assert (last[name] == runs[name]).all(), name
    # Counts never fall, and a pilot once reached stays reached.
    wide = ts.sort_values(["point", "replicate", "month"]).groupby(["point", "replicate"])
    assert (wide["host_changes"].diff().dropna() >= 0).all()
    assert (wide["pilot"].diff().dropna() >= 0).all()


@pytest.mark.slow
def test_a_calibration_on_a_dask_cluster_equals_the_local_one(tmp_path, dask_scheduler):
    """The table's chunks run on Dask workers; the posterior is the same, byte for byte."""
    spec = parse_calibration(OWN_NO_COVERAGE)
    calibrate(spec, tmp_path / "local", workers=1, progress=False)
    result = calibrate(spec, tmp_path / "dask", scheduler=dask_scheduler, progress=False)
    assert result.where.startswith("Dask")
    assert (tmp_path / "dask" / "posterior.parquet").read_bytes() == \
        (tmp_path / "local" / "posterior.parquet").read_bytes()


@pytest.mark.slow
def test_a_lost_dask_scheduler_is_one_line_naming_resume(tmp_path, capsys, monkeypatch,
                                                         dask_scheduler):
    """The scheduler goes away mid-sweep: one stderr line naming the cause and the
    ``--resume`` command, exit 1, the manifest says 'failed', finished parts stay."""
    from distributed import LocalCluster

    from sim.experiment import execute

    monkeypatch.chdir(tmp_path)
    (tmp_path / "slow.toml").write_text(textwrap.dedent("""\
        name = "slow"
        model = "sim.experiment.examples:noisy_linear"
        method = "lhs"
        samples = 200
        runs_per_part = 10
        outcomes = ["y"]
        [parameters]
        x1 = [0.0, 1.0]
        [constants]
        sleep = 0.01
        """))
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None)
    address = cluster.scheduler_address
    original = execute.DaskExecutor.wait_first
    calls = {"n": 0}

    def wait_then_lose(self, pending):
        calls["n"] += 1
        if calls["n"] == 8:  # some parts are written by now
            cluster.close()
        return original(self, pending)

    monkeypatch.setattr(execute.DaskExecutor, "wait_first", wait_then_lose)
    try:
        code = main(["sweep", "slow.toml", "--out", "s", "--scheduler", address, "--quiet"])
    finally:
        cluster.close()
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1, err
    assert len(err) == 1, err
    assert "lost the Dask scheduler" in err[0] and "--resume" in err[0], err[0]
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert manifest["sessions"][-1]["status"] == "failed"
    assert 0 < manifest["runs_done"] < 200  # lost mid-sweep, finished parts kept
    # the next step the line names: --resume on a (new) scheduler completes the sweep
    monkeypatch.setattr(execute.DaskExecutor, "wait_first", original)
    assert dask_scheduler != address
    assert main(["sweep", "slow.toml", "--out", "s", "--scheduler", dask_scheduler, "--quiet",
                 "--resume"]) == 0
    runs = pd.read_parquet(tmp_path / "s" / "runs")
    assert len(runs) == 200 and sorted(runs.point) == list(range(200))
