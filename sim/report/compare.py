"""The scenario comparison as the report shows it: ``comparison.md``, the console table
and the rounded strings both print (``sim.studies.compare`` computes the numbers)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from sim.analysis.frames import row_tuples
from sim.analysis.stats import BOOTSTRAP
from sim.core.registry import PARAMETERS
from sim.core.scenarios import labelled
from sim.studies.compare import Comparison

#: A scenario's name in the tables -> what a report prints for it (``shown_names``).
Names = Mapping[str, str]


def shown_names(comparison: Comparison) -> dict[str, str]:
    """What the report prints for each scenario: its label, with the name or file a
    command takes in brackets ("Flexible national approach (baseline)")."""
    return {s.name: s.labelled for s in comparison.scenarios}


def _shown(name: str, names: Names | None) -> str:
    return (names or {}).get(name) or labelled(name)


def _pct(x: float) -> str:
    """A share as a whole percentage: the one rounding every report line uses."""
    return "-" if x is None or not math.isfinite(x) else f"{round(100 * x):.0f}%"


def _pp(x: float) -> str:
    """A difference of shares in percentage points, signed."""
    return "-" if not math.isfinite(x) else f"{round(100 * x):+.0f} pp"


def _pp1(x: float) -> str:
    """A difference in percentage points to one decimal (an interval's end near 0)."""
    return "-" if not math.isfinite(x) else f"{100 * x:+.1f} pp"


def _month(x: float) -> str:
    return "not reached" if not math.isfinite(x) else f"{x:g}"


def _signed(x: float, digits: int = 1) -> str:
    return "-" if not math.isfinite(x) else f"{x:+.{digits}f}"


def formatted(table: pd.DataFrame, names: Names | None = None) -> pd.DataFrame:
    """The table as the report shows it: every number rounded once, as text, each scenario
    by its label (``names``; default ``labelled``). The Markdown table, its sentences and
    the console all print these strings."""
    rows = []
    for r in row_tuples(table):
        km = _month(r.km_median_pilot_month)
        km_ci = (f"{_month(r.km_median_lo)}-{_month(r.km_median_hi)}"
                 if math.isfinite(r.km_median_lo) else "not reached")
        rows.append({
            "scenario": _shown(r.scenario, names), "runs": str(r.runs),
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


def formatted_differences(differences: pd.DataFrame, names: Names | None = None,
                          ) -> pd.DataFrame:
    """The paired differences as the report shows them (one rounding, as text)."""
    rows = []
    for r in row_tuples(differences):
        rows.append({
            "scenario": _shown(r.scenario, names),
            "ΔP(pilot) [95% CI]": f"{_pp(r.d_p_pilot)} [{_pp(r.d_p_pilot_lo)}, "
                                  f"{_pp(r.d_p_pilot_hi)}]",
            "ΔP(integrated) [95% CI]": f"{_pp(r.d_p_integrated)} [{_pp(r.d_p_integrated_lo)}, "
                                       f"{_pp(r.d_p_integrated_hi)}]",
            "Δ median months to pilot (KM) [95% CI]":
                ("cannot tell (median not reached)" if not math.isfinite(r.d_km_median) else
                 f"{_signed(r.d_km_median, 0)}" + (
                     f" [{_signed(r.d_km_median_lo, 0)}, {_signed(r.d_km_median_hi, 0)}]"
                     if math.isfinite(r.d_km_median_lo) else
                     " [no interval: in over 2.5% of bootstrap resamples fewer than half "
                     "the runs of one scenario piloted, so its median is not reached]")),
            "Δ restricted mean months to pilot [95% CI]":
                f"{_signed(r.d_restricted_mean_pilot_month)} "
                f"[{_signed(r.d_restricted_mean_pilot_month_lo)}, "
                f"{_signed(r.d_restricted_mean_pilot_month_hi)}]",
        })
    return pd.DataFrame(rows)


#: The report's two tables of ``formatted`` columns: the outcomes, then the time to pilot
#: and the levels at the horizon (one table of fourteen columns was cut off on a page or a
#: projector).
OUTCOME_COLUMNS = ["scenario", "runs", "P(pilot)", "P(pilot) 95% CI", "P(integrated)",
                   "P(integrated) 95% CI", "stalled", "collapsed"]
TIMING_COLUMNS = ["scenario", "median months to pilot (KM)", "KM 95% CI",
                  "median pilot month if piloted", "team commitment",
                  "organisation alignment", "system alignment"]


def compact_table(comparison: Comparison) -> pd.DataFrame:
    """The comparison's main numbers in seven short columns, for a notebook or a narrow
    page: each scenario by its label, P(pilot) with its 95% interval, P(integrated),
    stalled, collapsed, the Kaplan-Meier median months to pilot (rounded as the report
    rounds), and last the name or file a command takes. (Label and name apart: pandas
    cuts a cell past 50 characters.)"""
    shown = formatted(comparison.table)
    scenarios = {s.name: s for s in comparison.scenarios}
    order = [scenarios[name] for name in comparison.table.scenario]
    return pd.DataFrame({
        "scenario": [s.label for s in order],
        "P(pilot) [95% CI]": shown["P(pilot)"] + " [" + shown["P(pilot) 95% CI"] + "]",
        "P(integrated)": shown["P(integrated)"], "stalled": shown["stalled"],
        "collapsed": shown["collapsed"],
        "median months to pilot (KM)": shown["median months to pilot (KM)"],
        "name": [s.path or s.name for s in order]})


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


def _distinguishable(d: pd.DataFrame, shown: pd.DataFrame, first: str,
                     names: Names | None = None) -> list[str]:
    """Which differences from the first scenario (``first``, as printed) the replicates
    resolve, and how many replicates the smallest would need."""
    if d.empty:
        return []
    lines = []
    for r, f in zip(row_tuples(d), row_tuples(shown, index=False), strict=True):
        resolved = r.d_p_pilot_lo > 0 or r.d_p_pilot_hi < 0
        verdict = "distinguishable from" if resolved else "not distinguishable from"
        lines.append(f"- **{_shown(r.scenario, names)}**: P(pilot) {verdict} {first}'s at "
                     f"{r.pairs} paired "
                     f"replicates (ΔP(pilot) {f[1]}).")
    open_ = d[~((d.d_p_pilot_lo > 0) | (d.d_p_pilot_hi < 0))]
    if open_.empty:  # every difference resolved: no replicate count to give
        return lines
    smallest = open_.iloc[int(np.argmin(np.abs(open_.d_p_pilot.to_numpy())))]
    need = smallest.d_p_pilot_replicates_needed
    if math.isfinite(need):
        lines.append(
            f"- The smallest difference in P(pilot) not yet resolved, "
            f"{_pp(smallest.d_p_pilot)} (**{_shown(smallest.scenario, names)}**), would "
            f"need about "
            f"{need:.0f} paired replicates to be resolved (two-sided 5% test, 80% power, "
            f"assuming the true difference equals "
            f"the estimate and the paired differences' standard deviation "
            f"{smallest.d_p_pilot_sd:.2f} holds).")
    else:
        lines.append(f"- The smallest difference in P(pilot) not yet resolved "
                     f"(**{_shown(smallest.scenario, names)}**) is 0 in these runs: no "
                     "replicate count can "
                     "be given to resolve it.")
    return lines


def share_or_dash(x: float) -> str:
    """A share in whole percent, or — where it is not a number (nothing to split)."""
    return "—" if x != x else f"{x:.0%}"


def form_effect(form: object, share: float) -> str:
    """The variance split's largest structural choice, by its registry label with its name
    and its share of the variance, or — where there is none."""
    if not (isinstance(form, str) and form):
        return "—"
    label = PARAMETERS[form].display if form in PARAMETERS else form
    return f"{label} (`{form}`) {share_or_dash(share)}"


def intervals_include(draws: int, source: str = "", columns: Sequence[str] = ()) -> str:
    """One sentence on what a report's intervals include: run-to-run noise only at the
    registry's point values; noise and the uncertainty of the parameters the posterior
    carries (structural choices among them, if it carries any) under a posterior."""
    if not draws:
        return ("**What the intervals include**: run-to-run noise only. Every run uses the "
                "registry's point values (`--point`), so the intervals leave out what the "
                "case leaves uncertain about the parameters; without `--point` the runs take "
                "the case posterior's draws.")
    where = f" `{source}`" if source else ""
    structural = [c for c in columns if c in PARAMETERS and PARAMETERS[c].kind == "choice"]
    carried = (f"the {len(columns)} parameters it carries" if columns
               else "the parameters it carries")
    rest = (f"; its structural choices ({', '.join(f'`{c}`' for c in structural)}) are "
            "drawn too" if structural else
            "; the model's structural choices are not among them and stay fixed")
    return (f"**What the intervals include**: run-to-run noise and parametric uncertainty. "
            f"Replicate *i* uses draw *i* of the posterior{where} (of {draws} draws, cycling) "
            f"and seed *i* in every scenario, so the intervals carry what the calibration "
            f"leaves uncertain about {carried} as well as luck; every other registry entry "
            f"stays at its point value{rest}. `--point` runs at the registry's point values "
            "instead (run-to-run noise only).")


def _edge_note(shown: pd.DataFrame) -> list[str]:
    """Explain a Kaplan-Meier median that sits on an end of its interval."""
    edge = [r for r in shown.to_dict("records") if r["KM 95% CI"] != "not reached"
            and r["median months to pilot (KM)"] in r["KM 95% CI"].split("-")]
    if not edge:
        return []
    r = edge[0]
    return ["", f"A median can sit on an end of its interval (**{r['scenario']}**: "
            f"{r['median months to pilot (KM)']}, 95% CI {r['KM 95% CI']}): pilots happen in "
            "whole months, so many runs share the median's month and the survival curve "
            "drops past one half within that month; the interval is the range of whole "
            "months the curve's band crosses one half in, and it may begin or end there."]


def _rounding_note(table: pd.DataFrame, d: pd.DataFrame, first: str,
                   names: Names | None = None) -> list[str]:
    """Say why a rounded difference can differ from the difference of rounded shares
    (``first`` is the reference's name in the table)."""
    shares = {r.scenario: r for r in row_tuples(table)}
    for r in row_tuples(d):
        for key, label in (("p_pilot", "P(pilot)"), ("p_integrated", "P(integrated)")):
            a, b = getattr(shares[r.scenario], key), getattr(shares[first], key)
            rounded = round(100 * a) - round(100 * b)
            if math.isfinite(getattr(r, f"d_{key}")) and \
                    rounded != round(100 * getattr(r, f"d_{key}")):
                return [f"Differences are computed from the unrounded shares and rounded "
                        f"once, so one can differ by a point from the difference of the "
                        f"rounded shares in the table: **{_shown(r.scenario, names)}** "
                        f"{label} {_pct(a)} against {_shown(first, names)}'s {_pct(b)} "
                        f"({100 * a:.1f}% against "
                        f"{100 * b:.1f}%) is {_pp(getattr(r, f'd_{key}'))}.", ""]
    return []


def _pairs_section(pairs: pd.DataFrame, names: Names | None = None) -> list[str]:
    """Every pair of scenarios, P(pilot), with Bonferroni-adjusted intervals."""
    m = int(pairs.comparisons.iloc[0])
    each = float(pairs.level_each.iloc[0])
    lines = [f"## Every pair of scenarios: P(pilot), adjusted for {m} comparisons", "",
             "| second minus first | ΔP(pilot) | adjusted interval | resolved? |",
             "|---|---|---|---|"]
    for r in row_tuples(pairs):
        lines.append(f"| {_shown(r.second, names)} − {_shown(r.first, names)} | "
                     f"{_pp1(r.difference)} | "
                     f"[{_pp1(r.lo)}, {_pp1(r.hi)}] | "
                     f"{'yes' if r.resolved else 'no: cannot tell them apart'} |")
    lines += ["", f"Paired replicate by replicate; each interval is a t interval at "
              f"{100 * each:.2f}% ({pairs.adjustment.iloc[0]} adjustment: 95% shared among "
              f"the {m} pairs), so all {m} hold together with at least 95% confidence. A "
              "pair is resolved when its adjusted interval excludes 0; an unresolved pair is "
              "not shown to be equal, only not told apart at these replicates. File: "
              "`pairs.csv`.", ""]
    return lines


def console_table(comparison: Comparison) -> str:
    """What ``icsim compare`` prints: the report's own strings."""
    names = shown_names(comparison)
    shown = formatted(comparison.table, names)
    cols = ["scenario", "runs", "P(pilot)", "P(pilot) 95% CI", "P(integrated)", "stalled",
            "collapsed", "median months to pilot (KM)", "KM 95% CI"]
    text = shown[cols].to_string(index=False)
    if not comparison.differences.empty:
        text += "\n\n" + formatted_differences(comparison.differences, names).to_string(
            index=False)
    return text


def markdown(comparison: Comparison) -> str:
    """``comparison.md``: the table, a sentence per scenario (from the same rounded
    strings), the paired differences, and what each scenario is."""
    t = comparison.table
    names = shown_names(comparison)
    shown = formatted(t, names)
    reference = comparison.reference or t.scenario.iloc[0]
    first = _shown(reference, names)
    lines = [f"# Scenario comparison ({int(t.runs.iloc[0])} replicates each, "
             f"{comparison.months} months, seed {comparison.seed})", "",
             "Replicate *i* has the same seed in every scenario (common random numbers), so "
             f"each scenario is compared with **{first}** (the reference) replicate by "
             "replicate."]
    lines.append(intervals_include(comparison.posterior_draws, comparison.posterior_file,
                                   comparison.posterior_columns))
    if comparison.overrides:
        lines.append("Set in every scenario: " + ", ".join(
            f"`{k} = {v}`" for k, v in comparison.overrides.items()) + ".")
    lines += ["", "## Outcomes", "", *_markdown_table(shown[OUTCOME_COLUMNS]), "",
              "### Time to pilot, and the levels at the horizon", "",
              *_markdown_table(shown[TIMING_COLUMNS]), ""]
    lines += [f"- {sentence(row, comparison.months)}" for row in shown.to_dict("records")]
    lines += ["", "Shares are of all runs, with 95% Wilson intervals. *Median months to pilot "
              "(KM)* is the Kaplan-Meier median time to pilot over all runs, those without a "
              "pilot censored at the horizon, with its 95% interval (log-log Greenwood band); "
              "*not reached* means fewer than half the runs piloted. *Median pilot month if "
              "piloted* counts only the runs that piloted and is not the time to pilot. The "
              "three DAC columns are the mean over runs, at the horizon, of team commitment, "
              "organisational alignment and system alignment (direction, alignment and "
              "commitment, Drath et al. 2008; each on 0-1, see docs/ODD.md).",
              *_edge_note(shown), ""]
    if not comparison.differences.empty:
        diffs = formatted_differences(comparison.differences, names)
        lines += [f"## Paired differences from {first}", "",
                  *_markdown_table(diffs), "",
                  "Differences are scenario minus "
                  f"{first}, replicate by replicate: the mean of the paired differences with "
                  "a normal 95% interval for the shares (in percentage points) and for the "
                  "restricted mean months to pilot (a run without a pilot counts as the "
                  "horizon); a paired bootstrap "
                  f"({BOOTSTRAP} resamples) for the Kaplan-Meier median.", "",
                  *_rounding_note(t, comparison.differences, reference, names),
                  *_distinguishable(comparison.differences, diffs, first, names), ""]
    if not comparison.pairs.empty:
        lines += _pairs_section(comparison.pairs, names)
    if not comparison.variance.empty:
        v = comparison.variance
        lines += ["## What the intervals carry: luck, parameters, model form", "",
                  f"Law of total variance over {int(v.draws.iloc[0])} posterior draws x "
                  f"{int(v.seeds_per_draw.iloc[0])} seeds each, per scenario and outcome: "
                  "*variance* is the variance of the yes/no outcome over all those runs "
                  "(p(1 - p) for a share p: 0.25 at most, at p = 50%). It splits into "
                  "*luck* (between seeds at one draw: what more replicates cannot remove) "
                  "and *parameters* (between draws: what the case leaves uncertain; it "
                  "includes the noise of each draw's share over its seeds). *Model form* is "
                  "the part of the parameters' share that the draws' structural choices "
                  "explain (main effects corrected for small samples, summed over choices; the "
                  "largest named); — where no run differs or the posterior carries no "
                  "structural choice. "
                  "(`sim.analysis.variance`)", "",
                  "| scenario | outcome | variance | luck | parameters | of which model form "
                  "| largest form effect |", "|---|---|---|---|---|---|---|"]

        pct = share_or_dash
        for r in row_tuples(v):
            largest = form_effect(r.largest_structural, r.largest_structural_share)
            lines.append(f"| {_shown(r.scenario, names)} | P({r.outcome}) | "
                         f"{r.variance:.3f} | {pct(r.stochastic_share)} | "
                         f"{pct(r.parametric_share)} | {pct(r.structural_share)} | "
                         f"{largest} |")
        lines.append("")
    lines += ["Figures: `outcomes` (outcome shares with intervals), `dac_trajectories` "
              "(median and 10-90% band per level and scenario), `time_to_pilot` (Kaplan-Meier "
              "with 95% bands and numbers at risk).", "", "## The scenarios", ""]
    for scenario in comparison.scenarios:
        spec = f"file `{scenario.path}`" if scenario.path else f"`{scenario.name}`"
        text = (f"- **{scenario.label}** ({spec}): {scenario.description} "
                f"({scenario.source})")
        if scenario.schedule:
            text += " Changes in time: " + "; ".join(
                f"month {m}: " + ", ".join(f"{k} = {v}" for k, v in values.items())
                for m, values in scenario.schedule) + "."
        lines.append(text)
    return "\n".join(lines) + "\n"
