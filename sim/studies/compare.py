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

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.core.errors import UsageError
from sim.core.inputs import check_months
from sim.core.outputs import DAC_KEYS, GATE_FIELDS, OUTCOMES
from sim.core.registry import validate
from sim.core.scenarios import SCENARIOS, ResolvedScenario, resolve_scenario
from sim.experiment.design import run_seed
from sim.experiment.execute import make_executor

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


def check_scenarios(names: Sequence[str], overrides: Mapping[str, Any] | None = None,
                    ) -> list[ResolvedScenario]:
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


def check_replicates(replicates: Any) -> int:
    if isinstance(replicates, bool) or not isinstance(replicates, int | np.integer) \
            or replicates < 1:
        raise UsageError(f"--replicates must be a whole number >= 1, got {replicates!r}")
    from sim.core.limits import check_size

    return check_size("replicates", replicates)


def _run_chunk(scenario: ResolvedScenario, months: int, seeds: list[tuple[int, int]],
               engine: str = "fast", draws: list[dict[str, Any]] | None = None,
               ) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Worker task: run ``(replicate, seed)`` pairs of one scenario; return the summaries
    and the runs' monthly DAC histogram (``int64[months + 1, 9, HIST_BINS]``). With
    posterior ``draws``, replicate *i* takes draw *i* (cycling), under the scenario's own
    values, which win where both set a parameter."""
    from sim.core.registry import resolve
    from sim.engine.fast import HIST_BINS
    from sim.run import run_projects, with_draws

    histogram = np.zeros((months + 1, len(DAC_KEYS), HIST_BINS), dtype=np.int64)
    replicates = [i for i, _ in seeds]
    values = [resolve(v) for v in with_draws(scenario.values, draws, replicates)]
    frame = run_projects(values, [s for _, s in seeds], months, engine=engine,
                         schedule=scenario.schedule_list(), histogram=histogram)
    rows: list[dict[str, Any]] = []
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for row, (replicate, seed) in zip(records, seeds, strict=True):
        row = {k: v.item() if hasattr(v, "item") else v for k, v in row.items()}
        row.update(seed=seed, scenario=scenario.name, months=months, replicate=replicate)
        rows.append(row)
    return rows, histogram


def _tasks(scenarios: list[ResolvedScenario], replicates: int, seed: int, months: int,
           engine: str, draws: list[dict[str, Any]] | None = None) -> Iterator[tuple]:
    seeds = [(i, run_seed(seed, 0, i)) for i in range(replicates)]
    chunk = CHUNK[engine]
    for scenario in scenarios:
        for start in range(0, replicates, chunk):
            yield scenario, months, seeds[start:start + chunk], engine, draws


def compare(scenarios: Sequence[str | ResolvedScenario], replicates: int = 100, seed: int = 0,
            months: int = 60, workers: int | None = None, scheduler: str | None = None,
            progress: bool = True, engine: str = "fast",
            overrides: Mapping[str, Any] | None = None,
            posterior: pd.DataFrame | None = None) -> Comparison:
    """Run every scenario ``replicates`` times and summarise (see module docstring).

    ``scenarios`` are names, ``a+b`` compositions or scenario files (``*.toml``);
    ``overrides`` (``--set``) apply to every scenario. With a ``posterior`` (one row per
    draw, ``sim.studies.calibration.load_posterior``) replicate *i* uses draw *i* and seed *i* in
    every scenario, so the comparison stays paired while its intervals include what the
    case leaves uncertain; the report then splits the variance into parametric and
    run-to-run parts.
    """
    from sim.core.inputs import check_seed

    resolved = check_scenarios(scenarios, overrides)
    replicates = check_replicates(replicates)
    seed = check_seed(seed)
    months = check_months(months)
    if engine not in ENGINES:
        raise UsageError(f"--engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    from tqdm.auto import tqdm

    names = [s.name for s in resolved]
    draws = posterior.to_dict("records") if posterior is not None else None
    rows: list[dict[str, Any]] = []
    histograms: dict[str, np.ndarray] = {}
    total = len(resolved) * replicates
    with make_executor(workers, scheduler, preload=["sim.mesa.model", "sim.engine.fast"]) \
            as executor, \
            tqdm(total=total, unit="run", desc="compare", disable=not progress) as bar:
        for batch, histogram in executor.imap_unordered(
                _run_chunk, _tasks(resolved, replicates, seed, months, engine, draws)):
            scenario = batch[0]["scenario"]
            rows.extend(batch)
            if scenario in histograms:
                histograms[scenario] += histogram
            else:
                histograms[scenario] = histogram
            bar.update(len(batch))
    order = {s: i for i, s in enumerate(names)}
    runs = pd.DataFrame(rows)
    runs = runs.sort_values(["scenario", "replicate"], key=lambda c: c.map(order)
                            if c.name == "scenario" else c).reset_index(drop=True)
    front = ["scenario", "replicate", "seed", "outcome"]
    runs = runs[front + [c for c in runs.columns if c not in front]]
    for column in GATE_FIELDS:
        runs[column] = runs[column].astype("float64")
    table = summarise(runs, names, months)
    bands = {s: _bands(histograms[s]) for s in names}
    curves = {s: kaplan_meier(runs.loc[runs.scenario == s, "pilot_month"], months)
              for s in names}
    differences = paired_differences(runs, names, months, seed=seed)
    split = (variance_split(resolved, draws, months, seed) if draws
             else pd.DataFrame())
    return Comparison(runs, table, bands, curves, months, seed, differences, resolved,
                      dict(validate(overrides or {})), split, len(draws or []))


#: Draws and seeds per draw of the variance split (parametric vs run-to-run).
SPLIT_DRAWS, SPLIT_SEEDS = 200, 10


def variance_split(scenarios: Sequence[ResolvedScenario], draws: list[dict[str, Any]],
                   months: int, seed: int) -> pd.DataFrame:
    """How much of the variance of each outcome indicator is parametric (between
    posterior draws) and how much run-to-run noise (between seeds at one draw): the law of
    total variance over ``SPLIT_DRAWS`` draws x ``SPLIT_SEEDS`` seeds, fast engine."""
    from sim.core.registry import resolve
    from sim.run import run_projects

    n = min(SPLIT_DRAWS, len(draws))
    seeds = [run_seed(seed, 1, i) for i in range(n * SPLIT_SEEDS)]
    rows = []
    for scenario in scenarios:
        values = [resolve({**draws[i // SPLIT_SEEDS], **scenario.values})
                  for i in range(n * SPLIT_SEEDS)]
        frame = run_projects(values, seeds, months, schedule=scenario.schedule_list())
        for label, test in (("pilot", ("pilot", "integrated")), ("integrated", ("integrated",))):
            y = frame.outcome.isin(test).to_numpy(float).reshape(n, SPLIT_SEEDS)
            total = y.var()
            within = y.var(axis=1).mean()
            rows.append({"scenario": scenario.name, "outcome": label, "variance": total,
                         "parametric_share": (1 - within / total) if total > 0 else np.nan,
                         "draws": n, "seeds_per_draw": SPLIT_SEEDS})
    return pd.DataFrame(rows)


def wilson(successes: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval for a binomial proportion."""
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(0.95, method="wilson")
    return float(ci.low), float(ci.high)


