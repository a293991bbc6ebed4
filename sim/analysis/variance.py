"""What an interval carries: the variance of an outcome split into luck, parameters and
model form (the law of total variance).

Under a posterior, replicate *i* of a report takes draw *i*, so the spread of an outcome
across replicates mixes run-to-run noise (*stochastic*: the same draw, another seed), the
uncertainty of the parameters (*parametric*: another draw) and, when the posterior carries
the model's structural choices, the uncertainty of its form (*structural*: the part of the
parametric variance the choices' forms explain, by main effects -- the variance of the
draws' means explained by each choice's form, corrected for small samples (epsilon
squared), summed over choices; with fewer than ``MIN_UNITS`` draws it cannot be told and is
NaN). Shares are of the total variance; the structural share is part of the parametric one
(the sum of main effects can overlap when the posterior correlates its choices).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Split:
    """Shares of an outcome's variance (NaN when the outcome does not vary)."""

    total: float
    stochastic: float
    parametric: float
    structural: float
    by_form: Mapping[str, float]


#: Fewer draws (or replicates) than this cannot tell a form's effect from noise.
MIN_UNITS = 20


def _structural(means: np.ndarray, forms: pd.DataFrame | None, total: float,
                ) -> dict[str, float]:
    """Each choice's share of ``total`` by its main effect on ``means``: epsilon squared,
    the between-forms sum of squares less what noise alone would put there ((k - 1) x the
    within-forms mean square), clipped at 0 -- the plain share of the group means' variance
    overstates a form's effect in small samples."""
    n = len(means)
    if forms is None or forms.empty or not total > 0 or n < MIN_UNITS:
        return {}
    means_s = pd.Series(means)
    ss_total = float(((means - means.mean()) ** 2).sum())
    out = {}
    for name in forms.columns:
        groups = forms[name].to_numpy()
        k = len(pd.unique(groups))
        if n - k <= 0 or ss_total <= 0:
            out[str(name)] = np.nan
            continue
        fitted = means_s.groupby(groups).transform("mean").to_numpy()
        ss_between = float(((fitted - means.mean()) ** 2).sum())
        ms_within = (ss_total - ss_between) / (n - k)
        explained = max(0.0, (ss_between - (k - 1) * ms_within) / ss_total)
        # as a share of the total variance, not of the means' variance
        out[str(name)] = explained * float(means.var()) / total
    return out


def _sum(by_form: Mapping[str, float]) -> float:
    return float(sum(by_form.values())) if by_form else np.nan


def split_draws(y: np.ndarray, forms: pd.DataFrame | None = None) -> Split:
    """``y[draw, seed]``: an outcome of runs of each draw under several seeds. Stochastic:
    the mean within-draw variance; parametric: the variance of the draws' means (it
    includes their sampling noise, within-draw variance over seeds); structural: the
    main effects of ``forms`` (one row per draw, one column per structural choice)."""
    y = np.asarray(y, dtype=float)
    total = float(y.var())
    means = y.mean(axis=1)
    by_form = _structural(means, forms, total)
    if not total > 0:
        return Split(total, np.nan, np.nan, np.nan, by_form)
    within = float(y.var(axis=1).mean())
    return Split(total, within / total, float(means.var()) / total, _sum(by_form), by_form)


def split_replicates(shares: np.ndarray, units: int, forms: pd.DataFrame | None = None,
                     ) -> Split:
    """``shares[replicate]``: the share of ``units`` independent yes/no units (the sites of
    a national run) that said yes in each replicate, replicate *r* under draw *r*. The
    stochastic part is the luck of the units given the replicate's draw and country,
    ``mean(p (1 - p)) / units`` -- an upper bound, since sites that differ have less binomial
    variance than identical ones; the rest of the variance across replicates is parametric
    (with a country redrawn per replicate, the country's part too)."""
    shares = np.asarray(shares, dtype=float)
    total = float(shares.var())
    by_form = _structural(shares, forms, total)
    if not total > 0:
        return Split(total, np.nan, np.nan, np.nan, by_form)
    luck = min(1.0, float((shares * (1 - shares)).mean()) / units / total)
    return Split(total, luck, 1.0 - luck, _sum(by_form), by_form)


def forms_of(draws: Sequence[Mapping[str, object]], choices: Sequence[str]) -> pd.DataFrame:
    """The structural choices' forms of each draw (columns ``choices`` present in them)."""
    present = [c for c in choices if draws and c in draws[0]]
    return pd.DataFrame({c: [str(d[c]) for d in draws] for c in present})
