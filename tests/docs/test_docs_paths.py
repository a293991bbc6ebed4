"""Every file a document names exists in the repository.

Scanned: README.md, every Markdown file under docs/, experiments/README.md,
scenarios/README.md, results/README.md, benchmarks/README.md and the Markdown cells of
notebooks/*.ipynb.

What counts as a mention of a file:

- a Markdown link or image, ``[text](target)``, whose target is relative (not a URL, not a
  bare ``#anchor``); it is resolved against the document's folder, as a Markdown viewer
  does, and its ``#fragment`` is dropped;
- a word inside inline code or a fenced code block that contains a ``/`` or ends in one of
  ``EXTENSIONS``; ``tests/x.py::test_name`` counts as ``tests/x.py``;
- a word in the prose that starts with one of the repository's top folders and a ``/``
  (``sim/``, ``docs/``, ``tests/``, ...) or with ``../`` or ``shared/`` (the old, outside
  home of the case's documents).

A word with a ``/`` must exist relative to the repository root or to the document's folder,
inside the repository. A bare file name (no ``/``) must be the name of some file in the
repository (``test_model.py`` in a table whose paths are relative to ``tests/``), unless it
is one of ``OUTPUT_NAMES``, the files a command writes into its output directory.

Not checked, by rule:

- URLs and addresses (``://``, ``mailto:``), absolute paths and home paths (``/tmp/...``,
  ``~/...``), environment variables (``$NAME``);
- globs (``*``), placeholders (a path segment in capitals such as ``DIR/`` or ``HOST``,
  ``<name>``, ``{...}``, ``…``);
- generated outputs: paths under ``results/`` (every command writes there, and results/ is
  git-ignored), and ``.venv/`` (made by ``make setup``);
- HTML comments (the markers of the generated registry tables, written by code);
- Python module names written with dots (``sim.analysis``) and option values such as
  ``png,svg,pdf``.

``PENDING`` lists the paths of the new package layout (issue 18) that the documents already
name while the code move lands on another branch. They (and their bare file names) are
accepted while they are missing and ``sim/core/`` does not yet exist; once it does,
``test_pending_layout_paths_exist`` checks every one of them.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

EXTENSIONS = (
    ".py", ".toml", ".md", ".csv", ".parquet", ".png", ".svg", ".pdf", ".ipynb",
    ".json", ".jsonl", ".txt", ".cff", ".html", ".yml", ".yaml",
)

# Files the commands write into their output directory (README, experiments/README.md):
# they are named without a folder and are not repository files.
OUTPUT_NAMES = frozenset({
    ".icsim-outputs.json",
    "summary.json", "timeseries.csv", "timeseries.png", "comparison.csv", "comparison.md",
    "runs.parquet", "outcomes.png", "dac_trajectories.png", "time_to_pilot.png",
    "sites.parquet", "national.csv", "rules.csv", "pairs.csv", "summary.md", "posterior.parquet",
    "manifest.json", "checksums.jsonl", "experiment.toml", "last_generation.parquet",
    "validation.md", "validation.csv", "index.html", "sensitivity.md", "analysis.md",
    "generations.csv", "identification.csv", "marginals.png", "pairs.png",
    "population.parquet", "part-000003.parquet", "indices_over_time.csv",
    "sobol_pilot_by_month.csv", "variance.csv",
})
# Folders inside a command's output directory.
OUTPUT_FOLDERS = frozenset({"runs", "timeseries", "analysis", "discarded", "figures"})

# The new layout of issue 18, named by the documents before the move reaches this branch.
PENDING = frozenset({
    "sim/core/", "sim/core/registry.py", "sim/core/scenarios.py", "sim/core/outputs.py",
    "sim/core/team.py", "sim/core/limits.py", "sim/core/errors.py",
    "sim/engine/kernels.py",
    "sim/mesa/", "sim/mesa/model.py", "sim/mesa/agents.py",
    "sim/run.py",
    "sim/experiment/examples.py",
    "sim/studies/", "sim/studies/compare.py", "sim/studies/national.py",
    "sim/studies/sensitivity.py", "sim/studies/calibration/",
    "sim/studies/calibration/targets.py",
    "sim/analysis/",
    "sim/report/", "sim/report/figures.py", "sim/report/files.py",
    "sim/ui/", "sim/ui/cli.py", "sim/ui/commands.py", "sim/ui/app.py",
    "sim/ui/dashboard_views.py",
})
# Their file names, as a layout listing names them under their folder.
PENDING_NAMES = frozenset(p.rsplit("/", 1)[-1] for p in PENDING if not p.endswith("/"))

_TOP = ("sim", "docs", "tests", "experiments", "scenarios", "notebooks", "data",
         "benchmarks", "results", "shared")
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
_CODE = re.compile(r"(`+)(.+?)\1", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_PROSE = re.compile(r"(?<![\w./~-])((?:\.\./)+[\w.-][\w./-]*|(?:" + "|".join(_TOP)
                    + r")/[\w./-]*)")
_LEAD = "([{'\"`"
_TRAIL = ")]},;:'\"`.!?"


def documents() -> list[Path]:
    """The Markdown files the rule covers, and the notebooks."""
    names = ["README.md", "experiments/README.md", "scenarios/README.md",
             "results/README.md", "benchmarks/README.md"]
    found = [ROOT / n for n in names if (ROOT / n).is_file()]
    found += sorted((ROOT / "docs").rglob("*.md"))
    found += sorted((ROOT / "notebooks").glob("*.ipynb"))
    return found


def markdown_of(path: Path) -> str:
    """A Markdown file's text, or a notebook's Markdown cells joined."""
    if path.suffix != ".ipynb":
        return path.read_text(encoding="utf-8")
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def _is_pathlike(word: str) -> bool:
    return "/" in word or word.lower().endswith(EXTENSIONS)


def _skipped(word: str) -> bool:
    if not word or "://" in word or word.startswith(("mailto:", "/", "~", "$", "#", "-")):
        return True
    if any(ch in word for ch in "*<>{}…|=@") or "..." in word.replace("../", ""):
        return True
    parts = [p for p in word.split("/") if p not in ("", ".", "..")]
    if not parts:
        return True
    if any(re.fullmatch(r"[A-Z][A-Z0-9_]*", p) for p in parts):
        return True                                   # DIR/, HOST: placeholders
    if parts[0] in ("results", ".venv") or parts[0] in OUTPUT_FOLDERS:
        return True                                   # generated outputs, made by setup
    if re.fullmatch(r"[\d./]+", word) or any(p.startswith(".") and "/" in word
                                             for p in parts[1:]):
        return True                                   # 1/12; marginals.png/.svg
    return "/" not in word and not re.fullmatch(r"[\w.-]+", word)


def mentions(text: str) -> list[tuple[str, str]]:
    """(kind, word) for every file mention in a Markdown text; kind is link or path."""
    text = _COMMENT.sub(" ", text)
    found: list[tuple[str, str]] = []
    for target in _LINK.findall(text):
        if "://" in target or target.startswith(("mailto:", "#")):
            continue
        found.append(("link", target.split("#", 1)[0]))
    text = _LINK.sub(lambda m: m.group(0).split("](", 1)[0], text)
    code: list[str] = [m.group(0) for m in _FENCE.finditer(text)]
    prose = _FENCE.sub(" ", text)
    code += [m.group(2) for m in _CODE.finditer(prose)]
    prose = _CODE.sub(" ", prose)
    for chunk in code:
        for raw in re.split(r"[\s=(),;\"']+", chunk):
            word = raw.split("::", 1)[0].lstrip(_LEAD).rstrip(_TRAIL)
            if _is_pathlike(word) and not _skipped(word):
                found.append(("path", word))
    for m in _PROSE.finditer(prose):
        word = m.group(1).rstrip(_TRAIL)
        if not _skipped(word):
            found.append(("path", word))
    return found


def missing(doc: Path, kind: str, word: str, root: Path = ROOT,
            names: frozenset[str] | None = None) -> bool:
    """Whether a mention names no file or folder of the repository."""
    if kind == "path" and "/" not in word:
        if word in OUTPUT_NAMES:
            return False
        if names is None:
            names = _repository_names(root)
        return word not in names
    bases = [doc.parent] if kind == "link" else [root, doc.parent]
    for base in bases:
        target = (base / word).resolve()
        if target.is_relative_to(root) and target.exists():
            return False
    return True


def _repository_names(root: Path) -> frozenset[str]:
    """Every file and folder name in the repository; the skipped folders are not walked
    (``.venv`` alone holds some 40,000 files)."""
    skip = {".git", ".venv", "results", "__pycache__", "node_modules"}
    names: set[str] = set()
    for _folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in skip]
        names.update(dirs)
        names.update(files)
    return frozenset(names)


def problems(root: Path = ROOT) -> list[str]:
    names = _repository_names(root)
    out = []
    for doc in documents():
        for kind, word in mentions(markdown_of(doc)):
            pending = word in PENDING or word in PENDING_NAMES
            if pending and not (root / "sim" / "core").is_dir():
                continue
            if missing(doc, kind, word, root, names):
                out.append(f"{doc.relative_to(root)}: {kind} {word!r} names no file "
                           "in the repository")
    return sorted(set(out))


@pytest.mark.slow
def test_every_document_names_only_repository_files():
    found = problems()
    assert not found, "\n" + "\n".join(found)


def test_the_scanner_finds_a_missing_file_in_each_kind_of_mention(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "here.md").write_text("x")
    (tmp_path / "sim").mkdir()
    (tmp_path / "sim" / "there.py").write_text("x")
    doc = tmp_path / "docs" / "page.md"
    text = (
        "See [here](here.md), [gone](gone.md#part), `sim/there.py`, `sim/nowhere.py::t`,\n"
        "the prose path sim/absent.py and ../shared/CASE_TARGETS.md, a URL\n"
        "[site](https://example.org/a.md), a glob `*.toml`, a placeholder `DIR/summary.json`,\n"
        "an output `results/run/summary.json`, `comparison.csv` and `lost_file.py`.\n"
        "<!-- sim/in_a_comment.py -->\n"
        "```bash\nicsim sweep experiments/missing.toml --out results/x\n```\n"
    )
    found = mentions(text)
    words = [w for _, w in found]
    assert "https://example.org/a.md" not in words and "*.toml" not in words
    assert "DIR/summary.json" not in words and "results/run/summary.json" not in words
    assert "sim/in_a_comment.py" not in words
    names = _repository_names(tmp_path)
    gone = sorted(w for k, w in found if missing(doc, k, w, tmp_path, names))
    assert gone == ["../shared/CASE_TARGETS.md", "experiments/missing.toml", "gone.md",
                    "lost_file.py", "sim/absent.py", "sim/nowhere.py"]


def test_a_notebook_is_read_by_its_markdown_cells_only(tmp_path):
    nb = tmp_path / "n.ipynb"
    nb.write_text(json.dumps({"cells": [
        {"cell_type": "markdown", "source": ["See `sim/a.py`"]},
        {"cell_type": "code", "source": ["open('sim/b.py')"]},
    ]}))
    assert mentions(markdown_of(nb)) == [("path", "sim/a.py")]


@pytest.mark.skipif(not (ROOT / "sim" / "core").is_dir(),
                    reason="the new layout (issue 18) has not reached this branch")
def test_pending_layout_paths_exist():
    gone = sorted(p for p in PENDING if not (ROOT / p).exists())
    assert not gone, f"named by the documents but missing: {gone}"
