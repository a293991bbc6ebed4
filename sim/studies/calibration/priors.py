"""The prior of a calibration: draws of every inferred entry, as packed engine inputs.

Draw ``i`` of a stream is a pure function of the calibration's seed, the stream and the
chunk holding ``i``: ``numpy.random.Generator(PCG64(SeedSequence([seed, stream, chunk])))``
draws the chunk's parameters (entries in registry order) and then its run seeds. So the
parameters of any run can be drawn again from its index alone — the reference table
stores statistics, not parameters — and a calibration killed at any point and resumed
gives the same table as one never interrupted, whatever the number of workers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sim.core.registry import PARAMETERS
from sim.core.scenarios import parameters_for
from sim.engine.layout import pack_many
from sim.studies.calibration.spec import CalibrationSpec

#: Streams of draws: the reference table, the synthetic cases of the coverage check, the
#: posterior predictive runs.
REFERENCE, SYNTHETIC, PREDICTIVE = 0, 1, 2


def generator(spec: CalibrationSpec, stream: int, chunk: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        [spec.seed, stream, chunk])))


def base(spec: CalibrationSpec) -> np.ndarray:
    """The scenario's values as one packed row (what is not inferred)."""
    return pack_many([parameters_for(spec.scenario)])


def draw(spec: CalibrationSpec, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` packed prior draws (``PARAM_DTYPE``): inferred entries drawn, the rest the
    scenario's values."""
    params = np.repeat(base(spec), n)
    for name in spec.inferred:
        if name in spec.choices:
            forms = spec.choices[name]
            codes = np.array([PARAMETERS[name].choices.index(f) for f in forms], dtype=float)
            params[name] = codes[rng.integers(len(forms), size=n)]
        else:
            low, high = spec.priors[name]
            if PARAMETERS[name].kind == "int":
                params[name] = rng.integers(int(np.ceil(low)), int(np.floor(high)) + 1,
                                            size=n)
            else:
                params[name] = rng.uniform(low, high, size=n)
    return params


def chunk(spec: CalibrationSpec, stream: int, index: int,
          size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Chunk ``index`` of a stream: its packed parameters and its run seeds."""
    rng = generator(spec, stream, index)
    n = size if size is not None else spec.chunk
    params = draw(spec, rng, n)
    seeds = rng.integers(0, 2**62, size=n, dtype=np.int64)
    return params, seeds


def rows(spec: CalibrationSpec, stream: int, indices: np.ndarray,
         total: int) -> np.ndarray:
    """The packed parameters of runs ``indices`` (of a stream of ``total`` runs), drawn
    again chunk by chunk."""
    indices = np.asarray(indices, dtype=np.int64)
    out = np.empty(len(indices), dtype=base(spec).dtype)
    for c in np.unique(indices // spec.chunk):
        size = min(spec.chunk, total - int(c) * spec.chunk)
        params, _ = chunk(spec, stream, int(c), size)
        here = indices // spec.chunk == c
        out[here] = params[indices[here] - int(c) * spec.chunk]
    return out


def as_values(spec: CalibrationSpec, params: np.ndarray) -> pd.DataFrame:
    """The inferred entries of packed rows as registry values (ints as ints, structural
    choices as their forms), one column per entry in registry order."""
    columns: dict[str, Any] = {}
    for name in spec.inferred:
        p = PARAMETERS[name]
        x = np.asarray(params[name])
        if p.kind == "choice":
            columns[name] = pd.Series(np.asarray(p.choices, dtype=object)[x.astype(int)])
        elif p.kind == "int":
            columns[name] = x.round().astype(np.int64)
        else:
            columns[name] = x.astype(float)
    return pd.DataFrame(columns)
