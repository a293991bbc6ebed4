"""The posterior sample: loading it as validated parameter values.

A posterior file (Parquet) has one row per draw, equally weighted (or a ``weight``
column, by which it is resampled), and one column per inferred registry entry
(``posterior.parquet`` of ``icsim calibrate``; the case's is
shipped as ``data/case_posterior.parquet``). ``--posterior`` on ``icsim compare``,
``icsim national`` and ``icsim sweep`` gives replicate *i* draw *i* (and seed *i*), so
comparisons stay paired while their intervals carry what the case leaves uncertain.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from sim.core.errors import UsageError
from sim.core.limits import ceiling, check_input_file, how_to_raise
from sim.core.registry import PARAMETERS, validate

#: The posterior shipped with the repository (the case's calibration).
CASE_POSTERIOR = Path(__file__).resolve().parents[2] / "data" / "case_posterior.parquet"


def _check_shape(path: Path) -> None:
    """Count the rows and name the columns from the file's footer, before reading it: past
    the ceiling of draws (``ICSIM_MAX_POSTERIOR_DRAWS``) or with a column twice, refused
    in one line (a small file can hold millions of rows, each validated)."""
    import pyarrow.parquet as pq


    try:
        meta = pq.read_metadata(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"{path} is not a readable Parquet file: {text}") from None
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise UsageError(f"{path}: column '{name}' appears twice")
        seen.add(name)
    top = ceiling("posterior_draws")
    if meta.num_rows > top:
        raise UsageError(f"{path} holds {meta.num_rows:,} draws, past the ceiling {top:,}; "
                         f"thin it, or {how_to_raise('posterior_draws')}")


def _resampled(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """A weighted population (a ``weight`` column, e.g. the last SMC generation) as as
    many equally weighted draws, resampled by the weights (systematic resampling: the same
    file gives the same draws). Weights must be numbers, finite, non-negative and not all
    zero; anything else is refused in one line."""
    import numpy as np

    try:
        w = pd.to_numeric(frame["weight"], errors="raise").to_numpy(float)
    except (TypeError, ValueError):
        raise UsageError(f"{path}: column 'weight' must hold numbers") from None
    if not np.isfinite(w).all():
        raise UsageError(f"{path}: column 'weight' holds NaN or infinite values; weights "
                         "must be finite numbers >= 0")
    if (w < 0).any():
        raise UsageError(f"{path}: column 'weight' holds negative values; weights must be "
                         "finite numbers >= 0")
    if w.sum() <= 0:
        raise UsageError(f"{path}: every weight is 0; at least one draw must carry weight")
    n = len(w)
    positions = (np.arange(n) + 0.5) / n
    picks = np.minimum(np.searchsorted(np.cumsum(w / w.sum()), positions), n - 1)
    return frame.iloc[picks].drop(columns="weight").reset_index(drop=True)


def draws_sha256(draws: pd.DataFrame) -> str:
    """The hash a run records of the posterior draws it uses (a sweep's ``--posterior``,
    ``icsim national``'s): of their JSON text, so the same draws give the same hash
    whatever file they came from."""
    return hashlib.sha256(draws.to_json().encode()).hexdigest()


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
    _check_shape(path)
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise UsageError(f"{path} is not a readable Parquet file: {exc}") from None
    if "weight" in frame.columns:
        frame = _resampled(frame, path)
    columns = [c for c in frame.columns if c not in ("weight", "draw")]
    unknown = [c for c in columns if c not in PARAMETERS]
    if unknown:
        raise UsageError(f"{path}: column '{unknown[0]}' is not a registry parameter")
    if not columns or frame.empty:
        raise UsageError(f"{path} holds no draws")
    checked = _checked_columns(frame[columns])
    if checked is not None:
        return checked
    # a column failed its whole-column check: find the first draw at fault, row by row
    rows = []
    for i, row in enumerate(frame[columns].to_dict("records")):
        try:
            rows.append(validate(cast(dict[str, Any], row)))  # columns: registry names
        except UsageError as exc:
            raise UsageError(f"{path}, draw {i}: {exc}") from None
    return pd.DataFrame(rows, columns=columns)


def _checked_columns(frame: pd.DataFrame) -> pd.DataFrame | None:
    """``frame`` validated a column at a time (as ``validate`` row by row would, with the
    same types: float, int, bool, str), or None when any column fails (the caller then
    names the draw)."""
    out: dict[str, Any] = {}
    for name in frame.columns:
        p, column = PARAMETERS[name], frame[name]
        values = column.to_numpy()
        if p.kind == "choice":
            if not all(isinstance(v, str) for v in values):
                return None
            stripped = [v.strip() for v in values]
            if not set(stripped) <= set(p.choices):
                return None
            out[name] = stripped
        elif p.kind == "bool":
            if values.dtype != bool and not (values.dtype.kind in "iuf"
                                             and np.isin(values, (0, 1)).all()):
                return None
            out[name] = values.astype(bool)
        else:
            if values.dtype.kind not in "iuf":
                return None
            numbers = values.astype(float)
            if np.isnan(numbers).any() or (numbers < p.low).any() or (numbers > p.high).any():
                return None
            if p.kind == "int":
                if not (numbers == np.round(numbers)).all():
                    return None
                out[name] = numbers.astype(np.int64)
            else:
                out[name] = numbers
    return pd.DataFrame(out, columns=list(frame.columns))
