import contextlib
import io
import os
import subprocess

os.environ.setdefault("MPLBACKEND", "Agg")

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
