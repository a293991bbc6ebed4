"""Targets as data: what a case says about one run, and each run's distance to it.

A calibration file lists its targets (``[[targets]]``); the case's fourteen (T1–T14 of
docs/case_targets.md) are the targets of ``experiments/calibrate_case.toml``. A target
is one or more *conditions* on statistics of a run (``sim.studies.calibration.expressions``)::

    [[targets]]
    name = "T1"
    label = "pilot starts in months 30-42"
    passage = "After three years of work ... decided to pilot elements of the new service"
    statistic = "pilot_month"
    min = 30            # inclusive bounds: min / max; strict bounds: above / below
    max = 42
    near = 12           # graded: the distance outside [min, max] over 12, capped at 1
    weight = 1          # (default 1)

    [[targets]]
    name = "T6"
    combine = "all"     # missed when any condition is missed ("mean": partial credit)
    conditions = [{ statistic = "small_tasks_month", above = 12 },
                  { statistic = "small_tasks_month - pilot_month", max = 0 }]

``statistics = [...]`` applies one set of bounds to several statistics (combined by
``combine``, default ``mean``). A bound may name a constant of the file's ``[constants]``
table (``min = "high"``): the readings of vague words ("present", "lacking"), which a
calibration can move to see how much the posterior rests on them.

Each target's *term* for a run is in [0, 1]: 0 when met, 1 when missed, and for a graded
condition the shortfall over ``near``. A run's *features* are its terms; the distance
between two runs is the weighted sum of their terms' absolute differences, so the
distance to the case (every target met: all terms 0) is the weighted sum of a run's terms
— the number of missed targets with partial credit for near misses. The same distance
to a synthetic case (one simulated run's terms) is what the coverage check uses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, cast

import numpy as np

from sim.core.errors import UsageError
from sim.core.limits import IDENTIFIER
from sim.core.outputs import FLOAT_FIELDS, GATE_FIELDS, INT_FIELDS, PROBE_FIELDS
from sim.core.registry import PARAMETERS
from sim.run import run_projects
from sim.studies.calibration.expressions import PROBE, Expression, parse_expression
from sim.studies.calibration.national_runs import NationalRuns, national_field, national_fields

#: Fields of a run a statistic may read (besides probes ``<field>_m<month>`` and the
#: numeric registry inputs); event months read +inf when the event did not happen.
RUN_FIELDS = tuple(INT_FIELDS) + tuple(FLOAT_FIELDS) + ("pilot_funding",)
BOUNDS = ("min", "max", "above", "below")
TARGET_KEYS = ("name", "label", "passage", "of", "statistic", "statistics", "conditions",
               "combine", "weight", *BOUNDS, "near")
#: What a target's statistics are of: one run, or a national run of many sites
#: (``sim.studies.calibration.national_runs``).
OF = ("run", "national")
CONDITION_KEYS = ("statistic", *BOUNDS, "near")
#: A target met by at least this share of prior runs says little: flagged uninformative.
UNINFORMATIVE = 0.95
NATIONAL_HINT = ("no field of a national run (share_<gate>_m<month>[_funded|_unfunded] with "
                 "gate pilot, commissioned, integrated, small_tasks or collapse; share_funded; "
                 "average_<float output>)")
MAX_TARGETS = 200


def known_field(name: str, months: int) -> bool:
    """Whether a statistic may read ``name`` in a run of ``months`` months."""
    if name in RUN_FIELDS:
        return True
    parameter = PARAMETERS.get(name)
    if parameter is not None and parameter.kind in ("float", "int", "bool"):
        return True
    probe = PROBE.match(name)
    return bool(probe and probe["field"] in PROBE_FIELDS
                and 1 <= int(probe["month"]) <= months)


@dataclass(frozen=True)
class Condition:
    """``statistic`` within bounds; graded by ``near`` when given (inclusive bounds)."""

    statistic: Expression
    low: float = -math.inf
    high: float = math.inf
    strict_low: bool = False
    strict_high: bool = False
    near: float | None = None

    def term(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        x = self.statistic(columns)
        if self.near is not None:
            with np.errstate(invalid="ignore"):
                shortfall = np.maximum(np.maximum(self.low - x, x - self.high), 0.0)
            graded = np.minimum(1.0, shortfall / self.near)
            return np.where(np.isnan(graded), 1.0, graded)
        above = x > self.low if self.strict_low else x >= self.low
        below = x < self.high if self.strict_high else x <= self.high
        return np.where(above & below, 0.0, 1.0)  # NaN compares False: missed

    def describe(self) -> str:
        parts = []
        if self.low > -math.inf:
            parts.append(f"{'>' if self.strict_low else '>='} {self.low:g}")
        if self.high < math.inf:
            parts.append(f"{'<' if self.strict_high else '<='} {self.high:g}")
        graded = f" (graded over {self.near:g})" if self.near is not None else ""
        return f"{self.statistic.text} {' and '.join(parts)}{graded}"


@dataclass(frozen=True)
class Target:
    name: str
    label: str
    conditions: tuple[Condition, ...]
    combine: str = "all"  # "all": missed if any is; "mean": the mean of the terms
    weight: float = 1.0
    passage: str = ""
    of: str = "run"  # "national": the statistics read a national run's fields

    def term(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        terms = np.stack([c.term(columns) for c in self.conditions])
        combined: np.ndarray = terms.max(axis=0) if self.combine == "all" else terms.mean(axis=0)
        return combined

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n for c in self.conditions for n in c.statistic.names))


def probe_months(targets: Sequence[Target]) -> tuple[int, ...]:
    """The months at whose end the targets read a probe."""
    months = {int(m["month"]) for t in targets if t.of == "run" for name in t.fields
              if (m := PROBE.match(name)) and name not in RUN_FIELDS}
    return tuple(sorted(months))


def prepare(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run outputs as statistics read them: event months not reached are +inf."""
    out = dict(columns)
    for name in GATE_FIELDS:
        if name in out:
            out[name] = np.where(np.isnan(np.asarray(out[name], dtype=float)), np.inf,
                                 np.asarray(out[name], dtype=float))
    return out


