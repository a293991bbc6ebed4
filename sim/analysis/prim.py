"""Scenario discovery with the EMA Workbench's PRIM: where the cases of interest
concentrate in the space of the levers. The Workbench is imported only when PRIM runs."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class PrimResult:
    """PRIM boxes of one case of interest, with the first box's peeling trajectory."""

    boxes: pd.DataFrame  # one row per restricted parameter per box
    stats: pd.DataFrame  # one row per box: coverage, density, mass, res_dim
    trajectory: pd.DataFrame  # peeling trajectory of box 1
    selected: int  # index of the chosen box on that trajectory
    base_rate: float
    ranges: dict[str, tuple[Any, Any]]


def prim_boxes(x: pd.DataFrame, y: np.ndarray, max_boxes: int = 3, mass_min: float = 0.05,
               max_dims: int = 4, min_coverage: float = 0.1) -> PrimResult:
    """Scenario discovery with the EMA Workbench's PRIM (``ema_workbench.analysis.prim``).

    PRIM proposes a peeling trajectory of ever smaller, denser boxes; the analyst picks
    one. Here the pick is automatic and stated: among the boxes restricting at most
    ``max_dims`` parameters (so that they can be read), the one of highest coverage whose
    density is at least halfway from the base rate to 1 -- or the densest if none is.
    Further boxes are sought among the remaining cases while they hold at least
    ``min_coverage`` of the cases at a density above the base rate.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim

    y = np.asarray(y, dtype=bool)
    x = x.reset_index(drop=True)
    for name in x.columns:
        if x[name].dtype == bool or x[name].dtype == object or pd.api.types.is_string_dtype(
                x[name]):
            x[name] = x[name].astype(str).astype("category")
        elif pd.api.types.is_integer_dtype(x[name]):
            # EMA's pasting writes midpoints into the box limits; integer limits (pandas 3)
            # reject them, so integer levers are treated as real numbers.
            x[name] = x[name].astype(float)
    base = float(y.mean())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the Workbench's own pandas deprecations
        finder = prim.Prim(x, y, mass_min=mass_min)
    threshold = base + 0.5 * (1.0 - base)
    box_rows, stat_rows = [], []
    trajectory, selected = pd.DataFrame(), 0
    init = finder.box_init
    ranges = {name: _limits(init, name) for name in x.columns}
    for b in range(max_boxes):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            box = finder.find_box()
        if box is None:
            break
        traj = box.peeling_trajectory.reset_index(drop=True)
        readable = traj[(traj["res_dim"] <= max_dims) & (traj["res_dim"] > 0)]
        if not len(readable):
            break
        meets = readable[readable["density"] >= threshold]
        i = int(meets["coverage"].idxmax()) if len(meets) else int(
            readable["density"].idxmax())
        box.select(i)
        if b == 0:
            trajectory, selected = traj, i
        elif traj.loc[i, "density"] <= base or traj.loc[i, "coverage"] < min_coverage:
            break
        limits = box.box_lims[i]
        restricted = [n for n in x.columns if _limits(limits, n) != ranges[n]]
        stat_rows.append({"box": b + 1, "coverage": float(traj.loc[i, "coverage"]),
                          "density": float(traj.loc[i, "density"]),
                          "mass": float(traj.loc[i, "mass"]),
                          "res_dim": len(restricted), "cases": int(traj.loc[i, "k"]),
                          "runs": int(traj.loc[i, "n"])})
        qp = box.p_values[i] if i < len(box.p_values) else {}
        for name in restricted:
            low, high = _limits(limits, name)
            full_low, full_high = ranges[name]
            q = qp.get(name, [math.nan, math.nan])
            box_rows.append({"box": b + 1, "parameter": name, "low": low, "high": high,
                             "range_low": full_low, "range_high": full_high,
                             "qp_low": _qp(q[0]), "qp_high": _qp(q[1])})
    return PrimResult(pd.DataFrame(box_rows), pd.DataFrame(stat_rows), trajectory, selected,
                      base, ranges)


def _limits(box: pd.DataFrame, name: str) -> tuple[Any, Any]:
    column = box[name]
    low, high = column.iloc[0], column.iloc[1]
    if isinstance(low, set | frozenset):
        text = ", ".join(sorted(str(v) for v in low))
        return text, text
    return float(low), float(high)


def _qp(value: Any) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return math.nan
    return math.nan if value < 0 else value

