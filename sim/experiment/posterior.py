"""The posterior sample: loading it as validated parameter values.

A posterior file (Parquet) has one row per draw, equally weighted, and one column per
inferred registry entry (``posterior.parquet`` of ``icsim calibrate``; the case's is
shipped as ``data/case_posterior.parquet``). ``--posterior`` on ``icsim compare``,
``icsim national`` and ``icsim sweep`` gives replicate *i* draw *i* (and seed *i*), so
comparisons stay paired while their intervals carry what the case leaves uncertain.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim.core.errors import UsageError
from sim.core.limits import check_input_file
from sim.core.registry import PARAMETERS, validate

#: The posterior shipped with the repository (the case's calibration).
CASE_POSTERIOR = Path(__file__).resolve().parents[2] / "data" / "case_posterior.parquet"


def load_posterior(path: str | Path) -> pd.DataFrame:
    """A posterior file (or a calibration directory holding ``posterior.parquet``) as a
    frame of validated registry values, one row per draw. Raises ``UsageError`` naming
    the file and the culprit."""
    path = Path(path)
    if path.is_dir():
        path = path / "posterior.parquet"
    if not path.exists():
        raise UsageError(f"no posterior at {path} (a Parquet file, or a calibration "
                         "directory holding posterior.parquet)")
    check_input_file(path, "posterior file", "data")
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise UsageError(f"{path} is not a readable Parquet file: {exc}") from None
    columns = [c for c in frame.columns if c not in ("weight", "draw")]
    unknown = [c for c in columns if c not in PARAMETERS]
    if unknown:
        raise UsageError(f"{path}: column '{unknown[0]}' is not a registry parameter")
    if not columns or frame.empty:
        raise UsageError(f"{path} holds no draws")
    rows = []
    for i, row in enumerate(frame[columns].to_dict("records")):
        try:
            rows.append(validate(row))
        except UsageError as exc:
            raise UsageError(f"{path}, draw {i}: {exc}") from None
    return pd.DataFrame(rows, columns=columns)
