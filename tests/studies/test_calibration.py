"""icsim calibrate: the case's targets, ABC-SMC recovering a synthetic case, resume, bad
input, and the shipped posterior."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import assert_refused

from sim.core.scenarios import parameters_for
from sim.engine.fast import run_arrays
from sim.engine.layout import pack_many
from sim.experiment.posterior import CASE_POSTERIOR, load_posterior
from sim.report.calibration import write_report
from sim.studies.calibration.run import CaseModel
from sim.studies.calibration.run import calibrate as _calibrate
from sim.studies.calibration.spec import parse_calibration
from sim.studies.calibration.targets import TARGETS, distance, simulate, target_terms

ROOT = Path(__file__).resolve().parents[2]

SMALL = """
name = "small"
seed = 3
population = 40
generations = 3
min_acceptance_rate = 0.0
draws = 200
[parameters]
progress_rate = [0.05, 0.3]
host_change_rate = "plausible"
"""


def calibrate(spec, out, **kwargs):
    """Calibrate and write the report from the returned history, as ``icsim calibrate``
    does (the study computes; ``sim.report.calibration`` writes)."""
    report = _calibrate(spec, out, **kwargs)
    write_report(spec, Path(out), report.history, report.seconds, report.where)
    return report


def test_every_target_is_a_term_in_zero_one_and_the_distance_their_sum():
    runs = simulate([parameters_for("baseline")] * 300, range(300))
    terms = target_terms(runs)
    assert set(terms) == set(TARGETS)
    for name, term in terms.items():
        assert term.shape == (300,) and (term >= 0).all() and (term <= 1).all(), name
    np.testing.assert_allclose(distance(runs), np.sum(list(terms.values()), axis=0))
    # T1 reads the pilot month: met exactly when the pilot starts in months 30-42
    pilot = runs["pilot_month"]
    assert ((terms["T1"] == 0) == ((pilot >= 30) & (pilot <= 42))).all()
    # T3 reads the host changes by month 36
    hosts = runs["host_changes_m36"]
    assert ((terms["T3"] == 0) == ((hosts >= 2) & (hosts <= 3))).all()


class SyntheticCase:
    """A synthetic 'case': the mean pilot month and mean engagement over 16 seeds at known
    parameter values; a particle's distance is its scaled gap to them."""

    truth = {"progress_rate": 0.2, "initial_engagement": 0.65}

    def __init__(self) -> None:
        self.base = parameters_for("baseline")
        self.observed = self.statistics(self.truth)

    def statistics(self, values) -> np.ndarray:
        runs = run_arrays(pack_many([{**self.base, **values}] * 16), list(range(16)), 48)
        pilot = np.where(np.isnan(runs["pilot_month"]), 48.0, runs["pilot_month"])
        return np.array([pilot.mean() / 48.0, runs["mean_engagement"].mean()])

    def __call__(self, par) -> dict[str, float]:
        values = {name: float(par[name]) for name in self.truth}
        return {"d": float(np.abs(self.statistics(values) - self.observed).sum())}


@pytest.mark.slow
def test_abc_smc_recovers_a_synthetic_case(tmp_path):
    spec = parse_calibration(textwrap.dedent("""
        name = "synthetic"
        seed = 11
        population = 150
        generations = 7
        min_acceptance_rate = 0.0
        draws = 1000
        months = 48
        [parameters]
        progress_rate = [0.05, 0.4]
        initial_engagement = [0.4, 0.9]
        """))
    calibrate(spec, tmp_path / "cal", workers=1, progress=False, model=SyntheticCase())
    table = pd.read_csv(tmp_path / "cal" / "identification.csv").set_index("parameter")
    for name, truth in SyntheticCase.truth.items():
        row = table.loc[name]
        assert row.posterior_5 <= truth <= row.posterior_95, (name, row.to_dict())
        assert row.width_ratio < 0.8, (name, row.width_ratio)  # narrower than the prior
    draws = pd.read_parquet(tmp_path / "cal" / "posterior.parquet")
    assert len(draws) == 1000 and list(draws.columns) == list(SyntheticCase.truth)
    summary = (tmp_path / "cal" / "summary.md").read_text()
    assert "effective sample" in summary and "| 6 |" in summary


