import os
import subprocess
import sys

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


def assert_refused(tmp_path, argv, culprit):
    """``python -m sim ARGV`` exits 2 with one line naming ``culprit`` and writes nothing
    (the command runs in the empty ``tmp_path``)."""
    proc = subprocess.run([sys.executable, "-m", "sim", *argv], capture_output=True,
                          text=True, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and culprit in lines[0], lines
    assert list(tmp_path.iterdir()) == []
