"""numpy's PCG64 for compiled code: the same stream, draw for draw.

``numpy.random.default_rng(seed)`` seeds a PCG64 bit generator (a 128-bit linear
congruential generator with the XSL-RR output function, O'Neill 2014) from
``SeedSequence(seed)``; ``Generator.random()`` turns each 64-bit output into a double as
``(x >> 11) * 2**-53``. The functions here do the same on a state held in a ``uint64``
array ``[state_hi, state_lo, inc_hi, inc_lo]``, so compiled loops can draw without
Python objects, and a test checks them against numpy.

Seeding follows numpy's ``SeedSequence`` (O'Neill's seed_seq hash) and PCG64's
``srandom``, also compiled, so the fast engine can seed a million runs without a Python
object each; :func:`project_streams` builds the same states with numpy's own classes and
a test checks that the two agree.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from llvmlite import ir  # type: ignore[import-untyped]
from numba.core import types
from numba.extending import intrinsic

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


@intrinsic
def _mulhi_native(typingctx: Any, a: Any, b: Any) -> Any:
    """The high 64 bits of the 128-bit product a x b, as one native multiply: both widened
    to LLVM's i128, multiplied, shifted down 64 bits. Exact, as :func:`_mulhi_portable`
    is; x86-64 and AArch64 do it in one instruction (``mul``, ``umulh``)."""
    if a != types.uint64 or b != types.uint64:
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        wide = ir.IntType(128)
        product = builder.mul(builder.zext(args[0], wide), builder.zext(args[1], wide))
        return builder.trunc(builder.lshr(product, ir.Constant(wide, 64)), ir.IntType(64))

    return types.uint64(types.uint64, types.uint64), codegen


@numba.njit(inline="always", cache=True)
def _mulhi(a: np.uint64, b: np.uint64) -> np.uint64:
    """The high 64 bits of the 128-bit product a x b."""
    return _mulhi_native(a, b)  # type: ignore[call-arg]  # numba passes the typing context


@numba.njit(inline="always", cache=True)
def _mulhi_portable(a: np.uint64, b: np.uint64) -> np.uint64:
    """The high 64 bits of the 128-bit product a x b from four 32-bit products (what
    :func:`_mulhi` did before it used the native multiply; tests compare the two)."""
    a_lo, a_hi = a & _M32, a >> _S32
    b_lo, b_hi = b & _M32, b >> _S32
    p0 = a_lo * b_lo
    p1 = a_lo * b_hi
    p2 = a_hi * b_lo
    carry = ((p0 >> _S32) + (p1 & _M32) + (p2 & _M32)) >> _S32
    return a_hi * b_hi + (p1 >> _S32) + (p2 >> _S32) + carry


@numba.njit(inline="always", cache=True)
def next_uint64(streams: np.ndarray, row: int) -> np.uint64:
    """Advance stream ``row`` of a ``uint64[2, 4]`` pair one step; its 64-bit output."""
    hi, lo = streams[row, 0], streams[row, 1]
    new_lo = lo * _MULT_LO
    new_hi = _mulhi(lo, _MULT_LO) + lo * _MULT_HI + hi * _MULT_LO
    lo2 = new_lo + streams[row, 3]
    carry = _ONE if lo2 < new_lo else np.uint64(0)
    hi2 = new_hi + streams[row, 2] + carry
    streams[row, 0] = hi2
    streams[row, 1] = lo2
    x = hi2 ^ lo2
    rot = hi2 >> _S58
    return (x >> rot) | (x << ((-rot) & _S63))


@numba.njit(inline="always", cache=True)
def draw(streams: np.ndarray, row: int) -> float:
    """One double in [0, 1) from stream ``row``, as ``Generator.random()``."""
    # Below 2**53, so exact as an int64, whose conversion is one instruction (a uint64's
    # is not on x86-64).
    return float(np.int64(next_uint64(streams, row) >> _S11)) * _DOUBLE_UNIT


@numba.njit(inline="always", cache=True)
def draw_into(streams: np.ndarray, row: int, out: np.ndarray, count: int) -> None:
    """``out[:count]`` = the next ``count`` doubles of stream ``row``.

    The same steps as :func:`next_uint64`, but the state stays in registers for the whole
    loop and is stored once at the end: stepped through ``streams``, each step waited on the
    store of the one before (the compiler cannot tell that ``out`` does not overlap
    ``streams``)."""
    hi, lo = streams[row, 0], streams[row, 1]
    inc_hi, inc_lo = streams[row, 2], streams[row, 3]
    for i in range(count):
        new_lo = lo * _MULT_LO
        new_hi = _mulhi(lo, _MULT_LO) + lo * _MULT_HI + hi * _MULT_LO
        lo = new_lo + inc_lo
        carry = _ONE if lo < new_lo else np.uint64(0)
        hi = new_hi + inc_hi + carry
        x = hi ^ lo
        rot = hi >> _S58
        bits = ((x >> rot) | (x << ((-rot) & _S63))) >> _S11
        out[i] = float(np.int64(bits)) * _DOUBLE_UNIT  # as draw()
    streams[row, 0] = hi
    streams[row, 1] = lo


@numba.njit(cache=True)
def fill(streams: np.ndarray, row: int, out: np.ndarray) -> None:
    """Fill ``out`` (any shape, C order) from stream ``row``, as
    ``Generator.random(out.shape)``."""
    draw_into(streams, row, out.reshape(-1), out.size)


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


# ---------------------------------------------------------------- compiled seeding
_M32_INT = 0xFFFFFFFF
_INIT_A = np.uint64(0x43B0D7E5)
_MULT_A = np.uint64(0x931E8875)
_INIT_B = np.uint64(0x8B51F9DD)
_MULT_B = np.uint64(0x58F38DED)
_MIX_MULT_L = np.uint64(0xCA01F9DD)
_MIX_MULT_R = np.uint64(0x4973F715)
_XSHIFT = np.uint64(16)
_POOL = 4


@numba.njit(inline="always", cache=True)
def _hashmix(value: np.uint64, hash_const: np.ndarray) -> np.uint64:
    value = (value ^ hash_const[0]) & _M32
    hash_const[0] = (hash_const[0] * _MULT_A) & _M32
    value = (value * hash_const[0]) & _M32
    return value ^ (value >> _XSHIFT)


@numba.njit(inline="always", cache=True)
def _mix(x: np.uint64, y: np.uint64) -> np.uint64:
    result = (_MIX_MULT_L * x - _MIX_MULT_R * y) & _M32
    return result ^ (result >> _XSHIFT)


@numba.njit(cache=True)
def _seed_state(entropy: np.ndarray, out: np.ndarray, row: int) -> None:
    """Stream ``row`` of ``out``: PCG64's state from ``SeedSequence`` entropy words
    (uint32 values held in uint64)."""
    mixer = np.zeros(_POOL, dtype=np.uint64)
    hash_const = np.array([_INIT_A], dtype=np.uint64)
    for i in range(_POOL):
        mixer[i] = _hashmix(entropy[i] if i < entropy.size else np.uint64(0), hash_const)
    for i_src in range(_POOL):
        for i_dst in range(_POOL):
            if i_src != i_dst:
                mixer[i_dst] = _mix(mixer[i_dst], _hashmix(mixer[i_src], hash_const))
    for i_src in range(_POOL, entropy.size):
        for i_dst in range(_POOL):
            mixer[i_dst] = _mix(mixer[i_dst], _hashmix(entropy[i_src], hash_const))
    # generate_state(4, uint64): eight 32-bit words, little-endian pairs
    words = np.empty(8, dtype=np.uint64)
    h = _INIT_B
    for i in range(8):
        value = (mixer[i % _POOL] ^ h) & _M32
        h = (h * _MULT_B) & _M32
        value = (value * h) & _M32
        words[i] = value ^ (value >> _XSHIFT)
    seed_hi = words[0] | (words[1] << _S32)
    seed_lo = words[2] | (words[3] << _S32)
    inc_hi = words[4] | (words[5] << _S32)
    inc_lo = words[6] | (words[7] << _S32)
    # srandom: state = 0, inc = (initseq << 1) | 1, step, state += initstate, step
    out[row, 0] = np.uint64(0)
    out[row, 1] = np.uint64(0)
    out[row, 2] = (inc_hi << _ONE) | (inc_lo >> _S63)
    out[row, 3] = (inc_lo << _ONE) | _ONE
    next_uint64(out, row)
    lo = out[row, 1] + seed_lo
    carry = _ONE if lo < out[row, 1] else np.uint64(0)
    out[row, 0] = out[row, 0] + seed_hi + carry
    out[row, 1] = lo
    next_uint64(out, row)


@numba.njit(cache=True)
def seed_streams(seeds: np.ndarray, out: np.ndarray) -> None:
    """``out[r]`` = the two streams of seed ``seeds[r]`` (as :func:`project_streams`);
    seeds are non-negative integers below 2**63."""
    entropy = np.zeros(6, dtype=np.uint64)
    for r in range(seeds.shape[0]):
        seed = np.uint64(seeds[r])
        lo = seed & _M32
        hi = seed >> _S32
        n = 2 if hi else 1
        entropy[0] = lo
        entropy[1] = hi
        _seed_state(entropy[:n], out[r], 0)
        # the first spawned child: entropy padded to the pool size, then spawn key (0,)
        entropy[2] = np.uint64(0)
        entropy[3] = np.uint64(0)
        if n == 1:
            entropy[1] = np.uint64(0)
        entropy[4] = np.uint64(0)
        _seed_state(entropy[:5], out[r], 1)
