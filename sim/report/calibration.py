"""What a calibration writes: the posterior sample, its checks, figures and ``summary.md``.

Files (all in the calibration's folder):

* ``posterior.parquet`` — equally weighted draws, one column per inferred registry entry
  (structural choices as their forms): a joint draw of every uncertain number;
* ``identification.csv`` — per numeric entry: prior, posterior median and 90% interval,
  width ratio and verdict; ``forms.csv`` — per structural choice: prior and posterior
  probability of each form;
* ``targets.csv`` — per target: the share of prior runs meeting it (informativeness) and
  of posterior predictive runs; ``predictive.csv`` — the shares meeting each target and
  all of them, at the registry values, under the prior and under the posterior;
* ``coverage.csv`` — simulation-based calibration: per entry, the share of synthetic
  cases whose 90% interval covers the truth (rejection);
* ``generations.csv`` (smc), ``marginals.png/.svg``, ``forms.png/.svg``, ``summary.md``.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.stats import wilson
from sim.core.registry import PARAMETERS
from sim.experiment.store import write_atomic
from sim.report import figures as plots
from sim.studies.calibration.run import REACH_REPLICATES, CalibrationResult
from sim.studies.calibration.spec import CalibrationSpec
from sim.studies.calibration.targets import UNINFORMATIVE
from sim.studies.national import rule_label

#: Posterior 90% width / prior 90% width below which the case identifies a parameter,
#: and above which it does not (between: partly).
IDENTIFIED, NOT_IDENTIFIED = 0.5, 0.8
#: Coverage of the 90% intervals the coverage check asks for.
COVERAGE_RANGE = (0.85, 0.95)


def identification(spec: CalibrationSpec, draws: pd.DataFrame) -> pd.DataFrame:
    """Per numeric inferred entry: prior and posterior 90% intervals and the width ratio."""
    rows = []
    for name, (low, high) in spec.priors.items():
        x = draws[name].to_numpy(float)
        lo, med, hi = np.quantile(x, [0.05, 0.5, 0.95])
        ratio = (hi - lo) / (0.9 * (high - low))
        verdict = ("identified" if ratio < IDENTIFIED else
                   "not identified (cannot tell)" if ratio > NOT_IDENTIFIED else "partly")
        rows.append({"parameter": name, "level": PARAMETERS[name].level,
                     "prior_low": low, "prior_high": high,
                     "default": PARAMETERS[name].default, "posterior_median": med,
                     "posterior_5": lo, "posterior_95": hi, "width_ratio": ratio,
                     "verdict": verdict})
    return pd.DataFrame(rows).sort_values(["width_ratio", "parameter"]).reset_index(drop=True)


def forms(spec: CalibrationSpec, draws: pd.DataFrame) -> pd.DataFrame:
    """Per structural choice and form: prior and posterior probability, with a 95%
    interval of the posterior share (Wilson, over the draws)."""
    rows = []
    n = len(draws)
    for name, options in spec.choices.items():
        for form in options:
            k = int((draws[name] == form).sum())
            lo, hi = _wilson(k, n)
            rows.append({"choice": name, "form": form, "prior": 1 / len(options),
                         "posterior": k / n, "posterior_low": lo, "posterior_high": hi,
                         "default": PARAMETERS[name].default == form})
    return pd.DataFrame(rows)


def _wilson(k: int, n: int) -> tuple[float, float]:
    return wilson(k, n) if n else (math.nan, math.nan)


def coverage_table(spec: CalibrationSpec, cases: pd.DataFrame,
                   ident: pd.DataFrame) -> pd.DataFrame:
    """Per inferred entry: the share of synthetic cases covered, its 95% interval and
    whether the case identifies the entry at least partly."""
    narrowed = set(ident.parameter[ident.width_ratio <= NOT_IDENTIFIED])
    rows = []
    for name, group in cases.groupby("parameter", sort=False):
        k, n = int(group.covered.sum()), len(group)
        lo, hi = _wilson(k, n)
        rows.append({"parameter": name, "cases": n, "coverage": k / n, "low": lo,
                     "high": hi, "narrowed_by_case": name in narrowed,
                     "mean_rank": float(group["rank"].mean())})
    return pd.DataFrame(rows)


def _csv(frame: pd.DataFrame, path: Path) -> None:
    write_atomic(path, frame.to_csv(index=False, float_format="%.6g").encode())


def _parquet(frame: pd.DataFrame, path: Path) -> None:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    write_atomic(path, buffer.getvalue())


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%" if x >= 0.01 or x == 0 else f"{100 * x:.2f}%"


def write_report(result: CalibrationResult) -> None:
    spec, out = result.spec, result.out
    draws = result.posterior
    _parquet(draws, out / "posterior.parquet")
    ident = identification(spec, draws)
    _csv(ident, out / "identification.csv")
    form_table = forms(spec, draws)
    _csv(form_table, out / "forms.csv")
    names = [t.name for t in spec.targets]
    prior_met = pd.Series(result.extra["prior_met"], index=names)
    post_met = (result.posterior_terms == 0).mean(axis=0)
    targets = pd.DataFrame({"target": names, "label": [t.label for t in spec.targets],
                            "weight": [t.weight for t in spec.targets],
                            "prior_met": prior_met.to_numpy(),
                            "posterior_met": post_met.to_numpy()})
    targets["informative"] = targets.prior_met < UNINFORMATIVE
    _csv(targets, out / "targets.csv")
    predictive = result.predictive.reset_index(names="runs_of")
    _csv(predictive, out / "predictive.csv")
    cover = None
    if result.coverage is not None:
        cover = coverage_table(spec, result.coverage, ident)
        _csv(cover, out / "coverage.csv")
    if result.generations is not None:
        _csv(result.generations, out / "generations.csv")
    if result.reach is not None:
        _csv(result.reach.rename_axis("draw").reset_index(), out / "reach.csv")
    _figures(spec, draws, ident, form_table, out)
    text = summary(result, ident, form_table, targets, cover)
    write_atomic(out / "summary.md", text.encode())


def _figures(spec: CalibrationSpec, draws: pd.DataFrame, ident: pd.DataFrame,
             form_table: pd.DataFrame, out: Path) -> None:
    shown = list(ident.parameter[:16])
    fig = plots.posterior_marginals_figure(spec.name, spec.priors, draws, shown)
    for ext in ("png", "svg"):
        plots.save(fig, out / f"marginals.{ext}")
    if len(form_table):
        fig = plots.model_forms_figure(form_table)
        for ext in ("png", "svg"):
            plots.save(fig, out / f"forms.{ext}")


def summary(result: CalibrationResult, ident: pd.DataFrame, form_table: pd.DataFrame,
            targets: pd.DataFrame, cover: pd.DataFrame | None) -> str:
    spec = result.spec
    n = len(result.posterior)
    method = {"rejection": "rejection ABC on a reference table of prior simulations",
              "npe": "neural posterior estimation (sbi) trained on a reference table of "
                     "prior simulations"}.get(result.method, "ABC-SMC (pyabc)")
    lines = [f"# Calibration `{spec.name}`", "", spec.description, "",
             f"Method: {method} ({result.where}); **{result.simulations:,} simulations**. "
             f"This {'resumed ' if result.resumed else ''}session took "
             f"{result.seconds / 60:.1f} minutes of wall time and {result.cpu_seconds:,.0f} "
             "CPU-seconds, the checks included. "
             f"{len(spec.inferred)} registry entries inferred "
             f"({len(spec.priors)} numbers over their plausible ranges, {len(spec.choices)} "
             f"structural choices over their forms); {len(spec.fixed)} held at the case's "
             f"facts. Posterior: **{n:,} equally weighted draws**."]
    if "table_cost" in result.extra:
        table_cpu, table_wall = result.extra["table_cost"]
        lines += ["", f"The reference table ({result.simulations:,} prior simulations) took "
                  f"{table_cpu:,.0f} CPU-seconds and {table_wall / 60:.1f} minutes of wall time "
                  "to build, over every session that built part of it."]
    if result.reference_from is not None:
        lines += ["", f"Conditioned on the reference table of `{result.reference_from}` "
                  "(same prior, other targets)."]
    if result.distances is not None:
        d = result.distances
        lines += ["", f"The accepted runs' distances to the case (0 = every target met in "
                  f"that run): median {np.median(d):.3f}, largest {d.max():.3f}; "
                  f"{(d == 0).sum():,} of them met every target."]
    if result.generations is not None:
        g = result.generations
        lines += ["", "| generation | epsilon | simulations | acceptance rate | effective "
                  "sample |", "|---|---|---|---|---|"]
        lines += [f"| {r.t} | {r.epsilon:.3f} | {r.samples:,} | {r.acceptance_rate:.3f} | "
                  f"{r.ess:.0f} |" for r in g.itertuples()]
    # ---- predictive check
    table = result.predictive
    cols = [t.name for t in spec.targets]
    lines += ["", "## Does the posterior reproduce the case?", "",
              "Share of runs meeting each target (docs/case_targets.md) and all of them. "
              "Each posterior run is one draw run again with a new seed, so the table "
              "shows how often the model, at values the case supports, produces a "
              "trajectory like the case's.", "",
              "| runs of | runs | " + " | ".join(cols) + " | all |",
              "|---|---|" + "---|" * (len(cols) + 1)]
    for label, row in table.iterrows():
        lines.append(f"| {label} | {int(row['runs']):,} | "
                     + " | ".join(f"{row[c]:.2f}" for c in cols) + f" | {_pct(row['all'])} |")
    post = {str(k): float(v) for k, v in zip(table.columns, table.loc["posterior"],
                                              strict=True)}
    uninformative = list(targets.target[~targets.informative])
    weak = [t for t in cols if t not in uninformative and post[t] < 0.25]
    lines += ["", f"- Posterior runs meeting all {len(cols)} targets: **{_pct(post['all'])}** "
              f"(goal at least 5%): {'met' if post['all'] >= 0.05 else 'not met'}."]
    if uninformative:
        lines.append(f"- Uninformative (met by at least {UNINFORMATIVE:.0%} of prior runs): "
                     + ", ".join(uninformative) + ".")
    label_of = {str(k): str(v) for k, v in zip(targets.target, targets.label, strict=True)}
    if weak:
        lines.append("- Informative targets met by fewer than 25% of posterior runs: "
                     + ", ".join(f"{t} ({post[t]:.2f}, {label_of[t]})" for t in weak) + ".")
    else:
        lines.append("- Every informative target is met by at least 25% of posterior runs.")
    if result.reach is not None:
        reach = result.reach
        k = len(reach)
        lines += ["", f"What values the posterior holds can reach: {k} posterior draws, each "
                  f"run {REACH_REPLICATES} times with new seeds. For each target, the mean over "
                  "the draws of the share of runs meeting it, and the best draw's share. A "
                  "target whose best draw meets it in well under all runs is limited by the "
                  "chance events of a single run (or the model's structure), not by the "
                  "values the calibration can choose; the shares of independent such targets "
                  "multiply.", "",
                  "| | " + " | ".join(cols) + " | all |", "|---|" + "---|" * (len(cols) + 1),
                  "| mean over draws | " + " | ".join(f"{reach[c].mean():.2f}" for c in cols)
                  + f" | {_pct(reach['all'].mean())} |",
                  "| best draw | " + " | ".join(f"{reach[c].max():.2f}" for c in cols)
                  + f" | {_pct(reach['all'].max())} |",
                  "", f"(The best of {k} draws is a maximum over noisy shares of "
                  f"{REACH_REPLICATES} runs each: it overstates what that draw reaches.)"]
        capped = [c for c in cols if reach[c].max() < 0.75]
        if capped:
            lines += ["", "Targets no draw meets in three of four runs: " + ", ".join(
                capped) + f". Even the best draw meets all {len(cols)} targets in "
                f"{_pct(reach['all'].max())} of its runs."]
    # ---- coverage
    if cover is not None:
        mean = cover.coverage.mean()
        narrowed = cover[cover.narrowed_by_case]
        lo, hi = COVERAGE_RANGE
        outside = cover[(cover.high < lo) | (cover.low > hi)]
        lines += ["", "## Are its intervals calibrated?", "",
                  f"Simulation-based calibration (Talts et al. 2018): {int(cover.cases.iloc[0])} "
                  "synthetic cases drawn from the prior, each one run put through the same "
                  f"{len(cols)} targets and calibrated on the same table with the same "
                  "acceptance. A calibrated posterior's 90% intervals cover the truth in 90% "
                  f"of cases (asked: {lo:.0%}-{hi:.0%}).", "",
                  f"- Mean coverage over all {len(cover)} inferred entries: **{mean:.1%}**.",
                  f"- Over the {len(narrowed)} entries the case narrows (width ratio at most "
                  f"{NOT_IDENTIFIED}): "
                  + (f"**{narrowed.coverage.mean():.1%}** (range {narrowed.coverage.min():.0%}"
                     f"-{narrowed.coverage.max():.0%})." if len(narrowed) else "none."),
                  f"- Entries whose coverage interval (95%, Wilson) lies wholly outside "
                  f"{lo:.0%}-{hi:.0%}: " + (", ".join(f"`{p}` ({c:.0%})" for p, c in
                                                      zip(outside.parameter, outside.coverage,
                                                          strict=True))
                                            if len(outside) else "none") + "."]
    # ---- identification
    shown = ident[ident.width_ratio <= NOT_IDENTIFIED]
    rest = ident[ident.width_ratio > NOT_IDENTIFIED]
    lines += ["", "## What the case identifies", "",
              f"Width ratio: the posterior's 90% interval over the prior's. Below {IDENTIFIED} "
              f"the case identifies the entry; above {NOT_IDENTIFIED} it does not (the data "
              f"cannot tell). {len(shown)} of {len(ident)} numbers are narrowed at least "
              "partly:", "",
              "| parameter | prior | registry default | posterior median [90%] | width ratio "
              "| verdict |", "|---|---|---|---|---|---|"]
    for r in shown.itertuples():
        lines.append(f"| `{r.parameter}` | [{r.prior_low:g}, {r.prior_high:g}] | "
                     f"{r.default:g} | {r.posterior_median:.3g} [{r.posterior_5:.3g}, "
                     f"{r.posterior_95:.3g}] | {r.width_ratio:.2f} | {r.verdict} |")
    lines += ["", f"The other {len(rest)} keep (about) their prior: the case cannot tell "
              "their values, and the posterior carries that uncertainty into every report "
              "that uses it (`identification.csv` lists them all)."]
    if len(form_table):
        lines += ["", "## Which model forms the case supports", "",
                  "Structural choices are inferred like numbers: each form's posterior "
                  "probability against its prior (95% interval over the draws).", "",
                  "| choice | form | prior | posterior [95%] |", "|---|---|---|---|"]
        for r in form_table.itertuples():
            mark = " (default)" if r.default else ""
            lines.append(f"| `{r.choice}` | {r.form}{mark} | {r.prior:.2f} | "
                         f"{r.posterior:.2f} [{r.posterior_low:.2f}, {r.posterior_high:.2f}] |")
    lines += ["", "## Targets", "", "| target | what it says | of | statistic | weight | "
              "prior runs meeting it | informative |", "|---|---|---|---|---|---|---|"]
    nat = spec.national
    national = (f"a national run ({nat.sites} sites, rule “{rule_label(nat.rule)}”, budget "
                f"{nat.budget_per_site:g} a site, country {nat.country})" if nat else "")
    for t, met, informative in zip(spec.targets, targets.prior_met, targets.informative,
                                   strict=True):
        what = "; ".join(c.describe() for c in t.conditions).replace("|", "\\|")
        lines.append(f"| {t.name} | {t.label} | {national if t.of == 'national' else 'a run'}"
                     f" | `{what}` | {t.weight:g} | {met:.2f} | "
                     f"{'yes' if informative else 'no'} |")
    if spec.fixed:
        lines += ["", "Held at the case's facts: " + "; ".join(
            f"`{k}` ({v})" for k, v in spec.fixed.items()) + "."]
    lines += ["", "Files: `posterior.parquet`, `identification.csv`, `forms.csv`, "
              "`targets.csv`, `predictive.csv`"
              + (", `coverage.csv`" if cover is not None else "")
              + (", `generations.csv`, `history.db`" if result.generations is not None else
                 ", the folder `reference` (the table; `--resume` continues it, "
                 "`--reference` conditions other targets on it)")
              + ", `marginals.png/.svg`" + (", `forms.png/.svg`" if len(form_table) else "")
              + ".", ""]
    return "\n".join(lines)
