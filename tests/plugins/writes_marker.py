"""A plug-in module with a side effect on import: it writes the file named by the
environment variable ``ICSIM_TEST_MARKER``. A refused plug-in must leave no such file."""

from __future__ import annotations

import os
from pathlib import Path

_marker = os.environ.get("ICSIM_TEST_MARKER")
if _marker:
    Path(_marker).write_text("imported\n")


def model(params: dict, seed: int) -> dict[str, float]:
    """``y = x1``."""
    return {"y": float(params["x1"])}
