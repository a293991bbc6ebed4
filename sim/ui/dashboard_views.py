"""What the dashboard and the notebooks show: a run driven month by month, its figures,
the team seat by seat, and many runs with the same settings.

Nothing here depends on Solara, so the same views work in a notebook, in a test and in
the dashboard (``sim.ui.app``). Figures are explicit ``Figure`` objects (no pyplot state);
``png_bytes`` renders one for the browser.
"""

from __future__ import annotations

import functools
import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

from sim.analysis.frames import row_tuples
from sim.analysis.stats import wilson
from sim.core.errors import UsageError
from sim.core.outputs import OUTCOMES
from sim.core.registry import Parameter, principal, resolve
from sim.core.scenarios import (
    NATIONAL_APPROACHES,
    SCENARIOS,
    readable,
    resolve_scenario,
    scenario_label,
)
from sim.core.team import ORGANISATIONS
from sim.experiment.posterior import load_posterior
from sim.mesa.model import IntegrationModel, run_project, timeseries_frame
from sim.report.figures import TIME_TO_PILOT_LABEL, whole_month_ticks
from sim.report.palette import LEVEL_COLOURS, OUTCOME_COLOURS, PALETTE
from sim.run import for_replicates, pack_draws, run_projects, with_draws

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: The one palette (Okabe & Ito 2008, ``sim.report.palette.PALETTE``), by name.
BLUE, ORANGE, GREEN, VERMILLION = (PALETTE[c] for c in ("blue", "orange", "green",
                                                        "vermillion"))
PURPLE, SKY, BLACK, GREY = (PALETTE[c] for c in ("purple", "sky", "black", "grey"))
GATES = {"business_case_month": "business case", "pilot_month": "pilot",
         "integrated_month": "integrated", "collapse_month": "collapse"}
ENGAGED = 0.5  # engagement at or above which the team view counts a person as engaged


# ------------------------------------------------------------------ sliders
def slider_step(p: Parameter) -> float:
    """A round step giving 100-1000 positions, so defaults such as 0.11 sit on the grid."""
    if p.kind == "int":
        return 1
    return 10.0 ** math.floor(math.log10((p.high - p.low) / 100))


def format_value(p: Parameter, value: float) -> str:
    """``value`` with as many decimals as the slider's step has (0.11, not 0.108)."""
    if p.kind == "int":
        return str(int(value))
    decimals = max(0, -math.floor(math.log10(slider_step(p))))
    return f"{value:.{decimals}f}"


def scenario_parameters(scenario: str) -> dict[str, Any]:
    """Every parameter's value under ``scenario``, a name, an ``a+b`` composition or a
    scenario file (defaults, then the scenario)."""
    return resolve(resolve_scenario(scenario).values)


def scenario_sliders(scenario: str) -> dict[str, Any]:
    """The principal levers' values under ``scenario`` (defaults, then the scenario)."""
    values = scenario_parameters(scenario)
    return {p.name: values[p.name] for p in principal()}


#: Where the picker looks for scenario files: ``scenarios/`` in the working directory and
#: the project's own ``scenarios/``.
SCENARIO_FOLDERS = (Path("scenarios"), Path(__file__).resolve().parents[2] / "scenarios")


def scenario_choices(folders: Sequence[Path] = SCENARIO_FOLDERS,
                     ) -> tuple[dict[str, str], list[str]]:
    """The picker's choices, readable label -> scenario: every named scenario, every
    ``*.toml`` in ``folders``, and each national approach with the toolkit; and one line
    per file that could not be read (it is left out)."""
    # named scenarios, then the files, then the compositions (a long list shows its first
    # twenty entries until scrolled)
    choices = {scenario_label(spec): spec for spec in SCENARIOS}
    problems: list[str] = []
    seen: set[Path] = set()
    for folder in folders:
        for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            try:
                spec = str(path.resolve().relative_to(Path.cwd().resolve()))
            except ValueError:
                spec = str(path.resolve())
            try:
                choices[scenario_label(spec)] = spec
            except UsageError as exc:
                problems.append(str(exc))
    for spec in (f"{n}+toolkit" for n in NATIONAL_APPROACHES):
        choices[scenario_label(spec)] = spec
    return choices, problems


