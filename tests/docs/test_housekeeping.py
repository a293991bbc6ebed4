"""What a newcomer trips over: licence, citation, package metadata, --help texts."""

import subprocess
import tomllib
from pathlib import Path

import pytest
from conftest import icsim

ROOT = Path(__file__).resolve().parents[2]


def test_licence_citation_and_metadata_agree():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["license"] == "MIT"  # an SPDX string, not the deprecated table
    assert "setuptools>=77" in meta["build-system"]["requires"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    citation = (ROOT / "CITATION.cff").read_text()
    assert "cff-version: 1.2.0" in citation and "license: MIT" in citation
    assert "10.1108/LHS-09-2019-0066" in citation  # the case the model rests on
    tracked = subprocess.run(["git", "ls-files", "*.whl"], cwd=ROOT, capture_output=True,
                             text=True).stdout
    assert tracked == ""


@pytest.mark.parametrize("command", ["compare", "national"])
def test_help_describes_the_command_and_shows_defaults(command, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # the width argparse uses when printing to a pipe
    proc = icsim(command, "--help")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "(default: 60)" in text  # --months
    assert "--format" in text and "--quiet" in text
    assert "writes" in text or "report" in text