#: Two-sided level of every interval, and the power assumed for "replicates needed".
LEVEL, POWER = 0.95, 0.80
#: Paired bootstrap resamples for the difference in Kaplan-Meier median time to pilot.
BOOTSTRAP = 1000


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
    from sim.engine.fast import histogram_quantiles

    q = histogram_quantiles(histogram, [0.1, 0.5, 0.9])  # (months + 1, keys, 3)
    return {key: q[:, i, :].T for i, key in enumerate(DAC_KEYS)}


@dataclass(frozen=True)
class KaplanMeier:
    """Kaplan-Meier estimate of the share of runs without a pilot by month, censored at the
    horizon, with pointwise 95% log-log (Greenwood) bands and the numbers at risk.

    ``months`` and ``surviving`` are step points from month 0 to the horizon (so they can be
    plotted as a step function, ``where="post"``), ``lower``/``upper`` the band at the same
    points, ``at_risk(m)`` the runs still without a pilot at the start of month ``m``.
    scipy's ``stats.ecdf`` does the estimate and the Greenwood interval; lifelines would add
    a dependency for the same two numbers.
    """

    months: np.ndarray
    surviving: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    times: np.ndarray  # every run's pilot month, +inf where no pilot by the horizon
    horizon: int

    def __iter__(self):  # ``months, surviving = curve`` as before
        return iter((self.months, self.surviving))

    def at_risk(self, month: float) -> int:
        """Runs without a pilot before ``month`` (the number at risk)."""
        return int((self.times >= month).sum())

    def median(self) -> tuple[float, float, float]:
        """The median month to pilot with its 95% interval (Brookmeyer-Crowley: where the
        band crosses one half); NaN where not reached within the horizon."""
        def first_below(curve: np.ndarray) -> float:
            hit = np.nonzero(curve <= 0.5)[0]
            return float(self.months[hit[0]]) if hit.size else float("nan")

        return first_below(self.surviving), first_below(self.lower), first_below(self.upper)


