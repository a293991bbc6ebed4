"""What a calibration writes: the posterior sample, figures and ``summary.md``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.core.registry import PARAMETERS
from sim.report import figures as plots
from sim.studies.calibration.spec import CalibrationSpec
from sim.studies.calibration.targets import TARGETS

#: Posterior 90% width / prior 90% width below which the case identifies a parameter,
#: and above which it does not (between: partly).
IDENTIFIED, NOT_IDENTIFIED = 0.5, 0.8


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cumulative = np.cumsum(w) / w.sum()
    return float(v[min(int(np.searchsorted(cumulative, q)), len(v) - 1)])


#: Below this effective sample size no parameter is called identified: the posterior
#: rests on too few particles to tell.
MIN_ESS = 50


def effective_sample_size(weights: Any) -> float:
    """Kish's effective sample size of importance weights."""
    w = np.asarray(weights, dtype=float)
    w = w / w.sum()
    return float(1.0 / np.sum(w**2))


def identification(population: pd.DataFrame, weights: np.ndarray,
                   priors: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """Per parameter: prior and posterior 90% intervals and the width ratio; with an
    effective sample below ``MIN_ESS`` every verdict is 'cannot tell'."""
    ess = effective_sample_size(weights)
    rows = []
    for name, (low, high) in priors.items():
        x = population[name].to_numpy(float)
        lo, med, hi = (weighted_quantile(x, weights, q) for q in (0.05, 0.5, 0.95))
        ratio = (hi - lo) / (0.9 * (high - low))
        verdict = ("identified" if ratio < IDENTIFIED else
                   "not identified (cannot tell)" if ratio > NOT_IDENTIFIED else "partly")
        if ess < MIN_ESS:
            verdict = f"cannot tell (effective sample {ess:.0f} particles)"
        rows.append({"parameter": name, "prior_low": low, "prior_high": high,
                     "default": PARAMETERS[name].default, "posterior_median": med,
                     "posterior_5": lo, "posterior_95": hi, "width_ratio": ratio,
                     "verdict": verdict})
    return pd.DataFrame(rows).sort_values("width_ratio").reset_index(drop=True)


def _figures(spec: CalibrationSpec, draws: pd.DataFrame, table: pd.DataFrame, out: Path) -> None:
    names = list(table.parameter)
    fig = plots.posterior_marginals_figure(spec.name, spec.priors, draws, names)
    for ext in ("png", "svg"):
        plots.save(fig, out / f"marginals.{ext}")
    fig = plots.posterior_pairs_figure(draws, names[:4])
    for ext in ("png", "svg"):
        plots.save(fig, out / f"pairs.{ext}")


def write_report(spec: CalibrationSpec, out: Path, history: Any, seconds: float,
                 where: str) -> None:
    """posterior.parquet (equally weighted draws), population.parquet (the last
    generation with its weights), generations.csv, identification.csv, figures,
    summary.md."""
    population, weights = history.get_distribution(t=history.max_t)
    population = population.reset_index(drop=True)
    weights = np.asarray(weights, dtype=float)
    rng = np.random.default_rng(spec.seed)
    pick = rng.choice(len(population), size=spec.draws, p=weights / weights.sum())
    draws = population.iloc[pick].reset_index(drop=True)
    for name in spec.priors:
        if PARAMETERS[name].kind == "int":
            draws[name] = draws[name].round().astype(int)
    draws = draws[list(spec.priors)]
    draws.to_parquet(out / "posterior.parquet", index=False)
    weighted = population[list(spec.priors)].assign(weight=weights / weights.sum())
    weighted.to_parquet(out / "population.parquet", index=False)
    generations = history.get_all_populations()
    generations = generations[generations.t >= 0][["t", "epsilon", "samples",
                                                  "particles"]].reset_index(drop=True)
    generations["acceptance_rate"] = generations.particles / generations.samples
    generations["ess"] = [effective_sample_size(history.get_distribution(t=int(t))[1])
                          for t in generations.t]
    generations.to_csv(out / "generations.csv", index=False, float_format="%.6g")
    table = identification(population, weights, spec.priors)
    table.to_csv(out / "identification.csv", index=False, float_format="%.6g")
    _figures(spec, draws, table, out)
    total = int(generations.samples.sum())
    lines = [f"# Calibration `{spec.name}`", "", spec.description, "",
             f"ABC-SMC (pyabc, {where}): {len(generations)} generations of {spec.population} "
             f"particles, **{total:,} simulations** in {seconds / 60:.1f} minutes; final "
             f"acceptance threshold epsilon = {generations.epsilon.iloc[-1]:.3f} (the "
             "distance counts missed targets, with partial credit for near misses; 0 = "
             "every target met). Targets: " + ", ".join(spec.targets) + ".", "",
             "| generation | epsilon | simulations | acceptance rate | effective sample |",
             "|---|---|---|---|---|"]
    for g in generations.itertuples():
        lines.append(f"| {g.t} | {g.epsilon:.3f} | {g.samples:,} | {g.acceptance_rate:.3f} "
                     f"| {g.ess:.0f} |")
    failures = out / "failures.log"
    failed = len(failures.read_text().splitlines()) if failures.exists() else 0
    lines += ["", f"Runs that raised: {failed} (each counted as infinitely far from the case"
              + ("; their parameters and errors are in `failures.log`)." if failed else ").")]
    ess = float(generations.ess.iloc[-1])
    if ess < MIN_ESS:
        lines += ["", f"**Warning:** the last generation's importance weights rest on an "
                  f"effective sample of {ess:.0f} of {spec.population} particles, below "
                  f"{MIN_ESS}; the posterior below cannot tell which values the case "
                  "supports. Stop earlier (a higher `min_epsilon` or "
                  "`min_acceptance_rate`), infer fewer parameters, or use a larger "
                  "population."]
    lines += ["", "## What the case identifies", "",
              f"Width ratio: the posterior's 90% interval over the prior's. Below "
              f"{IDENTIFIED} the case identifies the parameter; above {NOT_IDENTIFIED} it "
              "does not (the data cannot tell).", "",
              "| parameter | prior | registry default | posterior median [90%] | width ratio "
              "| verdict |", "|---|---|---|---|---|---|"]
    for r in table.itertuples():
        lines.append(f"| `{r.parameter}` | [{r.prior_low:g}, {r.prior_high:g}] | "
                     f"{r.default:g} | {r.posterior_median:.3g} [{r.posterior_5:.3g}, "
                     f"{r.posterior_95:.3g}] | {r.width_ratio:.2f} | {r.verdict} |")
    lines += ["", "Targets (docs/case_targets.md):", ""]
    lines += [f"- {t}: {TARGETS[t]}" for t in spec.targets]
    lines += ["", f"Files: `posterior.parquet` ({spec.draws:,} equally weighted draws), "
              "`population.parquet` (the last generation with weights), `generations.csv`, "
              "`identification.csv`, `marginals.png/.svg`, `pairs.png/.svg`, `history.db` "
              "(pyabc's database; `--resume` continues from it).", ""]
    (out / "summary.md").write_text("\n".join(lines))
