"""External validation of the national view: evidence statements as data, and verdicts.

A validation file (TOML) names programme configurations of ``icsim national`` and the
statements of independent national evaluations about them (docs/national_evidence.md).
Each statement names a statistic -- the share of sites (all or funded) that reached a pilot,
a commissioned service, integration, the switch to small tasks, or collapse by a month --
and the range the evidence allows. The model's value is that share per replicate (each
replicate a new country and, under a posterior, a new draw), as a mean with a 95% t
interval across replicates; the verdict is *consistent* when the interval overlaps the
allowed range, *inconsistent* when it does not, and *not comparable* when the file says so.

The statements are never used to fit any parameter: they are read only here, after the
runs. ::

    [[configurations]]
    name = "pioneers"          # runs into OUT/pioneers/
    approach = "../scenarios/enabling_no_money.toml"   # a scenario name or file
    funding_rule = "none"      # as icsim national --funding-rule
    budget_per_site = 0.0      # national budget per site, in full-pilot costs
    sites = 200
    replicates = 10
    months = 60
    description = "..."
    money_note = "how GBP maps to full-pilot costs, and why"

    [[statements]]
    id = "E1.3"
    configuration = "pioneers"
    statistic = "small_tasks"  # pilot | commissioned | integrated | small_tasks | collapsed
    month = 30
    sites = "all"              # all | funded
    low = 0.5
    high = 1.0
    source = "Erens et al. 2017"
    passage = "..."
    comparability = "proxy"    # direct | proxy | not comparable (then: reason = "...")
    mechanism = "what the model blames if inconsistent"
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.analysis.stats import mean_ci
from sim.core.errors import UsageError, one_line
from sim.core.limits import IDENTIFIER, read_text_file
from sim.core.scenarios import is_scenario_file
from sim.core.tomlfile import loads as toml_loads
from sim.studies import national

STATISTICS = ("pilot", "commissioned", "integrated", "small_tasks", "collapsed")
GROUPS = ("all", "funded")
COMPARABILITY = ("direct", "proxy", "not comparable")
VERDICTS = ("consistent", "inconsistent", "not comparable")
#: Each statistic's month column in ``sites.parquet`` (collapse is recorded at the horizon).
COLUMNS = {"pilot": "pilot_month", "commissioned": "commissioned_month",
           "integrated": "integrated_month", "small_tasks": "small_tasks_month"}
_CONFIG_KEYS = ("name", "approach", "funding_rule", "budget_per_site", "sites", "replicates",
                "months", "description", "money_note", "seed")
_STATEMENT_KEYS = ("id", "configuration", "statistic", "month", "sites", "low", "high",
                   "source", "passage", "comparability", "reason", "mechanism")


@dataclass(frozen=True)
class Configuration:
    """A programme as an ``icsim national`` run."""

    name: str
    approach: str
    funding_rule: str
    budget_per_site: float
    sites: int
    replicates: int
    months: int
    description: str
    money_note: str
    seed: int = 0


@dataclass(frozen=True)
class Statement:
    """One evidence statement: a statistic, the range it allows, where it comes from."""

    id: str
    configuration: str
    statistic: str
    month: int
    sites: str
    low: float
    high: float
    source: str
    passage: str
    comparability: str
    reason: str = ""
    mechanism: str = ""


@dataclass(frozen=True)
class ValidationFile:
    path: Path
    name: str
    description: str
    design: str
    configurations: tuple[Configuration, ...]
    statements: tuple[Statement, ...]

    def configuration(self, name: str) -> Configuration:
        return next(c for c in self.configurations if c.name == name)


def _refuse(path: Path, where: str, message: str) -> UsageError:
    return UsageError(one_line(f"{path}: {where}: {message}"))


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(float(value))


def _text(path: Path, where: str, entry: dict, key: str, required: bool = True) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise _refuse(path, where, f"'{key}' must be a non-empty string, got {value!r}")
    return value.strip()


def _approach(path: Path, approach: str) -> str:
    """A scenario file named relative to the validation file (or the working folder)."""
    if approach.endswith(".toml"):
        beside = path.parent / approach
        return str(beside.resolve()) if beside.exists() else approach
    return approach


def _table(path: Path, kind: str, key: str, i: int, entry: Any,
           allowed: Sequence[str]) -> str:
    """Check one ``[[configurations]]`` or ``[[statements]]`` entry's shape and keys;
    return how refusals name it (``configuration 'pioneers'``, ``statement 3``)."""
    where = f"{kind} {entry.get(key, i + 1)!r}" if isinstance(entry, dict) \
        else f"{kind} {i + 1}"
    if not isinstance(entry, dict):
        raise _refuse(path, where, "must be a table")
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        raise _refuse(path, where, f"unknown key '{unknown[0]}'; allowed: "
                      f"{', '.join(allowed)}")
    return where


def load_validation(path: str | Path) -> ValidationFile:
    """Read and check a validation file; a bad one is a ``UsageError`` in one line naming
    the configuration or statement and what is allowed. Nothing is run or written."""
    path = Path(path)
    text = read_text_file(path, "validation file")  # no FIFO, device or huge file
    try:
        data = toml_loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(one_line(f"{path} is not valid TOML: {exc}")) from None
    configs_raw, statements_raw = data.get("configurations"), data.get("statements")
    if not isinstance(configs_raw, list) or not configs_raw:
        raise _refuse(path, "file", "needs at least one [[configurations]] table")
    if not isinstance(statements_raw, list) or not statements_raw:
        raise _refuse(path, "file", "needs at least one [[statements]] table")
    configs: list[Configuration] = []
    for i, entry in enumerate(configs_raw):
        where = _table(path, "configuration", "name", i, entry, _CONFIG_KEYS)
        name = _text(path, where, entry, "name")
        if not IDENTIFIER.match(name) or len(name) > 100:
            raise _refuse(path, where, "'name' must be a plain identifier: letters, digits "
                          "and underscores, not starting with a digit, at most 100 (it names "
                          "a folder)")
        if any(c.name == name for c in configs):
            raise _refuse(path, where, "a configuration of this name comes earlier")
        rule = _text(path, where, entry, "funding_rule")
        if rule not in national.RULES:
            raise _refuse(path, where, f"funding_rule '{rule}' is not one of "
                          f"{', '.join(national.RULES)}")
        budget = entry.get("budget_per_site", 0.0)
        if not _number(budget) or budget < 0:
            raise _refuse(path, where, f"budget_per_site must be a number >= 0 (full-pilot "
                          f"costs), got {budget!r}")
        for key in ("sites", "replicates", "months"):
            if not _whole(entry.get(key)) or entry[key] < 1:
                raise _refuse(path, where, f"'{key}' must be a whole number >= 1, got "
                              f"{entry.get(key)!r}")
        seed = entry.get("seed", 0)
        if not _whole(seed) or seed < 0:
            raise _refuse(path, where, f"'seed' must be a whole number >= 0, got {seed!r}")
        approach = _approach(path, _text(path, where, entry, "approach"))
        if approach.endswith(".toml") and not is_scenario_file(approach):
            raise _refuse(path, where, f"approach file {approach} does not exist")
        configs.append(Configuration(
            name, approach, rule, float(budget), entry["sites"], entry["replicates"],
            entry["months"], _text(path, where, entry, "description"),
            _text(path, where, entry, "money_note"), seed))
    horizons = {c.name: c.months for c in configs}
    statements: list[Statement] = []
    for i, entry in enumerate(statements_raw):
        where = _table(path, "statement", "id", i, entry, _STATEMENT_KEYS)
        sid = _text(path, where, entry, "id")
        if any(s.id == sid for s in statements):
            raise _refuse(path, where, "a statement with this id comes earlier")
        conf = entry.get("configuration")
        if conf not in horizons:
            raise _refuse(path, where, f"unknown configuration {conf!r}; known: "
                          f"{', '.join(horizons)}")
        stat = entry.get("statistic")
        if stat not in STATISTICS:
            raise _refuse(path, where, f"unknown statistic {stat!r}; allowed: "
                          f"{', '.join(STATISTICS)}")
        month: Any = entry.get("month")  # checked just below
        if not _whole(month) or not 0 <= month <= horizons[conf]:
            raise _refuse(path, where, f"month must be a whole number in [0, "
                          f"{horizons[conf]}] (the horizon of '{conf}'), got {month!r}")
        if stat == "collapsed" and month != horizons[conf]:
            raise _refuse(path, where, f"collapse is recorded at the horizon only: month must "
                          f"be {horizons[conf]} (the horizon of '{conf}'), got {month}")
        group = entry.get("sites", "all")
        if group not in GROUPS:
            raise _refuse(path, where, f"sites must be one of {', '.join(GROUPS)}, got "
                          f"{group!r}")
        low: Any = entry.get("low")  # both checked just below
        high: Any = entry.get("high")
        if not (_number(low) and _number(high)) or not 0 <= low <= high <= 1:
            raise _refuse(path, where, f"the range must have 0 <= low <= high <= 1, got low "
                          f"{low!r}, high {high!r}")
        comparability = entry.get("comparability")
        if comparability not in COMPARABILITY:
            raise _refuse(path, where, f"comparability must be one of "
                          f"{', '.join(COMPARABILITY)}, got {comparability!r}")
        source = entry.get("source")
        if not isinstance(source, str) or not source.strip():
            raise _refuse(path, where, "missing source: name the evaluation the statement "
                          "comes from")
        reason = _text(path, where, entry, "reason", required=comparability == "not "
                       "comparable")
        statements.append(Statement(
            sid, conf, stat, month, group, float(low), float(high), source.strip(),
            _text(path, where, entry, "passage"), comparability, reason,
            _text(path, where, entry, "mechanism", required=False)))
    for key in ("name", "description", "design"):
        if key in data and not isinstance(data[key], str):
            raise _refuse(path, "file", f"'{key}' must be a string")
    return ValidationFile(path, data.get("name", path.stem), data.get("description", ""),
                          data.get("design", ""), tuple(configs), tuple(statements))


def national_spec(conf: Configuration, replicates: int | None = None,
                  posterior: str | None = None) -> national.NationalSpec:
    """The ``icsim national`` request a configuration stands for."""
    return national.check(conf.sites, conf.approach, conf.funding_rule,
                          conf.budget_per_site * conf.sites,
                          replicates or conf.replicates, conf.seed, conf.months, "fast",
                          posterior)


def shares(sites: pd.DataFrame, months: int) -> pd.DataFrame:
    """Per statistic, site group and month: the share of sites across replicates (mean,
    95% t interval). Collapse is known at the horizon only (one row, at ``months``)."""
    rows = []
    for group in GROUPS:
        part = sites if group == "all" else sites[sites.funded]
        for stat in STATISTICS:
            for month in ([months] if stat == "collapsed" else range(months + 1)):
                if not len(part):
                    mean = lo = hi = float("nan")
                else:
                    reached = (part.outcome == "collapsed") if stat == "collapsed" else \
                        (part[COLUMNS[stat]].astype(float) <= month)
                    per = reached.groupby(part.replicate).mean().to_numpy(dtype=float)
                    mean, lo, hi = mean_ci(per)
                rows.append({"statistic": stat, "sites": group, "month": month,
                             "mean": mean, "lo": lo, "hi": hi})
    return pd.DataFrame(rows)


def verdict(statement: Statement, mean: float, lo: float, hi: float) -> str:
    """consistent / inconsistent / not comparable."""
    if statement.comparability == "not comparable" or math.isnan(mean):
        return "not comparable"
    if math.isnan(lo):  # one replicate: the mean alone
        lo = hi = mean
    return "consistent" if hi >= statement.low and lo <= statement.high else "inconsistent"


def verdicts(spec: ValidationFile, series: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per statement: the evidence, the model's value and the verdict."""
    rows = []
    for s in spec.statements:
        frame = series[s.configuration]
        hit = frame[(frame.statistic == s.statistic) & (frame.sites == s.sites)
                    & (frame.month == s.month)]
        mean, lo, hi = (hit.iloc[0][["mean", "lo", "hi"]].astype(float).tolist()
                        if len(hit) else (math.nan,) * 3)
        rows.append({"id": s.id, "configuration": s.configuration, "statistic": s.statistic,
                     "month": s.month, "sites": s.sites, "low": s.low, "high": s.high,
                     "model": mean, "model_lo": lo, "model_hi": hi,
                     "verdict": verdict(s, mean, lo, hi), "comparability": s.comparability,
                     "source": s.source, "passage": s.passage, "reason": s.reason,
                     "mechanism": s.mechanism})
    return pd.DataFrame(rows)


def counts(table: pd.DataFrame) -> dict[str, int]:
    return {v: int((table.verdict == v).sum()) for v in VERDICTS}


__all__ = ["COMPARABILITY", "GROUPS", "STATISTICS", "VERDICTS", "Configuration", "Statement",
           "ValidationFile", "counts", "load_validation", "national_spec", "series_of", "shares",
           "verdict", "verdicts"]


def series_of(out: Path, months: int) -> pd.DataFrame:
    """:func:`shares` of a finished national run in ``out`` (its ``sites.parquet``)."""
    return shares(pd.read_parquet(Path(out) / "sites.parquet"), months)
