"""The published sensitivity analysis: docs/sensitivity.md and its figures.

``make sensitivity`` (``python -m sim.studies.sensitivity``) regenerates everything:

1. the Morris screening of every lever and assumption (``experiments/screening_all.toml``)
   and a Sobol analysis of the most influential numeric entries it finds
   (``experiments/sobol_top.toml``, rewritten from the screening), through the sweep runner
   (``--resume``: finished parts are reused);
2. a stability check: the Morris ranking from the first half of the trajectories and the
   Sobol ranking from the first half of the base samples, against the full runs;
3. the structural alternatives (registry choices) against today's forms, paired over
   common seeds in a few scenarios;
4. docs/sensitivity.md and the figures in docs/images/sensitivity/.

Every number in the report is computed here from the sweeps; nothing is typed by hand.
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from sim.core.errors import UsageError
from sim.core.registry import PARAMETERS
from sim.studies.sweep_analysis import bootstrap_rng

ROOT = Path(__file__).resolve().parents[2]
#: The outcomes the report ranks entries for, as the sweeps name them.
OUTCOMES = {"pilot": "P(pilot)", "integrated": "P(integrated)",
            "time_to_pilot": "time to pilot (months, censored at 60)",
            "collapsed": "P(collapse)"}
#: How many entries the Sobol follow-up takes from the screening.
TOP = 12
#: Scenarios in which the structural alternatives are compared.
ALTERNATIVE_SCENARIOS = ("baseline", "enabling_national", "toolkit", "austerity")


# ------------------------------------------------------------------ screening (Morris)
def morris_indices(problem: dict, x: np.ndarray, y: np.ndarray, levels: int,
                   seed: int = 0) -> pd.DataFrame:
    """SALib Morris mu*, its 95% bootstrap interval and sigma of ``y`` (replicate means)."""
    from SALib.analyze import morris

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = morris.analyze(problem, x, np.asarray(y, dtype=float), num_resamples=500,
                                conf_level=0.95, num_levels=levels, seed=seed)
    return pd.DataFrame({"parameter": problem["names"], "mu_star": result["mu_star"],
                         "mu_star_conf": result["mu_star_conf"], "sigma": result["sigma"]})


def sobol_indices(problem: dict, y: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """SALib Sobol S1 and ST with 95% bootstrap intervals (first order and total only)."""
    from SALib.analyze import sobol

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = sobol.analyze(problem, np.asarray(y, dtype=float), calc_second_order=False,
                               num_resamples=500, conf_level=0.95, seed=bootstrap_rng(seed))
    return pd.DataFrame({"parameter": problem["names"], "S1": result["S1"],
                         "S1_conf": result["S1_conf"], "ST": result["ST"],
                         "ST_conf": result["ST_conf"]})


@dataclass
class Screening:
    """The Morris screening: indices per outcome, noise shares, the half-run check."""

    tables: dict[str, pd.DataFrame]  # outcome -> mu*, interval, sigma, group, half-run mu*
    noise: dict[str, float]  # outcome -> share of the means' variance that is noise
    points: int
    replicates: int
    runs: int
    trajectories: int
    stability: dict[str, tuple[float, int]]  # outcome -> (Spearman rho, top-10 overlap)


def _means(sweep, outcome: str) -> np.ndarray:
    from sim.studies.sweep_analysis import replicate_means

    means, _ = replicate_means(sweep, sweep.runs[outcome])
    return means


def _noise(sweep, outcome: str) -> float:
    from sim.studies.sweep_analysis import stochastic_variance

    return float(stochastic_variance(sweep, sweep.runs[outcome])["noise_in_means"])


def _spearman(a: pd.Series, b: pd.Series) -> float:
    """Rank correlation of two rankings (NaN where one of them does not vary)."""
    if a.nunique() < 2 or b.nunique() < 2:
        return math.nan
    return float(stats.spearmanr(a, b).statistic)


def _overlap(a: pd.Series, b: pd.Series, k: int = 10) -> int:
    return len(set(a.nlargest(k).index) & set(b.nlargest(k).index))


def _rank(sweep, indices, value: str, top: int) -> tuple[dict, dict, dict]:
    """Per outcome: ``indices(y) -> (full, half)`` tables ranked by ``value``, with the
    half-run column, labels and groups; the outcome's noise; the stability of the ranking
    (Spearman rho and overlap of the top ``top``) at half the run against all of it."""
    tables, noise, stability = {}, {}, {}
    for outcome in OUTCOMES:
        full, part = indices(_means(sweep, outcome))
        full[f"{value}_half"] = part[value]
        full["group"] = [PARAMETERS[n].group for n in full.parameter]
        full["label"] = [PARAMETERS[n].display for n in full.parameter]
        full = full.set_index("parameter")
        stability[outcome] = (_spearman(full[value], full[f"{value}_half"]),
                              _overlap(full[value], full[f"{value}_half"], top))
        tables[outcome] = full.sort_values(value, ascending=False)
        noise[outcome] = _noise(sweep, outcome)
    return tables, noise, stability


def screen(root: Path) -> Screening:
    """Morris indices per outcome from a finished screening sweep."""
    from sim.studies.sweep_analysis import load_sweep

    sweep = load_sweep(root)
    design = sweep.design
    k = len(design.names)
    trajectories = design.n_points // (k + 1)
    half = (trajectories // 2) * (k + 1)
    tables, noise, stability = _rank(
        sweep, lambda y: (morris_indices(design.problem, design.x, y, design.levels),
                          morris_indices(design.problem, design.x[:half], y[:half],
                                         design.levels)), "mu_star", 10)
    return Screening(tables, noise, design.n_points, design.replicates, design.n_runs,
                     trajectories, stability)


def most_influential(screening: Screening, top: int = TOP) -> list[str]:
    """The rule for the Sobol follow-up: rank every numeric entry by its largest
    normalised mu* over the four outcomes (mu* / the outcome's largest mu*), keep ``top``.
    Switches and structural choices are left to the screening and the alternatives table;
    an outcome on which nothing has an effect (every mu* 0) ranks nothing.
    """
    scores = pd.concat([t.mu_star / t.mu_star.max() for t in screening.tables.values()
                        if t.mu_star.max() > 0], axis=1).max(axis=1)
    numeric = [n for n in scores.index if PARAMETERS[n].kind in ("float", "int")]
    return list(scores[numeric].sort_values(ascending=False).index[:top])


def sobol_file_text(names: Sequence[str], samples: int = 2048, replicates: int = 8) -> str:
    """``experiments/sobol_top.toml`` for the entries the screening ranked highest."""
    lines = [
        "# Sobol indices (S1, ST) of the entries the screening of everything ranked most",
        "# influential (docs/sensitivity.md; written by 'make sensitivity' from",
        "# experiments/screening_all.toml), each over its plausible range.",
        f"# {samples} x ({len(names)} + 2) = {samples * (len(names) + 2):,} design points, "
        f"{replicates} replicates each: {samples * (len(names) + 2) * replicates:,} runs.",
        "",
        'name = "sobol_top"',
        'description = "Sobol indices of the most influential levers and assumptions"',
        'method = "sobol"', f"samples = {samples}", "second_order = false",
        f"replicates = {replicates}", "seed = 20261129", "months = 60",
        'outcomes = ["pilot", "integrated", "time_to_pilot", "collapsed"]', "",
        "[parameters]"]
    for name in names:
        p = PARAMETERS[name]
        low, high = p.plausible_range
        lines.append(f"{name} = [{int(low)}, {int(high)}]" if p.kind == "int"
                     else f"{name} = [{float(low)!r}, {float(high)!r}]")
    return "\n".join(lines) + "\n"


@dataclass
class SobolResult:
    tables: dict[str, pd.DataFrame]
    noise: dict[str, float]
    samples: int
    points: int
    replicates: int
    runs: int
    stability: dict[str, tuple[float, int]]


def sobol(root: Path) -> SobolResult:
    """Sobol S1/ST per outcome, with the ranking from half the base samples."""
    from sim.studies.sweep_analysis import load_sweep

    sweep = load_sweep(root)
    design = sweep.design
    k = len(design.names)
    samples = design.n_points // (k + 2)
    half = (samples // 2) * (k + 2)
    tables, noise, stability = _rank(
        sweep, lambda y: (sobol_indices(design.problem, y),
                          sobol_indices(design.problem, y[:half])), "ST", min(10, k))
    return SobolResult(tables, noise, samples, design.n_points, design.replicates,
                       design.n_runs, stability)


# ------------------------------------------------------------------ structural alternatives
def km_median(pilot_month: np.ndarray, horizon: int) -> float:
    """Kaplan–Meier median month to a pilot (NaN: not reached within the horizon), from
    the comparison's estimator (``sim.studies.compare.kaplan_meier``)."""
    from sim.studies.compare import kaplan_meier

    return kaplan_meier(pd.Series(pilot_month, dtype="float64"), horizon).median()[0]


def alternatives(scenarios: Sequence[str] = ALTERNATIVE_SCENARIOS, runs: int = 2000,
                 months: int = 60, choices: Sequence[str] | None = None) -> pd.DataFrame:
    """Each structural alternative against today's form, paired over seeds 0..runs-1.

    One row per (choice, alternative, scenario): P(pilot), P(integrated), P(collapse)
    under the default and the alternative, their paired differences with 95% intervals
    (normal, from the per-seed differences), and the Kaplan–Meier median month to a pilot.
    """
    from sim.core.scenarios import parameters_for
    from sim.run import run_projects

    names = choices or [n for n, p in PARAMETERS.items() if p.kind == "choice"]
    seeds = list(range(runs))
    rows = []
    for scenario in scenarios:
        base_values = parameters_for(scenario)
        for name in names:
            default = base_values[name]
            base = run_projects([base_values] * runs, seeds, months)
            for value in PARAMETERS[name].choices:
                if value == default:
                    continue
                alt = run_projects([{**base_values, name: value}] * runs, seeds, months)
                row = {"choice": name, "alternative": value, "default": default,
                       "scenario": scenario, "runs": runs}
                for label, test in (("pilot", ("pilot", "integrated")),
                                    ("integrated", ("integrated",)),
                                    ("collapse", ("collapsed",))):
                    a = base.outcome.isin(test).to_numpy(float)
                    b = alt.outcome.isin(test).to_numpy(float)
                    d = b - a
                    half = 1.96 * d.std(ddof=1) / math.sqrt(runs) if runs > 1 else math.nan
                    row[f"p_{label}_default"] = a.mean()
                    row[f"p_{label}_alternative"] = b.mean()
                    row[f"diff_{label}"] = d.mean()
                    row[f"diff_{label}_lo"] = d.mean() - half
                    row[f"diff_{label}_hi"] = d.mean() + half
                for tag, frame in (("default", base), ("alternative", alt)):
                    row[f"median_pilot_{tag}"] = km_median(
                        frame.pilot_month.to_numpy(dtype=float, na_value=np.nan), months)
                rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ figures
def _bars(ax, table: pd.DataFrame, value: str, conf: str, top: int, colour_by_group: bool):
    from sim.report.figures import PALETTE

    rows = table.head(top).iloc[::-1]
    colours = [PALETTE["blue"] if g == "lever" else PALETTE["orange"] for g in rows.group] \
        if colour_by_group else PALETTE["blue"]
    y = np.arange(len(rows))
    ax.barh(y, rows[value], xerr=rows[conf], color=colours, ecolor=PALETTE["black"],
            capsize=2)
    ax.set_yticks(y, rows.label, fontsize=8)
    ax.axvline(0, color=PALETTE["black"], linewidth=0.8)


def screening_figure(screening: Screening, top: int = 15):
    from matplotlib.patches import Patch

    from sim.report.figures import PALETTE, new_figure

    fig = new_figure(12, 9)
    axes = fig.subplots(2, 2)
    for ax, (outcome, title) in zip(axes.flat, OUTCOMES.items(), strict=True):
        _bars(ax, screening.tables[outcome], "mu_star", "mu_star_conf", top, True)
        ax.set_title(f"{title}: noise {screening.noise[outcome]:.0%} of the means' variance",
                     fontsize=10)
        ax.set_xlabel("Morris mu* (95% bootstrap interval)")
    fig.legend(handles=[Patch(color=PALETTE["blue"], label="lever"),
                        Patch(color=PALETTE["orange"], label="assumption")],
               loc="outside lower center", ncol=2)
    fig.suptitle(f"Screening of all {len(next(iter(screening.tables.values())))} entries: "
                 f"top {top} by mu* per outcome ({screening.runs:,} runs)")
    return fig


def sobol_figure(result: SobolResult):
    from matplotlib.patches import Patch

    from sim.report.figures import PALETTE, new_figure

    fig = new_figure(12, 9)
    axes = fig.subplots(2, 2)
    for ax, (outcome, title) in zip(axes.flat, OUTCOMES.items(), strict=True):
        table = result.tables[outcome]
        _bars(ax, table, "ST", "ST_conf", len(table), True)
        ax.set_title(f"{title}: noise {result.noise[outcome]:.0%} of the means' variance",
                     fontsize=10)
        ax.set_xlabel("Sobol total index ST (95% bootstrap interval)")
    fig.legend(handles=[Patch(color=PALETTE["blue"], label="lever"),
                        Patch(color=PALETTE["orange"], label="assumption")],
               loc="outside lower center", ncol=2)
    fig.suptitle(f"Sobol follow-up: total indices ({result.runs:,} runs)")
    return fig


# ------------------------------------------------------------------ the report
def _fmt(x: float, digits: int = 3) -> str:
    return "—" if x != x else f"{x:.{digits}f}"


def _interval(value: float, conf: float) -> str:
    """An index with its interval; 'indistinguishable from 0' where it spans zero."""
    text = f"{value:.3f} ± {conf:.3f}"
    return text + " (indistinguishable from 0)" if value - conf <= 0 else text


def report(screening: Screening, sob: SobolResult | None, alt: pd.DataFrame | None,
           top_names: Sequence[str], images: str = "images/sensitivity") -> str:
    """docs/sensitivity.md as text."""
    lines = [
        "# Sensitivity of icsim to every number it uses",
        "",
        "Generated by `make sensitivity` (`python -m sim.studies.sensitivity`) from the sweeps it "
        "runs; every number below is computed, none typed. Indices are computed on the mean "
        "of each design point's replicates; *noise* is the share of the variance of those "
        "means that is replicate (Monte-Carlo) noise — an index smaller than that share, or "
        "whose interval spans zero, cannot be told from noise.",
        "",
        "## 1 Screening of everything (Morris)",
        "",
        f"`experiments/screening_all.toml`: all {len(next(iter(screening.tables.values())))}"
        f" entries that shape one project (the levers over their bounds, the assumptions over "
        f"their plausible ranges), {screening.trajectories} trajectories, "
        f"{screening.points:,} design points × {screening.replicates} replicates = "
        f"**{screening.runs:,} runs**, 60 months, fast engine.",
        "",
        f"![Morris screening]({images}/screening.png)",
        "",
    ]
    for outcome, title in OUTCOMES.items():
        table = screening.tables[outcome]
        rho, overlap = screening.stability[outcome]
        lines += [f"### {title}", "",
                  f"Noise: {screening.noise[outcome]:.0%} of the variance of the means. "
                  f"Assumptions among the top 10: "
                  f"{int((table.head(10).group == 'assumption').sum())}.", "",
                  "| rank | entry | group | mu* [95% CI] | sigma | mu* from half the "
                  "trajectories |", "|---|---|---|---|---|---|"]
        for rank, (name, r) in enumerate(table.head(10).iterrows(), start=1):
            zero = " (indistinguishable from 0)" if r.mu_star - r.mu_star_conf <= 0 else ""
            lines.append(f"| {rank} | `{name}` ({r.label}) | {r.group} | "
                         f"{_fmt(r.mu_star)} [{_fmt(r.mu_star - r.mu_star_conf)}, "
                         f"{_fmt(r.mu_star + r.mu_star_conf)}]{zero} | {_fmt(r.sigma)} | "
                         f"{_fmt(r.mu_star_half)} |")
        stable = ("cannot tell (no variation)" if rho != rho
                  else "stable" if rho >= 0.9 and overlap >= 8 else "NOT stable")
        lines += ["", f"Stability: the ranking from the first {screening.trajectories // 2} "
                  f"of {screening.trajectories} trajectories against all of them: Spearman "
                  f"rho {rho:.2f}, {overlap} of the top 10 shared — **{stable}** "
                  "(stable: rho ≥ 0.9 and ≥ 8 of 10 shared).", ""]
    lines += ["## 2 Sobol follow-up on the most influential entries", "",
              f"Rule: each numeric entry's largest normalised mu* over the four outcomes "
              f"(mu* divided by the outcome's largest mu*); the top {len(top_names)}: "
              + ", ".join(f"`{n}`" for n in top_names) + ". Switches and structural "
              "choices stay with the screening and §3.", ""]
    if sob is not None:
        lines += [f"`experiments/sobol_top.toml`: {sob.samples} base samples, "
                  f"{sob.points:,} design points × {sob.replicates} replicates = "
                  f"**{sob.runs:,} runs**.", "", f"![Sobol total indices]({images}/sobol.png)",
                  ""]
        for outcome, title in OUTCOMES.items():
            table = sob.tables[outcome]
            rho, overlap = sob.stability[outcome]
            lines += [f"### {title}", "",
                      f"Noise: {sob.noise[outcome]:.0%} of the variance of the means. "
                      f"Sum of S1 = {table.S1.sum():.2f}, sum of ST = {table.ST.sum():.2f} "
                      "(as computed; ST sums above 1 mean interactions).", "",
                      "| entry | group | S1 [± 95%] | ST [± 95%] | ST from half the samples |",
                      "|---|---|---|---|---|"]
            for name, r in table.iterrows():
                lines.append(f"| `{name}` ({r.label}) | {r.group} | "
                             f"{_interval(r.S1, r.S1_conf)} | {_interval(r.ST, r.ST_conf)} | "
                             f"{_fmt(r.ST_half)} |")
            stable = ("cannot tell (no variation)" if rho != rho
                      else "stable" if rho >= 0.9 else "NOT stable")
            lines += ["", f"Stability: ST ranking from the first {sob.samples // 2} of "
                      f"{sob.samples} base samples against all: Spearman rho {rho:.2f}, "
                      f"{overlap} of the top {min(10, len(table))} shared — **{stable}**.",
                      ""]
    if alt is not None and len(alt):
        n = int(alt.runs.iloc[0])
        lines += ["## 3 Structural alternatives", "",
                  f"Each alternative form of a mechanism against today's form, {n} runs per "
                  "arm, paired (replicate *i* has seed *i* in both arms); differences are "
                  "alternative − default with 95% intervals from the per-seed differences. "
                  "Median month to a pilot: Kaplan–Meier, censored at 60 months (— : not "
                  "reached).", "",
                  "| choice | alternative (default) | scenario | P(pilot) | Δ P(pilot) | "
                  "P(integrated) | Δ P(integrated) | Δ P(collapse) | median pilot month |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in alt.itertuples():
            def d(tag: str, row=r) -> str:
                mean = getattr(row, f"diff_{tag}")
                lo, hi = getattr(row, f"diff_{tag}_lo"), getattr(row, f"diff_{tag}_hi")
                if lo == hi == mean == 0:
                    return "0 (no run differs)"
                flag = "" if lo > 0 or hi < 0 else " (cannot tell)"
                return f"{mean:+.3f} [{lo:+.3f}, {hi:+.3f}]{flag}"
            lines.append(
                f"| `{r.choice}` | {r.alternative} ({r.default}) | {r.scenario} | "
                f"{r.p_pilot_default:.3f} → {r.p_pilot_alternative:.3f} | {d('pilot')} | "
                f"{r.p_integrated_default:.3f} → {r.p_integrated_alternative:.3f} | "
                f"{d('integrated')} | {d('collapse')} | "
                f"{_fmt(r.median_pilot_default, 0)} → {_fmt(r.median_pilot_alternative, 0)} |")
        lines.append("")
    lines += ["## What these numbers do not show", "",
              "- Morris mu* ranks influence over the plausible ranges; it is not a share of "
              "variance, and ranks close together (overlapping intervals) are not ordered.",
              "- Indices describe the model around the baseline scenario; other scenarios may "
              "rank entries differently.",
              "- The plausible ranges of most assumptions are ±50% of the default for want of "
              "a published figure (registry sources); a wider range would raise an entry's "
              "rank. The calibration to the case, not this screening, says which values the "
              "case supports.",
              "- The reviewer's one-at-a-time ±50% figures in issue 9 are not re-run here.", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sweeps (resumed where finished), the analyses, and write the report."""
    parser = argparse.ArgumentParser(prog="python -m sim.studies.sensitivity", description=__doc__)
    parser.add_argument("--results", type=Path, default=ROOT / "results")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--alternative-runs", type=int, default=2000)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--allow-mixed-code", action="store_true",
                        help="resume sweeps whose parts other code wrote (recorded in their "
                             "manifests)")
    args = parser.parse_args(argv)
    try:
        return _main(args)
    except UsageError as exc:
        print(f"python -m sim.studies.sensitivity: error: {exc}", file=sys.stderr)
        return 2


def _main(args: argparse.Namespace) -> int:
    from sim.experiment.spec import load_experiment
    from sim.experiment.sweep import run_sweep
    from sim.report import figures as plots

    screening_dir = args.results / "screening_all"
    run_sweep(load_experiment(ROOT / "experiments" / "screening_all.toml"), screening_dir,
              workers=args.workers, resume=(screening_dir / "manifest.json").exists(),
              progress=not args.quiet, allow_mixed_code=args.allow_mixed_code)
    screening = screen(screening_dir)
    names = most_influential(screening)
    sobol_path = ROOT / "experiments" / "sobol_top.toml"
    text = sobol_file_text(names)
    if not sobol_path.exists() or sobol_path.read_text() != text:
        sobol_path.write_text(text)
    sobol_dir = args.results / "sobol_top"
    run_sweep(load_experiment(sobol_path), sobol_dir, workers=args.workers,
              resume=(sobol_dir / "manifest.json").exists(), progress=not args.quiet,
              allow_mixed_code=args.allow_mixed_code)
    sob = sobol(sobol_dir)
    alt = alternatives(runs=args.alternative_runs)
    images = args.docs / "images" / "sensitivity"
    images.mkdir(parents=True, exist_ok=True)
    for name, fig in (("screening", screening_figure(screening)), ("sobol", sobol_figure(sob))):
        plots.save(fig, images / f"{name}.png")
        plots.save(fig, images / f"{name}.svg")
    alt.to_csv(images / "alternatives.csv", index=False, float_format="%.6g")
    (args.docs / "sensitivity.md").write_text(report(screening, sob, alt, names))
    print(f"wrote {args.docs / 'sensitivity.md'} and {images}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
