"""A faulty plug-in costs one run, not the sweep; plug-in code runs only when allowed.

The faulty models are in ``tests/plugins/hostile_models.py``: each misbehaves in chosen
runs (``sys.exit``, ``KeyboardInterrupt``, an unprintable exception, a segfault, ``inf``)
and otherwise returns the same ``y`` as :func:`hostile_models.clean`, so every run that
does not misbehave can be checked against a clean sweep, seed for seed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import icsim as icsim_in_process

from sim.core.errors import UsageError
from sim.experiment.spec import parse_experiment
from sim.experiment.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = Path(__file__).resolve().parents[1] / "plugins"

GRID = """
name = "hostile"
model = "hostile_models:MODEL"
method = "grid"
replicates = 2
seed = 5
outcomes = ["y"]
runs_per_part = 8
[parameters]
x1 = { values = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19] }
[constants]
crash_at = 7
rate = 0.1
"""


@pytest.fixture(autouse=True)
def _plugins_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test plug-ins import in this process, its workers and its subprocesses."""
    monkeypatch.syspath_prepend(str(PLUGINS))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(PLUGINS), str(ROOT)]))


def write(tmp_path: Path, text: str, name: str = "exp.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def runs(out: Path) -> pd.DataFrame:
    df = pd.read_parquet(out / "runs")
    return df.sort_values(["point", "replicate"]).reset_index(drop=True)


def sweep(tmp_path: Path, model: str, out: str, **kwargs: object) -> pd.DataFrame:
    exp = write(tmp_path, GRID.replace("MODEL", model), f"{out}.toml")
    report = run_sweep(exp, tmp_path / out, workers=2, progress=False, allow_plugin=True,
                       **kwargs)
    assert report.complete
    return runs(tmp_path / out)


def unlucky(frame: pd.DataFrame) -> np.ndarray:
    """The runs the hostile models misbehave in (rate 0.1), from their seeds."""
    import hostile_models

    return np.array([hostile_models._unlucky(int(s), 0.1) for s in frame["seed"]])


def icsim(*argv: str, cwd: Path, env: dict[str, str] | None = None,
          ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *argv], capture_output=True,
                          text=True, cwd=cwd, env={**os.environ, **(env or {})}, timeout=300)


def assert_one_run_per_fault(bad: pd.DataFrame, clean: pd.DataFrame, faulty: np.ndarray,
                             error: str) -> None:
    """Faulty runs are failed with ``error`` and their point, replicate, seed; every other
    run has exactly the clean sweep's result."""
    assert faulty.any() and not faulty.all()
    pd.testing.assert_frame_equal(bad[["point", "replicate", "seed", "x1"]],
                                  clean[["point", "replicate", "seed", "x1"]])
    assert (bad.loc[faulty, "status"] == "failed").all()
    assert (bad.loc[faulty, "error"] == error).all(), bad.loc[faulty, "error"].unique()
    assert bad.loc[faulty, "y"].isna().all()
    assert (bad.loc[~faulty, "status"] == "ok").all()
    np.testing.assert_array_equal(bad.loc[~faulty, "y"], clean.loc[~faulty, "y"])


# ------------------------------------------------------------- faults cost one run


def test_sys_exit_in_a_tenth_of_runs_costs_those_runs(tmp_path: Path) -> None:
    bad, clean = sweep(tmp_path, "exits", "bad"), sweep(tmp_path, "clean", "clean")
    assert_one_run_per_fault(bad, clean, unlucky(bad), "SystemExit: 3")


