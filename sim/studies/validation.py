"""External validation of the national view: evidence statements as data, and verdicts.

A validation file (TOML) names programme configurations of ``icsim national`` and the
statements of independent national evaluations about them (docs/national_evidence.md).
Each statement names a statistic -- the share of sites (all, funded, or the programme's)
that reached a pilot, a commissioned service, integration, the switch to small tasks, or
collapse by a month -- and the range the evidence allows. The model's value is that share
per replicate (each replicate a new country and, under a posterior, a new draw), as a mean
with a 95% t interval across replicates; the verdict is *consistent* when the interval
overlaps the allowed range, *inconsistent* when it does not, and *not comparable* when the
file says so.

A configuration's ``programme`` says which sites the programme took: the readiest share of
the country (``by = "readiness"``, as a competitive programme funds them: the same
``national.chosen``), those with the most prior work (``"prior_work"``), or a random share
(``"random"``, from the configuration's seed and the replicate). Statements with
``sites = "programme"`` are about those sites. Every site of the country still runs under
the approach; sites do not interact, so this is the same as running the programme's only.

A statement with ``contrast = "<configuration>"`` is about a difference: the statistic
under the contrast configuration minus under the statement's configuration, replicate by
replicate (replicate *r* of both is the same country, the same site seeds and, under a
posterior, the same draw), as a mean with a paired 95% t interval; ``low`` and ``high``
bound that difference, in [-1, 1].

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
    programme = { share = 0.12, by = "readiness" }   # optional: readiness | prior_work | random

    [[statements]]
    id = "E1.3"
    configuration = "pioneers"
    statistic = "small_tasks"  # pilot | commissioned | integrated | small_tasks | collapsed
    month = 30
    sites = "all"              # all | funded | programme
    low = 0.5
    high = 1.0
    source = "Erens et al. 2017"
    passage = "..."
    comparability = "proxy"    # direct | proxy | not comparable (then: reason = "...")
    mechanism = "what the model blames if inconsistent"
    # contrast = "pioneers_money"   # optional: the difference contrast - configuration
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.stats import mean_ci
from sim.core.errors import UsageError, one_line
from sim.core.limits import IDENTIFIER, read_text_file
from sim.core.scenarios import is_scenario_file
from sim.core.tomlfile import loads as toml_loads
from sim.studies import national

STATISTICS = ("pilot", "commissioned", "integrated", "small_tasks", "collapsed")
GROUPS = ("all", "funded", "programme")
#: How a programme selects its sites (a configuration's ``programme.by``).
SELECTIONS = ("readiness", "prior_work", "random")
COMPARABILITY = ("direct", "proxy", "not comparable")
VERDICTS = ("consistent", "inconsistent", "not comparable")
#: Each statistic's month column in ``sites.parquet`` (collapse is recorded at the horizon).
COLUMNS = {"pilot": "pilot_month", "commissioned": "commissioned_month",
           "integrated": "integrated_month", "small_tasks": "small_tasks_month"}
_CONFIG_KEYS = ("name", "approach", "funding_rule", "budget_per_site", "sites", "replicates",
                "months", "description", "money_note", "seed", "programme")
_PROGRAMME_KEYS = ("share", "by")
_STATEMENT_KEYS = ("id", "configuration", "statistic", "month", "sites", "low", "high",
                   "source", "passage", "comparability", "reason", "mechanism", "contrast")
#: Mixed into the seed of a random programme selection (its own stream of the seed).
_RANDOM_SELECTION = 0x5E1EC7


@dataclass(frozen=True)
class Programme:
    """Which sites the programme took: ``ceil(share x sites)`` of them, by ``by``."""

    share: float
    by: str

    def describe(self) -> str:
        return {"readiness": f"the readiest {self.share:.0%} of sites",
                "prior_work": f"the {self.share:.0%} of sites with the most prior work",
                "random": f"a random {self.share:.0%} of sites"}[self.by]


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
    programme: Programme | None = None


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
    #: Another configuration: the statement is about the difference, contrast - this.
    contrast: str = ""


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
           allowed: Sequence[str], where: str = "") -> str:
    """Check one ``[[configurations]]`` or ``[[statements]]`` entry's (or a configuration's
    ``programme`` table's) shape and keys; return how refusals name it
    (``configuration 'pioneers'``, ``statement 3``, or ``where`` if given)."""
    where = where or (f"{kind} {entry.get(key, i + 1)!r}" if isinstance(entry, dict)
                      else f"{kind} {i + 1}")
    if not isinstance(entry, dict):
        raise _refuse(path, where, "must be a table")
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        raise _refuse(path, where, f"unknown key '{unknown[0]}'; allowed: "
                      f"{', '.join(allowed)}")
    return where


def _programme(path: Path, where: str, entry: dict) -> Programme | None:
    """A configuration's ``programme = { share = ..., by = ... }``, checked."""
    if "programme" not in entry:
        return None
    table = entry["programme"]
    _table(path, "", "", 0, table, _PROGRAMME_KEYS,
           where=f"{where}: programme (a table: {{ share = 0.12, by = \"readiness\" }})")
    share, by = table.get("share"), table.get("by")
    if not _number(share) or not 0 < share <= 1:
        raise _refuse(path, where, f"programme share must be a number in (0, 1] (the share of "
                      f"sites the programme took), got {share!r}")
    if by not in SELECTIONS:
        raise _refuse(path, where, f"programme by must be one of {', '.join(SELECTIONS)}, "
                      f"got {by!r}")
    return Programme(float(share), by)


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
            _text(path, where, entry, "money_note"), seed, _programme(path, where, entry)))
    known = {c.name: c for c in configs}
    horizons = {c.name: c.months for c in configs}
    statements: list[Statement] = []
    for i, entry in enumerate(statements_raw):
        where = _table(path, "statement", "id", i, entry, _STATEMENT_KEYS)
        sid = _text(path, where, entry, "id")
        if any(s.id == sid for s in statements):
            raise _refuse(path, where, "a statement with this id comes earlier")
        conf = entry.get("configuration")
        if not isinstance(conf, str) or conf not in horizons:
            raise _refuse(path, where, f"unknown configuration {conf!r}; known: "
                          f"{', '.join(horizons)}")
        stat = entry.get("statistic")
        if stat not in STATISTICS:
            raise _refuse(path, where, f"unknown statistic {stat!r}; allowed: "
                          f"{', '.join(STATISTICS)}")
        contrast = entry.get("contrast", "")
        if "contrast" in entry and (not isinstance(contrast, str) or contrast not in horizons
                                    or contrast == conf):
            raise _refuse(path, where, f"contrast must name another configuration; known: "
                          f"{', '.join(c for c in horizons if c != conf) or 'none'}; got "
                          f"{contrast!r}")
        if contrast:
            first, other = known[conf], known[contrast]
            for key in ("sites", "seed", "replicates"):
                if getattr(first, key) != getattr(other, key):
                    raise _refuse(path, where, f"a contrast pairs replicate r of '{conf}' with "
                                  f"replicate r of '{contrast}' (the same country and seeds): "
                                  f"their '{key}' must be equal, got {getattr(first, key)} "
                                  f"and {getattr(other, key)}")
        compared = [conf, contrast] if contrast else [conf]
        horizon = min(horizons[c] for c in compared)
        named = " and ".join(f"'{c}'" for c in compared)
        month: Any = entry.get("month")  # checked just below
        if not _whole(month) or not 0 <= month <= horizon:
            raise _refuse(path, where, f"month must be a whole number in [0, {horizon}] (the "
                          f"horizon of {named}), got {month!r}")
        if stat == "collapsed" and any(month != horizons[c] for c in compared):
            raise _refuse(path, where, f"collapse is recorded at the horizon only: month must "
                          f"be the horizon of {named} "
                          f"({', '.join(str(horizons[c]) for c in compared)}), got {month}")
        group = entry.get("sites", "all")
        if group not in GROUPS:
            raise _refuse(path, where, f"sites must be one of {', '.join(GROUPS)}, got "
                          f"{group!r}")
        lacking = [c for c in compared if group == "programme" and known[c].programme is None]
        if lacking:
            raise _refuse(path, where, f"sites 'programme' needs configuration '{lacking[0]}' "
                          "to say which sites the programme took: programme = { share = "
                          f"<in (0, 1]>, by = <{' | '.join(SELECTIONS)}> }}")
        low: Any = entry.get("low")  # both checked just below
        high: Any = entry.get("high")
        floor = -1 if contrast else 0
        if not (_number(low) and _number(high)) or not floor <= low <= high <= 1:
            raise _refuse(path, where, f"the range must have {floor} <= low <= high <= 1"
                          + (" (a difference of shares)" if contrast else "")
                          + f", got low {low!r}, high {high!r}")
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
            _text(path, where, entry, "mechanism", required=False), contrast))
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


