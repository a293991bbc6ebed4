"""Nothing mixed, nothing silently wrong: checksums and provenance of every part, verified
by resume and by every reader; code versions never mixed unless allowed; a damaged
manifest, a stray file or a full disk give one line, not a traceback."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import textwrap
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import GRID

from sim.core.errors import UsageError
from sim.experiment import store as store_module
from sim.experiment import sweep as sweep_module
from sim.experiment.spec import load_experiment
from sim.experiment.store import PROVENANCE, code_state
from sim.experiment.sweep import run_sweep
from sim.ui.cli import main

PARTS = [f"part-{i:06d}.parquet" for i in range(4)]


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def _runs(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "runs").sort_values(["point", "replicate"]).reset_index(
        drop=True)


@pytest.fixture(scope="module")
def _finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished 16-run sweep in four parts (``out``, of ``exp.toml``), made once per
    module; tests damage copies of it."""
    root = tmp_path_factory.mktemp("finished")
    (root / "exp.toml").write_text(textwrap.dedent(GRID))
    run_sweep(root / "exp.toml", root / "out", workers=1, progress=False)
    return root


@pytest.fixture
def sweep(_finished: Path, tmp_path: Path) -> tuple[Path, Path, pd.DataFrame]:
    """A finished 16-run sweep in four parts: (experiment file, directory, its runs), a
    fresh copy for each test (a sweep records no path of its own, so a copy resumes and
    is read as the original would be)."""
    exp = tmp_path / "exp.toml"
    shutil.copy(_finished / "exp.toml", exp)
    out = tmp_path / "out"
    shutil.copytree(_finished / "out", out)
    return exp, out, _runs(out)


