"""The national view as files: ``summary.md``, ``sites.parquet``, ``national.csv``,
``rules.csv`` and the figures (``sim.studies.national`` computes the numbers)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from sim.analysis.frames import row_tuples
from sim.experiment.store import staged
from sim.report import figures as plots
from sim.report.compare import intervals_include
from sim.studies.national import FUNDED_SHARE, NationalSpec, results


def summary_markdown(spec: NationalSpec, table: pd.DataFrame) -> str:
    """``summary.md`` for policy analysts: every number from one rounding (``_pct``)."""
    budget = spec.total_budget
    k = max(1, math.ceil(FUNDED_SHARE * spec.sites))
    lines = [
        f"# The national view: {spec.sites} sites under `{spec.approach}`",
        "",
        f"{spec.replicates} replicates, {spec.months} months, seed {spec.seed}. "
        + (f"`{spec.approach}`: {spec.approach_description}. " if spec.approach_description
           else ""),
        "",
        f"**Budget.** The national budget is {budget:g} full-pilot costs (one unit pays for "
        f"one full-scope pilot), {budget / spec.sites:.3g} per site. A competitive or targeted "
        f"rule gives it to {k} sites ({FUNDED_SHARE:.0%}), {budget / k:.3g} pilot costs each; "
        f"universal_small gives every site {budget / spec.sites:.3g}; none gives nothing.",
        "",
        "**Money.** Every site runs the approach's levers as given, its own national funding "
        "rounds included; the rule's share of the budget is added at the start. Per "
        "replicate (the whole country, in full-pilot costs):",
        "",
        "| rule | from the budget | approach's grants and rounds | local money | pooled | "
        "withdrawn | spent | unspent | balance |",
        "|---|---|---|---|---|---|---|---|---|",
        *[f"| {r.rule} | {r.allocated_per_replicate:.3g} | {r.approach_money_per_replicate:.3g}"
          f" | {r.local_committed_per_replicate:.3g} | {r.pooled_per_replicate:.3g} | "
          f"{r.withdrawn_per_replicate:.3g} | {r.spent_per_replicate:.3g} | "
          f"{r.unspent_per_replicate:.3g} | {r.balance_per_replicate:.2g} |"
          for r in row_tuples(table)],
        "",
        "A rule that allocates nothing (`none`) still leaves the approach's own rounds and "
        "local money; the balance column is the accounting check (money in minus money out "
        "minus money left: zero up to rounding).",
        "",
        _intervals_text(spec),
        "",
        _posterior_text(spec),
        "",
        "| rule | funded sites | P(pilot) [95% CI] | P(integrated) [95% CI] | "
        "P(pilot) funded [95% CI] | P(pilot) unfunded [95% CI] | gap p | "
        f"difference from {table.rule.iloc[0]} [95% CI] | budget per site at pilot |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in row_tuples(table):
        diff = "-" if math.isnan(r.d_p_pilot) else (
            f"{_pp(r.d_p_pilot)} [{_pp(r.d_p_pilot_lo)}, {_pp(r.d_p_pilot_hi)}]")
        lines.append(
            f"| {r.rule} | {r.funded_sites} | {_ci(r.p_pilot, r.p_pilot_lo, r.p_pilot_hi)} | "
            f"{_ci(r.p_integrated, r.p_integrated_lo, r.p_integrated_hi)} | "
            f"{_ci(r.p_pilot_funded, r.p_pilot_funded_lo, r.p_pilot_funded_hi)} | "
            f"{_ci(r.p_pilot_unfunded, r.p_pilot_unfunded_lo, r.p_pilot_unfunded_hi)} | "
            f"{_p(r.gap_p_value)} | {diff} | {r.cost_per_pilot_site:.3g} |")
    lines.append("")
    for r in row_tuples(table):
        if not math.isnan(r.p_pilot_funded) and not math.isnan(r.p_pilot_unfunded):
            lines.append(
                f"- Under **{r.rule}**, funded sites reached a pilot in {_pct(r.p_pilot_funded)}"
                f" of runs and unfunded sites in {_pct(r.p_pilot_unfunded)} (one-sided Fisher "
                f"p = {_p(r.gap_p_value)}).")
        elif not math.isnan(r.p_pilot_unfunded):
            lines.append(f"- Under **{r.rule}** the budget funds no site: "
                         f"{_pct(r.p_pilot_unfunded)} of site runs reached a pilot with the "
                         "approach's own rounds and local money only.")
        else:
            lines.append(f"- Under **{r.rule}** every site is funded: "
                         f"{_pct(r.p_pilot_funded)} of site runs reached a pilot.")
    first = table.rule.iloc[0]
    for r in row_tuples(table.iloc[1:]):
        if math.isnan(r.d_p_pilot_lo):
            verdict = "cannot be told apart with one replicate"
        elif r.d_p_pilot_lo > 0:
            verdict = "higher"
        elif r.d_p_pilot_hi < 0:
            verdict = "lower"
        else:
            verdict = "not distinguishable"
        lines.append(
            f"- The national pilot rate under **{r.rule}** "
            f"({_pct(r.p_pilot)}) against **{first}** ({_pct(table.p_pilot.iloc[0])}): "
            f"{_pp(r.d_p_pilot)} [{_pp(r.d_p_pilot_lo)}, {_pp(r.d_p_pilot_hi)}], paired over "
            f"{spec.replicates} replicates: {verdict}.")
    lines += ["", "*budget per site at pilot*: national money received per replicate (budget "
              "and the approach's rounds) divided by the sites that reached a pilot, in "
              "full-pilot costs.", "",
              "Files: `sites.parquet` (one row per site, replicate and rule), "
              "`national.csv` (shares by month with intervals), `rules.csv`, `national_pilot`, "
              "`funded_gap` (figures); the raw runs are in `runs/` (the sweep runner's parts).",
              ""]
    return "\n".join(lines)


def _posterior_text(spec: NationalSpec) -> str:
    """What the intervals include of the parameters' uncertainty."""
    if not spec.posterior:
        return intervals_include(0)
    path = Path(spec.posterior)
    with contextlib.suppress(ValueError):
        path = path.relative_to(Path.cwd().resolve())
    import pyarrow.parquet as pq

    columns = tuple(c for c in pq.read_schema(spec.posterior).names
                    if c not in ("weight", "draw"))
    draws = pq.read_metadata(spec.posterior).num_rows
    return intervals_include(draws, str(path), columns).replace(
        "in every scenario", "at every site under every rule")


