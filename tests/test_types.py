"""mypy finds no type errors in sim/ (the configuration is pyproject.toml's [tool.mypy]).

``make lint`` runs the same check; this test keeps it in the suite, so a wrong type
across a layer boundary fails ``make test`` too. About 30 s of CPU with a cold cache
(mypy's .mypy_cache makes later runs a few seconds), hence ``slow``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_mypy_finds_no_errors_in_sim() -> None:
    stdout, stderr, status = api.run(["--config-file", str(ROOT / "pyproject.toml"),
                                      "--cache-dir", str(ROOT / ".mypy_cache"),
                                      str(ROOT / "sim")])
    assert status == 0, f"mypy sim:\n{stdout}{stderr}"