@pytest.mark.slow
def test_killed_calibration_resumes_from_its_database(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(textwrap.dedent(SMALL))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "sim", "calibrate", str(path), "--out", str(out),
           "--workers", "1"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:  # the first generation's progress line, then kill -9
        if line.startswith("calibrate: t: 0"):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert_refused_resume = subprocess.run(cmd, capture_output=True, text=True)
    assert assert_refused_resume.returncode == 2  # without --resume: refused
    done = subprocess.run(cmd + ["--resume"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    generations = pd.read_csv(out / "generations.csv")
    assert list(generations.t) == [0, 1, 2]
    changed = tmp_path / "changed.toml"
    changed.write_text(textwrap.dedent(SMALL).replace("seed = 3", "seed = 4"))
    refused = subprocess.run([*cmd[:4], str(changed), *cmd[5:], "--resume"],
                             capture_output=True, text=True)
    assert refused.returncode == 2 and "different file" in refused.stderr


@pytest.mark.parametrize("edit, culprit", [
    (("progress_rate = [0.05, 0.3]", "progres_rate = [0.05, 0.3]"), "progres_rate"),
    (("progress_rate = [0.05, 0.3]", "progress_rate = [0.0, 0.9]"), "progress_rate"),
    (("population = 40", "population = 1"), "population"),
    (("[parameters]", 'targets = ["T1", "T99"]\n[parameters]'), "T99"),
    (("[parameters]", "[parameters]\nsmall_tasks = \"plausible\""), "small_tasks"),
])
def test_bad_calibration_files_are_refused(tmp_path, edit, culprit):
    path = tmp_path / "bad.toml"
    path.write_text(textwrap.dedent(SMALL).replace(*edit))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    assert_refused(run_dir, ["calibrate", str(path), "--out", "cal"], culprit)


def test_the_shipped_case_posterior_loads_and_its_summary_says_what_it_identifies():
    draws = load_posterior(CASE_POSTERIOR)
    assert len(draws) >= 1000
    spec = parse_calibration((ROOT / "experiments" / "calibrate_case.toml").read_text())
    assert list(draws.columns) == list(spec.priors)
    for name, (low, high) in spec.priors.items():
        assert draws[name].between(low, high).all(), name
    summary = (ROOT / "docs" / "calibration" / "summary.md").read_text()
    table = pd.read_csv(ROOT / "docs" / "calibration" / "identification.csv")
    for row in table.itertuples():
        assert f"`{row.parameter}`" in summary and row.verdict in summary
    model = CaseModel(spec)  # the shipped draws run through the case's model
    assert np.isfinite(model({k: draws[k].iloc[0] for k in spec.priors})["d"])


@pytest.mark.slow
def test_a_calibration_runs_on_a_dask_cluster(tmp_path):
    from distributed import LocalCluster

    spec = parse_calibration(textwrap.dedent(SMALL).replace("generations = 3",
                                                            "generations = 2"))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        report = calibrate(spec, tmp_path / "dask", scheduler=cluster.scheduler_address,
                           progress=False)
    assert report.generations == 2
    assert len(pd.read_parquet(tmp_path / "dask" / "posterior.parquet")) == 200


@pytest.mark.slow
def test_a_run_that_raises_is_counted_and_reported_not_fatal(tmp_path, monkeypatch):
    import sim.studies.calibration.run as run

    real = run.simulate
    calls = {"n": 0}

    def flaky(values, seeds, months):
        calls["n"] += 1
        if calls["n"] % 7 == 0:
            raise RuntimeError("a broken run")
        return real(values, seeds, months)

    monkeypatch.setattr(run, "simulate", flaky)
    spec = parse_calibration(textwrap.dedent(SMALL).replace("generations = 3",
                                                            "generations = 2"))
    calibrate(spec, tmp_path / "c", workers=1, progress=False)
    failed = (tmp_path / "c" / "failures.log").read_text().splitlines()
    assert failed and all("RuntimeError: a broken run" in line for line in failed)
    assert f"Runs that raised: {len(failed)}" in (tmp_path / "c" / "summary.md").read_text()


def test_a_second_calibration_into_the_same_out_is_refused(tmp_path, capsys):
    """One writer per directory for the life of a calibration (a held lock stands in for a
    calibration running in another process)."""
    from sim.experiment.store import DirectoryLock
    from sim.ui.cli import main

    (tmp_path / "cal.toml").write_text(textwrap.dedent(SMALL))
    out = tmp_path / "c"
    with DirectoryLock(out):
        code = main(["calibrate", str(tmp_path / "cal.toml"), "--out", str(out),
                     "--workers", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "in use by another icsim job" in err[0], err
    assert sorted(p.name for p in out.iterdir()) == [".icsim.lock"]


@pytest.mark.slow
def test_a_lost_scheduler_stops_a_calibration_in_one_line_and_resume_continues(
        tmp_path, capsys, monkeypatch):
    import pyabc
    from distributed import LocalCluster

    from sim.ui.cli import main

    (tmp_path / "cal.toml").write_text(textwrap.dedent(SMALL))
    out = tmp_path / "c"
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None)
    real = pyabc.sampler.DaskDistributedSampler.sample_until_n_accepted
    calls = {"n": 0}

    def lose_in_generation_two(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            cluster.close()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pyabc.sampler.DaskDistributedSampler, "sample_until_n_accepted",
                        lose_in_generation_two)
    try:
        code = main(["calibrate", str(tmp_path / "cal.toml"), "--out", str(out),
                     "--scheduler", cluster.scheduler_address, "--quiet"])
    finally:
        cluster.close()
    err = [line for line in capsys.readouterr().err.strip().splitlines()
           if not line.startswith("calibrate:")]
    assert code == 1, err
    assert len(err) == 1 and "lost the Dask scheduler" in err[0] and "--resume" in err[0], err
    monkeypatch.setattr(pyabc.sampler.DaskDistributedSampler, "sample_until_n_accepted", real)
    assert main(["calibrate", str(tmp_path / "cal.toml"), "--out", str(out), "--resume",
                 "--workers", "1", "--quiet"]) == 0
    assert len(pd.read_parquet(out / "posterior.parquet")) == 200


@pytest.mark.slow
def test_a_damaged_history_is_one_line_naming_it(tmp_path, capsys):
    """--resume over a truncated or byte-flipped history.db: one line naming the file and
    the next step, exit 2 -- not pages of SQLAlchemy (issue 23, item 4)."""
    from sim.ui.cli import main

    spec_file = tmp_path / "small.toml"
    spec_file.write_text(textwrap.dedent(SMALL).replace("generations = 3", "generations = 1"))
    out = tmp_path / "cal"
    assert main(["calibrate", str(spec_file), "--out", str(out), "--workers", "1",
                 "--quiet"]) == 0
    db = out / "history.db"
    for damage in (lambda b: b[: len(b) // 3], lambda b: b[:100] + bytes(len(b) - 100)):
        db.write_bytes(damage(db.read_bytes()))
        capsys.readouterr()
        assert main(["calibrate", str(spec_file), "--out", str(out), "--resume",
                     "--quiet"]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and "history.db" in lines[0] and "--out" in lines[0], lines


def test_a_full_disk_under_the_history_is_one_line_naming_resume(tmp_path):
    """SQLite's 'database or disk is full' (as SQLAlchemy wraps it) becomes one line that
    names the file and --resume; another database fault names the file too."""
    import sqlite3

    from sim.studies.calibration import run as calibration_run

    full = sqlite3.OperationalError("database or disk is full")
    assert calibration_run._is_database_error(full)
    stop = calibration_run._database_stop(tmp_path, full)
    assert "disk full writing" in str(stop) and "history.db" in str(stop)
    assert "--resume" in str(stop) and "\n" not in str(stop)
    other = calibration_run._database_stop(tmp_path, sqlite3.DatabaseError("locked\nmore"))
    assert "history.db" in str(other) and "\n" not in str(other)
    assert not calibration_run._is_database_error(ValueError("x"))