def programme_mask(sites: pd.DataFrame, programme: Programme, seed: int) -> pd.Series:
    """Per row of a national run's ``sites.parquet``: did the programme take the site?
    Per replicate (and rule), ``national.chosen`` over the sites' readiness or prior work,
    or over a random score drawn from ``(seed, replicate)``: deterministic from the seed."""
    taken = pd.Series(False, index=sites.index)
    for _, part in sites.groupby(["rule", "replicate"], sort=False):
        part = part.sort_values("site")
        if programme.by == "random":
            rng = np.random.default_rng(np.random.SeedSequence(
                [seed, _RANDOM_SELECTION, int(part.replicate.iloc[0])]))
            score = rng.random(len(part))
        else:
            score = part[programme.by].to_numpy(dtype=float)
        taken[part.index[national.chosen(score, programme.share)]] = True
    return taken


def load_sites(out: Path, conf: Configuration) -> pd.DataFrame:
    """A finished national run's ``sites.parquet``, with the column ``programme`` when the
    configuration names one."""
    sites = pd.read_parquet(Path(out) / "sites.parquet")
    if conf.programme is not None:
        sites["programme"] = programme_mask(sites, conf.programme, conf.seed)
    return sites


def per_replicate(sites: pd.DataFrame, statistic: str, group: str, month: int) -> pd.Series:
    """The share of a group's sites that reached ``statistic`` by ``month``, per replicate
    (indexed by replicate; empty when the group has no sites)."""
    if group == "all":
        part = sites
    elif group in sites.columns:
        part = sites[sites[group].astype(bool)]
    else:  # a configuration with no programme
        part = sites.iloc[:0]
    reached = (part.outcome == "collapsed") if statistic == "collapsed" else \
        (part[COLUMNS[statistic]].astype(float) <= month)
    return reached.groupby(part.replicate).mean().astype(float)


def shares(sites: pd.DataFrame, months: int) -> pd.DataFrame:
    """Per statistic, site group and month: the share of sites across replicates (mean,
    95% t interval). Collapse is known at the horizon only (one row, at ``months``). The
    programme's sites only where ``sites`` has the column ``programme``."""
    rows = []
    for group in GROUPS:
        if group == "programme" and group not in sites.columns:
            continue
        for stat in STATISTICS:
            for month in ([months] if stat == "collapsed" else range(months + 1)):
                per = per_replicate(sites, stat, group, month).to_numpy()
                mean, lo, hi = mean_ci(per) if per.size else (float("nan"),) * 3
                rows.append({"statistic": stat, "sites": group, "month": month,
                             "mean": mean, "lo": lo, "hi": hi})
    return pd.DataFrame(rows)


def model_value(statement: Statement, sites: dict[str, pd.DataFrame],
                ) -> tuple[float, float, float]:
    """A statement's model value: the share (mean, 95% interval across replicates) or, for
    a contrast, the difference contrast - configuration, paired by replicate."""
    value = per_replicate(sites[statement.configuration], statement.statistic,
                          statement.sites, statement.month)
    if statement.contrast:
        other = per_replicate(sites[statement.contrast], statement.statistic,
                              statement.sites, statement.month)
        value = (other - value).dropna()  # the replicates both have
    if not len(value):
        return (math.nan,) * 3
    mean, lo, hi = mean_ci(value.to_numpy(dtype=float),
                           (-1.0, 1.0) if statement.contrast else (0.0, 1.0))
    return float(mean), float(lo), float(hi)


def verdict(statement: Statement, mean: float, lo: float, hi: float) -> str:
    """consistent / inconsistent / not comparable."""
    if statement.comparability == "not comparable" or math.isnan(mean):
        return "not comparable"
    if math.isnan(lo):  # one replicate: the mean alone
        lo = hi = mean
    return "consistent" if hi >= statement.low and lo <= statement.high else "inconsistent"


def verdicts(spec: ValidationFile, sites: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per statement: the evidence, the model's value and the verdict. ``sites``:
    each configuration's :func:`load_sites`."""
    rows = []
    for s in spec.statements:
        mean, lo, hi = model_value(s, sites)
        rows.append({"id": s.id, "configuration": s.configuration, "statistic": s.statistic,
                     "month": s.month, "sites": s.sites, "contrast": s.contrast,
                     "low": s.low, "high": s.high,
                     "model": mean, "model_lo": lo, "model_hi": hi,
                     "verdict": verdict(s, mean, lo, hi), "comparability": s.comparability,
                     "source": s.source, "passage": s.passage, "reason": s.reason,
                     "mechanism": s.mechanism})
    return pd.DataFrame(rows)


def counts(table: pd.DataFrame) -> dict[str, int]:
    return {v: int((table.verdict == v).sum()) for v in VERDICTS}


__all__ = ["COMPARABILITY", "GROUPS", "SELECTIONS", "STATISTICS", "VERDICTS",
           "Configuration", "Programme", "Statement", "ValidationFile", "counts",
           "load_sites", "load_validation", "model_value", "national_spec", "per_replicate",
           "programme_mask", "shares", "verdict", "verdicts"]
