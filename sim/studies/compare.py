"""Scenario comparison: R replicates of each scenario with common random numbers.

Replicate ``i`` gets the same seed in every scenario (``run_seed(seed, 0, i)``, the
sweep's seed scheme), so differences between scenarios are not differences of luck.
Runs go through the runner's one executor interface (local processes or Dask), in the fast
engine (default) or the Mesa engine, which give the same runs. The monthly DAC bands come
from streaming histograms (``sim.engine.fast.HIST_BINS`` bins on [0, 1], so quantiles to
within 1/200) that both engines fill, so memory does not grow with the replicates and the
two engines draw the same figure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd

from sim.analysis.stats import (
    KaplanMeier,
    all_pairs,
    kaplan_meier,
    paired_differences,
    wilson,
)
from sim.analysis.variance import forms_of, split_draws
from sim.core.errors import UsageError
from sim.core.inputs import check_months, check_seed
from sim.core.limits import check_size
from sim.core.outputs import DAC_KEYS, GATE_FIELDS, OUTCOMES, SUMMARY_FIELDS
from sim.core.registry import PARAMETERS, resolve, validate
from sim.core.scenarios import SCENARIOS, ResolvedScenario, resolve_scenario
from sim.engine.fast import HIST_BINS, histogram_quantiles
from sim.experiment.design import run_seed
from sim.experiment.execute import make_executor, progress_bar
from sim.run import engine_modules, for_replicates, pack_draws, run_projects, with_draws

#: Runs per task sent to a worker: large enough to amortise the hand-off.
CHUNK = {"mesa": 25, "fast": 500}
ENGINES = ("fast", "mesa")


@dataclass
class Comparison:
    """What ``compare`` returns: one row per run, the table, the paired differences from
    the first scenario, trajectory bands, Kaplan-Meier curves, and the scenarios run."""

    runs: pd.DataFrame
    table: pd.DataFrame
    bands: dict[str, dict[str, np.ndarray]]
    curves: dict[str, KaplanMeier]
    months: int
    seed: int
    differences: pd.DataFrame = field(default_factory=pd.DataFrame)
    scenarios: list[ResolvedScenario] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)
    variance: pd.DataFrame = field(default_factory=pd.DataFrame)  # with a posterior
    posterior_draws: int = 0
    posterior_file: str = ""  # where the draws came from (for the report)
    posterior_columns: tuple[str, ...] = ()  # the registry entries the draws carry
    #: Every pair of scenarios' paired difference in P(pilot), Bonferroni-adjusted
    #: (``sim.analysis.stats.all_pairs``); empty with fewer than three scenarios.
    pairs: pd.DataFrame = field(default_factory=pd.DataFrame)
    reference: str = ""  # the scenario the paired differences are taken from


def check_scenarios(names: Sequence[str | ResolvedScenario],
                    overrides: Mapping[str, Any] | None = None) -> list[ResolvedScenario]:
    """Each entry must be a known scenario, a composition or a scenario file; ``overrides``
    (``--set``) apply to every one. Two scenarios with the same name are refused."""
    if not names:
        raise UsageError(f"name at least one scenario; known scenarios: {', '.join(SCENARIOS)}")
    resolved = [s if isinstance(s, ResolvedScenario) else resolve_scenario(s, overrides)
                for s in names]
    seen = set()
    for scenario in resolved:
        if scenario.name in seen:
            raise UsageError(f"scenario '{scenario.name}' is named twice")
        seen.add(scenario.name)
    return resolved


def check_horizon(scenarios: Sequence[ResolvedScenario], months: int,
                  label: str = "--months") -> None:
    """A scheduled change after the horizon would never apply: refused, naming it."""
    for scenario in scenarios:
        late = [m for m, _ in scenario.schedule if m > months]
        if late:
            raise UsageError(f"scenario '{scenario.name}' changes levers at month {late[0]}, "
                             f"after the horizon ({label} {months}); it would never apply")


def check_replicates(replicates: Any) -> int:
    if isinstance(replicates, bool) or not isinstance(replicates, int | np.integer) \
            or replicates < 1:
        raise UsageError(f"--replicates must be a whole number >= 1, got {replicates!r}")
    return check_size("replicates", replicates)


def _run_chunk(scenario: ResolvedScenario, months: int, seeds: list[tuple[int, int]],
               engine: str = "fast", draws: list[dict[str, Any]] | None = None,
               params: np.ndarray | None = None,
               ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Worker task: run ``(replicate, seed)`` pairs of one scenario; return the summaries
    as columns (one array per field, gate months as floats with NaN; ``scenario``,
    ``months`` and ``replicate`` added) and the runs' monthly DAC histogram
    (``int64[months + 1, 9, HIST_BINS]``). The fast engine takes the runs' packed
    ``params`` (``sim.run.pack_draws``: no dict or frame per run); the Mesa engine one
    dict a run, where with posterior ``draws`` replicate *i* takes draw *i* (cycling),
    under the scenario's own values, which win where both set a parameter."""
    histogram = np.zeros((months + 1, len(DAC_KEYS), HIST_BINS), dtype=np.int64)
    replicates = np.array([i for i, _ in seeds], dtype=np.int64)
    run_seeds = np.array([s for _, s in seeds], dtype=np.int64)
    if params is not None:
        columns = run_projects(params, run_seeds, months, schedule=scenario.schedule_list(),
                               histogram=histogram, as_arrays=True)
        out = {name: columns[name] for name in SUMMARY_FIELDS}
    else:
        values = [resolve(v) for v in with_draws(scenario.values, draws, replicates.tolist())]
        frame = run_projects(values, run_seeds, months, engine=engine,
                             schedule=scenario.schedule_list(), histogram=histogram)
        out = {name: (frame[name].astype("float64").to_numpy() if name in GATE_FIELDS
                      else frame[name].to_numpy()) for name in SUMMARY_FIELDS}
    out["seed"] = run_seeds
    out["scenario"] = np.full(len(seeds), scenario.name, dtype=object)
    out["months"] = np.full(len(seeds), months, dtype=np.int64)
    out["replicate"] = replicates
    return out, histogram


