"""A sweep's analysis as files: CSV tables, figures and ``summary.md`` in
``DIR/analysis/`` (``sim.studies.sweep_analysis.compute`` finds the numbers).

The summary is for policy analysts: plain words first, numbers and files after.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.frames import row_tuples
from sim.analysis.indices import CONVERGED, separated, tie_groups
from sim.analysis.prim import PrimResult
from sim.core.registry import PARAMETERS
from sim.core.scenarios import described
from sim.experiment.safepaths import refuse_symlinks
from sim.experiment.spec import DISTRIBUTIONS
from sim.experiment.store import code_label, staged, write_atomic
from sim.report import figures as plots
from sim.report.palette import CYCLE, LEVEL_COLOURS
from sim.studies.sweep_analysis import (
    BINARY_HINT,
    NOISY,
    RANK_INDEX,
    Sweep,
    SweepAnalysis,
    compute,
    over_time_method,
)
from sim.studies.sweep_analysis import label as _label


@dataclass
class AnalysisResult:
    """What :func:`analyze` wrote."""

    name: str
    out: Path
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def analyze(root: str | Path, resamples: int = 1000, formats: Sequence[str] = ("png",),
            prim_outcome: str | None = None, prim_threshold: float = 0.5,
            prim_above: bool = False) -> AnalysisResult:
    """Analyse the sweep in ``root`` (:func:`sim.studies.sweep_analysis.compute`); write
    CSV, figures (in every format of ``formats``) and ``summary.md`` to ``root/analysis``.
    """
    return write_analysis(compute(root, resamples, prim_outcome, prim_threshold,
                                  prim_above), formats)


def write_analysis(analysis: SweepAnalysis, formats: Sequence[str] = ("png",),
                   ) -> AnalysisResult:
    """Write what :func:`~sim.studies.sweep_analysis.compute` found to
    ``<sweep>/analysis``."""
    sweep = analysis.sweep
    exp = sweep.experiment
    refuse_symlinks(sweep.root, "analyze")  # nothing written through a link in DIR
    final = sweep.root / "analysis"
    result = AnalysisResult(exp.name, final)
    # Everything is written into a staging folder and moved into analysis/ only when all of
    # it is written: a full disk or an interruption leaves the earlier analysis whole.
    with staged(final) as out:
        md = _Summary(sweep)
        md.library_warnings = analysis.library_warnings

        def csv(frame: pd.DataFrame, name: str) -> None:
            buffer = io.StringIO()
            frame.to_csv(buffer, index=False, float_format="%.6g")
            path = out / name
            write_atomic(path, buffer.getvalue().encode("utf-8"))
            result.files.append(path)

        def figure(fig: Any, name: str) -> None:
            stem = Path(name).stem
            for fmt in formats:
                result.files.append(plots.save(fig, out / f"{stem}.{fmt}"))

        # Failed runs: counted, listed, never dropped silently.
        failed = sweep.failed
        if len(failed):
            csv(failed[["point", "replicate", "seed", *sweep.design.names, "status", "error"]],
                "failed_runs.csv")
        md.failures(failed)

        colours, legend = _level_colours(sweep.design.names)
        for item in analysis.outcomes:
            outcome, noise, table = item.outcome, item.noise, item.table
            name = _label(outcome)
            if item.skipped:
                md.skipped(outcome, item.skipped)
                continue
            if item.method is None:
                continue  # not a Sobol, Morris or LHS sweep: no indices
            # compute() sets the table whenever it sets the method, and the convergence check
            # with it for Sobol and Morris.
            assert table is not None
            if item.method == "delta":
                csv(table, f"delta_{outcome}.csv")
                md.delta(outcome, table, noise)
            elif item.method == "sobol":
                csv(table, f"sobol_{outcome}.csv")
                if item.pairs is not None:
                    csv(item.pairs, f"sobol_{outcome}_S2.csv")
                figure(plots.sensitivity_bars(table, f"Sobol indices of {name}",
                                              noise["noise_in_means"], colours, legend),
                       f"sobol_{outcome}.png")
                md.sobol(outcome, table, noise, item.pairs)
                assert item.check is not None
                md.convergence(outcome, item.check)
            elif item.method == "morris":
                csv(table, f"morris_{outcome}.csv")
                figure(plots.morris_scatter(table, f"Morris screening of {name}", colours,
                                            legend),
                       f"morris_{outcome}.png")
                md.morris(outcome, table, noise)
                assert item.check is not None
                md.convergence(outcome, item.check)
        csv(analysis.noise, "stochastic_variance.csv")
        md.noise(analysis.noise)
        result.notes += analysis.notes

        by_month = analysis.by_month
        if by_month is not None:
            if len(by_month):
                csv(by_month, "sobol_pilot_by_month.csv")
                # The figure shows the months whose indices are not dominated by noise.
                shown = by_month[by_month["noise_in_means"] < NOISY]
                figure(plots.sensitivity_over_time(
                    shown if len(shown) else by_month,
                    "Which levers decide P(pilot by month m): early and late"
                    + (f" (months with replicate noise < {NOISY:.0%})" if len(shown) else "")),
                    "sobol_pilot_by_month.png")
            md.by_month(by_month, analysis.by_month_notes)

        over_time = analysis.over_time
        if over_time is not None:
            method = over_time_method(exp.method)
            if len(over_time) and method is not None:
                csv(over_time, "indices_over_time.csv")
                for outcome in dict.fromkeys(over_time["outcome"]):
                    rows = over_time[over_time["outcome"] == outcome]
                    # the months whose indices are not dominated by noise, as above
                    shown = rows[rows["noise_in_means"] < NOISY]
                    figure(plots.sensitivity_over_time(
                        shown if len(shown) else rows,
                        f"Which levers decide {series_label(outcome)}, month by month"
                        + (f" (months with replicate noise < {NOISY:.0%})"
                           if len(shown) else ""),
                        method=method, ylabel=f"index of {series_label(outcome)}"),
                        f"indices_over_time_{outcome}.png")
            md.over_time(over_time, analysis.over_time_notes, method)

        if exp.method == "grid":
            for outcome in exp.outcomes:
                csv(analysis.grid[outcome], f"grid_{outcome}.csv")
            md.grid(sweep, analysis.grid)

        finding = analysis.prim
        if finding is not None:
            found, case = finding.found, finding.case
            if found is not None:
                csv(found.stats, "prim_stall_boxes.csv")
                csv(found.boxes, "prim_stall_limits.csv")
                csv(found.trajectory, "prim_stall_trajectory.csv")
                figure(plots.prim_tradeoff(found.trajectory, found.selected, f"PRIM: {case}"),
                       "prim_stall_tradeoff.png")
                if len(found.boxes):
                    figure(plots.prim_box_limits(found.boxes, found.stats,
                                                 f"PRIM boxes: {case}"),
                           "prim_stall_limits.png")
                md.prim(found, case if finding.custom else None, finding.sampled)
            else:
                md.prim_skipped(finding.rate)

        md.warnings()
        summary = out / "summary.md"
        write_atomic(summary, md.text().encode("utf-8"))
        result.files.append(summary)
        written = {path.name for path in out.iterdir()}
    if final.is_dir():
        for stale in final.iterdir():  # an earlier analysis's files this one did not write
            if stale.is_file() and not stale.is_symlink() and stale.name not in written:
                stale.unlink()
    result.files = [final / path.name for path in result.files]
    return result


def series_label(outcome: str) -> str:
    """A monthly outcome as the reports name it: P(pilot by month m), or "mean frustration
    at month m"."""
    if outcome == "stalled":
        return "P(stalled at month m)"
    if outcome in BINARY_HINT:
        return f"P({outcome} by month m)"
    if outcome.startswith("dac_"):  # dac_team_commitment: the team's commitment (DAC)
        level, _, measure = outcome[4:].partition("_")
        return f"{level} {measure} (DAC) at month m"
    return f"{outcome.replace('_', ' ')} at month m"


