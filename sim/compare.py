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

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.errors import UsageError
from sim.experiment.design import run_seed
from sim.experiment.execute import make_executor
from sim.measures import DAC_KEYS, OUTCOMES
from sim.model import check_months, simulate
from sim.scenarios import SCENARIOS, split

#: Runs per task sent to a worker: large enough to amortise the hand-off.
CHUNK = {"mesa": 25, "fast": 500}
ENGINES = ("fast", "mesa")


@dataclass
class Comparison:
    """What ``compare`` returns: one row per run, the table, trajectory bands, curves."""

    runs: pd.DataFrame
    table: pd.DataFrame
    bands: dict[str, dict[str, np.ndarray]]
    curves: dict[str, tuple[np.ndarray, np.ndarray]]
    months: int
    seed: int


def check_scenarios(names: Sequence[str]) -> list[str]:
    """Each name must be a known scenario or composition; duplicates are refused."""
    if not names:
        raise UsageError(f"name at least one scenario; known scenarios: {', '.join(SCENARIOS)}")
    for name in names:
        split(name)
    seen = set()
    for name in names:
        if name in seen:
            raise UsageError(f"scenario '{name}' is named twice")
        seen.add(name)
    return list(names)


def check_replicates(replicates: Any) -> int:
    if isinstance(replicates, bool) or not isinstance(replicates, int | np.integer) \
            or replicates < 1:
        raise UsageError(f"--replicates must be a whole number >= 1, got {replicates!r}")
    return int(replicates)


def _run_chunk(scenario: str, months: int, seeds: list[tuple[int, int]], engine: str = "fast",
               ) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Worker task: run ``(replicate, seed)`` pairs of one scenario; return the summaries
    and the runs' monthly DAC histogram (``int64[months + 1, 9, HIST_BINS]``)."""
    from sim.engine.fast import HIST_BINS, run_many
    from sim.engine.layout import pack_many
    from sim.scenarios import parameters_for

    histogram = np.zeros((months + 1, len(DAC_KEYS), HIST_BINS), dtype=np.int64)
    rows: list[dict[str, Any]] = []
    if engine == "fast":
        values = parameters_for(scenario)
        frame = run_many(pack_many([values] * len(seeds)), [s for _, s in seeds], months,
                         histogram=histogram)
        for i, (replicate, seed) in enumerate(seeds):
            row = {k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v)
                   for k, v in frame.iloc[i].items()}
            row.update(seed=seed, scenario=scenario, months=months, replicate=replicate)
            rows.append(row)
        return rows, histogram
    months_index = np.arange(months + 1)[:, None]
    keys_index = np.arange(len(DAC_KEYS))[None, :]
    for replicate, seed in seeds:
        model = simulate(scenario, seed, months, collect=True)
        row = model.summary()
        del row["parameters"]
        row.update(scenario=scenario, replicate=replicate, seed=seed)
        traj = np.array([model.datacollector.model_vars[f"dac_{k}"] for k in DAC_KEYS]).T
        bins = np.clip((traj * HIST_BINS).astype(np.int64), 0, HIST_BINS - 1)
        np.add.at(histogram, (months_index, keys_index, bins), 1)
        rows.append(row)
    return rows, histogram


def _tasks(scenarios: list[str], replicates: int, seed: int, months: int, engine: str,
           ) -> Iterator[tuple[str, int, list[tuple[int, int]], str]]:
    seeds = [(i, run_seed(seed, 0, i)) for i in range(replicates)]
    chunk = CHUNK[engine]
    for scenario in scenarios:
        for start in range(0, replicates, chunk):
            yield scenario, months, seeds[start:start + chunk], engine


