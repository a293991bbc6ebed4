"""Every command that writes takes the directory lock, never mixes two jobs' outputs, and
a rerun into its own --out replaces its own outputs completely (issue 23, item 7)."""

from __future__ import annotations

import json

import pytest
from conftest import icsim

from sim.experiment.store import DirectoryLock

COMPARE = ("compare", "baseline", "--replicates", "4", "--months", "12", "--workers", "1",
           "--quiet")


def one_line_refusal(proc, culprit: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and culprit in lines[0], lines


def test_compare_and_run_wait_for_no_one_else_in_their_out(tmp_path):
    out = tmp_path / "shared"
    with DirectoryLock(out):  # another icsim job (a national run, say) holds --out
        one_line_refusal(icsim(*COMPARE, "--out", str(out)), "in use by another icsim job")
        one_line_refusal(icsim("run", "--months", "6", "--out", str(out)), "in use")
    assert sorted(p.name for p in out.iterdir()) == [".icsim.lock"]


def test_compare_does_not_write_into_a_sweep_or_another_commands_outputs(tmp_path):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "manifest.json").write_text("{}")
    one_line_refusal(icsim(*COMPARE, "--out", str(sweep)), "holds a sweep or national run")
    ran = tmp_path / "ran"
    assert icsim("run", "--months", "6", "--out", str(ran)).returncode == 0
    one_line_refusal(icsim(*COMPARE, "--out", str(ran)), "holds the outputs of icsim run")
    assert (ran / "summary.json").exists() and not (ran / "comparison.csv").exists()


@pytest.mark.slow
def test_a_rerun_replaces_its_own_outputs_completely(tmp_path):
    out = tmp_path / "cmp"
    assert icsim(*COMPARE, "--format", "png,svg", "--out", str(out)).returncode == 0
    assert (out / "outcomes.svg").exists()
    mine = out / "notes.txt"  # a file icsim did not write is left alone by the same rerun
    mine.write_text("keep")
    assert icsim(*COMPARE, "--format", "png", "--out", str(out)).returncode == 0
    assert mine.read_text() == "keep"
    names = sorted(p.name for p in out.iterdir()
                   if not p.name.startswith(".") and p != mine)
    assert not any(name.endswith(".svg") for name in names), names
    ledger = json.loads((out / ".icsim-outputs.json").read_text())
    assert ledger["command"] == "compare" and sorted(ledger["files"]) == names


def test_a_refused_compare_leaves_no_directory(tmp_path):
    out = tmp_path / "new" / "cmp"
    proc = icsim("compare", "utopia", "--out", str(out))
    one_line_refusal(proc, "utopia")
    assert not (tmp_path / "new").exists()