def _code_words(manifest: dict[str, Any]) -> str:
    """The code that wrote the sweep, or the code versions it mixes (allowed by the user)."""
    mixed = manifest.get("mixed_code", {})
    if mixed.get("allowed") and len(mixed.get("versions", [])) > 1:
        return ("**mixed code versions**, allowed with --allow-mixed-code: "
                + "; ".join(code_label(v["code"]) for v in mixed["versions"]))
    return f"code commit `{str(manifest.get('git', {}).get('commit'))[:12]}`"


def _named(name: str) -> str:
    """A parameter as a person reads it: the registry's label, then the name a file uses."""
    param = PARAMETERS.get(name)
    return f"{param.display} (`{name}`)" if param is not None else f"`{name}`"


#: What the report says of levers whose order the data cannot tell.
TIED = "cannot be ordered: their 95% intervals overlap"


def _in_order(table: pd.DataFrame, key: str, top: int, word: Any) -> str:
    """The ``top`` levers of ``table`` by ``key``, in order only where their 95% intervals
    (``<key>_conf``) tell it: levers whose intervals overlap are named together as tied,
    and a last lever the data cannot tell from the next one down says so."""
    values, confs = table[key].to_numpy(float), table[f"{key}_conf"].to_numpy(float)
    parts = []
    groups = tie_groups(values, confs, top)
    for group in groups:
        words = [word(table.iloc[k]) for k in group]
        if len(words) == 1:
            parts.append(words[0])
        else:
            parts.append(", ".join(words[:-1]) + f" and {words[-1]} ({TIED})")
    text = "; then ".join(parts)
    order = np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")
    if len(order) > top and groups and not separated(values, confs, groups[-1][-1],
                                                      int(order[top])):
        text += (f" (the last cannot be told from the next lever down, "
                 f"`{table.iloc[int(order[top])]['parameter']}`)")
    return text


