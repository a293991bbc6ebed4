import contextlib
import io
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

TESTS = Path(__file__).resolve().parent

#: The test files that hold the suite's longest tests (``pytest --durations``: the browser,
#: the calibrations, the notebooks, the Dask clusters and Ctrl-C, the national views, the
#: engine and Dask sweeps, the SLURM recipe where a SLURM answers), heaviest first. They
#: run first: ``make test`` hands whole files to three workers in this order (``--dist
#: loadfile --no-loadscope-reorder``), so the run ends on short files rather than one
#: worker alone in a minute-long one. Whole files move, so a module's fixtures are still
#: built once; a name not found is simply not moved.
LONG_FIRST = ("studies/test_calibration.py", "ui/test_dashboard.py",
              "docs/test_notebooks.py", "experiment/test_timeseries.py",
              "experiment/test_plugin_faults.py", "studies/test_calibration_national.py",
              "studies/test_national.py", "experiment/test_dask.py",
              "experiment/test_slurm.py", "experiment/test_sweep.py", "ui/test_hostile.py",
              "studies/test_compare.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        try:
            name = item.path.relative_to(TESTS).as_posix()
        except ValueError:
            return len(LONG_FIRST)
        return LONG_FIRST.index(name) if name in LONG_FIRST else len(LONG_FIRST)

    items.sort(key=rank)  # stable: every other file, and every file's tests, keep their order

@pytest.fixture(scope="session")
def dask_scheduler():
    """The address of a Dask LocalCluster (2 single-threaded worker processes) shared by
    the tests that only run work on one: starting a cluster costs some 5 s of CPU. Tests
    that kill a worker or the scheduler start their own. The tests that use it are in one
    file, tests/experiment/test_dask.py: the fixture is per pytest-xdist worker, and
    ``--dist loadfile`` keeps that file's tests in one worker, so one cluster is started."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        yield cluster.scheduler_address


#: A researcher's own calibration case (tests/studies/test_calibration.py; the Dask calibration
#: in tests/experiment/test_dask.py): three targets, a few influential numbers, the rest fixed.
OWN = """
name = "own"
seed = 5
simulations = 6000
accept = 150
chunk = 1000
coverage_cases = 12
predictive_runs = 500
months = 48
infer = "listed"

[priors]
progress_rate = [0.05, 0.3]
initial_engagement = [0.5, 0.9]
host_change_rate = "plausible"
pilot_scope = "plausible"

[[targets]]
name = "pilot_late"
label = "pilot in years three to four"
statistic = "pilot_month"
min = 24
max = 48
near = 12

[[targets]]
name = "hosts"
label = "one or two host changes by month 24"
statistic = "host_changes_m24"
min = 1
max = 2

[[targets]]
name = "no_collapse"
label = "no collapse"
statistic = "collapse_month"
above = 48
"""
#: :data:`OWN` without its coverage check: the smallest run of it that still calibrates.
OWN_NO_COVERAGE = textwrap.dedent(OWN).replace("coverage_cases = 12", "coverage_cases = 0")

#: A validation file's smallest configuration (20 sites, 3 replicates, 6 months), a
#: contrast without money, and a statement on the programme's sites
#: (tests/studies/test_validation.py; tests/experiment/test_slurm.py runs them on SLURM).
VALIDATION_TINY = """
name = "small"
description = "A small validation."

[[configurations]]
name = "tiny"
approach = "baseline"
funding_rule = "competitive"
budget_per_site = 0.5
sites = 20
replicates = 3
months = 6
description = "Twenty sites for six months."
money_note = "half a full pilot's cost per site."
programme = { share = 0.25, by = "readiness" }
"""

#: The same country (sites, seed, replicates) with no money: a contrast for ``tiny``.
VALIDATION_BROKE = """
[[configurations]]
name = "broke"
approach = "baseline"
funding_rule = "competitive"
budget_per_site = 0.0
sites = 20
replicates = 3
months = 6
description = "The same country without money."
money_note = "none."
"""

#: A statement about the programme's sites.
VALIDATION_PROGRAMME = """
[[statements]]
id = "programme"
configuration = "tiny"
statistic = "small_tasks"
month = 6
sites = "programme"
low = 0.0
high = 1.0
source = "a test"
passage = "any share of the programme's sites"
comparability = "proxy"
"""


#: A small grid sweep of a registered example plug-in: 16 runs in 4 parts.
GRID = """
name = "grid"
model = "sim.experiment.examples:noisy_linear"
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


def calibrate(spec, out, **kwargs):
    """Calibrate and write the report, as ``icsim calibrate`` does (the calibration tests
    and the Dask ones share it)."""
    from sim.report.calibration import write_report
    from sim.studies.calibration.run import calibrate as run

    result = run(spec, out, **kwargs)
    write_report(result)
    return result


def icsim(*argv: str, cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """``icsim ARGV`` run in this process (``sim.ui.cli.main``), as ``subprocess.run`` would
    report it: the exit status (argparse's ``SystemExit`` included) and what was printed.

    In-process, so a refusal costs milliseconds rather than a Python start-up and the
    imports (about 2 s of CPU each); tests/ui/test_cli_process.py keeps a few real
    ``python -m sim`` processes to show that the status and the line reach the shell."""
    from sim.ui.cli import main

    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(argv))
            except SystemExit as exc:  # argparse's own errors and --help
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(["icsim", *argv], code, out.getvalue(),
                                       err.getvalue())


def assert_refused(tmp_path, argv, culprit):
    """``icsim ARGV`` exits 2 with one line naming ``culprit`` and writes nothing (the
    command runs, in-process, in the empty ``tmp_path``)."""
    proc = icsim(*argv, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and culprit in lines[0], lines
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []
