"""Experiment files: TOML loading and validation.

An experiment file declares what to sweep and how::

    name = "sobol_pilot"
    model = "icsim"              # the project's model (default) or "module:function"
    scenario = "baseline"        # base values (the project's model only)
    method = "sobol"             # sobol | morris | lhs | grid
    samples = 256                # base samples (sobol: a power of 2; morris: trajectories)
    replicates = 8
    seed = 1
    months = 60                  # the horizon (the project's model only)
    engine = "fast"              # fast (default) | mesa: same results run for run; for a
                                 # plug-in, fast uses its vectorised form where it has one
    outcomes = ["pilot", "time_to_pilot"]

    [parameters]
    regulatory_alignment = [0.0, 1.0]
    small_tasks = { values = [false, true] }

    [constants]                  # fixed values over the scenario (optional)
    team_size = 12

    [timeseries]                 # monthly outcomes, streamed to DIR/timeseries (optional)
    outcomes = ["pilot", "dac_team_commitment"]
    every = 6                    # record every 6th month (default 1)
    months = [6, 60]             # first and last month recorded (default: every..horizon;
                                 # required for a plug-in)

A range samples real numbers (whole numbers for the project's integer parameters); for a
plug-in's integer or categorical inputs, list the ``values``.

Every error is a :class:`sim.core.errors.UsageError` with a one-line message naming the file, the
culprit and what is allowed; nothing is written before a file has passed validation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import math
import numbers
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, NoReturn, cast

from sim.core import scenarios
from sim.core.errors import UsageError
from sim.core.limits import IDENTIFIER, ceiling, how_to_raise, read_text_file
from sim.core.outputs import NUMERIC_OUTCOMES, SERIES_OUTCOMES
from sim.core.registry import PARAMETERS, unknown_message
from sim.core.scenarios import ResolvedScenario
from sim.core.tomlfile import loads as toml_loads
from sim.experiment.models import ENGINES, PROJECT_MODEL, describe
from sim.experiment.plugins import check_registered, permission
from sim.experiment.timeout import check_timeout

METHODS = ("sobol", "morris", "lhs", "grid")
DEFAULT_OUTCOMES = ("pilot", "time_to_pilot", "integrated", "collapsed")
ALLOWED_KEYS = ("name", "description", "model", "scenario", "method", "samples",
                "second_order", "levels", "replicates", "seed", "months", "outcomes",
                "runs_per_part", "engine", "parameters", "constants", "run_timeout_s",
                "timeseries")
#: The keys of the ``[timeseries]`` table.
TIMESERIES_KEYS = ("outcomes", "every", "months")
#: The key columns of every time-series part, before the series.
SERIES_COLUMNS = ("point", "replicate", "month")
#: Runs a part holds when the experiment file does not say (``runs_per_part``): a
#: plug-in's runs may take seconds each, so its parts stay small (the unit of resume).
DEFAULT_RUNS_PER_PART = 256
#: The same for the project's model. A part costs the coordinator about 5 ms whatever its
#: size (its table, a zstd Parquet file, two fsyncs, a checksum): 20 us a run in parts of
#: 256, a third of a fast-engine run; in parts of 4,096, about 1 us, while a part is still
#: about 0.2 s of one core's work on the fast engine, 6 s on the Mesa engine
#: (benchmarks/bench_runner.py). Sweeps written before it (parts of 256 runs) keep theirs:
#: :func:`with_stored_part_size`.
PROJECT_RUNS_PER_PART = 4096
#: The runner's own columns in every results part.
RESULT_COLUMNS = ("point", "replicate", "seed", "status", "error")

Scalar = float | int | bool | str


@dataclass(frozen=True)
class Lever:
    """One swept parameter: a range ``[low, high]`` or a list of ``values``.

    ``kind`` is ``"float"``, ``"int"`` (a range of whole numbers) or ``"values"`` (levels,
    numeric or categorical, drawn with equal probability).
    """

    name: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    values: tuple[Scalar, ...] = ()
    #: A distribution instead of a uniform range: one of DISTRIBUTIONS, with its
    #: parameters in DISTRIBUTIONS' order. Designs sample its quantile in [0, 1].
    dist: str = ""
    dist_params: tuple[float, ...] = ()

    def ppf(self, q: float) -> float:
        """The value at quantile ``q`` of this lever's distribution, within [low, high]."""
        from scipy import stats

        q = min(max(q, 1e-9), 1 - 1e-9)
        p = self.dist_params
        if self.dist == "normal":
            value = stats.norm.ppf(q, loc=p[0], scale=p[1])
        elif self.dist == "truncnormal":
            lo, hi, mean, sd = p
            value = stats.truncnorm.ppf(q, (lo - mean) / sd, (hi - mean) / sd, loc=mean,
                                        scale=sd)
        elif self.dist == "triangular":
            lo, mode, hi = p
            value = stats.triang.ppf(q, (mode - lo) / (hi - lo), loc=lo, scale=hi - lo)
        else:  # lognormal: median and sigma of the log
            value = p[0] * math.exp(stats.norm.ppf(q) * p[1])
        return float(min(max(value, self.low), self.high))

    @property
    def sample_bounds(self) -> tuple[float, float]:
        """The interval the continuous designs sample in (mapped by :meth:`to_value`)."""
        if self.dist:
            return (0.0, 1.0)
        if self.kind == "float":
            return (self.low, self.high)
        if self.kind == "int":
            return (self.low, self.high + 1.0)
        return (0.0, float(len(self.values)))

    def to_value(self, x: float) -> Scalar:
        """Map a design coordinate to the value passed to the model."""
        if self.dist:
            return self.ppf(float(x))
        if self.kind == "float":
            return float(x)
        if self.kind == "int":
            return int(min(max(math.floor(x), self.low), self.high))
        index = int(min(max(math.floor(x), 0), len(self.values) - 1))
        return self.values[index]

    def grid_values(self, levels: int) -> tuple[Scalar, ...]:
        """The levels of this lever in a full-factorial grid."""
        if self.dist:  # the mid-quantiles of equal-probability bins
            return tuple(self.ppf((i + 0.5) / levels) for i in range(levels))
        if self.kind == "values":
            return self.values
        if self.kind == "int":
            span = int(self.high - self.low)
            if span + 1 <= levels:
                return tuple(range(int(self.low), int(self.high) + 1))
            return tuple(sorted({int(round(self.low + i * span / (levels - 1)))
                                 for i in range(levels)}))
        return tuple(float(self.low + i * (self.high - self.low) / (levels - 1))
                     for i in range(levels))

    @cached_property
    def arrow_type(self) -> str:
        """The column type in the Parquet store: float64, int64, bool or string (worked
        out once per lever: it scans the values, and every part's schema asks for it)."""
        if self.kind == "float":
            return "float64"
        if self.kind == "int":
            return "int64"
        first = self.values[0]
        if isinstance(first, bool):
            return "bool"
        if isinstance(first, str):
            return "string"
        if all(isinstance(v, int) for v in self.values):
            return "int64"
        return "float64"


