"""The real ``python -m sim`` process: a refusal reaches the shell as exit status 2 and one
line on stderr, and writes nothing.

Every other refusal runs in-process (``sim.ui.cli.main``, tests/ui/test_hostile.py and
``conftest.assert_refused``), which is the same code without the interpreter's start-up.
These few cases cover the three ways a refusal leaves ``main``: argparse's own error
(``SystemExit``), a ``UsageError`` returned as status 2 by ``main``, and a bad input file
found by a command's handler.
"""

import subprocess
import sys

import pytest

GOOD = """\
name = "good"
method = "lhs"
samples = 4
replicates = 2
months = 12
outcomes = ["pilot"]
[parameters]
turnover_rate = [0.0, 0.4]
"""


@pytest.mark.slow
@pytest.mark.parametrize(("argv", "culprit"), [
    (["run", "--months", "ten"], "--months"),                 # argparse: SystemExit(2)
    (["run", "--scenario", "baseline+utopia"], "utopia"),    # UsageError -> main returns 2
    (["sweep", "bad.toml"], "'samples'"),                     # a bad file, found by sweep
])
def test_a_refusal_reaches_the_shell_as_status_2_and_one_line(tmp_path, argv, culprit):
    (tmp_path / "bad.toml").write_text(GOOD.replace("samples = 4", "samples = 0"))
    proc = subprocess.run([sys.executable, "-m", "sim", *argv, "--out", "out"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("icsim") and culprit in lines[0], lines
    assert proc.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]
