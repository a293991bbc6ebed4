"""The national view as files: ``summary.md``, ``sites.parquet``, ``national.csv``,
``rules.csv`` and the figures (``sim.studies.national`` computes the numbers)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.analysis.frames import row_tuples
from sim.analysis.stats import all_pairs
from sim.core.scenarios import readable
from sim.experiment.store import staged, text_columns
from sim.report import figures as plots
from sim.report.compare import form_effect, intervals_include, share_or_dash
from sim.studies.national import FUNDED_SHARE, RULE_LABELS, NationalSpec, results, rule_label
from sim.studies.national_variance import variance_table

if TYPE_CHECKING:
    import pyarrow as pa


def summary_markdown(spec: NationalSpec, table: pd.DataFrame,
                     pairs: pd.DataFrame | None = None,
                     variance: pd.DataFrame | None = None) -> str:
    """``summary.md`` for policy analysts: every number from one rounding (``_pct``). It
    leads with each rule's paired effect against the first rule (the reference, ``none``
    by default), then every pair of rules (``pairs``, Bonferroni-adjusted), and shows the
    gap between funded and unfunded sites only as a description (it is selection, not the
    effect of money)."""
    budget = spec.total_budget
    k = max(1, math.ceil(FUNDED_SHARE * spec.sites))
    lines = [
        f"# The national view: {spec.sites} sites under {approach_label(spec)}",
        "",
        f"{spec.replicates} replicates, {spec.months} months, seed {spec.seed}. "
        + (f"`{spec.approach}`: {spec.approach_description}. " if spec.approach_description
           else ""),
        "",
        _intervals_text(spec),
        "",
        _posterior_text(spec),
        "",
        _rules_text(table),
        "",
    ]
    lines += _effects(spec, table, pairs)
    if variance is not None and not variance.empty:
        lines += _variance_section(spec, variance)
    lines += _funded_description(table)
    lines += [
        f"**Budget.** The national budget is {budget:g} full-pilot costs (one unit pays for "
        f"one full-scope pilot), {budget / spec.sites:.3g} per site. A competitive or targeted "
        f"rule gives it to {k} sites ({FUNDED_SHARE:.0%}), {budget / k:.3g} pilot costs each; "
        f"the universal rule gives every site {budget / spec.sites:.3g}; with no national "
        "funding nothing is given.",
        "",
        "**Money.** Every site runs the approach's levers as given, its own national funding "
        "rounds included; the rule's share of the budget is added at the start. Per "
        "replicate (the whole country, in full-pilot costs):",
        "",
        "| rule | from the budget | approach's grants and rounds | local money | pooled | "
        "withdrawn | spent | unspent | balance |",
        "|---|---|---|---|---|---|---|---|---|",
        *[f"| {rule_label(r.rule)} | {r.allocated_per_replicate:.3g} | "
          f"{r.approach_money_per_replicate:.3g}"
          f" | {r.local_committed_per_replicate:.3g} | {r.pooled_per_replicate:.3g} | "
          f"{r.withdrawn_per_replicate:.3g} | {r.spent_per_replicate:.3g} | "
          f"{r.unspent_per_replicate:.3g} | {r.balance_per_replicate:.2g} |"
          for r in row_tuples(table)],
        "",
        "A rule that allocates nothing (no national funding) still leaves the approach's "
        "own rounds and "
        "local money; the balance column is the accounting check (money in minus money out "
        "minus money left: zero up to rounding).",
        "",
    ]
    lines += ["*budget per site at pilot*: national money received per replicate (budget "
              "and the approach's rounds) divided by the sites that reached a pilot, in "
              "full-pilot costs.", "",
              "Files: `sites.parquet` (one row per site, replicate and rule), "
              "`national.csv` (shares by month with intervals), `rules.csv`, `variance.csv` "
              "(what the intervals carry), `national_pilot`, "
              "`funded_gap` (figures); the raw runs are in `runs/` (the sweep runner's parts).",
              ""]
    return "\n".join(lines)


def approach_label(spec: NationalSpec) -> str:
    """The national approach as a person reads it, with the name a command takes:
    "Flexible national approach (`baseline`)"; a scenario file's approach by its
    description up to the first colon."""
    words = readable(spec.approach)
    if words == spec.approach and spec.approach_description:  # a scenario file's own name
        words = spec.approach_description.split(":")[0].strip() or spec.approach
    return f"`{spec.approach}`" if words == spec.approach else f"{words} (`{spec.approach}`)"


def _effects(spec: NationalSpec, table: pd.DataFrame,
             pairs: pd.DataFrame | None) -> list[str]:
    """Each rule against the reference, replicate by replicate; then every pair."""
    first = rule_label(table.rule.iloc[0])
    lines = [f"## What each rule does: its paired effect against {_quoted(first)}", "",
             f"The share of all {spec.sites} sites reaching a pilot within {spec.months} "
             f"months under each rule, and its difference from {_quoted(first)} replicate by "
             f"replicate (the same country and seeds under every rule): the effect of the "
             "rule on the national pilot rate.", "",
             "| rule | funded sites | P(pilot) [95% CI] | P(integrated) [95% CI] | "
             f"effect against {_quoted(first)} [95% CI] | budget per site at pilot |",
             "|---|---|---|---|---|---|"]
    for r in row_tuples(table):
        diff = "(reference)" if rule_label(r.rule) == first else (
            f"{_pp(r.d_p_pilot)} [{_pp(r.d_p_pilot_lo)}, {_pp(r.d_p_pilot_hi)}]")
        lines.append(
            f"| {rule_label(r.rule)} | {r.funded_sites} | "
            f"{_ci(r.p_pilot, r.p_pilot_lo, r.p_pilot_hi)} | "
            f"{_ci(r.p_integrated, r.p_integrated_lo, r.p_integrated_hi)} | {diff} | "
            f"{r.cost_per_pilot_site:.3g} |")
    lines.append("")
    for r in row_tuples(table.iloc[1:]):
        if math.isnan(r.d_p_pilot_lo):
            verdict = "cannot be told apart with one replicate"
        elif r.d_p_pilot_lo > 0:
            verdict = "raises it"
        elif r.d_p_pilot_hi < 0:
            verdict = "lowers it"
        else:
            verdict = "cannot be told apart from it at these replicates"
        lines.append(
            f"- **{rule_label(r.rule)}** against **{first}**: {_pct(r.p_pilot)} against "
            f"{_pct(table.p_pilot.iloc[0])} of sites, an effect of {_pp(r.d_p_pilot)} "
            f"[{_pp(r.d_p_pilot_lo)}, {_pp(r.d_p_pilot_hi)}] paired over {spec.replicates} "
            f"replicates: {verdict}.")
    lines.append("")
    if pairs is not None and not pairs.empty:
        m = int(pairs.comparisons.iloc[0])
        lines += [f"### Every pair of rules, adjusted for {m} comparisons", "",
                  "| second minus first | Δ national P(pilot) | adjusted interval | resolved? |",
                  "|---|---|---|---|"]
        for r in row_tuples(pairs):
            lines.append(f"| {rule_label(r.second)} − {rule_label(r.first)} | "
                         f"{_pp(r.difference)} | "
                         f"[{_pp(r.lo)}, {_pp(r.hi)}] | "
                         f"{'yes' if r.resolved else 'no: cannot tell them apart'} |")
        lines += ["", f"Replicate by replicate; each interval is a t interval at "
                  f"{100 * float(pairs.level_each.iloc[0]):.2f}% ({pairs.adjustment.iloc[0]} "
                  f"adjustment), so all {m} hold together with at least 95% confidence. "
                  "File: `pairs.csv`.", ""]
    return lines


def _variance_section(spec: NationalSpec, variance: pd.DataFrame) -> list[str]:
    """What the intervals across replicates carry, per rule and outcome."""
    rest = ("the parameters (replicate *i* takes posterior draw *i*)"
            if spec.posterior else "nothing parametric: every site runs at the registry's "
            "point values (`--point`)")
    country = (" and the country (redrawn per replicate)" if spec.country == "redraw"
               else "")
    lines = ["## What the intervals carry: luck, parameters, model form", "",
             f"The spread of a national share across replicates (*sd*, in points) comes from "
             f"the sites' luck and from {rest}{country}. *Luck* is the binomial variance of "
             f"{spec.sites} sites given the replicate's draw and country (mean p(1 - p) / "
             f"{spec.sites}: an upper bound, as sites that differ vary less than identical "
             "ones); *between replicates* is the rest; *model form* is the part of it that the "
             "draws' structural choices explain (main effects, summed; the largest named). "
             "— where the share does not vary, nothing of the kind is drawn, or fewer than 20 "
             "replicates cannot tell. "
             "(`sim.analysis.variance`)", "",
             "| rule | outcome | replicates | sd | luck | between replicates | of which model "
             "form | largest form effect |", "|---|---|---|---|---|---|---|---|"]

    share = share_or_dash
    for r in row_tuples(variance):
        largest = form_effect(r.largest_structural, r.largest_structural_share)
        lines.append(f"| {rule_label(r.rule)} | P({r.outcome}) | {r.replicates} | "
                     f"{100 * r.sd:.1f} | {share(r.luck_share)} | "
                     f"{share(r.parameters_share)} | {share(r.structural_share)} | "
                     f"{largest} |")
    return [*lines, ""]


def _funded_description(table: pd.DataFrame) -> list[str]:
    """Funded against unfunded sites: a description, with why it is not an effect."""
    lines = ["## Funded and unfunded sites: a description, not an effect", "",
             "A rule that funds some sites chooses them: the competitive rule funds the "
             "readiest, the targeted one the least ready. Funded and unfunded sites therefore "
             "differed before any money arrived, and the gap between them mixes what the money did "
             "with who was chosen (selection). It is shown to describe where pilots happen, "
             "not tested: the effect of a rule is its paired difference from the reference "
             "above.", "",
             "| rule | funded sites | P(pilot) funded [95% CI] | P(pilot) unfunded [95% CI] |",
             "|---|---|---|---|"]
    for r in row_tuples(table):
        lines.append(
            f"| {rule_label(r.rule)} | {r.funded_sites} | "
            f"{_ci(r.p_pilot_funded, r.p_pilot_funded_lo, r.p_pilot_funded_hi)} | "
            f"{_ci(r.p_pilot_unfunded, r.p_pilot_unfunded_lo, r.p_pilot_unfunded_hi)} |")
    lines.append("")
    for r in row_tuples(table):
        if not math.isnan(r.p_pilot_funded) and not math.isnan(r.p_pilot_unfunded):
            lines.append(
                f"- Under **{rule_label(r.rule)}**, {_pct(r.p_pilot_funded)} of funded and "
                f"{_pct(r.p_pilot_unfunded)} of unfunded site runs reached a pilot; the sites "
                "were chosen by the rule, so this gap is not the effect of the money.")
        elif not math.isnan(r.p_pilot_unfunded):
            lines.append(f"- Under **{rule_label(r.rule)}** the budget funds no site: "
                         f"{_pct(r.p_pilot_unfunded)} of site runs reached a pilot with the "
                         "approach's own rounds and local money only.")
        else:
            lines.append(f"- Under **{rule_label(r.rule)}** every site is funded: "
                         f"{_pct(r.p_pilot_funded)} of site runs reached a pilot.")
    lines.append("")
    return lines


def _rules_text(table: pd.DataFrame) -> str:
    """The rules compared, by label, with the names ``--funding-rule`` and the files'
    ``rule`` column use."""
    return ("**Funding rules** (`--funding-rule`, and the `rule` column of the files): "
            + "; ".join(f"{rule_label(rule)} (`{rule}`)" for rule in table.rule) + ".")


def _quoted(label: str) -> str:
    """A rule's label inside a sentence or a heading: in quotation marks."""
    return f"“{label}”"