def kaplan_meier(pilot_month: pd.Series, horizon: int) -> KaplanMeier:
    """Kaplan-Meier curve of time to pilot (see :class:`KaplanMeier`)."""
    values = pd.Series(pilot_month, dtype="float64")
    times = values.fillna(np.inf).to_numpy()
    observed = values.dropna().to_numpy(dtype=float)
    censored = np.full(int(values.isna().sum()), float(horizon))
    if observed.size == 0:
        ones = np.array([1.0, 1.0])
        return KaplanMeier(np.array([0.0, horizon]), ones, ones, ones, times, horizon)
    data = stats.CensoredData(uncensored=observed, right=censored)
    sf = stats.ecdf(data).sf
    months = np.concatenate([[0.0], sf.quantiles, [float(horizon)]])
    surviving = np.concatenate([[1.0], sf.probabilities, [sf.probabilities[-1]]])
    import warnings

    with np.errstate(all="ignore"), warnings.catch_warnings():
        # undefined where S is 0 or 1 (no event yet): the band is [S, S] there
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = sf.confidence_interval(LEVEL, method="log-log")
    low = np.where(np.isnan(ci.low.probabilities), sf.probabilities, ci.low.probabilities)
    high = np.where(np.isnan(ci.high.probabilities), sf.probabilities, ci.high.probabilities)
    lower = np.concatenate([[1.0], low, [low[-1]]])
    upper = np.concatenate([[1.0], high, [high[-1]]])
    keep = months <= horizon
    return KaplanMeier(months[keep], surviving[keep], lower[keep], upper[keep], times, horizon)