def overrides_for(scenario: str, sliders: Mapping[str, Any]) -> dict[str, Any]:
    """The slider values that differ from the scenario's own (the run's overrides)."""
    own = scenario_sliders(scenario)
    return {name: value for name, value in sliders.items()
            if not math.isclose(float(value), float(own[name]), abs_tol=1e-9)}


# ------------------------------------------------------------------ one run
@dataclass(frozen=True)
class Settings:
    """What a run was built from: compared with the controls to see if they changed."""

    scenario: str
    seed: int
    months: int
    overrides: tuple[tuple[str, Any], ...]

    @classmethod
    def make(cls, scenario: str, seed: int, months: int,
             overrides: Mapping[str, Any]) -> Settings:
        clean = tuple(sorted((k, round(float(v), 9)) for k, v in overrides.items()))
        return cls(scenario, int(seed), int(months), clean)


class ProjectRun:
    """One Mesa model stepped by hand, with the team's history kept for the team view."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.model = IntegrationModel(months=settings.months, collect=True, rng=settings.seed,
                                      scenario_name=settings.scenario,
                                      **dict(settings.overrides))
        self.engagement: list[np.ndarray] = []
        self.joined: list[np.ndarray] = []
        self._keep()

    def _keep(self) -> None:
        self.engagement.append(self.model.team.engagement.copy())
        self.joined.append(self.model.team.joined.copy())

    @property
    def month(self) -> int:
        return self.model.steps

    @property
    def done(self) -> bool:
        """At the horizon, or an absorbing state (integrated, collapsed) reached."""
        return self.month >= self.model.months or not self.model.running

    def step(self) -> bool:
        """Advance one month; False when the run is already over."""
        if self.done:
            return False
        self.model.step()
        self._keep()
        return True

    def run_to_end(self) -> None:
        while self.step():
            pass

    @property
    def outcome_text(self) -> str:
        """The final outcome once the run is over; until then 'in progress'."""
        m = self.model
        if self.done:
            return m.outcome
        if m.pilot_month is not None:
            return f"in progress (pilot since month {m.pilot_month})"
        return "in progress"

    def frame(self) -> pd.DataFrame:
        return timeseries_frame(self.model)

    def host_change_months(self) -> list[int]:
        events = self.frame()["events"].astype(str)
        return [int(i) for i, e in enumerate(events) if "host_change" in e]

    def newcomers(self) -> list[tuple[int, int]]:
        """(month, seat) for every seat taken by a newcomer after month 0."""
        out: list[tuple[int, int]] = []
        for month in range(1, len(self.joined)):
            changed = np.flatnonzero(self.joined[month] != self.joined[month - 1])
            out.extend((month, int(seat)) for seat in changed)
        return out

    def status_markdown(self) -> str:
        m = self.model

        def when(month: int | None) -> str:
            return "-" if month is None else f"month {month}"

        engaged = int(np.sum(m.team.engagement >= ENGAGED))
        return (
            f"**Month {self.month} of {m.months}** — outcome: **{self.outcome_text}**  \n"
            f"business case {when(m.business_case_month)} · pilot {when(m.pilot_month)} · "
            f"integrated {when(m.integrated_month)} · collapse {when(m.collapse_month)}  \n"
            f"engaged now {engaged} of {m.team.size} · people replaced {m.turnover_events} · "
            f"host changes {m.host_changes} · small wins {m.small_wins} · "
            f"funding {m.system.funding_received:.2f} × pilot cost  \n"
            f"this month: {m.events or 'nothing notable'}"
        )


# ------------------------------------------------------------------ figures
def png_bytes(fig: Figure, dpi: int = 85) -> bytes:
    """The figure as PNG bytes (for ``solara.Image``)."""
    buffer = BytesIO()
    whole_month_ticks(fig)
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _gate_lines(ax: Axes, model: IntegrationModel, label: bool) -> None:
    for key, name in GATES.items():
        month = getattr(model, key)
        if month is not None:
            ax.axvline(month, color=GREY, linewidth=1.2, linestyle="-.")
            if label:
                ax.text(month, 1.0, f" {name}", rotation=90, va="top", ha="right",
                        fontsize=10, color=GREY)


def project_figure(run: ProjectRun, width: float = 13.0, height: float = 6.5) -> Figure:
    """Direction, alignment and commitment per level; progress, engagement and frustration
    (the case: 'a shared feeling that the transformation was going slowly'), from month
    0 to the horizon (fixed axes, so the picture fills in as the months pass)."""
    frame = run.frame()
    model = run.model
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(2, 2, sharex=True)
    months = frame["month"].to_numpy()
    styles = {"direction": "-", "alignment": "--", "commitment": ":"}
    panels = [(level, [(f"dac_{level}_{o}", o, LEVEL_COLOURS[level], s)
                       for o, s in styles.items()])
              for level in ("system", "organisation", "team")]
    panels.append(("progress, engagement and frustration",
                   [("progress", "specification progress", BLACK, "-"),
                    ("engagement", "team engagement", PURPLE, "-"),
                    ("frustration", "team frustration", VERMILLION, "--")]))
    for i, (ax, (title, lines)) in enumerate(zip(axes.flat, panels, strict=True)):
        for column, label, colour, style in lines:
            ax.plot(months, frame[column], style, color=colour, label=label, linewidth=2.2,
                    marker="o" if len(months) == 1 else None)
        _gate_lines(ax, model, label=i == 3)
        ax.set_xlim(0, model.months)
        ax.set_ylim(0, 1.02)
        ax.set_title(title.capitalize() + (" level" if i < 3 else ""), fontsize=13)
        ax.tick_params(labelsize=11)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=11, frameon=True, framealpha=0.85,
                  ncol=3 if i < 3 else 1)
        if i >= 2:
            ax.set_xlabel("month", fontsize=12)
    s = run.settings
    fig.suptitle(f"{scenario_label(s.scenario)}, seed {s.seed}: month {run.month} of "
                 f"{model.months}, "
                 f"{run.outcome_text}", fontsize=14)
    return fig


def team_figure(run: ProjectRun, width: float = 13.0, height: float = 6.0) -> Figure:
    """The seats month by month: colour is engagement; a triangle marks a newcomer taking
    the seat (the previous holder left); dashed lines mark a new host commissioner."""
    model = run.model
    n = model.team.size
    history = np.full((n, model.months + 1), np.nan)
    for month, engagement in enumerate(run.engagement):
        history[:, month] = engagement
    fig = Figure(figsize=(width, height), layout="constrained")
    ax = fig.subplots()
    cmap = LinearSegmentedColormap.from_list("engagement", [VERMILLION, "#F7F7F7", BLUE]
                                             ).with_extremes(bad="#FFFFFF")
    image = ax.imshow(history, aspect="auto", cmap=cmap, vmin=0, vmax=1,
                      interpolation="nearest", extent=(-0.5, model.months + 0.5, n - 0.5, -0.5))
    bar = fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01)
    bar.set_label(f"engagement (engaged ≥ {ENGAGED})", fontsize=11)
    joins = run.newcomers()
    if joins:
        ax.scatter([m for m, _ in joins], [s for _, s in joins], marker=">", s=60,
                   color=BLACK, label="newcomer takes the seat (someone left)", zorder=3)
    for k, month in enumerate(run.host_change_months()):
        ax.axvline(month, color=BLACK, linestyle="--", linewidth=1.2,
                   label="new host commissioner" if k == 0 else None)
    labels = [f"{r.title} ({_organisation(r.organisation)})" for r in model.roles]
    ax.set_yticks(range(n), labels, fontsize=9)
    ax.set_xlim(-0.5, model.months + 0.5)
    ax.set_xlabel("month", fontsize=12)
    engaged = int(np.sum(model.team.engagement >= ENGAGED))
    ax.set_title(f"The team seat by seat: month {run.month}, {engaged} of {n} engaged, "
                 f"{model.turnover_events} replaced, {model.host_changes} host changes",
                 fontsize=13)
    if joins or model.host_changes:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=2, fontsize=11,
                  frameon=False)
    return fig


def _organisation(index: int) -> str:
    """The organisation a seat belongs to, as a person reads it ("hospital trust")."""
    name = ORGANISATIONS[index] if index < len(ORGANISATIONS) else "patients"
    return name.replace("_", " ").replace("gp ", "GP ")


# ------------------------------------------------------------------ many runs
ENGINES = ("fast", "mesa")


def many_runs(scenario: str, overrides: Mapping[str, Any] | None = None, n: int = 300,
              seed: int = 0, months: int = 60, engine: str = "fast",
              posterior: str | Path | None = None) -> pd.DataFrame:
    """Summaries of ``n`` runs with the same settings, seeds ``seed`` … ``seed + n - 1``.

    One row a run: outcome, gate months, final and mean DAC values and counters (the
    fields of ``summary.json`` without the parameter dictionary), and ``seed``. The
    ``fast`` engine (``sim.engine.fast``, the default) gives the same runs as the Mesa
    model (``engine="mesa"``, one ``run_project`` a run), many times faster. With a
    ``posterior`` (a file, e.g. ``CASE_POSTERIOR``) run *i* takes draw *i* (cycling) under
    the scenario's own values and the overrides, as ``icsim compare`` does.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    seeds = list(range(seed, seed + n))
    resolved = resolve_scenario(scenario, overrides)
    schedule = resolved.schedule_list()
    frame_of_draws = _posterior(str(posterior)) if posterior is not None else None
    if engine == "fast":  # validated and packed once, no dict per run (sim.run.pack_draws)
        params = for_replicates(pack_draws(resolved.values, frame_of_draws), range(n))
        frame = run_projects(params, seeds, months, schedule=schedule)
        frame["seed"] = seeds
    else:
        draws = (cast(list[dict[str, Any]], frame_of_draws.to_dict("records"))
                 if frame_of_draws is not None else None)
        values = [resolve(v) for v in with_draws(resolved.values, draws, range(n))]
        rows = []
        for run_values, s in zip(values, seeds, strict=True):
            row = run_project("baseline", seed=s, months=months, schedule=schedule,
                              **run_values)
            row.pop("parameters", None)
            rows.append(row)
        frame = pd.DataFrame(rows)
    frame["scenario"] = scenario
    frame["months"] = months
    return frame


