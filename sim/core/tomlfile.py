"""TOML parsing that a hostile file cannot turn into a traceback.

``tomllib`` parses nested arrays and inline tables recursively, so about 100 kB of
``x = [[[...]]]`` raises ``RecursionError``; and a value nested thousands deep would make
any later ``repr`` of it (in an error message) recurse too. :func:`loads` raises
``tomllib.TOMLDecodeError`` for both -- the error every reader already turns into one
line naming the file -- and refuses nesting past :data:`MAX_DEPTH`, which no icsim file
needs.
"""

from __future__ import annotations

import tomllib
from typing import Any

#: Arrays and tables nested deeper than this are refused (icsim's files need three).
MAX_DEPTH = 16


def loads(text: str) -> dict[str, Any]:
    """``tomllib.loads(text)``, with too deep nesting a ``TOMLDecodeError``."""
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise tomllib.TOMLDecodeError(
            f"arrays or tables nested too deeply (at most {MAX_DEPTH} levels)") from None
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:  # iterative: the check itself must not recurse
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise tomllib.TOMLDecodeError(
                f"arrays or tables nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return data