def _one_error_line(capsys: pytest.CaptureFixture[str], *words: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    for word in words:
        assert word in err[0], err[0]
    return err[0]


# --------------------------------------------------------------------- what is recorded


def test_every_part_records_its_sweep_and_code_and_the_manifest_its_checksum(sweep) -> None:
    exp, out, _ = sweep
    manifest = json.loads((out / "manifest.json").read_text())
    experiment = load_experiment(exp)
    now = code_state()
    assert sorted(manifest["parts"]) == PARTS
    for name in PARTS:
        path = out / "runs" / name
        assert manifest["parts"][name]["sha256"] == hashlib.sha256(
            path.read_bytes()).hexdigest()
        assert manifest["parts"][name]["rows"] == 4
        meta = pq.read_schema(path).metadata
        assert set(PROVENANCE) <= {k.decode() for k in meta}
        got = {k.decode(): json.loads(v) for k, v in meta.items()}
        assert got["icsim.experiment_sha256"] == experiment.sha256
        assert got["icsim.design_sha256"] == manifest["design"]["sha256"]
        assert got["icsim.commit"] == now["commit"] and got["icsim.dirty"] == now["dirty"]
        assert got["icsim.version"] == now["icsim"]
    session = manifest["sessions"][0]
    assert session["code"] == now and "numpy" in session["versions"]
    assert "mixed_code" not in manifest


# ------------------------------------------------------------------------ damaged parts


def _flip_bytes(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 8] = bytes(b ^ 0xFF for b in data[middle:middle + 8])
    path.write_bytes(bytes(data))


def _edit_validly(path: Path) -> None:
    """Change one outcome value, keeping a valid Parquet file with the same metadata."""
    table = pq.read_table(path)
    frame = table.to_pandas()
    frame.loc[0, "y"] = frame.loc[0, "y"] + 1.0
    import pyarrow as pa

    edited = pa.Table.from_pandas(frame, schema=table.schema, preserve_index=False)
    pq.write_table(edited.replace_schema_metadata(table.schema.metadata), path,
                   compression="zstd")


@pytest.mark.parametrize(("damage", "reason"), [
    (_flip_bytes, "checksum mismatch"),
    (_edit_validly, "checksum mismatch"),
])
def test_a_damaged_part_is_named_by_analyze_and_rerun_by_resume(sweep, capsys, damage,
                                                                 reason) -> None:
    exp, out, before = sweep
    damage(out / "runs" / PARTS[1])
    # analyze: one line naming the part, exit 2, nothing written.
    tree = _tree(out)
    assert main(["analyze", str(out), "--quiet"]) == 2
    _one_error_line(capsys, PARTS[1], reason, "--resume")
    assert _tree(out) == tree and not (out / "analysis").exists()
    # resume: names the part and why on stderr, moves it aside, reruns exactly it.
    report = run_sweep(exp, out, workers=1, progress=False, resume=True)
    assert report.complete and report.runs_this_session == 4
    line = _one_error_line(capsys, f"resume discards {PARTS[1]}", reason, "discarded")
    moved = Path(line.split("; moved to ")[1])
    assert moved.parent == out / "discarded" and moved.exists()
    pd.testing.assert_frame_equal(_runs(out), before)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sessions"][-1]["discarded"][0]["part"] == PARTS[1]
    assert manifest["parts"][PARTS[1]]["session"] == 1
    # Now clean again.
    assert main(["analyze", str(out), "--quiet"]) == 0


def test_a_part_from_another_experiment_is_named(sweep, tmp_path: Path, capsys) -> None:
    exp, out, before = sweep
    other = tmp_path / "other.toml"
    other.write_text(textwrap.dedent(GRID).replace("seed = 3", "seed = 4"))
    run_sweep(other, tmp_path / "other", workers=1, progress=False)
    shutil.copy(tmp_path / "other" / "runs" / PARTS[2], out / "runs" / PARTS[2])
    assert main(["analyze", str(out), "--quiet"]) == 2
    _one_error_line(capsys, PARTS[2], "written by another experiment")
    assert main(["sweep", str(exp), "--out", str(out), "--resume", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert f"resume discards {PARTS[2]}: written by another experiment" in err
    pd.testing.assert_frame_equal(_runs(out), before)


def test_a_part_without_a_recorded_checksum_or_past_the_last_chunk_is_rerun(sweep,
                                                                         capsys) -> None:
    exp, out, before = sweep
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["parts"][PARTS[0]]
    manifest_path.write_text(json.dumps(manifest))
    ledger = out / "checksums.jsonl"  # the checksum goes from the ledger as well
    ledger.write_text("\n".join(line for line in ledger.read_text().splitlines()
                                if PARTS[0] not in line))
    shutil.copy(out / "runs" / PARTS[3], out / "runs" / "part-000009.parquet")
    assert main(["analyze", str(out), "--quiet"]) == 2
    _one_error_line(capsys, PARTS[0], "no checksum recorded", "and 1 more")
    report = run_sweep(exp, out, workers=1, progress=False, resume=True)
    assert report.runs_this_session == 4
    err = capsys.readouterr().err
    assert f"resume discards {PARTS[0]}: no checksum recorded" in err
    assert "resume discards part-000009.parquet: chunk 9 is past the sweep's 4 parts" in err
    assert sorted(p.name for p in (out / "runs").iterdir()) == PARTS
    pd.testing.assert_frame_equal(_runs(out), before)


# ----------------------------------------------------------------------- code versions


def _other_code(monkeypatch: pytest.MonkeyPatch, commit: str = "f" * 40) -> dict:
    code = {**code_state(), "commit": commit, "dirty": False, "diff_sha256": None}
    monkeypatch.setattr(sweep_module, "code_state", lambda: dict(code))
    return code


def test_resume_with_other_code_is_refused_unless_allowed_and_then_recorded(
        sweep, monkeypatch, capsys) -> None:
    exp, out, before = sweep
    old_commit = code_state()["commit"]
    for name in PARTS[2:]:  # as if killed after two parts
        (out / "runs" / name).unlink()
    new = _other_code(monkeypatch)
    tree = _tree(out)
    argv = ["sweep", str(exp), "--out", str(out), "--resume", "--quiet"]
    assert main(argv) == 2
    line = _one_error_line(capsys, "--allow-mixed-code", "refusing to mix", "f" * 12)
    if old_commit:
        assert old_commit[:12] in line
    assert _tree(out) == tree
    # Allowed explicitly: the sweep completes, and the manifest says it mixes code.
    assert main([*argv, "--allow-mixed-code"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    mixed = manifest["mixed_code"]
    assert mixed["allowed"] is True and mixed["allowed_in_sessions"] == [1]
    assert [v["code"]["commit"] for v in mixed["versions"]] == [old_commit, new["commit"]]
    assert [v["parts"] for v in mixed["versions"]] == [PARTS[:2], PARTS[2:]]
    # The first session's code stays on top; each session keeps its own.
    assert manifest["git"]["commit"] == old_commit
    assert [s["code"]["commit"] for s in manifest["sessions"]] == [old_commit, new["commit"]]
    commits = [json.loads(pq.read_schema(out / "runs" / n).metadata[b"icsim.commit"])
               for n in PARTS]
    assert commits == [old_commit, old_commit, new["commit"], new["commit"]]
    pd.testing.assert_frame_equal(_runs(out), before)
    # analyze accepts the recorded mix and says so; without the record it refuses.
    from sim.report.analysis import _code_words
    from sim.studies.sweep_analysis import load_sweep

    assert "mixed code versions" in _code_words(load_sweep(out).manifest)
    del manifest["mixed_code"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert main(["analyze", str(out), "--quiet"]) == 2
    _one_error_line(capsys, "mixes parts written by 2 code versions", "f" * 12)


def test_a_finished_sweep_rerun_with_other_code_runs_nothing_and_is_not_refused(
        sweep, monkeypatch) -> None:
    exp, out, _ = sweep
    _other_code(monkeypatch)
    report = run_sweep(exp, out, workers=1, progress=False, resume=True)
    assert report.complete and report.runs_this_session == 0
    assert "mixed_code" not in json.loads((out / "manifest.json").read_text())


def test_local_changes_count_as_other_code(sweep, monkeypatch) -> None:
    exp, out, _ = sweep
    (out / "runs" / PARTS[3]).unlink()
    now = code_state()
    changed = {**now, "dirty": True, "diff_sha256": "0" * 64}
    monkeypatch.setattr(sweep_module, "code_state", lambda: dict(changed))
    with pytest.raises(UsageError, match="with local changes 00000000"):
        run_sweep(exp, out, workers=1, progress=False, resume=True)


# ------------------------------------------------------------ damaged manifest, strays

MANIFESTS = {
    "not JSON": b"{not json",
    "not text": b"\xff\xfe\x00garbage",
    "a list": b"[1, 2, 3]",
    "empty object": b"{}",
    "experiment a number": b'{"experiment": 1, "design": {}, "sessions": [], "status": "x"}',
    "sha256 missing": b'{"experiment": {"text": "x"}, "design": {"sha256": "a"}, '
                      b'"sessions": [], "status": "complete"}',
}


def _national(out: Path) -> list[str]:
    return ["national", "--sites", "2", "--replicates", "1", "--months", "6", "--workers",
            "1", "--quiet", "--out", str(out)]


@pytest.fixture(scope="module")
def _finished_national(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished ``_national`` run, made once per module (about 2 s of CPU each)."""
    nat = tmp_path_factory.mktemp("finished_national") / "nat"
    assert main(_national(nat)) == 0
    return nat


@pytest.fixture
def national_run(_finished_national: Path, tmp_path: Path) -> Path:
    """A fresh copy of the finished national run, at ``tmp_path / "nat"``."""
    nat = tmp_path / "nat"
    shutil.copytree(_finished_national, nat)
    return nat


@pytest.mark.slow
@pytest.mark.parametrize("damage", [*MANIFESTS, "a directory", "a FIFO", "too big"])
def test_a_damaged_manifest_gives_one_line_everywhere(sweep, national_run: Path,
                                                      tmp_path: Path, capsys,
                                                      monkeypatch, damage: str) -> None:
    exp, out, _ = sweep
    capsys.readouterr()
    for root in (out, tmp_path / "nat"):
        manifest = root / "manifest.json"
        if damage == "too big":  # refused unread
            monkeypatch.setattr(store_module, "MAX_MANIFEST_BYTES", 100)
            continue
        manifest.unlink()
        if damage == "a directory":
            manifest.mkdir()
        elif damage == "a FIFO":  # reading it would wait forever
            os.mkfifo(manifest)
        else:
            manifest.write_bytes(MANIFESTS[damage])
    for argv in (["sweep", str(exp), "--out", str(out), "--resume", "--quiet"],
                 ["sweep", str(exp), "--out", str(out), "--quiet"],
                 ["analyze", str(out), "--quiet"],
                 [*_national(tmp_path / "nat"), "--resume"]):
        root = Path(argv[argv.index("--out") + 1]) if "--out" in argv else out
        tree = _tree(root)
        assert main(argv) == 2, argv
        _one_error_line(capsys, str(root / "manifest.json"))
        assert _tree(root) == tree


@pytest.mark.slow
@pytest.mark.parametrize("stray", ["notes.txt", "part-abc.parquet", "part-0000001.parquet",
                                   "a-directory/"])
def test_a_stray_file_in_runs_is_refused_naming_it(sweep, national_run: Path, capsys,
                                                   stray: str) -> None:
    exp, out, _ = sweep
    (out / "runs" / PARTS[3]).unlink()
    nat = national_run
    for root in (out, nat):
        path = root / "runs" / stray.rstrip("/")
        if stray.endswith("/"):
            path.mkdir()
        else:
            shutil.copy(root / "runs" / PARTS[0], path)
    capsys.readouterr()
    for argv, root in ((["sweep", str(exp), "--out", str(out), "--resume", "--quiet"], out),
                       (["analyze", str(out), "--quiet"], out),
                       ([*_national(nat), "--resume"], nat)):
        tree = _tree(root)
        assert main(argv) == 2, argv
        _one_error_line(capsys, str(root / "runs" / stray.rstrip("/")), "move it out")
        assert _tree(root) == tree


def test_hidden_files_in_runs_are_ignored_and_leftover_temporary_files_removed(
        sweep) -> None:
    exp, out, before = sweep
    (out / "runs" / ".DS_Store").write_text("x")
    (out / "runs" / f".{PARTS[1]}.tmp-12345").write_text("half a part")
    (out / "runs" / PARTS[1]).unlink()
    report = run_sweep(exp, out, workers=1, progress=False, resume=True)
    assert report.complete and report.runs_this_session == 4
    assert sorted(p.name for p in (out / "runs").iterdir()) == [".DS_Store", *PARTS]
    pd.testing.assert_frame_equal(_runs(out), before)


# ---------------------------------------------------------------------------- disk full


def _disk_full_after(monkeypatch: pytest.MonkeyPatch, target: str, ok_calls: int) -> None:
    """From the ``ok_calls + 1``-th call on, ``pq.write_table`` (writing half a file first)
    or ``os.fsync`` fails with ENOSPC, as on a full disk."""
    owner = store_module.pq if target == "write_table" else store_module.os
    real = getattr(owner, target)
    calls = {"n": 0}

    def full(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= ok_calls:
            return real(*args, **kwargs)
        if target == "write_table":
            Path(args[1]).write_bytes(b"PAR1 half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(owner, target, full)


def _no_temporary_files(out: Path) -> None:
    assert not [p for p in out.rglob(".*") if ".tmp-" in p.name]


def test_disk_full_writing_a_part_is_one_line_and_the_sweep_resumes(tmp_path: Path, capsys,
                                                                    monkeypatch) -> None:
    exp = tmp_path / "exp.toml"
    exp.write_text(textwrap.dedent(GRID))
    reference = run_sweep(exp, tmp_path / "ref", workers=1, progress=False)
    out = tmp_path / "out"
    with monkeypatch.context() as m:
        _disk_full_after(m, "write_table", ok_calls=2)
        assert main(["sweep", str(exp), "--out", str(out), "--quiet"]) == 2
    line = _one_error_line(capsys, "disk full writing", str(out / "runs"), "--resume",
                           "the manifest says 'failed'")
    assert "part-0000" in line
    _no_temporary_files(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert manifest["sessions"][-1]["error"].startswith("disk full writing")
    assert len(list((out / "runs").glob("part-*"))) == 2 == len(manifest["parts"])
    assert main(["sweep", str(exp), "--out", str(out), "--resume", "--quiet"]) == 0
    pd.testing.assert_frame_equal(_runs(out), _runs(reference.out))


def test_disk_full_for_the_manifest_too_says_it_could_not_be_updated(tmp_path: Path, capsys,
                                                                    monkeypatch) -> None:
    exp = tmp_path / "exp.toml"
    exp.write_text(textwrap.dedent(GRID))
    out = tmp_path / "out"
    with monkeypatch.context() as m:
        # fsync calls: the first manifest, part 0 and its manifest; then the disk is full.
        _disk_full_after(m, "fsync", ok_calls=3)
        assert main(["sweep", str(exp), "--out", str(out), "--quiet"]) == 2
    _one_error_line(capsys, "disk full writing", "could not be updated either",
                    "still says 'running'", "--resume")
    _no_temporary_files(out)
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"
    assert len([p for p in (out / "runs").iterdir() if p.name in PARTS]) == 1
    assert main(["sweep", str(exp), "--out", str(out), "--resume", "--quiet"]) == 0
    assert len(_runs(out)) == 16


def test_disk_full_before_anything_is_written_leaves_nothing(tmp_path: Path, capsys,
                                                            monkeypatch) -> None:
    exp = tmp_path / "exp.toml"
    exp.write_text(textwrap.dedent(GRID))
    with monkeypatch.context() as m:
        _disk_full_after(m, "fsync", ok_calls=0)
        assert main(["sweep", str(exp), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    _one_error_line(capsys, "disk full writing", "manifest.json", "nothing was written")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp.toml"]


# ----------------------------------------------------------------------------- national


@pytest.mark.slow
def test_national_holds_its_lock_until_its_outputs_are_written(tmp_path: Path,
                                                               monkeypatch) -> None:
    from sim.experiment.store import DirectoryLock
    from sim.report import national

    seen = []
    real = national.write_outputs

    def write_outputs(out, *args, **kwargs):
        try:
            DirectoryLock(out).acquire().release()
            seen.append("free")
        except UsageError as exc:
            seen.append(str(exc))
        return real(out, *args, **kwargs)

    monkeypatch.setattr(national, "write_outputs", write_outputs)
    assert main(_national(tmp_path / "nat")) == 0
    assert len(seen) == 1 and "in use by another icsim job" in seen[0]
    DirectoryLock(tmp_path / "nat").acquire().release()  # released afterwards


@pytest.mark.slow
def test_national_resume_reruns_a_damaged_part(national_run: Path, capsys) -> None:
    nat = national_run
    sites = pd.read_parquet(nat / "sites.parquet")
    _flip_bytes(nat / "runs" / PARTS[0])
    capsys.readouterr()
    assert main(["analyze", str(nat), "--quiet"]) == 2
    _one_error_line(capsys, PARTS[0], f"icsim national --out {nat} --resume")
    assert main([*_national(nat), "--resume"]) == 0
    assert f"resume discards {PARTS[0]}: " in capsys.readouterr().err
    pd.testing.assert_frame_equal(pd.read_parquet(nat / "sites.parquet"), sites)


def test_a_sweep_of_the_same_file_by_an_older_icsim_is_named_as_such(tmp_path: Path,
                                                                     capsys) -> None:
    """The experiment's hash changed its definition (an older icsim): the refusal says
    so instead of asking to restore a file that was never changed."""
    exp = tmp_path / "tiny.toml"
    exp.write_text(textwrap.dedent(GRID))
    out = tmp_path / "s"
    assert main(["sweep", str(exp), "--out", str(out), "--quiet", "--workers", "1"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["experiment"]["sha256"] = "0" * 64  # as an older icsim would have hashed it
    (out / "manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    assert main(["sweep", str(exp), "--out", str(out), "--resume", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "written by an older icsim" in err[0], err
    assert "restore the file" not in err[0]


@pytest.mark.slow
@pytest.mark.parametrize("command", [
    ["compare", "baseline", "toolkit", "--replicates", "20"],
    ["national", "--sites", "6", "--replicates", "2"],
])
def test_disk_full_writing_a_commands_outputs_is_one_line_and_leaves_no_staging(
        tmp_path: Path, capsys, monkeypatch, command) -> None:
    """Outputs are staged and moved into place: a full disk while writing a figure leaves
    neither a half-written output nor the staging folder, and says so in one line."""
    from sim.report import figures as plots

    def full(fig, path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(plots, "save", full)
    out = tmp_path / "out"
    assert main([*command, "--quiet", "--out", str(out)]) == 2
    line = _one_error_line(capsys, "disk full writing", "free space")
    assert "Traceback" not in line
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".staging")]
    names = {p.name for p in out.iterdir()} if out.exists() else set()
    assert not names & {"comparison.md", "summary.md", "comparison.csv", "rules.csv"}


def test_checksums_of_a_killed_session_live_in_the_ledger(sweep, capsys) -> None:
    """Checksums are appended to checksums.jsonl as each part is written; the manifest
    gathers them only at the end of a session. A session killed before its end (here: the
    manifest without its parts, and a line cut short) loses nothing: resume keeps every
    part and reruns none."""
    exp, out, before = sweep
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["parts"] = {}
    manifest["status"] = "running"
    (out / "manifest.json").write_text(json.dumps(manifest))
    with open(out / "checksums.jsonl", "a") as fh:
        fh.write('\n{"part": "part-000001.parquet", "sha2')  # a write cut short
    capsys.readouterr()
    report = run_sweep(exp, out, workers=1, progress=False, resume=True)
    assert report.runs_this_session == 0 and report.complete
    assert "discards" not in capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["parts"]) == PARTS
    pd.testing.assert_frame_equal(_runs(out), before)


def test_disk_full_during_analyze_leaves_the_earlier_analysis_whole(
        sweep, capsys, monkeypatch) -> None:
    """analyze stages its files and moves them into analysis/ only when all are written: a
    full disk while writing its last file (summary.md, after the tables) says so in one
    line and leaves the earlier analysis untouched, with no staging folder."""
    from sim.report import analysis as report_analysis

    _exp, out, _before = sweep
    assert main(["analyze", str(out)]) == 0
    for path in (out / "analysis").iterdir():  # mark the earlier analysis as such
        path.write_bytes(b"earlier\n" + path.read_bytes())
    earlier = {p.name: p.read_bytes() for p in (out / "analysis").iterdir()}
    assert "summary.md" in earlier and len(earlier) > 1

    write = report_analysis.write_atomic

    def full_at_summary(path, data):
        if Path(path).name == "summary.md":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        write(path, data)

    monkeypatch.setattr(report_analysis, "write_atomic", full_at_summary)
    capsys.readouterr()
    assert main(["analyze", str(out)]) == 2
    _one_error_line(capsys, "disk full writing", "free space")
    assert {p.name: p.read_bytes() for p in (out / "analysis").iterdir()} == earlier
    assert not [p for p in out.iterdir() if p.name.endswith(".staging")]
