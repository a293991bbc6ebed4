"""Designs (SALib Sobol and Morris, scipy LHS, full-factorial grids) and the seed scheme.

A design is a matrix of points x swept parameters. Every point is run ``replicates`` times;
run ``i`` is point ``i // replicates``, replicate ``i % replicates``, and its seed depends
only on (experiment seed, point, replicate) -- never on the worker, the backend or the
order in which runs complete.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.experiment.spec import Experiment, Lever, Scalar

SEED_SCHEME = ("seed(point, replicate) = int(numpy.random.SeedSequence([experiment_seed, "
               "point, replicate]).generate_state(1, numpy.uint64)[0] >> 1), a 63-bit integer")


def run_seed(experiment_seed: int, point: int, replicate: int) -> int:
    """The seed of one run, derived from (experiment seed, point, replicate) alone."""
    state = np.random.SeedSequence([experiment_seed, point, replicate]).generate_state(
        1, np.uint64)
    return int(state[0] >> np.uint64(1))


# numpy's SeedSequence (numpy/random/bit_generator.pyx), its constants and steps, on
# many entropy arrays at once: run_seeds gives run_seed's seeds, bit for bit.
_INIT_A, _MULT_A = np.uint32(0x43B0D7E5), np.uint32(0x931E8875)
_INIT_B, _MULT_B = np.uint32(0x8B51F9DD), np.uint32(0x58F38DED)
_MIX_L, _MIX_R = np.uint32(0xCA01F9DD), np.uint32(0x4973F715)
_XSHIFT = np.uint32(16)
_POOL = 4


def _words(values: np.ndarray) -> list[np.ndarray]:
    """A non-negative integer's little-endian 32-bit words, as SeedSequence coerces it
    (one word below 2**32, two below 2**64); all values here need the same count."""
    low = (values & 0xFFFFFFFF).astype(np.uint32)
    return [low] if int(values.max(initial=0)) < 2**32 else \
        [low, (values >> 32).astype(np.uint32)]


def _seed_group(entropy: list[np.ndarray]) -> np.ndarray:
    n = len(entropy[0])
    hash_const = np.full(n, _INIT_A, dtype=np.uint32)

    def hashmix(value: np.ndarray) -> np.ndarray:
        nonlocal hash_const
        value = value ^ hash_const
        hash_const = hash_const * _MULT_A
        value = value * hash_const
        return value ^ (value >> _XSHIFT)

    def mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        result: np.ndarray = _MIX_L * x - _MIX_R * y
        mixed: np.ndarray = result ^ (result >> _XSHIFT)
        return mixed

    zero = np.zeros(n, dtype=np.uint32)
    pool = [hashmix(entropy[i] if i < len(entropy) else zero) for i in range(_POOL)]
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                pool[dst] = mix(pool[dst], hashmix(pool[src]))
    for src in range(_POOL, len(entropy)):
        for dst in range(_POOL):
            pool[dst] = mix(pool[dst], hashmix(entropy[src]))
    out = []
    hash_b = np.full(n, _INIT_B, dtype=np.uint32)
    for k in range(2):  # one uint64: two 32-bit words, low first
        value = pool[k] ^ hash_b
        hash_b = hash_b * _MULT_B
        value = value * hash_b
        out.append(value ^ (value >> _XSHIFT))
    state = out[0].astype(np.uint64) | (out[1].astype(np.uint64) << np.uint64(32))
    return (state >> np.uint64(1)).astype(np.int64)


def run_seeds(experiment_seed: int, points: np.ndarray, replicates: np.ndarray) -> np.ndarray:
    """:func:`run_seed` of many runs at once, ``int64``: the same seeds, bit for bit, about
    a hundred times faster (numpy's SeedSequence steps on whole columns)."""
    points = np.asarray(points, dtype=np.int64)
    replicates = np.asarray(replicates, dtype=np.int64)
    if experiment_seed < 0 or (points.size and (points.min() < 0 or replicates.min() < 0)):
        raise ValueError("seeds, points and replicates must be >= 0")
    out = np.empty(points.shape, dtype=np.int64)
    big_p = points >= 2**32
    big_r = replicates >= 2**32
    seed_words = _words(np.full(1, experiment_seed, dtype=np.uint64))
    with np.errstate(over="ignore"):
        for wide_p in (False, True):
            for wide_r in (False, True):
                take = (big_p == wide_p) & (big_r == wide_r)
                if not take.any():
                    continue
                p, r = points[take], replicates[take]
                entropy = [np.broadcast_to(w, p.shape) for w in seed_words]
                entropy += _words(p.astype(np.uint64)) if wide_p else [p.astype(np.uint32)]
                entropy += _words(r.astype(np.uint64)) if wide_r else [r.astype(np.uint32)]
                out[take] = _seed_group(entropy)
    return out


@dataclass(frozen=True)
class Design:
    """The points of a sweep and how runs map onto them.

    ``x`` holds the design coordinates: continuous values for Sobol, Morris and LHS (what
    SALib's analysis expects), level indices for grids. ``point_columns`` holds the values
    passed to the model, one typed array per swept parameter.
    """

    method: str
    levers: tuple[Lever, ...]
    x: np.ndarray
    problem: dict[str, Any]
    replicates: int
    seed: int
    second_order: bool = False
    levels: int = 4
    grid: tuple[tuple[Scalar, ...], ...] = ()  # the levels of each parameter of a grid

    @property
    def names(self) -> list[str]:
        return [lever.name for lever in self.levers]

    @property
    def n_points(self) -> int:
        return int(self.x.shape[0])

    @property
    def n_runs(self) -> int:
        return self.n_points * self.replicates

    @property
    def point_columns(self) -> dict[str, np.ndarray]:
        """The model's values at every point, one array per parameter."""
        cached = self.__dict__.get("_point_columns")
        if cached is None:
            cached = {lever.name: _column(lever, self.x[:, j],
                                          self.grid[j] if self.grid else None)
                      for j, lever in enumerate(self.levers)}
            object.__setattr__(self, "_point_columns", cached)
        return cached

    def point_params(self, point: int) -> dict[str, Scalar]:
        """The parameter values of one point as plain Python values."""
        return {name: col[point].item() if hasattr(col[point], "item") else col[point]
                for name, col in self.point_columns.items()}

    def run_columns(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """``point``, ``replicate``, ``seed`` and the parameter values of runs [start, stop)."""
        index = np.arange(start, stop, dtype=np.int64)
        points = index // self.replicates
        replicates = index % self.replicates
        seeds = run_seeds(self.seed, points, replicates)
        columns: dict[str, np.ndarray] = {"point": points, "replicate": replicates,
                                          "seed": seeds}
        for name, col in self.point_columns.items():
            columns[name] = col[points]
        return columns

    @property
    def sha256(self) -> str:
        """A fingerprint of the design matrix: a resumed sweep must regenerate the same.
        Computed once (checking a sweep's parts asks for it once a part: hashing the
        matrix each time made reading a 940,000-run screening quadratic, 7 CPU-minutes)."""
        cached = self.__dict__.get("_sha256")
        if cached is None:
            digest = hashlib.sha256()
            digest.update(f"{self.method}|{self.replicates}|{self.seed}|{self.names}".encode())
            # the matrix's bytes as they lie (no copy of them): the digest of tobytes()
            digest.update(np.ascontiguousarray(self.x, dtype=np.float64).data)
            cached = digest.hexdigest()
            object.__setattr__(self, "_sha256", cached)
        return cached


def _column(lever: Lever, x: np.ndarray, levels: Sequence[Scalar] | None) -> np.ndarray:
    kind = lever.arrow_type
    if levels is not None:  # a grid: the levels typed once, then taken by index
        dtype = {"float64": np.float64, "int64": np.int64, "bool": bool}.get(kind, object)
        typed = np.empty(len(levels), dtype=dtype)
        typed[:] = list(levels)
        return typed[x.astype(np.int64)]
    values = [lever.to_value(float(v)) for v in x]
    if kind == "float64":
        return np.asarray(values, dtype=np.float64)
    if kind == "int64":
        return np.asarray(values, dtype=np.int64)
    if kind == "bool":
        return np.asarray(values, dtype=bool)
    return np.asarray(values, dtype=object)


def _grid_points(sizes: Sequence[int]) -> np.ndarray:
    """Every combination of level indices, one row each, the last lever fastest (the
    order of ``itertools.product``), as floats: built a column at a time, so a grid of
    millions of points holds no tuple per point and no copy of the whole matrix."""
    n = math.prod(sizes)
    x = np.empty((n, len(sizes)))
    for j, size in enumerate(sizes):
        inner = math.prod(sizes[j + 1:])
        x[:, j] = np.tile(np.repeat(np.arange(size, dtype=float), inner), n // (size * inner))
    return x


def make_design(experiment: Experiment) -> Design:
    """Build the design an experiment file declares."""
    levers = experiment.levers
    problem: dict[str, Any] = {
        "num_vars": len(levers),
        "names": [lever.name for lever in levers],
        "bounds": [list(lever.sample_bounds) for lever in levers],
    }
    method = experiment.method
    if method == "sobol":
        from SALib.sample import sobol

        x = sobol.sample(problem, experiment.samples, calc_second_order=experiment.second_order,
                         scramble=True, seed=experiment.seed)
    elif method == "morris":
        from SALib.sample import morris

        x = morris.sample(problem, experiment.samples, num_levels=experiment.levels,
                          seed=experiment.seed)
    elif method == "lhs":
        from scipy.stats import qmc

        unit = qmc.LatinHypercube(d=len(levers), rng=np.random.default_rng(experiment.seed)
                                  ).random(experiment.samples)
        low = np.array([b[0] for b in problem["bounds"]])
        high = np.array([b[1] for b in problem["bounds"]])
        x = qmc.scale(unit, low, high)
    elif method == "grid":
        grids = [lever.grid_values(experiment.levels) for lever in levers]
        x = _grid_points([len(g) for g in grids])
        problem["bounds"] = [[0.0, float(len(g))] for g in grids]
    else:  # pragma: no cover - the spec validates the method
        raise ValueError(f"unknown method {method!r}")
    grid = tuple(tuple(g) for g in grids) if method == "grid" else ()
    x = np.ascontiguousarray(x, dtype=np.float64)
    np.clip(x, [b[0] for b in problem["bounds"]], [b[1] for b in problem["bounds"]], out=x)
    return Design(method=method, levers=levers, x=x, problem=problem,
                  replicates=experiment.replicates, seed=experiment.seed,
                  second_order=experiment.second_order, levels=experiment.levels, grid=grid)