@functools.lru_cache(maxsize=2)
def _posterior(path: str) -> pd.DataFrame:
    """A posterior's draws, read once per file."""
    return load_posterior(path)


def outcome_shares(runs: pd.DataFrame) -> pd.DataFrame:
    """Count, share and 95% Wilson interval of each outcome."""
    n = len(runs)
    rows = []
    for outcome in OUTCOMES:
        k = int((runs["outcome"] == outcome).sum())
        lo, hi = wilson(k, n)
        rows.append({"outcome": outcome, "runs": k, "share": k / n, "lo": lo, "hi": hi})
    return pd.DataFrame(rows)


def many_runs_figure(runs: pd.DataFrame, months: int, title: str,
                     this_run: Mapping[str, Any] | None = None,
                     width: float = 13.0, height: float = 5.0) -> Figure:
    """Outcome shares (95% Wilson intervals) and the share with a pilot by each month."""
    shares = outcome_shares(runs)
    n = len(runs)
    fig = Figure(figsize=(width, height), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.4])
    x = np.arange(len(shares))
    bars = left.bar(x, shares["share"], color=[OUTCOME_COLOURS[o] for o in shares["outcome"]])
    left.errorbar(x, shares["share"], yerr=[shares["share"] - shares["lo"],
                                            shares["hi"] - shares["share"]],
                  fmt="none", ecolor=BLACK, capsize=5, linewidth=1.5)
    for xi, row in zip(x, row_tuples(shares), strict=True):
        left.text(xi, row.hi + 0.02, f"{row.runs}", ha="center", fontsize=11)
    left.set_xticks(x, shares["outcome"], fontsize=12)
    left.set_ylim(0, 1.1)
    left.set_ylabel(f"share of {n} runs (95% interval)", fontsize=12)
    left.set_title("Outcome at the horizon", fontsize=13)
    if this_run is not None:  # the run on screen: one draw of these
        i = list(shares["outcome"]).index(this_run["outcome"])
        bars[i].set(edgecolor=BLACK, linewidth=3, hatch="//")
        ticks = [f"{o}\n(this run)" if k == i else o for k, o in enumerate(shares["outcome"])]
        left.set_xticks(x, ticks, fontsize=12)
    pilot = runs["pilot_month"].dropna().to_numpy(dtype=float)
    grid = np.arange(months + 1)
    reached = np.array([(pilot <= m).sum() / n for m in grid])
    right.step(grid, reached, where="post", color=GREEN, linewidth=2.2,
               label="share of runs with a pilot by this month (as every view shows it)")
    if pilot.size:
        right.hist(pilot, bins=np.arange(0, months + 2, 3), weights=np.full(pilot.size, 1 / n),
                   color=GREEN, alpha=0.3, label="share reaching it in each 3 months")
        median = float(np.median(pilot))
        right.axvline(median, color=GREY, linestyle=":",
                      label=f"median month among pilots: {median:.0f}")
    if this_run is not None and this_run.get("pilot_month") is not None:
        right.axvline(this_run["pilot_month"], color=BLACK, linestyle="--",
                      label=f"this run: pilot in month {this_run['pilot_month']}")
    right.set_xlim(0, months)
    right.set_ylim(0, 1.02)
    right.set_xlabel("month", fontsize=12)
    right.set_ylabel(TIME_TO_PILOT_LABEL.replace("projects", "runs"), fontsize=12)
    right.set_title(f"Time to pilot ({pilot.size} of {n} runs reached one)", fontsize=13)
    right.legend(loc="upper left", fontsize=11, frameon=True, framealpha=0.85)
    right.grid(alpha=0.3)
    for ax in (left, right):
        ax.tick_params(labelsize=11)
    fig.suptitle(title, fontsize=14)
    return fig