def pilot_survival(pilot_month: pd.Series, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier estimate of the share without a pilot: ``(months, surviving)``."""
    km = kaplan_meier(pilot_month, horizon)
    return km.months, km.surviving


def _km_medians(times: np.ndarray) -> np.ndarray:
    """KM median of each row of ``times`` (runs censored only at the horizon, stored as
    +inf): with no censoring before the horizon KM is the empirical survival function, so
    the median is the ceil(n/2)-th smallest time, or +inf (not reached)."""
    n = times.shape[-1]
    return np.sort(times, axis=-1)[..., math.ceil(n / 2) - 1]


def _paired(d: np.ndarray) -> tuple[float, float, float, float]:
    """Mean of paired differences, its normal 95% interval and the standard deviation."""
    n = d.size
    mean, sd = float(d.mean()), float(d.std(ddof=1)) if n > 1 else float("nan")
    half = stats.norm.ppf(0.5 + LEVEL / 2) * sd / math.sqrt(n)
    return mean, mean - half, mean + half, sd


def replicates_needed(difference: float, sd: float) -> float:
    """Replicates for a paired two-sided test at 5% to detect ``difference`` with 80%
    power, when the paired differences have standard deviation ``sd`` (normal
    approximation: n = ((z_0.975 + z_0.80) sd / difference)^2). NaN if no difference."""
    if not difference or not math.isfinite(sd) or not math.isfinite(difference):
        return float("nan")
    z = stats.norm.ppf(0.5 + LEVEL / 2) + stats.norm.ppf(POWER)
    return float(math.ceil((z * sd / abs(difference)) ** 2))


def paired_differences(runs: pd.DataFrame, scenarios: Sequence[str], horizon: int,
                       seed: int = 0) -> pd.DataFrame:
    """Each scenario minus the first, replicate by replicate (common random numbers).

    * P(pilot), P(integrated): mean of d_i = x_i(scenario) - x_i(first) with a normal 95%
      interval from the paired differences' standard deviation;
    * restricted mean months to pilot (pilot month, or the horizon if none): the same;
    * Kaplan-Meier median months to pilot: a paired bootstrap (the same resampled
      replicates for both scenarios), percentile interval; NaN where the median is not
      reached in the point estimate or in more than 2.5% of resamples.
    """
    first = scenarios[0]
    base = runs[runs.scenario == first].set_index("replicate").sort_index()
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xD1FF]))
    n = len(base)
    draws = rng.integers(0, n, size=(BOOTSTRAP, n))
    rows = []
    for scenario in scenarios[1:]:
        other = runs[runs.scenario == scenario].set_index("replicate").sort_index()
        if not other.index.equals(base.index):
            raise ValueError(f"scenario {scenario} has other replicates than {first}")
        row: dict[str, Any] = {"scenario": scenario, "versus": first, "pairs": n}
        for key, column in (("p_pilot", None), ("p_integrated", None),
                            ("restricted_mean_pilot_month", "pilot_month")):
            if key == "p_pilot":
                a = other.outcome.isin(["pilot", "integrated"]).to_numpy(float)
                b = base.outcome.isin(["pilot", "integrated"]).to_numpy(float)
            elif key == "p_integrated":
                a = (other.outcome == "integrated").to_numpy(float)
                b = (base.outcome == "integrated").to_numpy(float)
            else:
                a = other[column].fillna(horizon).clip(upper=horizon).to_numpy(float)
                b = base[column].fillna(horizon).clip(upper=horizon).to_numpy(float)
            mean, lo, hi, sd = _paired(a - b)
            row[f"d_{key}"], row[f"d_{key}_lo"], row[f"d_{key}_hi"] = mean, lo, hi
            row[f"d_{key}_sd"] = sd
            row[f"d_{key}_replicates_needed"] = replicates_needed(mean, sd)
        ta = other.pilot_month.fillna(np.inf).to_numpy(float)
        tb = base.pilot_month.fillna(np.inf).to_numpy(float)
        with np.errstate(invalid="ignore"):  # inf - inf: a median not reached
            point = _km_medians(ta) - _km_medians(tb)
            boot = _km_medians(ta[draws]) - _km_medians(tb[draws])
        finite = np.isfinite(boot)
        if math.isfinite(point) and finite.mean() >= 0.975:
            lo, hi = np.percentile(boot[finite], [2.5, 97.5])
            row["d_km_median"], row["d_km_median_lo"], row["d_km_median_hi"] = \
                float(point), float(lo), float(hi)
        else:
            row["d_km_median"] = float(point) if math.isfinite(point) else float("nan")
            row["d_km_median_lo"] = row["d_km_median_hi"] = float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ the report
def _pct(x: float) -> str:
    """A share as a whole percentage: the one rounding every report line uses."""
    return "-" if x is None or not math.isfinite(x) else f"{round(100 * x):.0f}%"


def _pp(x: float) -> str:
    """A difference of shares in percentage points, signed."""
    return "-" if not math.isfinite(x) else f"{round(100 * x):+.0f} pp"


def _month(x: float) -> str:
    return "not reached" if not math.isfinite(x) else f"{x:g}"


def _signed(x: float, digits: int = 1) -> str:
    return "-" if not math.isfinite(x) else f"{x:+.{digits}f}"


def formatted(table: pd.DataFrame) -> pd.DataFrame:
    """The table as the report shows it: every number rounded once, as text. The Markdown
    table, its sentences and the console all print these strings."""
    rows = []
    for r in table.itertuples():
        km = _month(r.km_median_pilot_month)
        km_ci = (f"{_month(r.km_median_lo)}-{_month(r.km_median_hi)}"
                 if math.isfinite(r.km_median_lo) else "not reached")
        rows.append({
            "scenario": r.scenario, "runs": str(r.runs),
            "P(pilot)": _pct(r.p_pilot),
            "P(pilot) 95% CI": f"{_pct(r.p_pilot_lo)}-{_pct(r.p_pilot_hi)}",
            "P(integrated)": _pct(r.p_integrated),
            "P(integrated) 95% CI": f"{_pct(r.p_integrated_lo)}-{_pct(r.p_integrated_hi)}",
            "stalled": _pct(r.p_stalled), "collapsed": _pct(r.p_collapsed),
            "median months to pilot (KM)": km, "KM 95% CI": km_ci,
            "median pilot month if piloted": _month(r.median_pilot_month_if_piloted)
            if math.isfinite(r.median_pilot_month_if_piloted) else "-",
            "team commitment": f"{r.dac_team_commitment:.2f}",
            "organisation alignment": f"{r.dac_organisation_alignment:.2f}",
            "system alignment": f"{r.dac_system_alignment:.2f}",
        })
    return pd.DataFrame(rows)


def formatted_differences(differences: pd.DataFrame) -> pd.DataFrame:
    """The paired differences as the report shows them (one rounding, as text)."""
    rows = []
    for r in differences.itertuples():
        rows.append({
            "scenario": r.scenario,
            "ΔP(pilot) [95% CI]": f"{_pp(r.d_p_pilot)} [{_pp(r.d_p_pilot_lo)}, "
                                  f"{_pp(r.d_p_pilot_hi)}]",
            "ΔP(integrated) [95% CI]": f"{_pp(r.d_p_integrated)} [{_pp(r.d_p_integrated_lo)}, "
                                       f"{_pp(r.d_p_integrated_hi)}]",
            "Δ median months to pilot (KM) [95% CI]":
                ("cannot tell (median not reached)" if not math.isfinite(r.d_km_median) else
                 f"{_signed(r.d_km_median, 0)}" + (
                     f" [{_signed(r.d_km_median_lo, 0)}, {_signed(r.d_km_median_hi, 0)}]"
                     if math.isfinite(r.d_km_median_lo) else " [interval not determined]")),
            "Δ restricted mean months to pilot [95% CI]":
                f"{_signed(r.d_restricted_mean_pilot_month)} "
                f"[{_signed(r.d_restricted_mean_pilot_month_lo)}, "
                f"{_signed(r.d_restricted_mean_pilot_month_hi)}]",
        })
    return pd.DataFrame(rows)


def _markdown_table(frame: pd.DataFrame) -> list[str]:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.to_numpy()]
    return lines


def sentence(row: pd.Series | dict, months: int) -> str:
    """A plain-language line for one scenario, from its formatted row."""
    if row["median months to pilot (KM)"] == "not reached":
        when = (f"; fewer than half of the runs pilot within {months} months, so the median "
                f"time to pilot is not reached")
    else:
        when = (f"; median time to pilot {row['median months to pilot (KM)']} months "
                f"(Kaplan-Meier, 95% CI {row['KM 95% CI']})")
    if row["median pilot month if piloted"] != "-":
        when += (f"; the runs that piloted did so at a median of month "
                 f"{row['median pilot month if piloted']}")
    return (f"**{row['scenario']}** reaches a pilot within {months} months in "
            f"{row['P(pilot)']} of runs (95% CI {row['P(pilot) 95% CI']}){when}; full "
            f"integration in {row['P(integrated)']}, stalled in {row['stalled']}, collapsed in "
            f"{row['collapsed']}.")


def _distinguishable(d: pd.DataFrame, shown: pd.DataFrame, first: str) -> list[str]:
    """Which differences from the first scenario the replicates resolve, and how many
    replicates the smallest would need."""
    if d.empty:
        return []
    lines = []
    for r, f in zip(d.itertuples(), shown.itertuples(index=False), strict=True):
        resolved = r.d_p_pilot_lo > 0 or r.d_p_pilot_hi < 0
        verdict = "distinguishable from" if resolved else "not distinguishable from"
        lines.append(f"- **{r.scenario}**: P(pilot) {verdict} {first}'s at {r.pairs} paired "
                     f"replicates (ΔP(pilot) {f[1]}).")
    smallest = d.iloc[int(np.argmin(np.abs(d.d_p_pilot.to_numpy())))]
    need = smallest.d_p_pilot_replicates_needed
    if math.isfinite(need):
        lines.append(
            f"- The smallest difference in P(pilot), {_pp(smallest.d_p_pilot)} "
            f"(**{smallest.scenario}**), would need about {need:.0f} paired replicates to be "
            f"resolved (two-sided 5% test, 80% power, assuming the true difference equals "
            f"the estimate and the paired differences' standard deviation "
            f"{smallest.d_p_pilot_sd:.2f} holds).")
    else:
        lines.append(f"- The smallest difference in P(pilot) (**{smallest.scenario}**) is 0 "
                     f"in these runs: no replicate count can be given to resolve it.")
    return lines


def console_table(comparison: Comparison) -> str:
    """What ``icsim compare`` prints: the report's own strings."""
    shown = formatted(comparison.table)
    cols = ["scenario", "runs", "P(pilot)", "P(pilot) 95% CI", "P(integrated)", "stalled",
            "collapsed", "median months to pilot (KM)", "KM 95% CI"]
    text = shown[cols].to_string(index=False)
    if not comparison.differences.empty:
        text += "\n\n" + formatted_differences(comparison.differences).to_string(index=False)
    return text


def markdown(comparison: Comparison) -> str:
    """``comparison.md``: the table, a sentence per scenario (from the same rounded
    strings), the paired differences, and what each scenario is."""
    t = comparison.table
    shown = formatted(t)
    first = t.scenario.iloc[0]
    lines = [f"# Scenario comparison ({int(t.runs.iloc[0])} replicates each, "
             f"{comparison.months} months, seed {comparison.seed})", "",
             "Replicate *i* has the same seed in every scenario (common random numbers), so "
             "each scenario is compared with the first replicate by replicate."]
    if comparison.posterior_draws:
        lines.append(f"Parameters carry the posterior's uncertainty: replicate *i* uses "
                     f"posterior draw *i* (of {comparison.posterior_draws}, cycling) and seed "
                     "*i* in every scenario, so intervals include what the case leaves "
                     "uncertain as well as run-to-run noise.")
    if comparison.overrides:
        lines.append("Set in every scenario: " + ", ".join(
            f"`{k} = {v}`" for k, v in comparison.overrides.items()) + ".")
    lines += ["", "## Outcomes", "", *_markdown_table(shown), ""]
    lines += [f"- {sentence(row, comparison.months)}" for row in shown.to_dict("records")]
    lines += ["", "Shares are of all runs, with 95% Wilson intervals. *Median months to pilot "
              "(KM)* is the Kaplan-Meier median time to pilot over all runs, those without a "
              "pilot censored at the horizon, with its 95% interval (log-log Greenwood band); "
              "*not reached* means fewer than half the runs piloted. *Median pilot month if "
              "piloted* counts only the runs that piloted and is not the time to pilot. The "
              "three DAC columns are the mean over runs, at the horizon, of team commitment, "
              "organisational alignment and system alignment (direction, alignment and "
              "commitment, Drath et al. 2008; each on 0-1, see docs/ODD.md).", ""]
    if not comparison.differences.empty:
        diffs = formatted_differences(comparison.differences)
        lines += [f"## Paired differences from {first}", "",
                  *_markdown_table(diffs), "",
                  "Differences are scenario minus "
                  f"{first}, replicate by replicate: the mean of the paired differences with "
                  "a normal 95% interval for the shares (in percentage points) and for the "
                  "restricted mean months to pilot (a run without a pilot counts as the "
                  "horizon); a paired bootstrap "
                  f"({BOOTSTRAP} resamples) for the Kaplan-Meier median.", "",
                  *_distinguishable(comparison.differences, diffs, first), ""]
    if not comparison.variance.empty:
        v = comparison.variance
        lines += ["## Parametric and run-to-run variance", "",
                  f"Law of total variance over {int(v.draws.iloc[0])} posterior draws x "
                  f"{int(v.seeds_per_draw.iloc[0])} seeds each: the share of each outcome's "
                  "variance that comes from the parameters (what the case leaves uncertain) "
                  "rather than from luck.", "",
                  "| scenario | outcome | variance | parametric share |", "|---|---|---|---|"]
        for r in v.itertuples():
            share = "—" if r.parametric_share != r.parametric_share \
                else f"{r.parametric_share:.0%}"
            lines.append(f"| {r.scenario} | P({r.outcome}) | {r.variance:.3f} | {share} |")
        lines.append("")
    lines += ["Figures: `outcomes` (outcome shares with intervals), `dac_trajectories` "
              "(median and 10-90% band per level and scenario), `time_to_pilot` (Kaplan-Meier "
              "with 95% bands and numbers at risk).", "", "## The scenarios", ""]
    for scenario in comparison.scenarios:
        where = f" (file `{scenario.path}`)" if scenario.path else ""
        text = f"- `{scenario.name}`{where}: {scenario.description} ({scenario.source})"
        if scenario.schedule:
            text += " Changes in time: " + "; ".join(
                f"month {m}: " + ", ".join(f"{k} = {v}" for k, v in values.items())
                for m, values in scenario.schedule) + "."
        lines.append(text)
    return "\n".join(lines) + "\n"
