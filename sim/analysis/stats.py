"""Statistics the studies share, each defined once: Wilson intervals, Kaplan-Meier
curves and medians, paired differences over common random numbers, the replicates a
difference needs, a mean with its t interval, and the generator SALib's bootstrap takes."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

# scipy.stats (about 1 CPU-s to import) is imported where it is used: the modules that
# import this one (icsim national's, before it forks its workers) do not pay for it.


def bootstrap_rng(seed: int) -> np.random.Generator:
    """A generator for SALib's Sobol bootstrap: ``sobol.analyze`` tests ``if seed:``, so
    seed 0 would silently draw from numpy's global state; a generator is always honoured."""
    return np.random.default_rng(seed)


#: Two-sided level of every interval, and the power assumed for "replicates needed".
LEVEL, POWER = 0.95, 0.80
#: Paired bootstrap resamples for the difference in Kaplan-Meier median time to pilot.
BOOTSTRAP = 1000


@lru_cache(maxsize=1024)
def t_quantile(q: float, df: int) -> Any:
    """Student's t quantile (``scipy.stats.t.ppf``'s float, from ``scipy.special.stdtrit``,
    which it calls: importing scipy.special costs a third of scipy.stats), each (q, df)
    worked out once: a national report asks for the same few over a thousand times."""
    from scipy import special

    return special.stdtrit(df, q)


@lru_cache(maxsize=16)
def _norm_quantile(q: float) -> Any:
    """The standard normal quantile (``scipy.stats.norm.ppf``'s float, from
    ``scipy.special.ndtri``)."""
    from scipy import special

    return special.ndtri(q)


def wilson(successes: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval for a binomial proportion."""
    from scipy import stats

    ci = stats.binomtest(int(successes), int(n)).proportion_ci(0.95, method="wilson")
    return float(ci.low), float(ci.high)


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

    def __iter__(self) -> Iterator[np.ndarray]:  # ``months, surviving = curve`` as before
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
    from scipy import stats

    data = stats.CensoredData(uncensored=observed, right=censored)
    sf = stats.ecdf(data).sf
    months = np.concatenate([[0.0], sf.quantiles, [float(horizon)]])
    surviving = np.concatenate([[1.0], sf.probabilities, [sf.probabilities[-1]]])
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


def km_medians(times: np.ndarray) -> np.ndarray:
    """KM median of each row of ``times`` (runs censored only at the horizon, stored as
    +inf): with no censoring before the horizon KM is the empirical survival function, so
    the median is the ceil(n/2)-th smallest time, or +inf (not reached)."""
    n = times.shape[-1]
    return np.sort(times, axis=-1)[..., math.ceil(n / 2) - 1]


def paired_mean(d: np.ndarray) -> tuple[float, float, float, float]:
    """Mean of paired differences, its normal 95% interval and the standard deviation."""
    n = d.size
    mean, sd = float(d.mean()), float(d.std(ddof=1)) if n > 1 else float("nan")
    half = _norm_quantile(0.5 + LEVEL / 2) * sd / math.sqrt(n)
    return mean, mean - half, mean + half, sd


def replicates_needed(difference: float, sd: float) -> float:
    """Replicates for a paired two-sided test at 5% to detect ``difference`` with 80%
    power, when the paired differences have standard deviation ``sd`` (normal
    approximation: n = ((z_0.975 + z_0.80) sd / difference)^2). NaN if no difference."""
    if not difference or not math.isfinite(sd) or not math.isfinite(difference):
        return float("nan")
    z = _norm_quantile(0.5 + LEVEL / 2) + _norm_quantile(POWER)
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
            mean, lo, hi, sd = paired_mean(a - b)
            row[f"d_{key}"], row[f"d_{key}_lo"], row[f"d_{key}_hi"] = mean, lo, hi
            row[f"d_{key}_sd"] = sd
            row[f"d_{key}_replicates_needed"] = replicates_needed(mean, sd)
        ta = other.pilot_month.fillna(np.inf).to_numpy(float)
        tb = base.pilot_month.fillna(np.inf).to_numpy(float)
        with np.errstate(invalid="ignore"):  # inf - inf: a median not reached
            point = km_medians(ta) - km_medians(tb)
            boot = km_medians(ta[draws]) - km_medians(tb[draws])
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


def mean_ci(values: np.ndarray, bounds: tuple[float, float] = (0.0, 1.0),
            ) -> tuple[float, float, float]:
    """Mean across replicates with a 95% t interval (NaN bounds for one replicate), the
    interval kept within ``bounds`` (a share's [0, 1]; a difference of shares' [-1, 1])."""
    values = values[~np.isnan(values)]
    if values.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(values.mean())
    if values.size < 2:
        return mean, float("nan"), float("nan")
    half = t_quantile(0.975, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size)
    return mean, max(bounds[0], mean - half), min(bounds[1], mean + half)


#: The adjustment for many comparisons that :func:`all_pairs` applies.
ADJUSTMENT = "Bonferroni"


def paired_t(d: np.ndarray, level: float = LEVEL) -> tuple[float, float, float]:
    """Mean of paired differences with its two-sided t interval at ``level`` (NaN bounds
    for fewer than two pairs)."""
    d = np.asarray(d, dtype=float)
    mean = float(d.mean()) if d.size else float("nan")
    if d.size < 2:
        return mean, float("nan"), float("nan")
    half = t_quantile(0.5 + level / 2, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size)
    return mean, mean - half, mean + half


def all_pairs(per_replicate: dict[str, np.ndarray], level: float = LEVEL) -> pd.DataFrame:
    """Every pair of alternatives, replicate by replicate: for alternatives given in order
    (a dict of name -> one value per replicate, the same replicates for all), each pair
    ``(first, second)`` with ``second`` after ``first``, the mean of ``second - first``
    and a t interval **Bonferroni-adjusted** for the number of pairs m: each at level
    ``1 - (1 - level) / m``, so all m intervals hold together with probability at least
    ``level``. ``resolved`` is whether the adjusted interval excludes 0."""
    names = list(per_replicate)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    m = len(pairs)
    each = 1 - (1 - level) / m if m else level
    rows = []
    for a, b in pairs:
        x, y = (np.asarray(per_replicate[k], dtype=float) for k in (a, b))
        if x.shape != y.shape:
            raise ValueError(f"{a} and {b} have different replicates")
        mean, lo, hi = paired_t(y - x, each)
        rows.append({"first": a, "second": b, "difference": mean, "lo": lo, "hi": hi,
                     "pairs": int(x.size), "comparisons": m, "level_each": each,
                     "adjustment": ADJUSTMENT,
                     "resolved": bool(lo > 0 or hi < 0) if math.isfinite(lo) else False})
    return pd.DataFrame(rows, columns=["first", "second", "difference", "lo", "hi", "pairs",
                                       "comparisons", "level_each", "adjustment",
                                       "resolved"])