@dataclass(frozen=True)
class TimeSeries:
    """An experiment's ``[timeseries]``: the monthly ``outcomes`` recorded at months
    ``first``, ``first + every``, ... up to ``last``."""

    outcomes: tuple[str, ...]
    every: int
    first: int
    last: int

    @property
    def months(self) -> tuple[int, ...]:
        """The months recorded, in order."""
        return tuple(range(self.first, self.last + 1, self.every))

    def content(self) -> dict[str, Any]:
        """What the experiment's hash records of it."""
        return {"outcomes": list(self.outcomes), "every": self.every, "first": self.first,
                "last": self.last}


@dataclass(frozen=True)
class Experiment:
    """A validated experiment file."""

    name: str
    model: str
    method: str
    samples: int
    replicates: int
    seed: int
    outcomes: tuple[str, ...]
    levers: tuple[Lever, ...]
    constants: Mapping[str, Scalar] = field(default_factory=dict)
    scenario: str = "baseline"
    months: int = 60
    second_order: bool = False
    levels: int = 4
    runs_per_part: int = DEFAULT_RUNS_PER_PART
    description: str = ""
    #: Whether the file set ``runs_per_part`` (else the default applies, and a sweep
    #: folder written with another default keeps its part size: ``with_stored_part_size``).
    runs_per_part_given: bool = field(default=True, compare=False)
    text: str = ""
    source: str = "<string>"
    engine: str = "fast"  # the project's model: "fast" or "mesa"
    posterior_sha256: str = ""  # set by run_sweep(posterior=...): the draws' file hash
    #: The posterior file the draws came from (for messages); not part of the hash.
    posterior_file: str = field(default="", compare=False)
    #: With ``scenario`` a scenario file: the hash of what it resolves to (values and
    #: changes), part of the experiment's hash, so a resume after the file changed is
    #: refused; and (when the file was read) the resolved scenario itself.
    scenario_sha256: str = ""
    scenario_file: ResolvedScenario | None = field(default=None, compare=False)
    #: A plug-in model allowed explicitly (``--allow-plugin``); not part of the hash.
    plugin_allowed: bool = field(default=False, compare=False)
    #: Seconds a run may take (``None``: the model's default); not part of the hash, so a
    #: resume may give another limit.
    run_timeout_s: float | None = field(default=None, compare=False)
    #: Monthly outcomes to record (``[timeseries]``), or ``None``.
    timeseries: TimeSeries | None = None

    @property
    def sha256(self) -> str:
        """The hash of the parsed experiment (everything that shapes the runs, not the
        file's text): a resumed sweep must match it, and a comment, a description or the
        order of the keys does not change it."""
        import json

        content = {
            "name": self.name, "model": self.model, "method": self.method,
            "samples": self.samples, "replicates": self.replicates, "seed": self.seed,
            "outcomes": list(self.outcomes), "scenario": self.scenario, "months": self.months,
            "second_order": self.second_order, "levels": self.levels,
            "runs_per_part": self.runs_per_part, "engine": self.engine,
            "levers": [[lv.name, lv.kind, lv.low, lv.high, list(lv.values), lv.dist,
                        list(lv.dist_params)] for lv in self.levers],
            "constants": sorted([k, v] for k, v in self.constants.items()),
        }
        if self.posterior_sha256:  # a sweep over a posterior is another sweep
            content["posterior"] = self.posterior_sha256
        if self.scenario_sha256:  # a scenario file: what it says, not only its path
            content["scenario_file"] = self.scenario_sha256
        if self.timeseries is not None:  # (absent: the hash of a sweep without one)
            content["timeseries"] = self.timeseries.content()
        return hashlib.sha256(json.dumps(content, sort_keys=True, default=str)
                              .encode("utf-8")).hexdigest()

    def to_toml(self) -> str:
        """The experiment as the text of an experiment file, in one canonical form: every
        key that shapes the runs, written out. ``parse_experiment(e.to_toml())`` gives an
        experiment with the same :attr:`sha256` and design, so an experiment built in code
        (``icsim national``) records this text in its sweep's manifest, and a resume or an
        analysis parses it back like a file's."""
        project = self.is_project_model
        lines = [f"name = {toml_value(self.name)}",
                 f"description = {toml_value(self.description)}",
                 f"model = {toml_value(self.model)}"]
        if project:
            lines.append(f"scenario = {toml_value(self.scenario)}")
        lines.append(f"method = {toml_value(self.method)}")
        if self.method != "grid":
            lines.append(f"samples = {self.samples}")
        if self.method == "sobol":
            lines.append(f"second_order = {toml_value(self.second_order)}")
        if self.method in ("grid", "morris"):
            lines.append(f"levels = {self.levels}")
        lines += [f"replicates = {self.replicates}", f"seed = {self.seed}"]
        if project:
            lines.append(f"months = {self.months}")
        lines += [f"engine = {toml_value(self.engine)}",
                  f"outcomes = {toml_value(list(self.outcomes))}",
                  f"runs_per_part = {self.runs_per_part}"]
        if self.run_timeout_s is not None:
            lines.append(f"run_timeout_s = {toml_value(self.run_timeout_s)}")
        lines += ["", "[parameters]"]
        lines += [f"{toml_key(lever.name)} = {_lever_toml(lever)}" for lever in self.levers]
        if self.constants:
            lines += ["", "[constants]"]
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in self.constants.items()]
        if self.timeseries is not None:
            series = self.timeseries
            lines += ["", "[timeseries]", f"outcomes = {toml_value(list(series.outcomes))}",
                      f"every = {series.every}",
                      f"months = {toml_value([series.first, series.last])}"]
        return "\n".join(lines) + "\n"

    @property
    def is_project_model(self) -> bool:
        return self.model == PROJECT_MODEL

    @property
    def names(self) -> list[str]:
        return [lever.name for lever in self.levers]


