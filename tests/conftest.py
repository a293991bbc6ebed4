import os
import subprocess
import sys

os.environ.setdefault("MPLBACKEND", "Agg")


def assert_refused(tmp_path, argv, culprit):
    """``python -m sim ARGV`` exits 2 with one line naming ``culprit`` and writes nothing
    (the command runs in the empty ``tmp_path``)."""
    proc = subprocess.run([sys.executable, "-m", "sim", *argv], capture_output=True,
                          text=True, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and culprit in lines[0], lines
    assert list(tmp_path.iterdir()) == []
