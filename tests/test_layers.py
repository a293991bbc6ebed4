"""The layer contract of ``sim`` (sim/layers.py): every import runs downward, no cycles,
sim modules imported at the top. The checker itself must catch a breach."""

from __future__ import annotations

from pathlib import Path

import sim
from sim.layers import check

ROOT = Path(sim.__file__).resolve().parent


def _package(root: Path, files: dict[str, str]) -> Path:
    """A fake ``sim`` package under ``root`` with the given modules."""
    pkg = root / "sim"
    for name, text in {"__init__.py": "", **files}.items():
        path = pkg / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return pkg


def test_the_package_keeps_the_layer_contract() -> None:
    assert [str(v) for v in check(ROOT)] == []


def test_the_checker_refuses_an_upward_import(tmp_path: Path) -> None:
    pkg = _package(tmp_path, {"core/__init__.py": "", "core/base.py": "import sim.ui.shell\n",
                              "ui/__init__.py": "", "ui/shell.py": "X = 1\n"})
    problems = check(pkg)
    assert len(problems) == 1
    assert problems[0].module == "sim.core.base"
    assert "higher layer 'ui'" in problems[0].message


def test_the_checker_refuses_a_cycle(tmp_path: Path) -> None:
    pkg = _package(tmp_path, {"core/__init__.py": "",
                              "core/a.py": "from sim.core import b\n",
                              "core/b.py": "from sim.core import a\n"})
    problems = check(pkg)
    assert [p.message for p in problems] == ["import cycle: sim.core.a -> sim.core.b"]


def test_the_checker_refuses_a_local_import_of_a_sim_module(tmp_path: Path) -> None:
    pkg = _package(tmp_path, {"core/__init__.py": "", "core/a.py": "X = 1\n",
                              "core/b.py": "def f():\n    from sim.core import a\n"
                                           "    return a.X\n"})
    problems = check(pkg)
    assert problems and all("inside a function" in p.message for p in problems)
    assert check(pkg, lazy=False) == []


def test_a_downward_import_is_allowed(tmp_path: Path) -> None:
    pkg = _package(tmp_path, {"core/__init__.py": "", "core/base.py": "X = 1\n",
                              "ui/__init__.py": "", "ui/shell.py": "from sim.core import base\n"})
    assert check(pkg) == []