def _ties(check: dict[str, Any]) -> str:
    """The convergence check's tied groups, in words ('' when none)."""
    groups = [", ".join(f"`{p}`" for p in g[:-1]) + f" and `{g[-1]}`"
              for g in check.get("tied", [])]
    return (f"; tied, their 95% intervals overlapping, so not ordered: {'; '.join(groups)}"
            if groups else "")


def _base_point(manifest: dict[str, Any]) -> list[str]:
    """The summary's line on the base point: a posterior's draws, when the sweep had one."""
    stored = manifest["experiment"]
    digest = stored.get("posterior_sha256")
    if not digest:
        return []
    where = f"`{stored['posterior_file']}`" if stored.get("posterior_file") else "a posterior"
    return [f"- **Base point**: the draws of {where} (sha256 `{str(digest)[:12]}`): "
            "replicate r takes draw r for every input not varied, so the replicates' "
            "spread, and the noise below, hold the posterior's parametric uncertainty as "
            "well as chance."]


def _level_colours(names: Sequence[str]) -> tuple[list[str], dict[str, str] | None]:
    """Colours of the levers by level (registry parameters), and the legend for them."""
    if not all(n in PARAMETERS for n in names):
        return [CYCLE[0]] * len(names), None
    levels = [PARAMETERS[n].level for n in names]
    legend = {f"{level} level": LEVEL_COLOURS[level] for level in LEVEL_COLOURS
              if level in levels}
    return [LEVEL_COLOURS[level] for level in levels], legend