def _tasks(scenarios: list[ResolvedScenario], replicates: int, seed: int, months: int,
           engine: str, posterior: pd.DataFrame | None = None) -> Iterator[tuple]:
    seeds = [(i, run_seed(seed, 0, i)) for i in range(replicates)]
    chunk = CHUNK[engine]
    draws = (posterior.to_dict("records", into=dict) if posterior is not None
             and engine != "fast" else None)  # into=dict: str keys, as the default
    for scenario in scenarios:
        # the fast engine: each draw under the scenario validated and packed once
        records = pack_draws(scenario.values, posterior) if engine == "fast" else None
        for start in range(0, replicates, chunk):
            part = seeds[start:start + chunk]
            params = (for_replicates(records, [i for i, _ in part]) if records is not None
                      else None)
            yield scenario, months, part, engine, draws, params


def _runs_frame(columns: list[dict[str, np.ndarray]], names: Sequence[str]) -> pd.DataFrame:
    """``runs.parquet``: one row per run, scenarios in the order given, then replicates;
    scenario, replicate, seed and outcome first; gate months as floats."""
    runs = pd.DataFrame({name: np.concatenate([c[name] for c in columns])
                         for name in columns[0]})
    order = {s: i for i, s in enumerate(names)}
    runs = runs.sort_values(["scenario", "replicate"], key=lambda c: c.map(order)
                            if c.name == "scenario" else c).reset_index(drop=True)
    front = ["scenario", "replicate", "seed", "outcome"]
    runs = runs[front + [c for c in runs.columns if c not in front]]
    for column in GATE_FIELDS:
        runs[column] = runs[column].astype("float64")
    return runs


