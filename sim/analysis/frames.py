"""Typed access to the rows of the result tables the studies and reports iterate."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pandas as pd


def row_tuples(frame: pd.DataFrame, index: bool = True) -> Iterator[Any]:
    """``frame.itertuples(index=index)``, each row typed ``Any``.

    pandas-stubs types every field of an ``itertuples`` row as the union of all pandas
    scalars (str, bytes, Timestamp, Interval, NA, None, ...), so arithmetic, ``math``
    calls and ``float`` parameters fail on the float columns of the result tables. Their
    per-column schema (floats, counts, names) is something the stubs cannot express; the
    cast says so in one place instead of at every field. The rows are unchanged.
    """
    return cast(Iterator[Any], frame.itertuples(index=index))