def toml_value(value: Any) -> str:
    """A TOML literal for a string, a whole or real number, true/false or a list of them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)  # numpy's floats print as np.float64(...)
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # shortest round-trip form: 0.1, 13.2, 1e-05 are TOML floats
    if isinstance(value, str):
        out = []
        for ch in value:
            if ch in ('"', "\\"):
                out.append("\\" + ch)
            elif ord(ch) < 0x20 or ord(ch) == 0x7F:  # control characters: escaped
                out.append(f"\\u{ord(ch):04X}")
            else:
                out.append(ch)
        return '"' + "".join(out) + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML literal for {value!r}")


def toml_key(name: str) -> str:
    """A bare TOML key where the name allows one, else a quoted key."""
    return name if name and all(c.isascii() and (c.isalnum() or c in "_-") for c in name) \
        else toml_value(name)


def _lever_toml(lever: Lever) -> str:
    """One entry of ``[parameters]``: ``[low, high]``, ``{ values = [...] }`` or a
    distribution's table."""
    if lever.dist:
        fields = ", ".join(f"{key} = {toml_value(p)}"
                           for key, p in zip(DISTRIBUTIONS[lever.dist], lever.dist_params,
                                             strict=True))
        return f"{{ dist = {toml_value(lever.dist)}, {fields} }}"
    if lever.kind == "values":
        return f"{{ values = {toml_value(list(lever.values))} }}"
    return toml_value([lever.low, lever.high])


def load_experiment(path: str | Path, check_model: bool = True,
                    allow_plugin: bool = False) -> Experiment:
    """Read and validate an experiment file; raise ``UsageError`` on any problem.

    ``allow_plugin`` allows a plug-in model that is not registered (``--allow-plugin``; see
    :mod:`sim.experiment.plugins`).
    """
    path = Path(path)
    text = read_text_file(path, "experiment file")
    return parse_experiment(text, source=str(path), check_model=check_model,
                            allow_plugin=allow_plugin)