@pytest.mark.slow
def test_a_model_raising_keyboard_interrupt_is_not_a_user_interrupt(tmp_path: Path) -> None:
    exp = write(tmp_path, GRID.replace("MODEL", "interrupts"))
    proc = icsim("sweep", str(exp), "--out", "out", "--workers", "2", "--quiet",
                 "--allow-plugin", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "interrupted" not in proc.stderr
    bad = runs(tmp_path / "out")
    n = int(unlucky(bad).sum())
    assert f"{n} runs failed" in proc.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["runs_failed"] == n
    clean = sweep(tmp_path, "clean", "clean")
    assert_one_run_per_fault(bad, clean, unlucky(bad), "KeyboardInterrupt")


def test_an_exception_whose_message_raises_costs_one_run(tmp_path: Path) -> None:
    bad, clean = sweep(tmp_path, "unprintable", "bad"), sweep(tmp_path, "clean", "clean")
    assert_one_run_per_fault(bad, clean, unlucky(bad), "_Unprintable: <unprintable message>")


def test_a_segfault_in_2_of_40_runs_costs_those_runs_and_resume_ends(tmp_path: Path) -> None:
    bad, clean = sweep(tmp_path, "segfaults", "bad"), sweep(tmp_path, "clean", "clean")
    crashing = (bad["x1"] == 7).to_numpy()  # point 7, both replicates
    assert crashing.sum() == 2
    assert_one_run_per_fault(bad, clean, crashing, "worker process died (signal SIGSEGV)")
    # A resume finds the sweep complete: the crashing runs are recorded, not rerun.
    again = run_sweep(write(tmp_path, GRID.replace("MODEL", "segfaults"), "bad.toml"),
                      tmp_path / "bad", workers=2, progress=False, resume=True,
                      allow_plugin=True)
    assert again.complete and again.runs_this_session == 0 and again.runs_failed == 2


@pytest.mark.slow
def test_a_segfault_through_the_command_line_exits_0_and_names_the_runs(
        tmp_path: Path) -> None:
    # In-process (``conftest.icsim``: the command line's ``main``, its status and its lines):
    # the segfault is in the forked workers either way; tests/ui/test_cli_process.py shows
    # that a status and a line reach the shell.
    exp = write(tmp_path, GRID.replace("MODEL", "segfaults"))
    proc = icsim_in_process("sweep", str(exp), "--out", "out", "--workers", "2", "--quiet",
                            "--allow-plugin", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "2 runs failed" in proc.stderr and "BrokenProcessPool" not in proc.stderr
    failed = runs(tmp_path / "out").query("status == 'failed'")
    assert failed["point"].tolist() == [7, 7] and failed["replicate"].tolist() == [0, 1]


def infinite_sobol(name: str, samples: int, replicates: int, rate: float) -> str:
    """A Sobol sweep of the plug-in that returns inf in a share ``rate`` of its runs."""
    return f"""
    name = "{name}"
    model = "hostile_models:infinite"
    method = "sobol"
    samples = {samples}
    replicates = {replicates}
    seed = 3
    outcomes = ["y"]
    [parameters]
    x1 = [0.0, 1.0]
    x2 = [0.0, 1.0]
    [constants]
    rate = {rate}
    """


def test_infinite_outcomes_are_invalid_counted_and_left_out_of_the_indices(
        tmp_path: Path) -> None:
    from sim.report.analysis import analyze

    exp = write(tmp_path, infinite_sobol("inf", samples=16, replicates=4, rate=0.1))
    report = run_sweep(exp, tmp_path / "inf", workers=2, progress=False, allow_plugin=True)
    df = runs(tmp_path / "inf")
    faulty = unlucky(df)
    n = int(faulty.sum())
    assert 0.05 < n / len(df) < 0.15
    assert report.runs_invalid == report.runs_failed == n
    assert (df.loc[faulty, "status"] == "invalid").all()
    assert np.isinf(df.loc[faulty, "y"]).all()  # kept for inspection
    assert df.loc[faulty, "error"].str.contains("outcome 'y' is inf").all()
    manifest = json.loads((tmp_path / "inf" / "manifest.json").read_text())
    assert manifest["runs_invalid"] == manifest["runs_failed"] == n

    result = analyze(tmp_path / "inf", resamples=50)
    summary = (result.out / "summary.md").read_text()
    assert f"{n} of {len(df)}" in summary and f"{n} of them invalid" in summary
    table = pd.read_csv(result.out / "sobol_y.csv").set_index("parameter")
    assert np.isfinite(table[["S1", "ST"]].to_numpy()).all()
    assert table.loc["x1", "S1"] > 0.8 and table.loc["x1", "ST"] > 0.8  # y = x1 + noise
    listed = pd.read_csv(result.out / "failed_runs.csv")
    assert len(listed) == n and (listed["status"] == "invalid").all()


def test_when_invalid_runs_break_the_design_the_index_is_named_not_zero(
        tmp_path: Path) -> None:
    from sim.report.analysis import analyze

    exp = write(tmp_path, infinite_sobol("broken", samples=8, replicates=1, rate=0.3))
    run_sweep(exp, tmp_path / "b", workers=1, progress=False, allow_plugin=True)
    result = analyze(tmp_path / "b", resamples=20)
    summary = (result.out / "summary.md").read_text()
    assert "the indices of y cannot be computed" in summary
    assert not (result.out / "sobol_y.csv").exists()


def test_analysis_marks_an_infinite_outcome_recorded_ok_invalid_too() -> None:
    """Defence in depth: a row recorded ``ok`` with an infinite outcome (which the runner no
    longer writes, and verified parts cannot acquire) is still left out by analysis."""
    from sim.studies.sweep_analysis import _mark_infinite

    frame = pd.DataFrame({"status": ["ok", "ok", "failed", "ok"], "error": [None] * 4,
                          "y": [1.0, np.inf, np.nan, np.nan], "z": [0.0, 1.0, 2.0, -np.inf]})
    marked = _mark_infinite(frame, ["y", "z"])
    assert marked["status"].tolist() == ["ok", "invalid", "failed", "invalid"]
    assert frame["status"].tolist() == ["ok", "ok", "failed", "ok"]  # a copy, not in place


# ------------------------------------------------------------------- opt-in plug-ins


MARKED = """
name = "marked"
model = "writes_marker:model"
method = "grid"
outcomes = ["y"]
[parameters]
x1 = { values = [0, 1] }
"""


@pytest.mark.slow
def test_a_plugin_is_refused_without_opt_in_and_never_imported(tmp_path: Path) -> None:
    exp = write(tmp_path, MARKED)
    marker = tmp_path / "imported"
    proc = icsim("sweep", str(exp), "--out", "out", "--quiet", cwd=tmp_path,
                 env={"ICSIM_TEST_MARKER": str(marker)})
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "'writes_marker:model'" in lines[0] and "--allow-plugin" in lines[0]
    assert not marker.exists()  # the module's top-level code never ran
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp.toml"]


@pytest.mark.slow
def test_a_plugin_runs_with_the_flag(tmp_path: Path) -> None:
    exp = write(tmp_path, MARKED)
    marker = tmp_path / "imported"
    proc = icsim("sweep", str(exp), "--out", "out", "--quiet", "--workers", "1",
                 "--allow-plugin", cwd=tmp_path, env={"ICSIM_TEST_MARKER": str(marker)})
    assert proc.returncode == 0, proc.stderr
    assert marker.exists()
    assert runs(tmp_path / "out")["y"].tolist() == [0.0, 1.0]
    # the manifest records why the plug-in ran
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["sessions"][-1]["model_permission"] == "flag"


def test_the_python_api_refuses_too_even_for_a_file_parsed_without_the_check(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "imported"
    monkeypatch.setenv("ICSIM_TEST_MARKER", str(marker))
    with pytest.raises(UsageError, match="plug-in code"):
        parse_experiment(MARKED)
    unchecked = parse_experiment(MARKED, check_model=False)
    with pytest.raises(UsageError, match="plug-in code"):
        run_sweep(unchecked, tmp_path / "out", workers=1, progress=False)
    assert not marker.exists() and not (tmp_path / "out").exists()
    report = run_sweep(unchecked, tmp_path / "out", workers=1, progress=False,
                       allow_plugin=True)
    assert report.complete and marker.exists()


@pytest.mark.parametrize("model", ["subprocess:call", "os:system", "sim.ui.cli:main",
                                   "sim.experiment.examples:dies_once"])
def test_unregistered_functions_are_refused(model: str) -> None:
    text = MARKED.replace("writes_marker:model", model)
    with pytest.raises(UsageError, match=f"model '{model}' is plug-in code"):
        parse_experiment(text)


def test_the_projects_registered_models_run_as_before() -> None:
    for model in ("sim.experiment.examples:noisy_linear", "sim.studies.national:site_run"):
        exp = parse_experiment(MARKED.replace("writes_marker:model", model))
        assert exp.model == model


def _install(site: Path, entry_points: str, module: str) -> None:
    """A minimal installed distribution in ``site``: its module and its entry points."""
    (site / "mypkg_models.py").write_text(textwrap.dedent(module))
    info = site / "mypkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mypkg\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


MODULE = """
import sim

@sim.register_model
def marked(params, seed):
    return {"y": 2.0 * float(params["x1"])}

def unmarked(params, seed):
    return {"y": 3.0 * float(params["x1"])}
"""


def test_a_function_declared_by_an_entry_point_runs_without_the_flag(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _install(site, "[icsim.models]\nthree = mypkg_models:unmarked\n", MODULE)
    monkeypatch.syspath_prepend(str(site))
    text = MARKED.replace("writes_marker:model", "mypkg_models:unmarked")
    report = run_sweep(parse_experiment(text), tmp_path / "out", workers=1, progress=False)
    assert report.complete
    assert runs(tmp_path / "out")["y"].tolist() == [0.0, 3.0]


def test_a_decorated_function_of_a_declared_module_runs_without_the_flag(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _install(site, "[icsim.models]\nmypkg = mypkg_models\n", MODULE)
    monkeypatch.syspath_prepend(str(site))
    text = MARKED.replace("writes_marker:model", "mypkg_models:marked")
    report = run_sweep(parse_experiment(text), tmp_path / "out", workers=1, progress=False)
    assert report.complete
    assert runs(tmp_path / "out")["y"].tolist() == [0.0, 2.0]
    # In the same declared module, a function without the mark is refused.
    with pytest.raises(UsageError, match="not marked @sim.register_model"):
        parse_experiment(text.replace(":marked", ":unmarked"))


@pytest.mark.slow
def test_a_segfault_on_a_dask_cluster_costs_those_runs(tmp_path: Path) -> None:
    """Dask retries a task whose worker died (here 0 times, to keep the test short), then
    raises KilledWorker; the runner isolates the run as it does locally, here from whole
    parts of 8 runs a task, each worker restarted by its nanny before the next suspect
    runs alone (it once hung here with every worker lost)."""
    import dask
    from distributed import LocalCluster

    # One replicate: one run segfaults (each crash costs a worker's restart, ~2 s).
    one = GRID.replace("replicates = 2", "replicates = 1")
    exp = write(tmp_path, one.replace("MODEL", "segfaults"))
    # A LocalCluster closes a worker's nanny when, lost-worker-timeout (15 s) after one of
    # its workers was lost, no worker of that name is registered -- which a restart under
    # way at that moment is not (distributed 2026.8, SpecCluster._update_worker_status):
    # the nanny was closed, the sweep waited DASK_SETTLE_TIMEOUT for it, and went on with
    # one worker. A cluster of `dask worker` processes has no such timer.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0,
                          "distributed.deploy.lost-worker-timeout": "1h"}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                         dashboard_address=None) as cluster:
        report = run_sweep(exp, tmp_path / "dask", scheduler=cluster.scheduler_address,
                           progress=False, allow_plugin=True, runs_per_task=8)
    assert report.complete and report.runs_failed == 1
    clean_exp = write(tmp_path, one.replace("MODEL", "clean"), "clean.toml")
    assert run_sweep(clean_exp, tmp_path / "clean", workers=2, progress=False,
                     allow_plugin=True).complete
    bad, clean = runs(tmp_path / "dask"), runs(tmp_path / "clean")
    assert_one_run_per_fault(bad, clean, (bad["x1"] == 7).to_numpy(),
                             "worker process died (Dask KilledWorker: the task's workers "
                             "died while running it)")


def test_a_module_that_exits_on_import_is_one_line_not_an_exit() -> None:
    text = MARKED.replace("writes_marker:model", "exits_on_import:model")
    with pytest.raises(UsageError, match="cannot import model module 'exits_on_import': "
                                         "SystemExit: 4"):
        parse_experiment(text, allow_plugin=True)


def test_a_model_that_cannot_be_imported_in_a_worker_fails_its_runs() -> None:
    from sim.experiment.models import STATUSES, Batch, ModelCall, run_batch

    result = run_batch(ModelCall("no_such_module_here:f", ("y",)),
                       Batch(0, 0, [{"x1": 1.0}, {"x1": 2.0}], [1, 2]))
    statuses = [STATUSES[code] for code in result.status_codes]
    assert not result.ok.any() and statuses == ["failed", "failed"]
    assert all(e.startswith("ModuleNotFoundError") for e in result.errors)


@pytest.mark.slow
def _ctrl_c_as_default() -> None:
    """In the child before it starts: SIGINT back to its default, as a terminal leaves it.
    A suite started as a background job (``make test &`` from a script) has the signal
    ignored, a disposition every child inherits, and a Python started with SIGINT ignored
    never raises KeyboardInterrupt: the Ctrl-C tests would test the shell, not icsim."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_a_real_ctrl_c_to_the_coordinator_is_still_an_interrupt(tmp_path: Path) -> None:
    """Only SIGINT from the terminal (to the whole process group, as Ctrl-C sends it)
    interrupts a sweep: exit status 130, the manifest says interrupted, parts are kept."""
    import time

    slow = """
    name = "slow"
    model = "sim.experiment.examples:noisy_linear"
    method = "grid"
    replicates = 4
    outcomes = ["y"]
    runs_per_part = 4
    [parameters]
    x1 = { values = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19] }
    [constants]
    sleep = 0.05
    """
    exp = write(tmp_path, slow)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "sim", "sweep", str(exp), "--out", str(out),
                             "--workers", "2", "--quiet"], cwd=tmp_path,
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_ctrl_c_as_default)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list(out.glob("runs/part-*.parquet"))) >= 2:
                break
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, stderr
    assert "interrupted; finished parts are kept" in stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["runs_failed"] == 0
    assert 0 < manifest["runs_done"] < 80


# ------------------------------------------------------------- runs that hang


@pytest.mark.slow
def test_a_run_that_hangs_costs_one_run_recorded_timeout(tmp_path: Path) -> None:
    """run_timeout_s: a run past it is stopped and recorded 'timeout'; the sweep goes on and
    every other run has the clean sweep's result."""
    import time

    clean = sweep(tmp_path, "clean", "clean")
    started = time.monotonic()
    bad = sweep(tmp_path, "hangs", "hangs", run_timeout=0.5)
    assert time.monotonic() - started < 30
    faulty = unlucky(bad)
    assert faulty.any() and not faulty.all()
    assert (bad.loc[faulty, "status"] == "timeout").all()
    assert bad.loc[faulty, "error"].str.startswith("timeout: the run passed its time limit "
                                                   "of 0.5 s").all()
    assert (bad.loc[~faulty, "status"] == "ok").all()
    np.testing.assert_array_equal(bad.loc[~faulty, "y"], clean.loc[~faulty, "y"])
    manifest = json.loads((tmp_path / "hangs" / "manifest.json").read_text())
    assert manifest["sessions"][-1]["run_timeout_s"] == 0.5


@pytest.mark.slow
def test_a_run_that_swallows_the_time_limit_is_killed_with_its_worker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that catches the time limit's exception and goes on hanging is killed with its
    worker by the kernel (SIGALRM's default action) after the grace; it alone is 'timeout'."""
    from sim.experiment import timeout

    monkeypatch.setattr(timeout, "GRACE", 0.3)  # forked workers inherit it
    exp = write(tmp_path, GRID.replace("MODEL", "stubborn").replace("replicates = 2",
                                                                   "replicates = 1"))
    report = run_sweep(exp, tmp_path / "out", workers=2, progress=False, allow_plugin=True,
                       run_timeout=0.5)
    assert report.complete
    frame = runs(tmp_path / "out")
    hung = frame["x1"] == 7
    assert (frame.loc[hung, "status"] == "timeout").all(), frame.loc[hung, "error"].tolist()
    assert "worker was killed (worker process died (signal SIGALRM))" in \
        frame.loc[hung, "error"].iloc[0]
    assert (frame.loc[~hung, "status"] == "ok").all()


def test_a_run_timeout_that_is_not_a_positive_number_is_refused(tmp_path: Path) -> None:
    exp = write(tmp_path, GRID.replace("MODEL", "clean"))
    for bad in (0, -1.0, float("nan"), float("inf"), 10**9, True):
        with pytest.raises(UsageError, match="run-timeout"):
            run_sweep(exp, tmp_path / "o", workers=1, progress=False, allow_plugin=True,
                      run_timeout=bad)
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_a_second_ctrl_c_stops_a_hanging_sweep_within_5_s_and_it_resumes(
        tmp_path: Path) -> None:
    """A sweep whose runs hang (no time limit reached yet): Ctrl-C twice stops it within 5 s
    -- the workers are killed, nothing waits for the runs -- and leaves a directory that
    --resume accepts."""
    import time

    hang = """
    name = "hang"
    model = "sim.experiment.examples:noisy_linear"
    method = "grid"
    levels = 2
    outcomes = ["y"]
    runs_per_part = 1
    [parameters]
    x1 = [0.0, 1.0]
    [constants]
    sleep = 1e6
    """
    exp = write(tmp_path, hang)
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "sim", "sweep", str(exp), "--out", str(out), "--workers",
            "2", "--quiet"]
    proc = subprocess.Popen(argv, cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_ctrl_c_as_default)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (out / "manifest.json").exists():
            time.sleep(0.05)
        time.sleep(1.0)  # the runs have started and hang
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.3)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        stopped = time.monotonic()
        _, stderr = proc.communicate(timeout=10)
        assert time.monotonic() - stopped < 5
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode in (130, -signal.SIGINT), stderr
    assert "Traceback" not in stderr, stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] in ("interrupted", "running")
    # resumable: the same sweep with a time limit finishes, every run 'timeout'
    done = subprocess.run([*argv, "--resume", "--run-timeout", "0.5"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (runs(out)["status"] == "timeout").all()


def test_the_default_time_limits() -> None:
    """No limit given: 600 s for a plug-in, 60 s + 2 s a month for the project's model; the
    file's run_timeout_s, then --run-timeout, override it."""
    from sim.experiment.sweep import model_call

    plug = parse_experiment(GRID.replace("MODEL", "clean"), check_model=False)
    assert model_call(plug).timeout == 600
    project = parse_experiment('months = 24\nmethod = "lhs"\nsamples = 2\n[parameters]\n'
                               "turnover_rate = [0.0, 0.4]\n", check_model=False)
    assert model_call(project).timeout == 60 + 2 * 24
    own = parse_experiment("run_timeout_s = 7\n" + GRID.replace("MODEL", "clean"),
                           check_model=False)
    assert model_call(own).timeout == 7 and model_call(own, run_timeout=3).timeout == 3