def many_runs_markdown(runs: pd.DataFrame) -> str:
    """One line per outcome: count, share and its 95% interval."""
    shares = outcome_shares(runs)
    parts = [f"{r.outcome} {r.runs} ({r.share:.0%}, 95% interval {r.lo:.0%}–{r.hi:.0%})"
             for r in shares.itertuples()]
    return f"**{len(runs)} runs** (seeds {runs.seed.min()}–{runs.seed.max()}): " + \
        " · ".join(parts)



def paired_figure(pair: Mapping[str, IntegrationModel], runs: Mapping[str, pd.DataFrame],
                  seed: int) -> Figure:
    """One pair of runs with the same seed beside the outcome shares over many seeds.

    ``pair`` maps two scenario names to models run with ``collect=True`` and seed
    ``seed``; ``runs`` maps the same names to ``many_runs`` frames (the same seeds). The
    scenarios are shown by their labels.
    """
    fig = Figure(figsize=(13, 4.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    colours = dict(zip(pair, (ORANGE, BLUE), strict=False))
    for name, model in pair.items():
        frame = timeseries_frame(model)
        left.plot(frame.month, frame.progress, color=colours[name], linewidth=2.2,
                  label=f"{readable(name)}: progress ({model.outcome})")
        left.plot(frame.month, frame.dac_team_commitment, ":", color=colours[name],
                  linewidth=2.2, label=f"{readable(name)}: team commitment")
        if model.pilot_month is not None:
            left.axvline(model.pilot_month, color=colours[name], linestyle="--", linewidth=1)
    left.set(xlabel="month", ylabel="share (0-1)", ylim=(0, 1.05),
             title=f"One pair: seed {seed}, the same luck")
    left.legend(fontsize=10, loc="lower right")
    names = list(runs)
    n = len(next(iter(runs.values())))
    bottom = np.zeros(len(names))
    for outcome in OUTCOMES:
        share = np.array([(runs[k].outcome == outcome).mean() for k in names])
        right.bar(range(len(names)), share, bottom=bottom, label=outcome,
                  color=OUTCOME_COLOURS[outcome])
        for i, s in enumerate(share):
            if s >= 0.05:
                right.text(i, bottom[i] + s / 2, f"{s:.0%}", ha="center", va="center",
                           fontsize=11, color="white")
        bottom += share
    right.set_xticks(range(len(names)), [textwrap.fill(readable(k), 22) for k in names])
    right.set(ylabel=f"share of {n} seeds", ylim=(0, 1),
              title=f"All {n} seeds: the distribution behind the pair")
    right.legend(loc="upper left", bbox_to_anchor=(1, 1))
    fig.suptitle("Same project, same luck, different toolkit", fontsize=14)
    return fig