def features(targets: Sequence[Target], columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """Every run's terms, ``float[runs, targets]`` in [0, 1] (0: met)."""
    prepared = prepare(columns)
    stacked: np.ndarray = np.stack([t.term(prepared) for t in targets], axis=1)
    return stacked


def weights(targets: Sequence[Target]) -> np.ndarray:
    return np.array([t.weight for t in targets], dtype=float)


def distance(targets: Sequence[Target], columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """The distance of every run to the case: the weighted sum of its terms."""
    d: np.ndarray = features(targets, columns) @ weights(targets)
    return d


def simulate(targets: Sequence[Target], params: np.ndarray, seeds: Sequence[int] | np.ndarray,
             months: int, national: NationalRuns | None = None) -> dict[str, np.ndarray]:
    """Runs of the fast engine (packed parameters) with the probes and inputs the targets
    read, as a dict of arrays; with national targets, also each simulation's national run
    (``national``: how it is made) reduced to the national fields they read."""
    columns: dict[str, np.ndarray] = run_projects(params, cast(Sequence[int], seeds), months,
                                                  probe_months=probe_months(targets),
                                                  as_arrays=True)
    for t in targets:
        if t.of != "run":
            continue
        for name in t.fields:
            if name in PARAMETERS and name not in columns:
                columns[name] = np.asarray(params[name], dtype=float)
    wanted = tuple(dict.fromkeys(n for t in targets if t.of == "national" for n in t.fields))
    if wanted:
        if national is None:
            raise ValueError("national targets need the [national] configuration")
        columns.update(national_fields(national, params, np.asarray(seeds, dtype=np.int64),
                                       months, wanted))
    return columns


# ------------------------------------------------------------------ parsing
def parse_targets(raw: Any, constants: Mapping[str, float], months: int,
                  source: str) -> tuple[Target, ...]:
    """``[[targets]]`` of a calibration file; one-line ``UsageError`` naming the target."""
    if not isinstance(raw, list) or not raw or not all(isinstance(t, dict) for t in raw):
        raise UsageError(f"{source}: [[targets]] must list at least one target table")
    if len(raw) > MAX_TARGETS:
        raise UsageError(f"{source}: at most {MAX_TARGETS} targets, got {len(raw)}")
    targets = []
    seen: set[str] = set()
    for i, table in enumerate(raw):
        name = table.get("name", f"#{i + 1}")
        where = f"{source}: target {name!r}"

        def err(message: str, where: str = where) -> NoReturn:
            raise UsageError(f"{where}: {message}")

        if not isinstance(name, str) or not IDENTIFIER.match(name) or len(name) > 40:
            err("'name' must be a plain identifier")
        if name in seen:
            err("is listed twice (it would weigh twice in the distance)")
        seen.add(name)
        unknown = [k for k in table if k not in TARGET_KEYS]
        if unknown:
            err(f"unknown key '{unknown[0]}'; allowed: {', '.join(TARGET_KEYS)}")
        given = [k for k in ("statistic", "statistics", "conditions") if k in table]
        if len(given) != 1:
            err("give exactly one of 'statistic', 'statistics' or 'conditions'")
        combine = table.get("combine", "all" if given[0] != "statistics" else "mean")
        if combine not in ("all", "mean"):
            err(f"'combine' must be 'all' or 'mean', got {combine!r}")
        weight = table.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, int | float) \
                or not math.isfinite(weight) or weight <= 0:
            err(f"'weight' must be a number > 0, got {weight!r}")
        for key in ("label", "passage"):
            if not isinstance(table.get(key, ""), str):
                err(f"'{key}' must be a string")
        of = table.get("of", "run")
        if of not in OF:
            err(f"'of' must be one of {', '.join(OF)}, got {of!r}")
        try:
            if given[0] == "conditions":
                items = table["conditions"]
                if not isinstance(items, list) or not items or \
                        not all(isinstance(c, dict) for c in items):
                    err("'conditions' must be a list of tables")
                extra = [k for k in BOUNDS + ("near",) if k in table]
                if extra:
                    err(f"'{extra[0]}' belongs inside each condition")
                conditions = [_condition(c, constants, months, of) for c in items]
            else:
                texts = table[given[0]]
                if given[0] == "statistics" and (not isinstance(texts, list) or not texts):
                    err("'statistics' must be a non-empty list of statistics")
                texts = texts if isinstance(texts, list) else [texts]
                bounds = {k: table[k] for k in BOUNDS + ("near",) if k in table}
                conditions = [_condition({"statistic": s, **bounds}, constants, months, of)
                              for s in texts]
        except UsageError as exc:
            err(str(exc))
        targets.append(Target(name=name, label=str(table.get("label", "")) or name,
                              conditions=tuple(conditions), combine=combine,
                              weight=float(weight), passage=str(table.get("passage", "")),
                              of=of))
    return tuple(targets)


def _bound(value: Any, constants: Mapping[str, float], key: str) -> float:
    if isinstance(value, str):
        if value not in constants:
            names = ", ".join(constants) or "none defined"
            raise UsageError(f"'{key}' names the constant {value!r}, which [constants] does "
                             f"not define ({names})")
        return float(constants[value])
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise UsageError(f"'{key}' must be a number or a [constants] name, got {value!r}")
    return float(value)


def _condition(table: Mapping[str, Any], constants: Mapping[str, float],
               months: int, of: str = "run") -> Condition:
    unknown = [k for k in table if k not in CONDITION_KEYS]
    if unknown:
        raise UsageError(f"unknown key '{unknown[0]}' in a condition; allowed: "
                         f"{', '.join(CONDITION_KEYS)}")
    if "statistic" not in table:
        raise UsageError("a condition needs a 'statistic'")
    if of == "national":
        statistic = parse_expression(table["statistic"], lambda n: national_field(n, months),
                                     NATIONAL_HINT)
    else:
        statistic = parse_expression(table["statistic"], lambda n: known_field(n, months))
    if "min" in table and "above" in table or "max" in table and "below" in table:
        raise UsageError("give 'min' or 'above', and 'max' or 'below', not both")
    if not any(k in table for k in BOUNDS):
        raise UsageError(f"statistic {statistic.text!r} needs a bound: min, max, above or "
                         "below")
    low, strict_low = -math.inf, False
    high, strict_high = math.inf, False
    if "min" in table:
        low = _bound(table["min"], constants, "min")
    if "above" in table:
        low, strict_low = _bound(table["above"], constants, "above"), True
    if "max" in table:
        high = _bound(table["max"], constants, "max")
    if "below" in table:
        high, strict_high = _bound(table["below"], constants, "below"), True
    if low > high or (low == high and (strict_low or strict_high)):
        raise UsageError(f"statistic {statistic.text!r}: its bounds admit no value")
    near = table.get("near")
    if near is not None:
        if isinstance(near, bool) or not isinstance(near, int | float) \
                or not math.isfinite(near) or near <= 0:
            raise UsageError(f"'near' must be a number > 0, got {near!r}")
        if strict_low or strict_high:
            raise UsageError("'near' grades inclusive bounds (min, max), not above/below")
        near = float(near)
    return Condition(statistic=statistic, low=low, high=high, strict_low=strict_low,
                     strict_high=strict_high, near=near)
