"""The memory a job's inputs take, for its plan: a posterior's draws are held as one
dict of validated values a draw (in the coordinator, and with every batch of runs), so
a posterior of many rows costs memory a plan must show before work starts."""

from __future__ import annotations

from pathlib import Path

from sim.core.limits import Plan

#: Bytes a validated draw takes, per column and per draw (a dict of floats, measured
#: roughly: ~100 bytes an entry, ~400 bytes of dict and list overhead).
BYTES_PER_VALUE = 120
BYTES_PER_DRAW = 400


def posterior_shape(path: str | Path | None) -> tuple[int, int]:
    """``(draws, columns)`` of a posterior file or calibration directory, from the Parquet
    footer alone; ``(0, 0)`` if it cannot be read (its loading then refuses it)."""
    if path is None:
        return 0, 0
    import pyarrow.parquet as pq

    path = Path(path)
    if path.is_dir():
        path = path / "posterior.parquet"
    try:
        meta = pq.read_metadata(path) if path.is_file() else None
    except Exception:  # noqa: BLE001 - refused with its reason when it is loaded
        return 0, 0
    return (meta.num_rows, meta.num_columns) if meta is not None else (0, 0)


def with_inputs(plan: Plan, draws: int = 0, columns: int = 0) -> Plan:
    """``plan`` with the memory of ``draws`` posterior draws of ``columns`` values added."""
    extra = draws * (columns * BYTES_PER_VALUE + BYTES_PER_DRAW)
    return Plan(plan.runs, plan.memory_bytes + extra, plan.output_bytes)