def _pct(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{100 * value:.0f}%"


def _index(value: float, conf: float) -> str:
    """An index in words: 'indistinguishable from 0' when negative or its interval
    spans 0, else a percentage with its interval."""
    if math.isnan(value):
        return "n/a"
    if value - conf <= 0:
        return "indistinguishable from 0"
    return f"{_pct(value)} [{_pct(value - conf)}, {_pct(value + conf)}]"


def _zero_mark(value: float, conf: float) -> str:
    return " \\*" if not math.isnan(value) and value - conf <= 0 else ""


def _num(value: Any, digits: int = 2) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


class _Summary:
    """Builds ``summary.md``: plain words first, numbers and files after."""

    def __init__(self, sweep: Sweep) -> None:
        self.sweep = sweep
        exp, design, manifest = sweep.experiment, sweep.design, sweep.manifest
        self.head = [f"# {exp.name}: what the sweep says", ""]
        if exp.description:
            self.head += [exp.description, ""]
        model = ("the project's model" + (f", scenario {described(exp.scenario)}, horizon "
                                          f"{exp.months} months"
                                          if exp.is_project_model else "")
                 if exp.is_project_model else f"plug-in model `{exp.model}`")
        started, finished = manifest.get("started"), manifest.get("finished")
        self.head += [
            f"- **Design**: {exp.method}, {design.n_points:,} parameter combinations x "
            f"{design.replicates} replicate{'s' if design.replicates > 1 else ''} = "
            f"{design.n_runs:,} simulated {'projects' if exp.is_project_model else 'runs'} "
            f"of {model}.",
            f"- **Levers varied**: {', '.join(_named(n) for n in design.names)}.",
            *_base_point(manifest),
            f"- **Ran**: {started} to {finished}; experiment file sha256 "
            f"`{manifest['experiment']['sha256'][:12]}`, {_code_words(manifest)}.",
            "",
            "Indices are computed on the mean over each combination's replicates -- for a "
            "yes/no outcome such as reaching a pilot, the probability. Ranges in square "
            "brackets are 95% bootstrap confidence intervals.",
            "",
        ]
        self.body: list[str] = []
        self.library_warnings: list[str] = []

    def failures(self, failed: pd.DataFrame) -> None:
        n, total = len(failed), len(self.sweep.runs)
        if not n:
            self.head += [f"- **Failed runs**: none of {total:,}.", ""]
            return
        points = failed["point"].nunique()
        invalid = int((failed["status"] == "invalid").sum())
        of_which = (f" ({invalid:,} of them invalid: an outcome was infinite, so the run is "
                    f"excluded from every index and mean)" if invalid else "")
        first = failed["error"].dropna().astype(str).value_counts().head(3)
        self.head += [f"- **Failed runs**: {n:,} of {total:,} ({_pct(n / total)}){of_which} "
                      f"at {points:,} combinations, excluded from the analysis; means use "
                      f"the successful replicates. "
                      f"All are listed in `failed_runs.csv`. Most common errors:"]
        self.head += [f"  - {count} x `{str(error)[:160]}`" for error, count in first.items()]
        self.head.append("")

    def skipped(self, outcome: str, why: str) -> None:
        self.body += [f"## {_label(outcome)}", "", f"No indices: {why}.", ""]

    def sobol(self, outcome: str, table: pd.DataFrame, noise: dict[str, float],
              pairs: pd.DataFrame | None) -> None:
        label = _label(outcome)
        ranked = table.sort_values("ST", ascending=False)
        lines = [f"## What drives {label}", ""]
        if noise["noise_in_means"] < NOISY:
            words = _in_order(table, "ST", 3, lambda row: (
                f"{_named(row.parameter)} (alone {_index(row.S1, row.S1_conf)}, with its "
                f"interactions {_index(row.ST, row.ST_conf)})"))
            lines += ["The levers that matter most, by ST: " + words + ".", ""]
            first, total = float(table["S1"].sum()), float(table["ST"].sum())
            lines += [f"The first-order indices (S1) sum to {_num(first)} and the total "
                      f"indices (ST) to {_num(total)}, as computed (estimates, each with its "
                      f"own error). For a model whose levers act alone both sums are 1; "
                      + ("the gap between them points to levers acting together (an "
                         "interaction is counted in the ST of every lever in it)"
                         if total - first > 0.1 else
                         "the two sums are close, so interactions are small")
                      + ("; a sum of ST above 1 can also come from noise left in the means"
                         if total > 1 else "") + ".", ""]
            spans = [r.parameter for r in row_tuples(table) if r.S1 - r.S1_conf <= 0]
            if spans:
                lines += [f"S1 indistinguishable from 0 (negative, or its interval spans "
                          f"0): {', '.join(f'`{p}`' for p in spans)}.", ""]
        lines += self._noise_words(noise)
        lines += ["| lever | S1 [95% CI] | ST [95% CI] |", "|---|---|---|"]
        for _, row in ranked.iterrows():
            lines.append(f"| {_named(row.parameter)} | {_num(row.S1)} "
                         f"[{_num(row.S1 - row.S1_conf)}, {_num(row.S1 + row.S1_conf)}]"
                         f"{_zero_mark(row.S1, row.S1_conf)} | "
                         f"{_num(row.ST)} [{_num(row.ST - row.ST_conf)}, "
                         f"{_num(row.ST + row.ST_conf)}]{_zero_mark(row.ST, row.ST_conf)} |")
        lines += ["", "(\\* indistinguishable from 0: the index is negative or its 95% "
                  "interval spans 0. Rows are sorted by ST; rows whose ST intervals overlap "
                  "are not ordered by the data.)", "",
                  f"Files: `sobol_{outcome}.csv`, `sobol_{outcome}.png`"
                  + (f", `sobol_{outcome}_S2.csv`" if pairs is not None else "") + ".", ""]
        self.body += lines

    def morris(self, outcome: str, table: pd.DataFrame, noise: dict[str, float]) -> None:
        label = _label(outcome)
        ranked = table.sort_values("mu_star", ascending=False)
        top = ranked.iloc[0]["mu_star"] if len(ranked) else 0.0
        small = ranked[ranked["mu_star"] < 0.1 * top]["parameter"].tolist() if top > 0 else []
        lines = [f"## Screening {label}", "",
                 "Levers ranked by mu* (mean absolute effect of moving the lever across "
                 "its range); a large sigma means the effect depends on the other levers.",
                 ""]
        lines += ["Most influential: " + _in_order(table, "mu_star", 5,
                                                   lambda row: _named(row.parameter)) + ".",
                  ""]
        if small:
            lines += [f"Negligible (mu* below a tenth of the largest): "
                      f"{', '.join(f'`{p}`' for p in small)}.", ""]
        switches = [lv.name for lv in self.sweep.design.levers if lv.arrow_type == "bool"]
        if switches:
            lines += [f"Switches ({', '.join(f'`{p}`' for p in switches)}) are on/off: their "
                      "mu* averages Morris steps that flip the switch and steps that do not, "
                      "so it ranks them but understates the effect of switching; a grid "
                      "compares their two values directly.", ""]
        lines += self._noise_words(noise)
        lines += ["| lever | mu* [95% CI] | sigma |", "|---|---|---|"]
        for _, row in ranked.iterrows():
            lines.append(f"| {_named(row.parameter)} | {_num(row.mu_star, 3)} "
                         f"[{_num(row.mu_star - row.mu_star_conf, 3)}, "
                         f"{_num(row.mu_star + row.mu_star_conf, 3)}]"
                         f"{_zero_mark(row.mu_star, row.mu_star_conf)} | "
                         f"{_num(row.sigma, 3)} |")
        lines += ["", "(Rows are sorted by mu*; rows whose mu* intervals overlap are not "
                  "ordered by the data.)", "",
                  f"Files: `morris_{outcome}.csv`, `morris_{outcome}.png`.", ""]
        self.body += lines

    @staticmethod
    def _noise_words(noise: dict[str, float]) -> list[str]:
        if math.isnan(noise["within_variance"]):
            return ["Noise: with one replicate per combination the noise between runs of "
                    "the same levers cannot be estimated; for a stochastic model the "
                    "indices below include it.", ""]
        lines = [f"Noise: {_pct(noise['stochastic_share'])} of the run-to-run variance is "
                 f"chance (replicates of the same levers differ); averaging "
                 f"{noise['replicates']:.0f} replicates leaves "
                 f"{_pct(noise['noise_in_means'])} of the variance the indices apportion as "
                 f"noise.", ""]
        if noise["noise_in_means"] >= NOISY:
            lines += ["**Caution**: with this much noise the indices below mostly measure "
                      "chance (total indices of noise-dominated outcomes can exceed 1). Run "
                      "more replicates before reading them.", ""]
        return lines

    def noise(self, table: pd.DataFrame) -> None:
        self.body += ["## How much is chance", "",
                      "| outcome | stochastic share of run variance | noise left in the "
                      "replicate means |", "|---|---|---|"]
        for _, row in table.iterrows():
            self.body.append(f"| {row.outcome} | {_pct(row.stochastic_share)} | "
                             f"{_pct(row.noise_in_means)} |")
        self.body += ["", "File: `stochastic_variance.csv`.", ""]

    def by_month(self, table: pd.DataFrame, notes: list[str]) -> None:
        lines = ["## Early and late levers: P(pilot by month m)", ""]
        if not len(table):
            lines += ["No time-varying indices: " + "; ".join(notes) + ".", ""]
            self.body += lines
            return
        noise = table.groupby("month")["noise_in_means"].first()
        reliable = [m for m in sorted(noise.index) if noise[m] < NOISY]
        if not reliable:
            lines += [f"At every month, replicate noise is at least {_pct(NOISY)} of the "
                      f"variance the indices apportion: the indices mostly measure noise. "
                      f"Run more replicates.", ""]
            self.body += lines
            return
        first, last = reliable[0], reliable[-1]

        def leaders(m: int) -> str:
            return _in_order(table[table["month"] == m].reset_index(drop=True), "ST", 3,
                             lambda r: f"{_named(str(r.parameter))} (ST {_num(r.ST)})")

        p_first = table[table["month"] == first]["p_pilot"].iloc[0]
        p_last = table[table["month"] == last]["p_pilot"].iloc[0]
        lines += [f"By month {first} ({_pct(p_first)} of projects have a pilot) the levers "
                  f"that decide it are {leaders(first)}.",
                  f"By month {last} ({_pct(p_last)}) they are {leaders(last)}.", ""]
        lines += [f"Replicate noise is {_pct(noise[first])} of the variance these indices "
                  f"apportion at month {first} and {_pct(noise[last])} at month {last}; "
                  f"indices no larger than that are indistinguishable from noise.", ""]
        noisy = [m for m in sorted(noise.index) if noise[m] >= NOISY]
        if noisy:
            which = (f"Month {noisy[0]} is" if len(noisy) == 1
                     else f"Months {', '.join(map(str, noisy))} are")
            lines += [f"{which} left out of this comparison: "
                      f"too few pilots by then, so noise is {_pct(NOISY)} or more of the "
                      f"variance (their indices are in the CSV, but are not to be trusted).",
                      ""]
        early = table[table["month"] == first].set_index("parameter")
        late = table[table["month"] == last].set_index("parameter")
        gain = (late["ST"] - early["ST"]).sort_values()
        # a change counts only where the two 95% intervals do not overlap
        beyond = (late["ST"] - early["ST"]).abs() > (late["ST_conf"] + early["ST_conf"])
        if len(gain) and first != last:
            moves = []
            up, down = gain.index[-1], gain.index[0]
            if gain[up] > 0 and beyond[up]:
                moves.append(f"gaining most weight over time: `{up}` ({_num(early.ST[up])} "
                             f"-> {_num(late.ST[up])})")
            if gain[down] < 0 and beyond[down]:
                moves.append(f"losing most: `{down}` ({_num(early.ST[down])} -> "
                             f"{_num(late.ST[down])})")
            if moves:
                text = "; ".join(moves)
                lines += [text[0].upper() + text[1:] + " (changes beyond the two months' "
                          "95% intervals).", ""]
            else:
                lines += [f"No lever's total index changes between month {first} and month "
                          f"{last} by more than the two months' 95% intervals: no trend can "
                          f"be told from noise at these samples.", ""]
        if notes:
            lines += ["Not computed: " + "; ".join(notes) + ".", ""]
        lines += ["Files: `sobol_pilot_by_month.csv`, `sobol_pilot_by_month.png`.", ""]
        self.body += lines

    def over_time(self, table: pd.DataFrame, notes: list[str], method: str | None) -> None:
        """The indices of the recorded monthly outcomes (``[timeseries]``), outcome by
        outcome: the leading levers at the first and last month the noise allows."""
        lines = ["## Over time: the levers behind each monthly outcome", ""]
        if method is None or not len(table):
            why = "; ".join(notes[:5]) + (f"; and {len(notes) - 5} more" if len(notes) > 5
                                          else "")
            self.body += lines + [f"No indices over time: {why or 'nothing to index'}.", ""]
            return
        key = RANK_INDEX[method]
        words = {"sobol": "ST", "morris": "mu*", "delta": "delta"}[method]
        lines += [f"The experiment records monthly outcomes (`[timeseries]`); at each "
                  f"recorded month the {method.capitalize()} indices of the mean over each "
                  f"combination's replicates rank the levers ({words} below).", ""]
        for outcome in dict.fromkeys(table["outcome"]):
            rows = table[table["outcome"] == outcome]
            lines += [f"### {series_label(outcome)}", ""]
            noise = rows.groupby("month")["noise_in_means"].first()
            reliable = [m for m in sorted(noise.index) if noise[m] < NOISY]
            if not reliable:
                lines += [f"At every month, replicate noise is at least {_pct(NOISY)} of the "
                          "variance the indices apportion: they mostly measure noise. Run "
                          "more replicates.", ""]
            else:
                def leaders(m: int, part: pd.DataFrame = rows) -> str:
                    return _in_order(part[part["month"] == m].reset_index(drop=True), key, 3,
                                     lambda r: f"{_named(str(r.parameter))} ({words} "
                                               f"{_num(r[key])})")

                def mean(m: int, part: pd.DataFrame = rows, name: str = outcome) -> str:
                    value = float(part[part["month"] == m]["mean"].iloc[0])
                    return _pct(value) if name in BINARY_HINT else f"mean {_num(value)}"

                first, last = reliable[0], reliable[-1]
                lines.append(f"At month {first} ({mean(first)}) the levers that matter most "
                             f"are {leaders(first)}.")
                if last != first:
                    lines.append(f"At month {last} ({mean(last)}) they are {leaders(last)}.")
                lines.append("")
                noisy = [m for m in sorted(noise.index) if noise[m] >= NOISY]
                if noisy:
                    which = (f"At month {noisy[0]}" if len(noisy) == 1
                             else f"At months {', '.join(map(str, noisy))}")
                    lines += [f"{which} replicate noise is {_pct(NOISY)} or more of the "
                              "variance: the indices are in the CSV but are not to be "
                              "trusted.", ""]
            lines += [f"Figure: `indices_over_time_{outcome}.png`.", ""]
        if notes:
            shown = "; ".join(notes[:8]) + (f"; and {len(notes) - 8} more" if len(notes) > 8
                                            else "")
            lines += [f"Not computed: {shown}.", ""]
        lines += ["File: `indices_over_time.csv` (one row per outcome, month and lever).", ""]
        self.body += lines

    def grid(self, sweep: Sweep, frames: dict[str, pd.DataFrame]) -> None:
        lines = ["## The grid, lever by lever", "",
                 "Mean outcome at each level of each lever, averaged over the other levers.",
                 ""]
        for outcome in sweep.experiment.outcomes:
            frame = frames[outcome].rename(columns={f"mean_{outcome}": "y"})
            lines += [f"### {_label(outcome)}", "", "| lever | level | mean |", "|---|---|---|"]
            for name in sweep.design.names:
                for level, mean in frame.groupby(name)["y"].mean().items():
                    lines.append(f"| {_named(name)} | {level} | {_num(mean, 3)} |")
            best = frame.iloc[frame["y"].argmax()] if frame["y"].notna().any() else None
            if best is not None:
                setting = ", ".join(f"{_named(n)} = {best[n]}" for n in sweep.design.names)
                lines += ["", f"Highest mean {_label(outcome)}: {_num(best['y'], 3)} at "
                          f"{setting}."]
            lines += ["", f"File: `grid_{outcome}.csv`.", ""]
        self.body += lines

    def prim(self, found: PrimResult, case: str | None = None,
             sampled: tuple[int, int] | None = None) -> None:
        if case is None:
            lines = ["## Where projects stall (PRIM scenario discovery)", "",
                     f"A project *stalls* when it has no pilot by the horizon: "
                     f"{_pct(found.base_rate)} of all runs. PRIM (EMA Workbench) looks for "
                     f"ranges of the levers where stalling is concentrated. *Coverage* is the "
                     f"share of all stalls that fall in the box; *density* the share of "
                     f"projects in the box that stall.", ""]
        else:
            lines = ["## Where the cases of interest are (PRIM scenario discovery)", "",
                     f"Cases of interest: {case}, {_pct(found.base_rate)} of all runs. PRIM "
                     f"(EMA Workbench) looks for ranges of the levers where they concentrate. "
                     f"In the boxes below 'stall' reads as 'is a case of interest'.", ""]
        limits = found.boxes
        for _, stat in found.stats.iterrows():
            rows = limits[limits["box"] == stat["box"]] if len(limits) else limits
            conds = []
            for _, r in rows.iterrows():
                if isinstance(r["low"], str):
                    conds.append(f"{_named(r.parameter)} in {{{r.low}}}")
                elif r["low"] > r["range_low"] and r["high"] < r["range_high"]:
                    conds.append(f"{_num(r.low)} <= {_named(r.parameter)} <= {_num(r.high)}")
                elif r["low"] > r["range_low"]:
                    conds.append(f"{_named(r.parameter)} >= {_num(r.low)}")
                else:
                    conds.append(f"{_named(r.parameter)} <= {_num(r.high)}")
            where = " and ".join(conds) if conds else "anywhere"
            lines.append(f"- **Box {int(stat['box'])}**: when {where}, {_pct(stat.density)} "
                         f"of projects stall (vs {_pct(found.base_rate)} overall); the box "
                         f"holds {_pct(stat.coverage)} of all stalls and {_pct(stat.mass)} "
                         f"of the runs.")
        if sampled is not None:
            lines += ["", f"PRIM ran on a random sample of {sampled[0]:,} of the "
                      f"{sampled[1]:,} runs (seeded by the experiment's seed; the Workbench's "
                      "memory grows with the runs, and a larger sample moves the boxes only "
                      "by sampling error)."]
        lines += ["", "Files: `prim_stall_boxes.csv`, `prim_stall_limits.csv` (restricted "
                  "ranges, with quasi-p values), `prim_stall_trajectory.csv`, "
                  "`prim_stall_tradeoff.png`, `prim_stall_limits.png`.", ""]
        self.body += lines

    def prim_skipped(self, rate: float) -> None:
        self.body += ["## Where projects stall", "",
                      f"No scenario discovery: {_pct(rate)} of runs stall, so there is "
                      f"nothing to separate.", ""]

    def convergence(self, outcome: str, check: dict[str, Any]) -> None:
        """The half-samples check, as a plain warning where the indices have not settled."""
        if check["converged"] is None:
            self.body += [f"Convergence of {_label(outcome)}: not checked ({check['samples']} "
                          "samples are too few to halve).", ""]
        elif check["converged"]:
            self.body += [f"Convergence: with half the samples ({check['half']}) every "
                          f"{check['index']} is within {_num(check['max_change'])} of the "
                          f"value from all {check['samples']} and the top three keep their "
                          f"order wherever the intervals tell it{_ties(check)}.", ""]
        else:
            why = []
            if check["max_change"] > CONVERGED:
                why.append(f"an index moves by {_num(check['max_change'])} between half "
                           f"({check['half']}) and all ({check['samples']}) samples")
            if check["ranking_changed"]:
                why.append("the order of the top three levers changes where their intervals "
                           f"tell it{_ties(check)}")
            self.body += [f"**Warning: the indices of {_label(outcome)} have not converged**"
                          f" -- {' and '.join(why)}. Read rankings as provisional and run "
                          f"again with `samples = {check['suggested_samples']}` or more.", ""]

    def delta(self, outcome: str, table: pd.DataFrame, noise: dict[str, float]) -> None:
        label = _label(outcome)
        ranked = table.sort_values("delta", ascending=False)
        lines = [f"## What drives {label} (moment-independent delta)", "",
                 "A Latin hypercube has no Sobol or Morris structure, so the indices are "
                 "SALib's delta (Borgonovo: how far the outcome's whole distribution shifts "
                 "when a lever is known, 0 = not at all) and a first-order S1 estimated from "
                 "the same points. Ranges are 95% bootstrap intervals.", ""]
        lines += self._noise_words(noise)
        lines += ["| lever | delta [95% CI] | S1 [95% CI] |", "|---|---|---|"]
        for r in row_tuples(ranked):
            lines.append(f"| {_named(r.parameter)} | {_num(r.delta)} "
                         f"[{_num(r.delta - r.delta_conf)}"
                         f", {_num(r.delta + r.delta_conf)}]{_zero_mark(r.delta, r.delta_conf)}"
                         f" | {_num(r.S1)} [{_num(r.S1 - r.S1_conf)}, "
                         f"{_num(r.S1 + r.S1_conf)}]{_zero_mark(r.S1, r.S1_conf)} |")
        lines += ["", "(\\* indistinguishable from 0.)", "", f"File: `delta_{outcome}.csv`.",
                  ""]
        self.body += lines

    def warnings(self) -> None:
        if self.library_warnings:
            self.body += ["## Warnings from the libraries", "",
                          "SALib and numpy warned while computing the indices (each warning "
                          "once):", "",
                          *[f"- `{w}`" for w in self.library_warnings], ""]

    def text(self) -> str:
        return "\n".join(self.head + self.body + methods_table(self.sweep)).rstrip() + "\n"


def _range_text(lever: Any) -> str:
    """A varied input's range or distribution, with its parameters, as a design draws it."""
    if lever.kind == "values":
        return "one of " + ", ".join(f"`{v}`" for v in lever.values) + " (equally likely)"
    if lever.dist:
        params = ", ".join(f"{k} {v:g}" for k, v in zip(DISTRIBUTIONS[lever.dist],
                                                       lever.dist_params, strict=True))
        return f"{lever.dist} ({params}), within [{lever.low:g}, {lever.high:g}]"
    whole = "whole numbers " if lever.kind == "int" else ""
    return f"uniform over {whole}[{lever.low:g}, {lever.high:g}]"


def methods_table(sweep: Sweep) -> list[str]:
    """The table a methods section needs: every varied input with its name, label,
    group, range or distribution and source (the registry's, for the project's model)."""
    exp = sweep.experiment
    lines = ["## Methods: the varied inputs", "",
             f"Every input the design varies ({exp.method}, {sweep.design.n_points:,} "
             f"combinations x {sweep.design.replicates} replicates), as sampled; every "
             "other input stays at the base point"
             + (" (the scenario's values, or a posterior's draws)" if exp.is_project_model
                else "") + ".", "",
             "| name | label | group | unit | range or distribution | source |",
             "|---|---|---|---|---|---|"]
    for lever in exp.levers:
        p = PARAMETERS.get(lever.name) if exp.is_project_model else None
        label = p.display if p else lever.name
        group = p.group if p else "plug-in input"
        unit = p.unit if p else "-"
        source = (p.source if p else "the plug-in model's").replace("|", "/")
        lines.append(f"| `{lever.name}` | {label} | {group} | {unit} | {_range_text(lever)} "
                     f"| {source} |")
    if exp.constants:
        lines += ["", "Fixed for every run (`[constants]`): " + ", ".join(
            f"`{k} = {v}`" for k, v in exp.constants.items()) + "."]
    lines.append("")
    return lines
