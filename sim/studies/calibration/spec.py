"""Calibration files (TOML): what to infer, from which targets, by which method.

::

    name = "calibrate_case"
    description = "The case's uncertain numbers, inferred from its fourteen statistics"
    seed = 20140101
    method = "rejection"        # "rejection" (default) | "smc" (pyabc ABC-SMC) | "npe"
                                # (sbi's neural posterior estimation: pip install '.[sbi]')
    scenario = "baseline"       # the values of everything not inferred
    months = 48                 # months simulated per run (>= the targets' latest month)
    simulations = 4000000       # prior simulations (rejection), or the budget (smc)
    accept = 4000               # rejection: the nearest runs kept (the posterior sample)
    population = 1000           # smc: particles per generation ...
    generations = 10            # ... at most this many generations
    coverage_cases = 200        # synthetic cases for the coverage check (rejection, npe)
    predictive_runs = 20000     # runs at the registry values and under the prior
    training = 300000           # npe: the reference table's first runs it trains on
    epochs = 50                 # npe: at most this many epochs (early stopping)
    infer = "all"               # every registry entry with a range, less [fixed];
                                # "listed": only those under [priors]

    [constants]                 # readings of vague words that targets name
    high = 0.6

    [[targets]]                 # see sim.studies.calibration.targets
    name = "T1"
    statistic = "pilot_month"
    min = 30
    max = 42
    near = 12

    [priors]                    # uniform over ...
    progress_rate = "plausible" # ... the registry's plausible range (the default), or
    turnover_rate = [0.05, 0.2] # ... a range inside the registry's bounds, or
    pilot_scope = ["scaled", "chance"]   # ... some of a structural choice's forms

    [fixed]                     # facts of the case: held at the scenario's value
    initial_funding = "did not initially have additional funding"

    [national]                  # only with targets of = "national": each simulation's
    sites = 40                  # national run (sim.studies.calibration.national_runs)
    rule = "competitive"

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
from sim.studies.calibration.national_runs import NationalRuns, parse_national
from sim.studies.calibration.targets import Target, parse_targets

METHODS = ("rejection", "smc", "npe")
ALLOWED = ("name", "description", "seed", "method", "scenario", "months", "simulations",
           "accept", "population", "generations", "min_epsilon", "min_acceptance_rate",
           "coverage_cases", "predictive_runs", "chunk", "infer", "constants", "targets",
           "priors", "fixed", "training", "epochs", "national")
#: Ceilings that keep a calibration from running away (raise them deliberately here).
MAX_POPULATION = 100_000
MAX_GENERATIONS = 100


@dataclass(frozen=True)
class CalibrationSpec:
    name: str
    targets: tuple[Target, ...]
    #: numeric priors: name -> (low, high), uniform (ints rounded)
    priors: dict[str, tuple[float, float]]
    #: structural choices: name -> the forms drawn with equal chance
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    fixed: dict[str, str] = field(default_factory=dict)  # name -> why (the case's fact)
    constants: dict[str, float] = field(default_factory=dict)
    method: str = "rejection"
    seed: int = 0
    scenario: str = "baseline"
    months: int = 48
    simulations: int = 1_000_000
    accept: int = 2000
    population: int = 1000
    generations: int = 10
    min_epsilon: float = 0.0
    min_acceptance_rate: float = 0.01
    coverage_cases: int = 200
    predictive_runs: int = 20_000  # runs at the registry values and under the prior
    chunk: int = 20_000
    training: int = 300_000
    epochs: int = 50
    #: how each simulation's national run is made; None: no target reads a national run
    national: NationalRuns | None = None
    description: str = ""
    text: str = ""
    source: str = "<string>"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def inferred(self) -> tuple[str, ...]:
        """Every inferred entry, in registry order."""
        return tuple(n for n in PARAMETERS if n in self.priors or n in self.choices)

    def prior_range(self, name: str) -> tuple[float, float]:
        """A numeric prior's range, or (0, forms - 1) for a structural choice's codes."""
        if name in self.choices:
            return 0.0, float(len(self.choices[name]) - 1)
        return self.priors[name]


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

    def number(key: str, default: float, low: float, high: float) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value) or not low <= value <= high:
            err(f"'{key}' must be a number in [{low:g}, {high:g}], got {value!r}")
        return float(value)

    name = data.get("name", Path(source).stem)
    if not isinstance(name, str) or not IDENTIFIER.match(name) or len(name) > 100:
        err(f"'name' must be a plain identifier, got {name!r}")
    method = data.get("method", "rejection")
    if method not in METHODS:
        err(f"unknown method {method!r}; methods: {', '.join(METHODS)}")
    population = whole("population", 1000, 2, MAX_POPULATION)
    simulations = whole("simulations", 1_000_000, 2, ceiling("runs"))
    accept = whole("accept", 2000, 1, 1_000_000)
    if method in ("rejection", "npe") and accept > simulations:
        err(f"'accept' ({accept}) must not exceed 'simulations' ({simulations})")
    if method == "smc" and simulations < population:
        err(f"'simulations' ({simulations}) must be at least 'population' ({population})")
    months = whole("months", 48, 1, 600)
    scenario = data.get("scenario", "baseline")
    try:
        split(scenario)
    except UsageError as exc:
        err(str(exc))
    constants = data.get("constants", {})
    if not isinstance(constants, dict):
        err("[constants] must be a table of named numbers")
    for key, value in constants.items():
        if not IDENTIFIER.match(key) or isinstance(value, bool) \
                or not isinstance(value, int | float) or not math.isfinite(value):
            err(f"constant '{key}' must be a finite number, got {value!r}")
    targets = parse_targets(data.get("targets"), constants, months, source)
    seed = whole("seed", 0, 0)
    national = None
    if any(t.of == "national" for t in targets):
        national = parse_national(data.get("national", {}), seed, source)
    elif "national" in data:
        err("[national] is read only by targets with of = \"national\"; none has it")
    priors, choices, fixed = _priors(data, err)
    return CalibrationSpec(
        name=name, targets=targets, priors=priors, choices=choices, fixed=fixed,
        constants={k: float(v) for k, v in constants.items()}, method=method,
        seed=seed, scenario=scenario, months=months, national=national,
        simulations=simulations, accept=accept, population=population,
        generations=whole("generations", 10, 1, MAX_GENERATIONS),
        min_epsilon=number("min_epsilon", 0.0, 0.0, math.inf),
        min_acceptance_rate=number("min_acceptance_rate", 0.01, 0.0, 0.999),
        coverage_cases=whole("coverage_cases", 200, 0, 10_000),
        predictive_runs=whole("predictive_runs", 20_000, 100, 1_000_000),
        chunk=whole("chunk", 20_000, 100, 1_000_000),
        training=min(whole("training", 300_000, 100), simulations),
        epochs=whole("epochs", 50, 1, 10_000),
        description=str(data.get("description", "")), text=text, source=source)


def inferable(name: str) -> bool:
    """Entries a calibration can infer: numbers and structural choices."""
    return PARAMETERS[name].kind in ("float", "int", "choice")


def _priors(data: dict[str, Any], err: Any) -> tuple[dict[str, tuple[float, float]],
                                                     dict[str, tuple[str, ...]],
                                                     dict[str, str]]:
    infer = data.get("infer", "all")
    if infer not in ("all", "listed"):
        err(f"'infer' must be 'all' or 'listed', got {infer!r}")
    raw = data.get("priors", {})
    fixed_raw = data.get("fixed", {})
    if not isinstance(raw, dict) or not isinstance(fixed_raw, dict):
        err("[priors] and [fixed] must be tables")
    for pname in list(raw) + list(fixed_raw):
        if pname not in PARAMETERS:
            err(f"unknown parameter '{pname}'; see 'icsim params'")
    both = [n for n in raw if n in fixed_raw]
    if both:
        err(f"parameter '{both[0]}' is both under [priors] and [fixed]")
    fixed: dict[str, str] = {}
    for pname, why in fixed_raw.items():
        if not isinstance(why, str) or not why.strip():
            err(f"[fixed] {pname} must say why (the case's fact, as a string)")
        fixed[pname] = why.strip()
    names = [n for n in PARAMETERS if inferable(n) and n not in fixed] if infer == "all" \
        else list(raw)
    if not names:
        err("[priors] must name at least one parameter to infer (or infer = \"all\")")
    priors: dict[str, tuple[float, float]] = {}
    choices: dict[str, tuple[str, ...]] = {}
    for pname in names:
        p = PARAMETERS[pname]
        prior = raw.get(pname, "plausible")
        if not inferable(pname):
            err(f"parameter '{pname}' cannot be inferred: only numbers and structural "
                "choices can")
        if p.kind == "choice":
            if prior == "plausible":
                choices[pname] = p.choices
            elif isinstance(prior, list) and prior and all(c in p.choices for c in prior) \
                    and len(set(prior)) == len(prior):
                choices[pname] = tuple(str(c) for c in prior)
            else:
                err(f"prior of '{pname}' must be \"plausible\" or a list of its forms "
                    f"({', '.join(p.choices)}), got {prior!r}")
        elif prior == "plausible":
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
    return priors, choices, fixed