def compare(scenarios: Sequence[str | ResolvedScenario], replicates: int = 100, seed: int = 0,
            months: int = 60, workers: int | None = None, scheduler: str | None = None,
            progress: bool = True, engine: str = "fast",
            overrides: Mapping[str, Any] | None = None,
            posterior: pd.DataFrame | None = None,
            reference: str | None = None) -> Comparison:
    """Run every scenario ``replicates`` times and summarise (see module docstring).

    ``scenarios`` are names, ``a+b`` compositions or scenario files (``*.toml``);
    ``overrides`` (``--set``) apply to every scenario. With a ``posterior`` (one row per
    draw, ``sim.studies.calibration.load_posterior``) replicate *i* uses draw *i* and seed *i* in
    every scenario, so the comparison stays paired while its intervals include what the
    case leaves uncertain; the report then splits the variance into parametric and
    run-to-run parts. ``reference`` (default: the first) is the scenario every other is
    compared with; with three or more scenarios every pair is compared too, with
    Bonferroni-adjusted intervals (``Comparison.pairs``).
    """
    resolved = check_scenarios(scenarios, overrides)
    reference = check_reference(reference, [s.name for s in resolved])
    replicates = check_replicates(replicates)
    seed = check_seed(seed)
    months = check_months(months)
    check_horizon(resolved, months)
    if engine not in ENGINES:
        raise UsageError(f"--engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    names = [s.name for s in resolved]
    chunks: list[dict[str, np.ndarray]] = []
    histograms: dict[str, np.ndarray] = {}
    total = len(resolved) * replicates
    with make_executor(workers, scheduler, preload=engine_modules(engine)) \
            as executor, \
            progress_bar(total=total, unit="run", desc="compare",
                         disable=not progress) as bar:
        for columns, histogram in executor.imap_unordered(
                _run_chunk, _tasks(resolved, replicates, seed, months, engine, posterior)):
            scenario = str(columns["scenario"][0])
            chunks.append(columns)
            if scenario in histograms:
                histograms[scenario] += histogram
            else:
                histograms[scenario] = histogram
            bar.update(len(columns["seed"]))
    runs = _runs_frame(chunks, names)
    table = summarise(runs, names, months)
    bands = {s: _bands(histograms[s]) for s in names}
    curves = {s: kaplan_meier(runs.loc[runs.scenario == s, "pilot_month"], months)
              for s in names}
    differences = paired_differences(
        runs, [reference, *(n for n in names if n != reference)], months, seed=seed)
    pairs = all_pairs({name: runs.loc[runs.scenario == name].sort_values("replicate")
                       .outcome.isin(["pilot", "integrated"]).to_numpy(float)
                       for name in names}) if len(names) >= 3 else pd.DataFrame()
    split = (variance_split(resolved, posterior, months, seed)
             if posterior is not None and not posterior.empty else pd.DataFrame())
    return Comparison(runs, table, bands, curves, months, seed, differences, resolved,
                      dict(validate(overrides or {})), split,
                      len(posterior) if posterior is not None else 0,
                      posterior_columns=tuple(posterior.columns) if posterior is not None
                      else (), pairs=pairs, reference=reference)


def check_reference(reference: str | None, names: Sequence[str]) -> str:
    """The reference of the paired differences: one of ``names`` (default the first), or
    a one-line ``UsageError`` naming the allowed values."""
    if reference is None:
        return names[0]
    if reference not in names:
        raise UsageError(f"--reference {reference!r} is not one of the compared scenarios: "
                         f"{', '.join(names)}")
    return reference


#: Draws and seeds per draw of the variance split (parametric vs run-to-run).
SPLIT_DRAWS, SPLIT_SEEDS = 200, 10


def variance_split(scenarios: Sequence[ResolvedScenario], draws: pd.DataFrame,
                   months: int, seed: int) -> pd.DataFrame:
    """How much of the variance of each outcome indicator is run-to-run noise (between
    seeds at one draw), parametric (between posterior draws) and, of the parametric part,
    structural (explained by the draws' structural choices): the law of total variance over
    ``SPLIT_DRAWS`` draws x ``SPLIT_SEEDS`` seeds, fast engine (``sim.analysis.variance``)."""
    n = min(SPLIT_DRAWS, len(draws))
    seeds = [run_seed(seed, 1, i) for i in range(n * SPLIT_SEEDS)]
    choices = [name for name, p in PARAMETERS.items() if p.kind == "choice"]
    forms = forms_of(cast(list[dict[str, Any]], draws.iloc[:n].to_dict("records")), choices)
    rows = []
    for scenario in scenarios:
        # run i takes draw i // SPLIT_SEEDS under the scenario's values, each draw
        # validated and packed once (sim.run.pack_draws)
        params = pack_draws(scenario.values, draws.iloc[:n])[
            np.arange(n * SPLIT_SEEDS) // SPLIT_SEEDS]
        columns = run_projects(params, seeds, months, schedule=scenario.schedule_list(),
                               as_arrays=True)
        # a scenario that sets a structural choice holds it: it explains no variance there
        held = forms[[c for c in forms.columns if c not in scenario.values]]
        for label, test in (("pilot", ("pilot", "integrated")), ("integrated", ("integrated",))):
            y = np.isin(columns["outcome"], test).astype(float).reshape(n, SPLIT_SEEDS)
            part = split_draws(y, held if len(held.columns) else None)
            largest = max(part.by_form, key=lambda k: part.by_form[k]) if part.by_form \
                else ""
            rows.append({"scenario": scenario.name, "outcome": label, "variance": part.total,
                         "stochastic_share": part.stochastic,
                         "parametric_share": part.parametric,
                         "structural_share": part.structural,
                         "largest_structural": largest,
                         "largest_structural_share": part.by_form.get(largest, np.nan),
                         "draws": n, "seeds_per_draw": SPLIT_SEEDS})
    return pd.DataFrame(rows)


def summarise(runs: pd.DataFrame, scenarios: Sequence[str], horizon: int = 60,
              ) -> pd.DataFrame:
    """One row per scenario: outcome shares with intervals, time to pilot (Kaplan-Meier
    median with its interval, and the median among the runs that piloted), final DAC."""
    rows = []
    for scenario in scenarios:
        group = runs[runs.scenario == scenario]
        n = len(group)
        counts = group.outcome.value_counts()
        pilot = int(counts.get("pilot", 0) + counts.get("integrated", 0))
        integrated = int(counts.get("integrated", 0))
        row: dict[str, Any] = {"scenario": scenario, "runs": n, "p_pilot": pilot / n}
        row["p_pilot_lo"], row["p_pilot_hi"] = wilson(pilot, n)
        commissioned = int(group.commissioned_month.notna().sum()) \
            if "commissioned_month" in group else 0
        row["p_commissioned"] = commissioned / n
        row["p_commissioned_lo"], row["p_commissioned_hi"] = wilson(commissioned, n)
        row["p_integrated"] = integrated / n
        row["p_integrated_lo"], row["p_integrated_hi"] = wilson(integrated, n)
        row["p_stalled"] = counts.get("stalled", 0) / n
        row["p_collapsed"] = counts.get("collapsed", 0) / n
        km = kaplan_meier(group.pilot_month, horizon)
        row["km_median_pilot_month"], row["km_median_lo"], row["km_median_hi"] = km.median()
        months = group.pilot_month.dropna()
        row["median_pilot_month_if_piloted"] = float(months.median()) if len(months) \
            else float("nan")
        row["restricted_mean_pilot_month"] = float(
            group.pilot_month.fillna(horizon).clip(upper=horizon).mean())
        for key in DAC_KEYS:
            row[f"dac_{key}"] = float(group[f"dac_{key}"].mean())
        for outcome in OUTCOMES:
            row[f"share_{outcome}"] = counts.get(outcome, 0) / n
        rows.append(row)
    return pd.DataFrame(rows)


def _bands(histogram: np.ndarray) -> dict[str, np.ndarray]:
    """10th, 50th, 90th percentiles over replicates, per DAC key an array (3, months + 1),
    from the runs' monthly histogram (to within one bin, 1/HIST_BINS)."""
    q = histogram_quantiles(histogram, [0.1, 0.5, 0.9])  # (months + 1, keys, 3)
    return {key: q[:, i, :].T for i, key in enumerate(DAC_KEYS)}