def _intervals_text(spec: NationalSpec) -> str:
    """What the intervals across replicates contain, for the country setting used."""
    if spec.country == "redraw":
        return (
            f"**Intervals.** Every replicate draws a new country of {spec.sites} sites from "
            "the same distributions and runs every site's project with new luck; replicate "
            "*i* has the same country and the same seeds under every rule. The 95% "
            "intervals are across replicates: they show how the national rate varies "
            "between countries like this one and between runs, both together. They are "
            f"narrow because each replicate averages over {spec.sites} sites. "
            "`--country fixed` holds one country and shows the projects' luck alone.")
    return (
        "**Intervals.** The sites are drawn once from the seed and held fixed "
        "(`--country fixed`); a replicate repeats every site's project with new luck, and "
        "replicate *i* of a site has the same seed under every rule. The 95% intervals are "
        "across replicates for this one country: they show the projects' luck, not how a "
        f"different draw of {spec.sites} sites would differ, and are narrow because each "
        f"replicate already averages over {spec.sites} sites. Another `--seed` draws another "
        "country; `--country redraw` (the default) draws a new one per replicate.")


def _ci(x: float, lo: float, hi: float) -> str:
    if math.isnan(x):
        return "-"
    return _pct(x) if math.isnan(lo) else f"{_pct(x)} [{_pct(lo)}, {_pct(hi)}]"


def _pp(x: float) -> str:
    return "-" if math.isnan(x) else f"{round(100 * x, 1):+.1f} pp"


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{round(100 * x, 1):.1f}%"


def _p(x: float) -> str:
    return "-" if math.isnan(x) else (f"{x:.2g}" if x >= 1e-4 else "<1e-4")


def write_outputs(out: Path, spec: NationalSpec, formats: Sequence[str] = ("png",),
                  ) -> pd.DataFrame:
    """Read the finished runs in ``out/runs`` and write the national outputs."""
    result = results(out, spec)
    sites, series, table = result.sites, result.series, result.table
    with staged(out) as stage:
        sites.to_parquet(stage / "sites.parquet", index=False)
        series.to_csv(stage / "national.csv", index=False, float_format="%.6g")
        table.to_csv(stage / "rules.csv", index=False, float_format="%.6g")
        (stage / "summary.md").write_text(summary_markdown(spec, table))
        for stem, fig in (("national_pilot", plots.national_figure(series, "pilot")),
                          ("funded_gap", plots.funded_gap_figure(table))):
            for fmt in formats:
                plots.save(fig, stage / f"{stem}.{fmt}")
    return table


def console_table(table: pd.DataFrame) -> str:
    """What ``icsim national`` prints: the rules with the report's own rounding."""
    shown = pd.DataFrame({
        "rule": table.rule, "funded sites": table.funded_sites,
        "P(pilot) [95% CI]": [_ci(r.p_pilot, r.p_pilot_lo, r.p_pilot_hi)
                              for r in row_tuples(table)],
        "funded": [_pct(x) for x in table.p_pilot_funded],
        "unfunded": [_pct(x) for x in table.p_pilot_unfunded],
        "budget per site at pilot": [f"{x:.3g}" for x in table.cost_per_pilot_site]})
    return shown.to_string(index=False)
