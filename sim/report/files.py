"""Writing results so that an interrupted command leaves nothing half-written.

Files are written into a hidden staging folder beside the output folder and moved into
place, one ``os.replace`` each, only when everything has been written.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def staged(out_dir: str | Path) -> Iterator[Path]:
    """Yield a staging folder; on success move its files into ``out_dir``."""
    out = Path(out_dir)
    parent = out.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    from sim.experiment.leftovers import remove_stale_staging, staging_prefix

    remove_stale_staging(out)  # a killed earlier run's
    stage = Path(tempfile.mkdtemp(prefix=staging_prefix(out), suffix=".staging", dir=parent))
    try:
        yield stage
        out.mkdir(parents=True, exist_ok=True)
        for item in sorted(stage.iterdir()):
            target = out / item.name
            if target.is_dir() and item.is_dir():
                shutil.rmtree(target)
            item.replace(target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


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