def parse_experiment(text: str, source: str = "<string>", check_model: bool = True,
                     allow_plugin: bool = False) -> Experiment:
    """Validate the TOML ``text`` of an experiment file.

    With ``check_model`` the model is imported and, for the project's model, the scenario
    and outcome names are checked against it (one short probe run); analysis of a finished
    sweep skips this. A plug-in model is imported only once it is allowed -- registered, or
    ``allow_plugin`` (see :mod:`sim.experiment.plugins`); otherwise it is refused.
    """
    try:
        data = toml_loads(text)  # nesting past a ceiling is a TOMLDecodeError
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{source}: not valid TOML: {exc}") from None
    err = _Errors(source)

    unknown = [k for k in data if k not in ALLOWED_KEYS]
    if unknown:
        err(f"unknown key '{unknown[0]}'; allowed keys: {', '.join(ALLOWED_KEYS)}")

    name = _string(data, "name", err, default=_identifier_from(Path(source).stem))
    if not IDENTIFIER.match(name) or len(name) > 100:
        # the name becomes the default directory results/<name>: no path may hide in it
        err(f"'name' must be a plain identifier (letters, digits and underscores, not "
            f"starting with a digit), got {name!r}")
    description = _string(data, "description", err, default="")
    model = _string(data, "model", err, default=PROJECT_MODEL)
    if model != PROJECT_MODEL and not _is_function_ref(model):
        err(f"model must be '{PROJECT_MODEL}' (the project's model) or 'module:function', "
            f"got {model!r}")
    project = model == PROJECT_MODEL
    if not project:
        for key in ("scenario", "months"):
            if key in data:
                err(f"'{key}' applies to the project's model only, not to plug-in '{model}'")

    method = _string(data, "method", err, default="sobol")
    if method not in METHODS:
        err(f"method must be one of {', '.join(METHODS)}; got {method!r}")

    replicates = _integer(data, "replicates", err, default=1, minimum=1, bounded=True)
    seed = _integer(data, "seed", err, default=0, minimum=0)
    months = _integer(data, "months", err, default=60, minimum=1, bounded=True)
    runs_per_part = _integer(data, "runs_per_part", err, minimum=1, bounded=True,
                             default=PROJECT_RUNS_PER_PART if project else DEFAULT_RUNS_PER_PART)
    second_order = _boolean(data, "second_order", err, default=False)
    if "second_order" in data and method != "sobol":
        err("'second_order' applies to method = \"sobol\" only")

    if method == "grid":
        if "samples" in data:
            err("'samples' does not apply to method = \"grid\": a grid's size is the product "
                "of its levels")
        samples = 1
        levels = _integer(data, "levels", err, default=3, minimum=2, bounded=True)
    else:
        samples = _integer(data, "samples", err, default=64 if method != "morris" else 10,
                           minimum=2 if method == "sobol" else 1, bounded=True)
        if method == "sobol" and samples & (samples - 1):
            err(f"samples must be a power of 2 for method = \"sobol\" (e.g. 64, 128, 256); "
                f"got {samples}")
        if "levels" in data and method not in ("morris", "grid"):
            err("'levels' applies to method = \"morris\" or \"grid\" only")
        levels = _integer(data, "levels", err, default=4, minimum=2, bounded=True)

    scenario = _string(data, "scenario", err, default="baseline")
    scenario_file: ResolvedScenario | None = None
    if project and scenarios.is_scenario_file(scenario):
        if check_model:  # (an analysis reads the file's hash from the sweep's manifest)
            try:
                scenario_file = scenarios.load_scenario_file(scenario)
            except UsageError as exc:
                err(f"scenario: {exc}")
    elif project:
        _check_scenario(scenario, err)
    engine = _string(data, "engine", err, default="fast")

    try:
        run_timeout_s = check_timeout(data.get("run_timeout_s"), "'run_timeout_s'")
    except UsageError as exc:
        err(str(exc))
    if engine not in ENGINES:
        err(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")

    raw_params = data.get("parameters")
    if not isinstance(raw_params, dict) or not raw_params:
        err("[parameters] must be a table naming at least one parameter, e.g. "
            "x = [0.0, 1.0] or x = { values = [1, 2] }")
    levers = tuple(_lever(n, spec, project, err) for n, spec in raw_params.items())
    if method == "sobol":  # Morris keeps switches; its summary says how to read them
        for lever in levers:
            if lever.arrow_type == "bool":
                err(f"parameter '{lever.name}' is true/false: Sobol indices assume a "
                    f"continuous range, so a switch is refused here; compare its two values "
                    f"with method = \"grid\" or \"morris\", or run one sobol sweep per "
                    f"value with '{lever.name}' in [constants]")
    taken = [n for n in raw_params if n in RESULT_COLUMNS]
    if taken:
        err(f"parameter name '{taken[0]}' clashes with a column of the results "
            f"({', '.join(RESULT_COLUMNS)}); rename it")

    raw_constants = data.get("constants", {})
    if not isinstance(raw_constants, dict):
        err("[constants] must be a table of NAME = value")
    constants = {n: _constant(n, v, project, err) for n, v in raw_constants.items()}
    both = sorted(set(constants) & set(raw_params))
    if both:
        err(f"parameter '{both[0]}' is both swept in [parameters] and fixed in [constants]")

    outcomes_raw = data.get("outcomes")
    if outcomes_raw is None:
        if not project:
            err("'outcomes' is required for a plug-in model: the names of the numeric "
                "results the function returns")
        outcomes: tuple[str, ...] = DEFAULT_OUTCOMES
    else:
        if (not isinstance(outcomes_raw, list) or not outcomes_raw
                or not all(isinstance(o, str) and o for o in outcomes_raw)):
            err("'outcomes' must be a non-empty list of outcome names")
        outcomes = tuple(outcomes_raw)
        for outcome in outcomes:  # outcome names become column and file names
            if not IDENTIFIER.match(outcome) or len(outcome) > 100:
                err(f"outcome name {outcome!r} must be a plain identifier (letters, digits "
                    "and underscores, not starting with a digit)")
        dup = _first_duplicate(outcomes)
        if dup is not None:
            err(f"outcome '{dup}' is listed twice")
    reserved = set(RESULT_COLUMNS) | set(raw_params)
    clash = [o for o in outcomes if o in reserved]
    if clash:
        err(f"outcome name '{clash[0]}' clashes with a column of the results; rename it")

    timeseries = _timeseries(data, project, months, outcomes, set(raw_params), err)

    runs = planned_points(method, samples, levels, levers, second_order) * replicates
    if runs > ceiling("runs"):
        err(f"the design makes {runs:,} runs, past the ceiling {ceiling('runs'):,}; use fewer "
            f"samples, levels or replicates, or {how_to_raise('runs')}")

    experiment = Experiment(
        name=name, model=model, method=method, samples=samples, replicates=replicates,
        seed=seed, outcomes=outcomes, levers=levers, constants=constants, scenario=scenario,
        months=months, second_order=second_order, levels=levels, runs_per_part=runs_per_part,
        runs_per_part_given="runs_per_part" in data, description=description, text=text,
        source=source, engine=engine,
        plugin_allowed=allow_plugin, run_timeout_s=run_timeout_s,
        scenario_file=scenario_file, timeseries=timeseries,
        scenario_sha256=scenario_digest(scenario_file) if scenario_file else "")
    if check_model:
        _check_model(experiment, err)
    return experiment


def with_stored_part_size(experiment: Experiment, manifest: Mapping[str, Any]) -> Experiment:
    """``experiment`` with the part size of the sweep a ``manifest`` records, when the
    experiment file does not set ``runs_per_part`` and the stored sweep is this experiment
    in parts of another size -- a folder written before the project's model's default
    became :data:`PROJECT_RUNS_PER_PART` (parts of 256) resumes and analyzes as it was. The
    part size is part of the experiment's hash, so the stored size is taken only if the
    experiment with it has exactly the stored hash; otherwise ``experiment`` as it is (and
    a resume is refused as before, naming the difference)."""
    if experiment.runs_per_part_given:
        return experiment
    try:
        size = manifest["design"]["runs_per_part"]
        stored = manifest["experiment"]["sha256"]
    except (KeyError, TypeError):
        return experiment
    if isinstance(size, bool) or not isinstance(size, int) or size < 1 \
            or size == experiment.runs_per_part:
        return experiment
    candidate = dataclasses.replace(experiment, runs_per_part=size)
    return candidate if candidate.sha256 == stored else experiment


# ----------------------------------------------------------------------------- helpers


class _Errors:
    """Raise a ``UsageError`` prefixed with the file name."""

    def __init__(self, source: str) -> None:
        self.source = source

    def __call__(self, message: str) -> NoReturn:
        raise UsageError(f"{self.source}: {message}")


def _string(data: Mapping[str, Any], key: str, err: _Errors, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or (key != "description" and not value.strip()):
        err(f"'{key}' must be a non-empty string, got {value!r}")
    return value.strip()


def _integer(data: Mapping[str, Any], key: str, err: _Errors, default: int,
             minimum: int, bounded: bool = False) -> int:
    """A whole number >= ``minimum``; with ``bounded``, at most its ceiling
    (``sim.core.limits``, raised with ``ICSIM_MAX_<KEY>``)."""
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        err(f"'{key}' must be a whole number >= {minimum}, got {value!r}")
    if bounded and value > ceiling(key):
        err(f"'{key}' = {value} is past the ceiling {ceiling(key):,}; {how_to_raise(key)}")
    return int(value)


def planned_points(method: str, samples: int, levels: int, levers: Sequence[Lever],
                   second_order: bool = False) -> int:
    """The design points an experiment makes, computed without building the design
    (SALib's Sobol: N(D+2), N(2D+2) with second order; Morris: N(D+1); LHS: N; a grid:
    the product of each parameter's levels)."""
    d = len(levers)
    if method == "sobol":
        return samples * (2 * d + 2 if second_order else d + 2)
    if method == "morris":
        return samples * (d + 1)
    if method == "grid":
        return math.prod(len(lever.grid_values(levels)) for lever in levers)
    return samples


def _timeseries(data: Mapping[str, Any], project: bool, horizon: int,
                outcomes: Sequence[str], swept: set[str], err: _Errors) -> TimeSeries | None:
    """Validate ``[timeseries]`` (``None`` where the file has none)."""
    if "timeseries" not in data:
        return None
    table = data["timeseries"]
    if not isinstance(table, dict):
        err("[timeseries] must be a table: outcomes = [...], every = N, months = [first, "
            "last]")
    unknown = [k for k in table if k not in TIMESERIES_KEYS]
    if unknown:
        err(f"unknown key '{unknown[0]}' in [timeseries]; allowed keys: "
            f"{', '.join(TIMESERIES_KEYS)}")
    names = table.get("outcomes")
    if not isinstance(names, list) or not names or not all(
            isinstance(o, str) and o for o in names):
        err("[timeseries] 'outcomes' must be a non-empty list of monthly outcome names"
            + (f": {', '.join(SERIES_OUTCOMES)}" if project else ""))
    for name in names:  # column names of the time-series parts
        if not IDENTIFIER.match(name) or len(name) > 100:
            err(f"[timeseries] outcome name {name!r} must be a plain identifier (letters, "
                "digits and underscores, not starting with a digit)")
        if project and name not in SERIES_OUTCOMES:
            err(f"[timeseries]: unknown monthly outcome '{name}'; monthly outcomes of the "
                f"project's model: {', '.join(SERIES_OUTCOMES)}")
    dup = _first_duplicate(names)
    if dup is not None:
        err(f"[timeseries] outcome '{dup}' is listed twice")
    if not project:
        reserved = set(RESULT_COLUMNS) | set(SERIES_COLUMNS) | swept | set(outcomes)
        clash = [o for o in names if o in reserved]
        if clash:
            err(f"[timeseries] outcome '{clash[0]}' clashes with a column or a scalar "
                "outcome (a plug-in returns one value or one series per name); rename it")
    top = horizon if project else ceiling("months")
    every = table.get("every", 1)
    if isinstance(every, bool) or not isinstance(every, int) or not 1 <= every <= top:
        err(f"[timeseries] 'every' must be a whole number of months in [1, {top}], got "
            f"{every!r}")
    window = table.get("months")
    if window is None:
        if not project:
            err("[timeseries] 'months' = [first, last] is required for a plug-in: the "
                "months its series cover (it returns a sequence per outcome, month 1 first)")
        window = [every, horizon]
    if not (isinstance(window, list) and len(window) == 2 and all(
            isinstance(m, int) and not isinstance(m, bool) for m in window)
            and 1 <= window[0] <= window[1] <= top):
        err(f"[timeseries] 'months' must be [first, last], whole numbers with "
            f"1 <= first <= last <= {top}" + (" (the horizon, 'months')" if project else "")
            + f", got {window!r}")
    return TimeSeries(tuple(names), every, window[0], window[1])


def _boolean(data: Mapping[str, Any], key: str, err: _Errors, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        err(f"'{key}' must be true or false, got {value!r}")
    return value


def _identifier_from(stem: str) -> str:
    """A file's stem as a plain identifier (the default name: ``my-exp.toml`` -> ``my_exp``)."""
    import re

    name = re.sub(r"[^A-Za-z0-9_]", "_", stem)[:100] or "experiment"
    return f"_{name}"[:100] if name[0].isdigit() else name


def _is_function_ref(text: str) -> bool:
    module, sep, func = text.partition(":")
    return bool(sep and module and func and all(p.isidentifier() for p in module.split("."))
                and func.isidentifier()
                and module.split(".")[-1] != "__main__")  # a program, not a model module


def _first_duplicate(items: Sequence[Any]) -> Any:
    """The first item equal to an earlier one of the same type (``1`` and ``True`` differ),
    in one pass over hashable items."""
    seen: set[tuple[type, Any]] = set()
    for item in items:
        key = (type(item), item)
        if key in seen:
            return item
        seen.add(key)
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(
        value)


#: Distributions a lever may have, with their parameters in order (SALib supports the
#: same four: norm, truncnorm, triang, lognorm). Normal and log-normal are cut at the
#: registry bounds for the project's levers, and refused if more than 1% lies outside.
DISTRIBUTIONS = {"normal": ("mean", "sd"), "truncnormal": ("low", "high", "mean", "sd"),
                 "triangular": ("low", "mode", "high"), "lognormal": ("median", "sigma")}


def _distribution(name: str, spec: Mapping[str, Any], param: Any, err: _Errors) -> Lever:
    dist = spec.get("dist")
    if dist not in DISTRIBUTIONS:
        err(f"parameter '{name}': dist must be one of {', '.join(DISTRIBUTIONS)}; got {dist!r}")
    keys = DISTRIBUTIONS[dist]
    given = set(spec) - {"dist"}
    if given != set(keys) or not all(_is_number(spec[k]) for k in keys):
        err(f"parameter '{name}': dist = \"{dist}\" takes numbers "
            f"{', '.join(keys)}; got {spec!r}")
    p = tuple(float(spec[k]) for k in keys)
    from scipy import stats

    bad = ((dist == "normal" and p[1] <= 0) or (dist == "lognormal" and (p[0] <= 0
           or p[1] <= 0)) or (dist == "truncnormal" and (p[3] <= 0 or p[0] >= p[1]))
           or (dist == "triangular" and not p[0] <= p[1] <= p[2] or
               dist == "triangular" and p[0] >= p[2]))
    if bad:
        err(f"parameter '{name}': invalid {dist} parameters {spec!r} (sd, sigma and median "
            "> 0; low < high; low <= mode <= high)")
    if dist == "normal":
        low, high = -math.inf, math.inf
    elif dist == "lognormal":
        low, high = 0.0, math.inf
    else:
        low, high = p[0], p[-1] if dist == "triangular" else p[1]
    problem = _sample_problem(Lever(name, "float", low=low, high=high, dist=dist,
                                    dist_params=p))
    if problem:
        err(f"parameter '{name}': the {dist} {spec!r} {problem}; give a distribution whose "
            "values are finite numbers that differ, or a constant")
    if param is not None:
        if param.kind != "float":
            err(f"parameter '{name}' is not a continuous number; a distribution needs one")
        if dist in ("truncnormal", "triangular") and (low < param.low or high > param.high):
            err(f"parameter '{name}': the {dist} range [{low:g}, {high:g}] lies outside the "
                f"registry's [{param.low:g}, {param.high:g}]")
        if dist == "normal":
            outside = stats.norm.cdf(param.low, p[0], p[1]) + stats.norm.sf(param.high, p[0],
                                                                             p[1])
        elif dist == "lognormal":
            z = [(math.log(b / p[0]) / p[1]) if b > 0 else -math.inf
                 for b in (param.low, param.high)]
            outside = stats.norm.cdf(z[0]) + stats.norm.sf(z[1])
        else:
            outside = 0.0
        if outside > 0.01:
            err(f"parameter '{name}': {outside:.0%} of the {dist} lies outside the registry's "
                f"[{param.low:g}, {param.high:g}]; narrow it or use truncnormal")
        low, high = max(low, param.low), min(high, param.high)
    return Lever(name, "float", low=low, high=high, dist=dist, dist_params=p)


#: Quantiles a distribution is sampled at when it is validated.
_PROBES = (1e-9, 0.01, 0.25, 0.5, 0.75, 0.99, 1 - 1e-9)


def _sample_problem(lever: Lever) -> str:
    """What makes a distribution that passed the parameter checks senseless when sampled
    (values NaN, infinite, outside its bounds, all one number at float precision, or a
    numerical warning), or ``""``."""
    import warnings

    import numpy as np

    try:
        with warnings.catch_warnings(), np.errstate(all="raise"):
            warnings.simplefilter("error")
            values = [lever.ppf(q) for q in _PROBES]
    except (ArithmeticError, ValueError, RuntimeWarning, FloatingPointError) as exc:
        return f"cannot be sampled ({type(exc).__name__}: {str(exc).splitlines()[0][:80]})"
    if not all(math.isfinite(v) for v in values):
        return "gives values that are not finite numbers (NaN or infinite)"
    if not all(lever.low <= v <= lever.high for v in values):
        return f"gives values outside [{lever.low:g}, {lever.high:g}]"
    if values[1] == values[-2]:
        return "gives one value only at float precision"
    return ""


def _lever(name: str, spec: Any, project: bool, err: _Errors) -> Lever:
    """Validate one entry of ``[parameters]``."""
    if not IDENTIFIER.match(name) or len(name) > 100:  # a column name: no path, no ""
        err(f"parameter name {name!r} must be a plain identifier (letters, digits and "
            "underscores, not starting with a digit)")
    param = PARAMETERS.get(name)
    if project:
        if param is None:
            err(unknown_message(name))
        if param.level == "national":
            err(f"parameter '{name}' shapes the national view (icsim national), not one "
                "project; the project's model does not read it")
    if isinstance(spec, dict) and "dist" in spec:
        return _distribution(name, spec, param if project else None, err)
    if isinstance(spec, dict):
        extra = [k for k in spec if k != "values"]
        if extra or "values" not in spec:
            err(f"parameter '{name}': a table must be {{ values = [...] }}, got {spec!r}")
        values = spec["values"]
        if not isinstance(values, list) or not values:
            err(f"parameter '{name}': values must be a non-empty list")
        if project:
            assert param is not None  # refused above
            try:
                values = [param.coerce(v) for v in values]
            except ValueError as exc:
                err(str(exc))
        else:
            kinds = {bool if isinstance(v, bool) else str if isinstance(v, str)
                     else float if _is_number(v) else None for v in values}
            if None in kinds or len(kinds) > 1:
                err(f"parameter '{name}': values must be all numbers, all true/false or all "
                    f"strings, got {values!r}")
        dup = _first_duplicate(values)
        if dup is not None:
            err(f"parameter '{name}': value {dup!r} is listed twice")
        return Lever(name, "values", values=tuple(values))
    if not (isinstance(spec, list) and len(spec) == 2 and all(_is_number(v) for v in spec)):
        err(f"parameter '{name}' must be [low, high] or {{ values = [...] }}, got {spec!r}")
    low, high = float(spec[0]), float(spec[1])
    if not low < high:
        err(f"parameter '{name}': low must be below high, got [{spec[0]}, {spec[1]}]")
    kind = "float"
    if project:
        assert param is not None  # refused above
        if param.kind == "bool":
            err(f"parameter '{name}' is a switch; sweep it as {name} = "
                "{ values = [false, true] }")
        if param.kind == "choice":
            listed = ", ".join(f'"{c}"' for c in param.choices)
            err(f"parameter '{name}' is a structural choice; sweep it as {name} = "
                f"{{ values = [{listed}] }}")
        if low < param.low or high > param.high:
            err(f"parameter '{name}': bounds [{spec[0]}, {spec[1]}] lie outside the registry's "
                f"[{param.low:g}, {param.high:g}]")
        if param.kind == "int":
            if not (low.is_integer() and high.is_integer()):
                err(f"parameter '{name}' takes whole numbers; bounds must be integers, got "
                    f"[{spec[0]}, {spec[1]}]")
            kind = "int"
    return Lever(name, kind, low=low, high=high)


def _constant(name: str, value: Any, project: bool, err: _Errors) -> Scalar:
    """Validate one entry of ``[constants]``."""
    if project:
        if name not in PARAMETERS:
            err(unknown_message(name))
        if PARAMETERS[name].level == "national":
            err(f"constant '{name}' shapes the national view (icsim national), not one "
                "project; the project's model does not read it")
        try:
            return PARAMETERS[name].coerce(value)
        except ValueError as exc:
            err(str(exc))
    if not (isinstance(value, bool | str) or _is_number(value)):
        err(f"constant '{name}' must be a number, true/false or a string, got {value!r}")
    return cast(Scalar, value)


def scenario_digest(resolved: ResolvedScenario) -> str:
    """The hash of a scenario file's content as it runs: its values and its changes."""
    import json

    content = {"values": sorted([k, v] for k, v in resolved.values.items()),
               "schedule": [[m, sorted([k, v] for k, v in values.items())]
                            for m, values in resolved.schedule]}
    return hashlib.sha256(json.dumps(content, default=str).encode("utf-8")).hexdigest()


def _check_scenario(scenario: str, err: _Errors) -> None:
    known = getattr(scenarios, "SCENARIOS", None)
    if not known:
        return
    for part in scenario.split("+"):
        if part.strip() not in known:
            err(f"unknown scenario '{part.strip()}'; known scenarios: {', '.join(known)}")


def resolve_function(ref: str) -> Callable[..., Any]:
    """Import ``"module:function"``; raise ``UsageError`` if it cannot be found."""
    module_name, _, func_name = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # a module may fail, or exit, on import
        raise UsageError(f"cannot import model module '{module_name}': "
                         f"{describe(exc)}") from None
    func: Callable[..., Any] | None = getattr(module, func_name, None)
    if not callable(func):
        raise UsageError(f"model module '{module_name}' has no function '{func_name}'")
    return func


def check_plugin(experiment: Experiment, allow_plugin: bool = False) -> str:
    """Refuse a plug-in model that may not run (before importing it), else import it and
    check that it exists and, where its permission needs it, that it is registered.
    Return why it may run: "project", "flag", "entry point" or "registered"."""
    if experiment.is_project_model:
        return "project"
    how = permission(experiment.model, allow_plugin or experiment.plugin_allowed)
    check_registered(experiment.model, resolve_function(experiment.model), how)
    return how


def _check_model(experiment: Experiment, err: _Errors) -> None:
    """Import the model once it is allowed; for the project's model, check scenario and
    outcome names."""
    if not experiment.is_project_model:
        try:
            check_plugin(experiment)
        except UsageError as exc:
            err(str(exc))
        return
    available = NUMERIC_OUTCOMES
    missing = [o for o in experiment.outcomes if o not in available]
    if missing:
        err(f"unknown outcome '{missing[0]}'; outcomes of the project's model: "
            f"{', '.join(available)}")