def compare(scenarios: Sequence[str], replicates: int = 100, seed: int = 0, months: int = 60,
            workers: int | None = None, scheduler: str | None = None,
            progress: bool = True, engine: str = "fast") -> Comparison:
    """Run every scenario ``replicates`` times and summarise (see module docstring)."""
    scenarios = check_scenarios(scenarios)
    replicates = check_replicates(replicates)
    months = check_months(months)
    if engine not in ENGINES:
        raise UsageError(f"--engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    from tqdm.auto import tqdm

    rows: list[dict[str, Any]] = []
    histograms: dict[str, np.ndarray] = {}
    total = len(scenarios) * replicates
    with make_executor(workers, scheduler, preload=["sim.model", "sim.engine.fast"]) \
            as executor, \
            tqdm(total=total, unit="run", desc="compare", disable=not progress) as bar:
        for batch, histogram in executor.imap_unordered(
                _run_chunk, _tasks(scenarios, replicates, seed, months, engine)):
            scenario = batch[0]["scenario"]
            rows.extend(batch)
            if scenario in histograms:
                histograms[scenario] += histogram
            else:
                histograms[scenario] = histogram
            bar.update(len(batch))
    order = {s: i for i, s in enumerate(scenarios)}
    runs = pd.DataFrame(rows)
    runs = runs.sort_values(["scenario", "replicate"], key=lambda c: c.map(order)
                            if c.name == "scenario" else c).reset_index(drop=True)
    front = ["scenario", "replicate", "seed", "outcome"]
    runs = runs[front + [c for c in runs.columns if c not in front]]
    for column in ("pilot_month", "integrated_month", "collapse_month", "business_case_month",
                   "small_tasks_month"):
        runs[column] = runs[column].astype("float64")
    table = summarise(runs, scenarios)
    bands = {s: _bands(histograms[s]) for s in scenarios}
    curves = {s: pilot_survival(runs.loc[runs.scenario == s, "pilot_month"], months)
              for s in scenarios}
    return Comparison(runs, table, bands, curves, months, seed)


def wilson(successes: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval for a binomial proportion."""
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(0.95, method="wilson")
    return float(ci.low), float(ci.high)


def summarise(runs: pd.DataFrame, scenarios: Sequence[str]) -> pd.DataFrame:
    """One row per scenario: outcome shares with intervals, pilot timing, final DAC."""
    rows = []
    for scenario in scenarios:
        group = runs[runs.scenario == scenario]
        n = len(group)
        counts = group.outcome.value_counts()
        pilot = int(counts.get("pilot", 0) + counts.get("integrated", 0))
        integrated = int(counts.get("integrated", 0))
        row: dict[str, Any] = {"scenario": scenario, "runs": n, "p_pilot": pilot / n}
        row["p_pilot_lo"], row["p_pilot_hi"] = wilson(pilot, n)
        row["p_integrated"] = integrated / n
        row["p_integrated_lo"], row["p_integrated_hi"] = wilson(integrated, n)
        row["p_stalled"] = counts.get("stalled", 0) / n
        row["p_collapsed"] = counts.get("collapsed", 0) / n
        months = group.pilot_month.dropna()
        row["median_pilot_month"] = float(months.median()) if len(months) else float("nan")
        for key in DAC_KEYS:
            row[f"dac_{key}"] = float(group[f"dac_{key}"].mean())
        for outcome in OUTCOMES:
            row[f"share_{outcome}"] = counts.get(outcome, 0) / n
        rows.append(row)
    return pd.DataFrame(rows)


def _bands(histogram: np.ndarray) -> dict[str, np.ndarray]:
    """10th, 50th, 90th percentiles over replicates, per DAC key an array (3, months + 1),
    from the runs' monthly histogram (to within one bin, 1/HIST_BINS)."""
    from sim.engine.fast import histogram_quantiles

    q = histogram_quantiles(histogram, [0.1, 0.5, 0.9])  # (months + 1, keys, 3)
    return {key: q[:, i, :].T for i, key in enumerate(DAC_KEYS)}


def pilot_survival(pilot_month: pd.Series, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier estimate of the share without a pilot, censored at the horizon."""
    observed = pilot_month.dropna().to_numpy(dtype=float)
    censored = np.full(int(pilot_month.isna().sum()), float(horizon))
    if observed.size == 0:
        return np.array([0.0, horizon]), np.array([1.0, 1.0])
    data = stats.CensoredData(uncensored=observed, right=censored)
    sf = stats.ecdf(data).sf
    months = np.concatenate([[0.0], sf.quantiles, [float(horizon)]])
    surviving = np.concatenate([[1.0], sf.probabilities, [sf.probabilities[-1]]])
    return months, surviving


def sentence(row: pd.Series, months: int) -> str:
    """A plain-language line for one scenario."""
    pilot = (f"reaches a pilot within {months} months in {row.p_pilot:.0%} of runs "
             f"(95% CI {row.p_pilot_lo:.0%}-{row.p_pilot_hi:.0%})")
    when = (f", typically in month {row.median_pilot_month:.0f}"
            if not np.isnan(row.median_pilot_month) else "")
    rest = (f"; full integration in {row.p_integrated:.0%}, stalled in {row.p_stalled:.0%}, "
            f"collapsed in {row.p_collapsed:.0%}.")
    return f"**{row.scenario}** {pilot}{when}{rest}"


def markdown(comparison: Comparison) -> str:
    """``comparison.md``: the table and a sentence per scenario."""
    t = comparison.table
    lines = [f"# Scenario comparison ({int(t.runs.iloc[0])} replicates each, "
             f"{comparison.months} months, seed {comparison.seed})", "",
             "Replicate *i* has the same seed in every scenario (common random numbers).", "",
             "| scenario | P(pilot) [95% CI] | P(integrated) [95% CI] | stalled | collapsed | "
             "median pilot month | team commitment | organisation alignment | "
             "system alignment |",
             "|---|---|---|---|---|---|---|---|---|"]
    for _, r in t.iterrows():
        med = "-" if np.isnan(r.median_pilot_month) else f"{r.median_pilot_month:.0f}"
        lines.append(
            f"| {r.scenario} | {r.p_pilot:.2f} [{r.p_pilot_lo:.2f}, {r.p_pilot_hi:.2f}] | "
            f"{r.p_integrated:.2f} [{r.p_integrated_lo:.2f}, {r.p_integrated_hi:.2f}] | "
            f"{r.p_stalled:.2f} | {r.p_collapsed:.2f} | {med} | "
            f"{r.dac_team_commitment:.2f} | {r.dac_organisation_alignment:.2f} | "
            f"{r.dac_system_alignment:.2f} |")
    lines += ["", *[f"- {sentence(r, comparison.months)}" for _, r in t.iterrows()], "",
              "Figures: `outcomes.png` (outcome shares with intervals), `dac_trajectories.png` "
              "(median and 10-90% band per level), `time_to_pilot.png` (Kaplan-Meier).", ""]
    for name in t.scenario:
        parts = split(name)
        lines.append(f"- `{name}`: " + "; ".join(
            f"{SCENARIOS[p].description} ({SCENARIOS[p].finding})" for p in parts))
    return "\n".join(lines) + "\n"
