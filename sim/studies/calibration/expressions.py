"""Statistics of a run written as small arithmetic expressions over its outputs.

A target's ``statistic`` is a field of a run (``pilot_month``, ``host_changes_m36``, a
registry input such as ``team_size``) or arithmetic of fields: ``+ - * /``, unary minus,
numbers, parentheses and ``min(a, b)``, ``max(a, b)``, ``abs(a)``. Nothing else parses
(no attribute access, calls of other names, subscripts or comparisons), so a calibration
file cannot run code. Months of events that did not happen (``pilot_month`` of a run
without a pilot) read as +infinity: "no pilot by month 36" is ``pilot_month > 36``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast

import numpy as np

from sim.core.errors import UsageError

_FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "min": np.minimum, "max": np.maximum, "abs": np.abs}
_BINARY: dict[type, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide}
#: ``<field>_m<month>``: a field read at the end of a month (a probe).
PROBE = re.compile(r"^(?P<field>[a-z_]+?)_m(?P<month>\d+)$")
MAX_LENGTH = 400


@dataclass(frozen=True)
class Expression:
    """A parsed statistic: its text, the fields it reads, and how to evaluate it."""

    text: str
    tree: ast.expr
    names: tuple[str, ...]

    def __call__(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            value = _evaluate(self.tree, columns)
        return np.asarray(value, dtype=float)


def parse_expression(text: object, known: Callable[[str], bool],
                     hint: str = "no output of a run (see docs/case_targets.md for the fields)",
                     ) -> Expression:
    """Parse ``text``; every name must satisfy ``known``. Raises ``UsageError`` in one line
    naming what is wrong (the caller adds the target)."""
    if not isinstance(text, str) or not text.strip():
        raise UsageError(f"a statistic must be a non-empty string, got {text!r}")
    if len(text) > MAX_LENGTH:
        raise UsageError(f"a statistic is at most {MAX_LENGTH} characters long")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise UsageError(f"statistic {text!r} is not arithmetic of run fields") from None
    names: list[str] = []
    _check(tree, text, names)
    for name in names:
        if not known(name):
            raise UsageError(f"statistic {text!r} reads {name!r}, which is {hint}")
    return Expression(text=text.strip(), tree=tree, names=tuple(dict.fromkeys(names)))


def _check(node: ast.AST, text: str, names: list[str]) -> None:
    if isinstance(node, ast.Name):
        names.append(node.id)
    elif isinstance(node, ast.Constant) and isinstance(node.value, int | float) \
            and not isinstance(node.value, bool):
        pass
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        _check(node.left, text, names)
        _check(node.right, text, names)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        _check(node.operand, text, names)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
            and node.func.id in _FUNCTIONS and not node.keywords \
            and len(node.args) == (1 if node.func.id == "abs" else 2):
        for arg in node.args:
            _check(arg, text, names)
    else:
        raise UsageError(f"statistic {text!r}: only numbers, run fields, + - * /, min(a, b), "
                         "max(a, b) and abs(a) are allowed")


def _evaluate(node: ast.expr, columns: Mapping[str, np.ndarray]) -> np.ndarray:
    if isinstance(node, ast.Name):
        return np.asarray(columns[node.id], dtype=float)
    if isinstance(node, ast.Constant):
        return np.asarray(float(cast(float, node.value)))
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_evaluate(node.left, columns),
                                      _evaluate(node.right, columns))
    if isinstance(node, ast.UnaryOp):
        value = _evaluate(node.operand, columns)
        return -value if isinstance(node.op, ast.USub) else value
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    return _FUNCTIONS[node.func.id](*(_evaluate(a, columns) for a in node.args))
