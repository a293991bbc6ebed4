"""numpy's PCG64 for compiled code: the same stream, draw for draw.

``numpy.random.default_rng(seed)`` seeds a PCG64 bit generator (a 128-bit linear
congruential generator with the XSL-RR output function, O'Neill 2014) from
``SeedSequence(seed)``; ``Generator.random()`` turns each 64-bit output into a double as
``(x >> 11) * 2**-53``. The functions here do the same on a state held in a ``uint64``
array ``[state_hi, state_lo, inc_hi, inc_lo]``, so compiled loops can draw without
Python objects, and a test checks them against numpy.

Seeding stays with numpy (``SeedSequence`` and ``PCG64``), so the initial states are
numpy's own by construction.
"""

from __future__ import annotations

import numba
import numpy as np

_MULT_HI = np.uint64(2549297995355413924)
_MULT_LO = np.uint64(4865540595714422341)
_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_S11 = np.uint64(11)
_S58 = np.uint64(58)
_S63 = np.uint64(63)
_ONE = np.uint64(1)
_DOUBLE_UNIT = 1.0 / 9007199254740992.0  # 2**-53
_MASK64 = (1 << 64) - 1


@numba.njit(inline="always", cache=True)
def _mulhi(a: np.uint64, b: np.uint64) -> np.uint64:
    """The high 64 bits of the 128-bit product a x b."""
    a_lo, a_hi = a & _M32, a >> _S32
    b_lo, b_hi = b & _M32, b >> _S32
    p0 = a_lo * b_lo
    p1 = a_lo * b_hi
    p2 = a_hi * b_lo
    carry = ((p0 >> _S32) + (p1 & _M32) + (p2 & _M32)) >> _S32
    return a_hi * b_hi + (p1 >> _S32) + (p2 >> _S32) + carry


@numba.njit(cache=True)
def next_uint64(st: np.ndarray) -> np.uint64:
    """Advance the generator one step and return its 64-bit output."""
    hi, lo = st[0], st[1]
    new_lo = lo * _MULT_LO
    new_hi = _mulhi(lo, _MULT_LO) + lo * _MULT_HI + hi * _MULT_LO
    lo2 = new_lo + st[3]
    carry = _ONE if lo2 < new_lo else np.uint64(0)
    hi2 = new_hi + st[2] + carry
    st[0] = hi2
    st[1] = lo2
    x = hi2 ^ lo2
    rot = hi2 >> _S58
    return (x >> rot) | (x << ((-rot) & _S63))


@numba.njit(cache=True)
def random(st: np.ndarray) -> float:
    """One double in [0, 1), as ``Generator.random()``."""
    return float(next_uint64(st) >> _S11) * _DOUBLE_UNIT


@numba.njit(cache=True)
def fill(st: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out`` (any shape, C order) with doubles, as ``Generator.random(out.shape)``."""
    flat = out.reshape(-1)
    for i in range(flat.size):
        flat[i] = random(st)


def _split(value: int) -> tuple[int, int]:
    return (value >> 64) & _MASK64, value & _MASK64


def state_of(bit_generator: np.random.PCG64) -> np.ndarray:
    """The 128-bit state and increment of a numpy PCG64 as ``uint64[4]``."""
    state = bit_generator.state
    if state["bit_generator"] != "PCG64" or state["has_uint32"]:
        raise ValueError("expected a fresh numpy PCG64 bit generator")
    inner = state["state"]
    return np.array([*_split(inner["state"]), *_split(inner["inc"])], dtype=np.uint64)


def write_back(st: np.ndarray, bit_generator: np.random.PCG64) -> None:
    """Set a numpy PCG64 to the state ``st`` (so Python code draws on where a kernel
    stopped)."""
    bit_generator.state = {
        "bit_generator": "PCG64",
        "state": {"state": (int(st[0]) << 64) | int(st[1]),
                  "inc": (int(st[2]) << 64) | int(st[3])},
        "has_uint32": 0, "uinteger": 0}


def project_streams(seed: int) -> np.ndarray:
    """The two streams of one project with this seed, as ``uint64[2, 4]``.

    Row 0 is the model's generator, ``numpy.random.default_rng(seed)`` (what Mesa's
    ``Model(rng=seed)`` makes); row 1 its first spawned child, the stream of event-driven
    draws (newcomers, new managers), so the monthly draws stay paired across scenarios.
    """
    sequence = np.random.SeedSequence(seed)
    out = np.empty((2, 4), dtype=np.uint64)
    out[0] = state_of(np.random.PCG64(sequence))
    out[1] = state_of(np.random.PCG64(sequence.spawn(1)[0]))
    return out
