"""Calibration files (TOML): what to infer, from which targets, how hard to try.

::

    name = "calibrate_case"
    description = "The case's assumptions, inferred from its fourteen statistics"
    seed = 20140101
    population = 400            # particles per generation (>= 2)
    generations = 8             # stop after this many generations ...
    min_epsilon = 0.0           # ... or when the acceptance threshold falls this low ...
    max_simulations = 500000    # ... or after this many simulations in all ...
    min_acceptance_rate = 0.01  # ... or when a generation accepts fewer than this share
    draws = 4000                # equally weighted posterior draws written out
    scenario = "baseline"       # the values of everything not inferred
    targets = ["T1", "T2"]      # default: all fourteen (sim.studies.calibration.targets)

    [thresholds]                # readings of vague words (T11-T14); defaults shown
    high = 0.6
    low = 0.4
    middling = [0.3, 0.7]
    spread = 0.1

    [parameters]                # the priors: uniform over ...
    progress_rate = "plausible" # ... the registry's plausible range, or
    turnover_rate = [0.05, 0.2] # ... an explicit range inside the registry's bounds

Every error is a one-line ``UsageError`` naming the file and the culprit.
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from sim.core.errors import UsageError
from sim.core.limits import IDENTIFIER, ceiling, read_text_file
from sim.core.registry import PARAMETERS
from sim.core.scenarios import split
from sim.core.tomlfile import loads as toml_loads
from sim.studies.calibration.targets import TARGETS, Thresholds

ALLOWED = ("name", "description", "seed", "population", "generations", "min_epsilon",
           "max_simulations", "min_acceptance_rate", "draws", "scenario", "months",
           "targets", "thresholds", "parameters")
#: Ceilings that keep a calibration from running away (raise them deliberately here).
MAX_POPULATION = 100_000
MAX_GENERATIONS = 100


@dataclass(frozen=True)
class CalibrationSpec:
    name: str
    priors: dict[str, tuple[float, float]]  # name -> (low, high), uniform
    targets: tuple[str, ...] = tuple(TARGETS)
    thresholds: Thresholds = field(default_factory=Thresholds)
    seed: int = 0
    population: int = 400
    generations: int = 8
    min_epsilon: float = 0.0
    max_simulations: int = 500_000
    min_acceptance_rate: float = 0.01
    draws: int = 4000
    scenario: str = "baseline"
    months: int = 60
    description: str = ""
    text: str = ""
    source: str = "<string>"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def load_calibration(path: str | Path) -> CalibrationSpec:
    text = read_text_file(path, "calibration file")
    return parse_calibration(text, source=str(path))


def parse_calibration(text: str, source: str = "<string>") -> CalibrationSpec:
    def err(message: str) -> NoReturn:
        raise UsageError(f"{source}: {message}")

    try:
        data = toml_loads(text)  # nesting past a ceiling is a TOMLDecodeError
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{source}: not valid TOML: {exc}") from None
    unknown = [k for k in data if k not in ALLOWED]
    if unknown:
        err(f"unknown key '{unknown[0]}'; allowed keys: {', '.join(ALLOWED)}")

    def whole(key: str, default: int, low: int, high: int | None = None) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < low \
                or (high is not None and value > high):
            bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
            err(f"'{key}' must be a whole number {bound}, got {value!r}")
        return value

    name = data.get("name", Path(source).stem)

    if not isinstance(name, str) or not IDENTIFIER.match(name) or len(name) > 100:
        err(f"'name' must be a plain identifier, got {name!r}")
    population = whole("population", 400, 2, MAX_POPULATION)
    generations = whole("generations", 8, 1, MAX_GENERATIONS)
    seed = whole("seed", 0, 0)
    max_simulations = whole("max_simulations", 500_000, population, ceiling("runs"))
    draws = whole("draws", 4000, 1, 1_000_000)
    months = whole("months", 60, 42, 600)
    min_epsilon = data.get("min_epsilon", 0.0)
    if isinstance(min_epsilon, bool) or not isinstance(min_epsilon, int | float) \
            or not math.isfinite(min_epsilon) or min_epsilon < 0:
        err(f"'min_epsilon' must be a number >= 0, got {min_epsilon!r}")
    min_rate = data.get("min_acceptance_rate", 0.01)
    if isinstance(min_rate, bool) or not isinstance(min_rate, int | float) \
            or not 0 <= min_rate < 1:
        err(f"'min_acceptance_rate' must be a number in [0, 1), got {min_rate!r}")
    scenario = data.get("scenario", "baseline")
    try:
        split(scenario)
    except UsageError as exc:
        err(str(exc))
    targets = data.get("targets", list(TARGETS))
    if not isinstance(targets, list) or not targets:
        err("'targets' must be a non-empty list of target names")
    for target in targets:
        if target not in TARGETS:
            err(f"unknown target {target!r}; targets: {', '.join(TARGETS)}")
    if len(set(targets)) != len(targets):
        twice = next(t for i, t in enumerate(targets) if t in targets[:i])
        err(f"target '{twice}' is listed twice (it would weigh twice in the distance)")
    raw = data.get("thresholds", {})
    if not isinstance(raw, dict):
        err("[thresholds] must be a table")
    extra = [k for k in raw if k not in ("high", "low", "middling", "spread")]
    if extra:
        err(f"unknown threshold '{extra[0]}'; thresholds: high, low, middling, spread")
    def share(value: Any) -> bool:
        return (isinstance(value, int | float) and not isinstance(value, bool)
                and 0 <= value <= 1)

    for key in ("high", "low", "spread"):
        if key in raw and not share(raw[key]):
            err(f"threshold '{key}' must be a number in [0, 1], got {raw[key]!r}")
    if float(raw.get("high", 0.6)) <= float(raw.get("low", 0.4)):
        err(f"threshold 'high' ({raw.get('high', 0.6)}) must be above 'low' "
            f"({raw.get('low', 0.4)})")
    middling = raw.get("middling", (0.3, 0.7))
    if not (isinstance(middling, list | tuple) and len(middling) == 2
            and all(share(v) for v in middling) and middling[0] < middling[1]):
        err(f"threshold 'middling' must be [low, high] in [0, 1] with low < high, got "
            f"{middling!r}")
    thresholds = Thresholds(
        high=float(raw.get("high", 0.6)), low=float(raw.get("low", 0.4)),
        middling=(float(middling[0]), float(middling[1])), spread=float(raw.get("spread", 0.1)))
    params = data.get("parameters")
    if not isinstance(params, dict) or not params:
        err("[parameters] must name at least one parameter to infer")
    priors: dict[str, tuple[float, float]] = {}
    for pname, prior in params.items():
        p = PARAMETERS.get(pname)
        if p is None:
            err(f"unknown parameter '{pname}'; see 'icsim params'")
        if p.kind not in ("float", "int") or p.level == "national":
            err(f"parameter '{pname}' cannot be inferred: only numbers of one project can")
        if prior == "plausible":
            low, high = p.plausible_range
            priors[pname] = (float(low), float(high))
        elif (isinstance(prior, list) and len(prior) == 2
              and all(isinstance(v, int | float) and not isinstance(v, bool) for v in prior)):
            low, high = float(prior[0]), float(prior[1])
            if not (p.low <= low < high <= p.high):
                err(f"prior of '{pname}' [{low:g}, {high:g}] must lie inside the registry's "
                    f"bounds [{p.low:g}, {p.high:g}] with low < high")
            priors[pname] = (low, high)
        else:
            err(f"prior of '{pname}' must be \"plausible\" or [low, high], got {prior!r}")
    return CalibrationSpec(name=name, priors=priors, targets=tuple(targets),
                           thresholds=thresholds, seed=seed, population=population,
                           generations=generations, min_epsilon=float(min_epsilon),
                           max_simulations=max_simulations,
                           min_acceptance_rate=float(min_rate), draws=draws, scenario=scenario,
                           months=months, description=str(data.get("description", "")),
                           text=text, source=source)