def rule_pairs(shares: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Every pair of rules' national pilot share, replicate by replicate (``shares``: per
    rule, its share in each replicate; ``NationalResult.pilot_shares``), Bonferroni-
    adjusted (empty with fewer than three rules)."""
    if len(shares) < 3:
        return pd.DataFrame()
    return all_pairs(dict(shares))


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


def write_outputs(out: Path, spec: NationalSpec, formats: Sequence[str] = ("png",),
                  parts: Iterable[Path | pa.Table] | None = None) -> pd.DataFrame:
    """Read the finished runs in ``out/runs``, one part at a time, and write the national
    outputs: ``sites.parquet`` is written as the parts are read, and the tables come from
    statistics gathered on the way (``sim.studies.national.NationalTotals``), so memory
    does not grow with the number of runs. ``parts``: the parts in run order, files or
    tables, by default every part file there (``sim.studies.national.PartFeed`` hands them
    over while the sweep still runs; the outputs are put in place only once it has
    completed)."""
    import pyarrow.parquet as pq

    with staged(out) as stage, contextlib.ExitStack() as files:
        writer: list[pq.ParquetWriter] = []

        def sink(table: pa.Table) -> None:
            if not writer:
                # Dictionary pages for the text columns only (rule, outcome): tried on the
                # numbers too, where nearly every value differs, they cost 0.46 against
                # 0.20 CPU-s at 400,000 sites and made the file 9% larger. The same values.
                writer.append(files.enter_context(pq.ParquetWriter(
                    stage / "sites.parquet", table.schema,
                    use_dictionary=text_columns(table.schema))))
            writer[0].write_table(table)

        result = results(out, spec, sink, parts)
        files.close()  # sites.parquet complete before the stage is moved into place
        series, table = result.series, result.table
        series.to_csv(stage / "national.csv", index=False, float_format="%.6g")
        table.to_csv(stage / "rules.csv", index=False, float_format="%.6g")
        pairs = rule_pairs(result.pilot_shares)
        if not pairs.empty:
            pairs.to_csv(stage / "pairs.csv", index=False, float_format="%.6g")
        variance = variance_table(result.replicate_shares, spec)
        variance.to_csv(stage / "variance.csv", index=False, float_format="%.6g")
        (stage / "summary.md").write_text(summary_markdown(spec, table, pairs, variance))
        for stem, fig in (("national_pilot", plots.national_figure(series, "pilot",
                                                                   RULE_LABELS)),
                          ("funded_gap", plots.funded_gap_figure(table, RULE_LABELS))):
            for fmt in formats:
                plots.save(fig, stage / f"{stem}.{fmt}")
    return table


def console_table(table: pd.DataFrame) -> str:
    """What ``icsim national`` prints: the rules with the report's own rounding, each with
    its paired effect against the reference (the first rule)."""
    first = table.rule.iloc[0]
    shown = pd.DataFrame({
        "funding rule": [rule_label(rule) for rule in table.rule],
        "funded sites": table.funded_sites,
        "P(pilot) [95% CI]": [_ci(r.p_pilot, r.p_pilot_lo, r.p_pilot_hi)
                              for r in row_tuples(table)],
        f"effect against “{rule_label(first)}” [95% CI]": [
            "(reference)" if r.rule == first else
            f"{_pp(r.d_p_pilot)} [{_pp(r.d_p_pilot_lo)}, {_pp(r.d_p_pilot_hi)}]"
            for r in row_tuples(table)],
        "budget per site at pilot": [f"{x:.3g}" for x in table.cost_per_pilot_site]})
    return shown.to_string(index=False)
