"""Writing report files: JSON with NaN as null.

Atomic writing lives in one place, ``sim.experiment.store``: :func:`write_atomic` for a
file, :func:`staged` for a folder of outputs moved into place only when all are written.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from sim.experiment.store import staged, write_atomic

__all__ = ["staged", "write_atomic", "write_json"]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return _clean(value.item())
    return value


def write_json(path: Path, data: Any) -> None:
    """JSON with NaN written as null (valid JSON for other tools)."""
    path.write_text(json.dumps(_clean(data), indent=2) + "\n")
