"""Every figure of the project, used alike by the CLI, the notebooks and the dashboard.

Figures are built on explicit ``Figure`` objects (no pyplot state), so they are safe in
worker processes and servers. No backend is chosen here: Jupyter shows the figures inline,
and the command line selects a headless one itself (``sim.ui.cli.use_headless_backend``).
Colours are the Okabe-Ito palette, which is safe for the common forms of colour blindness.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from sim.analysis.frames import row_tuples
from sim.core.registry import PARAMETERS
from sim.core.scenarios import readable as scenario_readable
from sim.report.palette import CYCLE, LEVEL_COLOURS, OUTCOME_COLOURS, PALETTE

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.typing import RcKeyType

    from sim.studies.sensitivity import Screening, SobolResult

#: The one style every figure uses (set on import: fonts, no top/right spines, 200 dpi,
#: SVG text kept as text, PDF fonts embedded as TrueType).
STYLE: dict[RcKeyType, Any] = {
    "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 9,
    "axes.spines.top": False, "axes.spines.right": False, "figure.dpi": 100,
    "savefig.dpi": 200, "svg.fonttype": "none", "pdf.fonttype": 42,
    # byte-reproducible files: SVG ids from a fixed salt, not a random one
    "svg.hashsalt": "icsim"}

#: What each format records about when and by what it was written: nothing that changes
#: from one run to the next (no dates), so the same figure gives the same bytes.
METADATA: dict[str, dict[str, Any]] = {
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None},
    "png": {"Software": None},
}


matplotlib.rcParams.update(STYLE)


def whole_months(ax: Axes) -> None:
    """Month ticks at whole months only (no 42.5)."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def new_figure(width: float = 8.0, height: float = 5.0, **kwargs: Any) -> Figure:
    """A figure with the project's defaults and style."""
    return Figure(figsize=(width, height), layout="constrained", **kwargs)


def whole_month_ticks(fig: Figure) -> None:
    """Every axis whose label is a month gets ticks at whole months (no 42.5)."""
    for ax in fig.axes:
        if ax.get_xlabel().lower().startswith("month") and \
                not isinstance(ax.xaxis.get_major_locator(), matplotlib.ticker.FixedLocator):
            whole_months(ax)


def save(fig: Figure, path: str | Path, dpi: int = 200) -> Path:
    """Write a figure atomically (temporary file, then rename), byte-reproducibly: the same
    figure gives the same file (fixed SVG hash salt, no dates or versions in the metadata),
    with month axes at whole months."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    fmt = path.suffix.lstrip(".") or "png"
    whole_month_ticks(fig)
    with matplotlib.rc_context({"svg.hashsalt": "icsim"}):
        fig.savefig(tmp, dpi=dpi, format=fmt, metadata=METADATA.get(fmt))
    tmp.replace(path)
    return path


# ---- one project


def timeseries_figure(frame: pd.DataFrame, title: str = "One integration project") -> Figure:
    """DAC per level and progress over time, gate months marked.

    ``frame`` is the monthly time series (``sim.timeseries_frame``): columns ``month``,
    ``progress``, ``engagement``, ``dac_<level>_<outcome>`` and ``events``.
    """
    fig = new_figure(11, 7)
    axes = fig.subplots(2, 2, sharex=True)
    months = frame["month"].to_numpy()
    styles = {"direction": "-", "alignment": "--", "commitment": ":"}
    for ax, level in zip(axes.flat[:3], ("system", "organisation", "team"), strict=True):
        for outcome, style in styles.items():
            ax.plot(months, frame[f"dac_{level}_{outcome}"], style,
                    color=LEVEL_COLOURS[level], label=outcome, linewidth=2)
        ax.set_title(f"{level.capitalize()} level")
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("value (0-1)")
        ax.legend(loc="lower left", fontsize=8, frameon=False)
    ax = axes.flat[3]
    ax.plot(months, frame["progress"], color=PALETTE["black"], label="specification progress",
            linewidth=2)
    ax.plot(months, frame["engagement"], color=PALETTE["purple"], label="team engagement",
            linewidth=2)
    ax.set_ylim(0, 1.02)
    ax.set_title("Progress and engagement")
    ax.set_ylabel("share (0-1)")
    _mark_gates(list(axes.flat), frame)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    for ax in axes[1]:
        ax.set_xlabel("month")
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(title)
    return fig


GATE_STYLE = {"business_case": ("business case", PALETTE["sky"]),
              "small_tasks": ("small tasks", PALETTE["yellow"]),
              "pilot": ("pilot", PALETTE["green"]),
              "integrated": ("integrated", PALETTE["blue"]),
              "collapse": ("collapse", PALETTE["vermillion"])}


def gate_months(frame: pd.DataFrame) -> dict[str, int]:
    """The first month each gate event appears in the ``events`` column."""
    found: dict[str, int] = {}
    for month, events in zip(frame["month"], frame["events"], strict=True):
        for event in str(events).split(";"):
            if event in GATE_STYLE and event not in found:
                found[event] = int(month)
    return found


def _mark_gates(axes: Sequence[Axes], frame: pd.DataFrame) -> None:
    """Vertical lines at gate months in every panel; the last panel's legend names them."""
    from matplotlib.lines import Line2D

    gates = gate_months(frame)
    for ax in axes:
        for event, month in gates.items():
            ax.axvline(month, color=GATE_STYLE[event][1], linewidth=1.5, alpha=0.9)
    handles = [Line2D([], [], color=GATE_STYLE[e][1], linewidth=1.5,
                      label=f"{GATE_STYLE[e][0]} (month {m})") for e, m in gates.items()]
    if handles:
        last = axes[-1]
        extra = last.legend(handles=handles, loc="lower right", fontsize=8, frameon=False,
                            title="gates", title_fontsize=8)
        last.add_artist(extra)


# ---- scenario comparison


def scenario_names(names: Sequence[str], labels: Mapping[str, str] | None = None,
                   width: int = 28, lines: int = 3) -> list[str]:
    """What a figure prints for each scenario: its label (``labels``, else the named
    scenario's or composition's label), wrapped at ``width`` characters to at most
    ``lines`` lines."""
    return ["\n".join(textwrap.wrap((labels or {}).get(n) or scenario_readable(n), width,
                                    max_lines=lines, placeholder=" …"))
            for n in names]


def outcome_shares_figure(table: pd.DataFrame, labels: Mapping[str, str] | None = None,
                          ) -> Figure:
    """Share of runs per outcome and scenario, with 95% Wilson intervals for pilot and
    integration. ``table`` is ``comparison.csv`` as a DataFrame; scenarios are shown by
    their labels (``scenario_names``)."""
    fig = new_figure(10, 0.6 * len(table) + 2.2)
    ax = fig.subplots()
    y = np.arange(len(table))
    left = np.zeros(len(table))
    for outcome in ("integrated", "pilot", "stalled", "collapsed"):
        share = table[f"share_{outcome}"].to_numpy()
        ax.barh(y, share, left=left, color=OUTCOME_COLOURS[outcome], label=outcome,
                edgecolor="white")
        left += share
    p = table["p_pilot"].to_numpy()
    ax.errorbar(p, y, xerr=[p - table["p_pilot_lo"], table["p_pilot_hi"] - p], fmt="o",
                color=PALETTE["black"], capsize=4, label="P(pilot or better), 95% CI")
    ax.set_yticks(y, scenario_names(list(table["scenario"]), labels, width=32, lines=2))
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of runs")
    ax.set_title("Outcome by scenario")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.05), ncol=5, fontsize=8,
              frameon=False)
    return fig


OUTCOME_LINES = {"direction": ("blue", "-"), "alignment": ("orange", "--"),
                 "commitment": ("green", ":")}


#: The most scenario columns a row of the DAC figure holds: more wrap to another row, so
#: that seven scenarios stay readable on a page or a projector (1024 px).
DAC_COLUMNS = 4


def dac_trajectories_figure(bands: dict, labels: Mapping[str, str] | None = None) -> Figure:
    """Small multiples: one column per scenario, one row per level; in each panel the
    median and 10-90% band of direction, alignment and commitment across replicates.

    ``bands[scenario][key]`` is an array of shape (3, months+1): the 10th, 50th and 90th
    percentiles of ``dac_<key>`` month by month. Each scenario has its own panels, so six
    scenarios stay as readable as two; past ``DAC_COLUMNS`` scenarios the columns wrap to
    further blocks of three rows, as evenly as they go (seven: four and three). Scenarios
    are shown by their labels (``scenario_names``).
    """
    levels = ("system", "organisation", "team")
    names = list(bands)
    blocks = -(-len(names) // DAC_COLUMNS)
    cols = -(-len(names) // blocks)
    fig = new_figure(max(6.0, 2.9 * cols + 1.0), 0.4 + 7.2 * blocks)
    grid = fig.subplots(3 * blocks, cols, sharex=True, sharey=True, squeeze=False)
    titles = scenario_names(names, labels)
    for extra in range(len(names), blocks * cols):
        for i in range(3):
            grid[3 * (extra // cols) + i, extra % cols].set_visible(False)
    for k, scenario in enumerate(names):
        series = bands[scenario]
        axes = grid[3 * (k // cols):3 * (k // cols) + 3]
        j = k % cols
        for i, level in enumerate(levels):
            ax = axes[i, j]
            for outcome, (colour, style) in OUTCOME_LINES.items():
                lo, mid, hi = series[f"{level}_{outcome}"]
                months = np.arange(len(mid))
                ax.fill_between(months, lo, hi, color=PALETTE[colour], alpha=0.18,
                                linewidth=0)
                ax.plot(months, mid, style, color=PALETTE[colour], linewidth=1.8,
                        label=outcome if (i, k) == (0, 0) else None)
            ax.grid(alpha=0.3, linewidth=0.5)
        axes[0, j].set_title(titles[k], fontsize=10)
        axes[-1, j].set_xlabel("Month")
        axes[-1, j].tick_params(labelbottom=True)  # every block's bottom row has months
    for row in range(3 * blocks):
        grid[row, 0].set_ylabel(f"{levels[row % 3].capitalize()} level\nvalue (0-1)")
    grid[0, 0].set_ylim(0, 1.02)
    fig.legend(loc="outside lower center", ncol=3, frameon=False,
               title="median (line) and 10-90% of replicates (band)")
    fig.suptitle("Direction, alignment and commitment by level and scenario")
    return fig


#: The one convention for time to pilot in every view (CLI figures, notebooks, dashboard):
#: the share of projects WITH a pilot by each month, rising (1 - Kaplan-Meier survival).
TIME_TO_PILOT_LABEL = "Share of projects with a pilot by this month"


def time_to_pilot_figure(curves: dict, horizon: int, labels: Mapping[str, str] | None = None,
                         ) -> Figure:
    """The share of projects with a pilot by each month (one minus the Kaplan-Meier curve of
    'no pilot yet', censored at the horizon), rising, with 95% pointwise bands (log-log
    Greenwood) and a table of the numbers at risk below: the convention of every view.

    ``curves[scenario]`` is a ``sim.studies.compare.KaplanMeier`` (or a plain ``(months,
    surviving)`` pair, drawn without band or numbers at risk). Scenarios are shown by their
    labels (``scenario_names``).
    """
    from matplotlib.transforms import blended_transform_factory

    fig = new_figure(9, 5.5 + 0.25 * len(curves))
    grid = fig.add_gridspec(2, 1, height_ratios=[4, 0.6 + 0.28 * len(curves)])
    ax = fig.add_subplot(grid[0])
    table_ax = fig.add_subplot(grid[1], sharex=ax)
    ticks = np.linspace(0, horizon, 7 if horizon % 6 == 0 else 6).round().astype(int)
    legend = scenario_names(list(curves), labels, width=40, lines=2)
    short = scenario_names(list(curves), labels, width=30, lines=1)
    for s, curve in enumerate(curves.values()):
        colour = CYCLE[s % len(CYCLE)]
        months, surviving = curve
        ax.step(months, 1 - np.asarray(surviving), where="post", color=colour, linewidth=2,
                label=legend[s])
        if hasattr(curve, "lower"):
            ax.fill_between(curve.months, 1 - np.asarray(curve.upper),
                            1 - np.asarray(curve.lower), step="post",
                            color=colour, alpha=0.15, linewidth=0)
            row = len(curves) - 1 - s
            for t in ticks:
                table_ax.text(t, row, str(curve.at_risk(t)), ha="center", va="center",
                              fontsize=8, color=colour)
            table_ax.text(-0.035, row, short[s], ha="right", va="center", fontsize=8,
                          color=colour, transform=blended_transform_factory(
                              table_ax.transAxes, table_ax.transData))
    ax.axhline(0.5, color="0.6", linewidth=0.8, linestyle="--")
    ax.set_xlim(0, horizon)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel(TIME_TO_PILOT_LABEL)
    ax.set_title(f"Time to pilot (1 − Kaplan-Meier, 95% bands, censored at month {horizon});"
                 "\nthe median month is where a curve crosses the dashed line", fontsize=10)
    ax.legend(fontsize=9, frameon=False, loc="best")
    ax.grid(alpha=0.3, linewidth=0.5)
    ax.tick_params(labelbottom=False)
    table_ax.set_ylim(-0.6, len(curves) - 0.4)
    table_ax.set_yticks([])
    table_ax.set_xticks(ticks, [str(t) for t in ticks])
    table_ax.set_xlabel("Month")
    table_ax.set_title("Number at risk (no pilot yet)", fontsize=9, loc="left")
    for side in ("top", "right", "left"):
        table_ax.spines[side].set_visible(False)
    return fig


# ---- sweep analysis figures


def readable(name: str, unit: bool = False) -> str:
    """A parameter's readable name from the registry (``Name (unit)`` with ``unit``);
    names outside the registry (plug-in models) are shown as they are."""
    param = PARAMETERS.get(name)
    if param is None:
        return name
    return getattr(param, "axis_label" if unit else "display", name)



def _legend_patches(ax: Axes, legend: Mapping[str, str] | None,
                    extra: Sequence[tuple[Any, str]] = ()) -> None:
    """Add ``extra`` (handle, label) pairs and coloured patches (e.g. one per level) to an
    axis' legend."""
    from matplotlib.patches import Patch

    handles, labels = ax.get_legend_handles_labels()
    for handle, label in extra:
        handles.append(handle)
        labels.append(label)
    for label, colour in (legend or {}).items():
        handles.append(Patch(color=colour))
        labels.append(label)
    ax.legend(handles, labels, loc="lower right", fontsize=8, frameon=False)


def sensitivity_bars(table: pd.DataFrame, title: str, noise_share: float | None = None,
                     colours: Sequence[str] | None = None,
                     legend: Mapping[str, str] | None = None) -> Figure:
    """Sobol S1 and ST per lever with their 95% intervals, largest ST on top.

    ``table`` has columns ``parameter``, ``S1``, ``S1_conf``, ``ST``, ``ST_conf``;
    ``colours`` (one per row, e.g. by level) colour the bars and ``legend`` (label ->
    colour) explains them; ``noise_share``, the share of the indexed variance that is
    replicate noise, is drawn as a line: total indices below it are indistinguishable
    from noise.
    """
    order = np.argsort(table["ST"].to_numpy())
    rows = table.iloc[order]
    fig = new_figure(8, 0.4 * len(rows) + 1.8)
    ax = fig.subplots()
    y = np.arange(len(rows))
    bar_colours = ([colours[i] for i in order] if colours is not None
                   else [PALETTE["blue"]] * len(rows))
    from matplotlib.patches import Patch

    ax.barh(y + 0.2, rows["ST"], height=0.4, xerr=rows["ST_conf"], color=bar_colours,
            ecolor=PALETTE["black"], capsize=2)
    ax.barh(y - 0.2, rows["S1"], height=0.4, xerr=rows["S1_conf"], color="white",
            edgecolor=bar_colours, hatch="///", ecolor=PALETTE["black"], capsize=2)
    # Neutral legend entries for the two kinds of bar; the colours are explained apart.
    kinds = [(Patch(facecolor="#999999"), "ST (total)"),
             (Patch(facecolor="white", edgecolor="#999999", hatch="///"), "S1 (first order)")]
    ax.set_yticks(y, [readable(n) for n in rows["parameter"]])
    ax.axvline(0, color=PALETTE["black"], linewidth=0.8)
    ax.set_xlabel("Sobol index (share of variance), 95% bootstrap interval")
    if noise_share is not None and noise_share == noise_share:
        ax.axvline(noise_share, linestyle="--", color=PALETTE["black"], linewidth=1,
                   label="replicate noise")
        title = f"{title}\n(replicate noise: {100 * noise_share:.0f}% of the indexed variance)"
    ax.set_title(title)
    _legend_patches(ax, legend, kinds)
    return fig


def morris_scatter(table: pd.DataFrame, title: str, colours: Sequence[str] | None = None,
                   legend: Mapping[str, str] | None = None) -> Figure:
    """Morris mu* against sigma, one labelled point per lever with mu*'s 95% interval.

    ``colours`` (one per row) colour the points and ``legend`` (label -> colour) explains
    them."""
    fig = new_figure(8, 6)
    ax = fig.subplots()
    point_colours = colours if colours is not None else [PALETTE["blue"]] * len(table)
    ax.errorbar(table["mu_star"], table["sigma"], xerr=table["mu_star_conf"], fmt="none",
                ecolor=PALETTE["black"], elinewidth=0.8, capsize=2)
    ax.scatter(table["mu_star"], table["sigma"], c=point_colours, s=40, zorder=3)
    top = table["mu_star"].max()
    for row in row_tuples(table):
        if top > 0 and row.mu_star >= 0.1 * top:
            ax.annotate(readable(row.parameter), (row.mu_star, row.sigma), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
    limit = max(float(table["mu_star"].max()), float(table["sigma"].max()), 1e-12) * 1.05
    ax.plot([0, limit], [0, limit], ":", color=PALETTE["black"], linewidth=0.8,
            label="sigma = mu*")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("mu* (mean absolute elementary effect)")
    ax.set_ylabel("sigma (spread: interactions, non-linearity)")
    ax.set_title(title)
    _legend_patches(ax, legend)
    return fig


#: The two indices shown over time for each method, and their panel titles.
OVER_TIME_INDICES = {"sobol": (("S1", "first order S1"), ("ST", "total ST")),
                     "morris": (("mu_star", "mu* (mean absolute elementary effect)"),
                                ("sigma", "sigma (interactions, non-linearity)")),
                     "delta": (("S1", "first order S1"), ("delta", "delta (moment-free)"))}


def sensitivity_over_time(table: pd.DataFrame, title: str, top: int = 6,
                          method: str = "sobol",
                          ylabel: str = "Sobol index of P(pilot by month m)") -> Figure:
    """Two indices of one monthly outcome against the month, for the ``top`` levers by
    the second: Sobol S1 and ST, Morris mu* and sigma, or delta's S1 and delta.

    ``table`` has columns ``month``, ``parameter`` and the method's indices (with their
    ``_conf`` half-widths where the method gives them), as ``sobol_pilot_by_month.csv``
    and ``indices_over_time.csv`` (one outcome) have them. Months are whole numbers on
    the axis; levers are named as the registry labels them.
    """
    (left, left_title), (right, right_title) = OVER_TIME_INDICES[method]
    names = list(table.groupby("parameter")[right].mean().sort_values(ascending=False)
                 .index[:top])
    fig = new_figure(11, 5)
    axes = fig.subplots(1, 2, sharey=method != "morris")
    for k, name in enumerate(names):
        rows = table[table["parameter"] == name].sort_values("month")
        colour = CYCLE[k % len(CYCLE)]
        for ax, index in zip(axes, (left, right), strict=True):
            ax.plot(rows["month"], rows[index], "-o", color=colour, markersize=3,
                    linewidth=2, label=readable(name) if index == right else None)
            if f"{index}_conf" in rows.columns:
                ax.fill_between(rows["month"], rows[index] - rows[f"{index}_conf"],
                                rows[index] + rows[f"{index}_conf"], color=colour,
                                alpha=0.12, linewidth=0)
    if "noise_in_means" in table.columns and method != "morris":
        noise = table.groupby("month")["noise_in_means"].first()
        axes[1].plot(noise.index, noise.to_numpy(), "--", color=PALETTE["black"],
                     linewidth=1.2, label="replicate noise (share)")
    axes[0].set_title(left_title)
    axes[1].set_title(right_title)
    axes[0].set_ylabel(ylabel)
    if method != "morris":
        axes[0].set_ylim(-0.25, 1.1)  # noise-dominated months can stray far outside [0, 1]
    for ax in axes:
        ax.set_xlabel("month m")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.axhline(0, color=PALETTE["black"], linewidth=0.8)
    fig.legend(loc="outside lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle(title)
    return fig


def prim_tradeoff(trajectory: pd.DataFrame, selected: int | None, title: str) -> Figure:
    """PRIM's peeling trajectory: coverage against density, coloured by restricted
    dimensions, with the chosen box circled."""
    fig = new_figure(7, 5.5)
    ax = fig.subplots()
    points = ax.scatter(trajectory["coverage"], trajectory["density"],
                        c=trajectory["res_dim"].astype(float), cmap="viridis", s=25)
    bar = fig.colorbar(points, ax=ax, label="restricted parameters (a whole number)")
    bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if selected is not None and 0 <= selected < len(trajectory):
        row = trajectory.iloc[selected]
        ax.scatter([row["coverage"]], [row["density"]], s=160, facecolors="none",
                   edgecolors=PALETTE["vermillion"], linewidths=2, label="chosen box")
        ax.legend(fontsize=8, frameon=False, loc="lower left")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("coverage (share of all cases in the box)")
    ax.set_ylabel("density (share of the box that are cases)")
    ax.set_title(title)
    return fig


def prim_box_limits(limits: pd.DataFrame, stats: pd.DataFrame, title: str) -> Figure:
    """The restricted ranges of each PRIM box, drawn within each lever's full range
    (normalised to 0-1); categorical restrictions are written out."""
    boxes = list(stats["box"])
    fig = new_figure(9, 0.45 * len(limits) + 1.2 * len(boxes) + 1)
    axes = fig.subplots(len(boxes), 1, squeeze=False)[:, 0]
    for ax, (_, stat) in zip(axes, stats.iterrows(), strict=True):
        rows = limits[limits["box"] == stat["box"]]
        y = np.arange(len(rows))
        for i, r in enumerate(rows.itertuples()):
            ax.plot([0, 1], [i, i], color=PALETTE["black"], alpha=0.2, linewidth=6,
                    solid_capstyle="butt")
            if isinstance(r.low, str):
                ax.text(0.5, i, f"{{{r.low}}}", ha="center", va="center", fontsize=8)
                continue
            span = (r.range_high - r.range_low) or 1.0
            lo, hi = (r.low - r.range_low) / span, (r.high - r.range_low) / span
            ax.plot([lo, hi], [i, i], color=PALETTE["vermillion"], linewidth=6,
                    solid_capstyle="butt")
            ax.text(lo, i + 0.3, f"{r.low:.3g}", ha="center", fontsize=7)
            ax.text(hi, i + 0.3, f"{r.high:.3g}", ha="center", fontsize=7)
        ax.set_yticks(y, [readable(n, unit=True) for n in rows["parameter"]])
        ax.set_ylim(-0.7, len(rows) - 0.2)
        ax.set_xlim(-0.05, 1.05)
        ax.set_xticks([0, 1], ["range low", "range high"])
        ax.set_title(f"box {int(stat['box'])}: coverage {stat['coverage']:.2f}, density "
                     f"{stat['density']:.2f}, mass {stat['mass']:.2f}", fontsize=9)
    fig.suptitle(title)
    return fig


# ---- the national view


def national_figure(series: pd.DataFrame, gate: str = "pilot",
                    labels: Mapping[str, str] | None = None) -> Figure:
    """Share of sites at ``gate`` by month, per funding rule: all, funded and unfunded
    sites, with 95% intervals across replicates. ``series`` is ``national.csv``; each
    panel is titled by its rule's label (``labels``: rule -> label, e.g.
    ``sim.studies.national.RULE_LABELS``; the identifier where none is given)."""
    labels = labels or {}
    rules = list(dict.fromkeys(series["rule"]))
    # A page's width (8 inches) whatever the number of rules: two panels a row.
    cols = min(2, len(rules))
    rows = -(-len(rules) // cols)
    fig = new_figure(8, 1.0 + 3.2 * rows)
    grid = fig.subplots(rows, cols, sharey=True, sharex=True, squeeze=False)
    axes = grid.ravel()[:len(rules)]
    for extra in grid.ravel()[len(rules):]:
        extra.set_visible(False)
    styles = {"all": ("black", "-"), "funded": ("blue", "--"), "unfunded": ("orange", ":")}
    for ax, rule in zip(axes, rules, strict=True):
        part = series[series["rule"] == rule]
        for group, (colour, style) in styles.items():
            mean = part[f"{gate}_{group}"]
            if mean.isna().all():
                continue
            ax.plot(part["month"], mean, style, color=PALETTE[colour], linewidth=2,
                    label=f"{group} sites")
            ax.fill_between(part["month"], part[f"{gate}_{group}_lo"],
                            part[f"{gate}_{group}_hi"], color=PALETTE[colour], alpha=0.2,
                            linewidth=0)
        ax.set_title(textwrap.fill(labels.get(rule, rule), 44), fontsize=10)
        ax.set_xlabel("month")
        ax.set_ylim(0, 1)
        whole_months(ax)
    for ax in grid[:, 0]:
        ax.set_ylabel(f"share of sites at {gate}\n(95% CI)")
    # every group once, from whichever panel draws it (no funded line where the first
    # rule funds no site)
    shown: dict[str, Any] = {}
    for ax in axes:
        for handle, text in zip(*ax.get_legend_handles_labels(), strict=True):
            shown.setdefault(text, handle)
    axes[0].legend(list(shown.values()), list(shown), loc="upper left", fontsize=9,
                   frameon=False)
    fig.suptitle(f"Sites reaching a {gate}, by national funding rule", fontsize=11)
    return fig


def funded_gap_figure(table: pd.DataFrame, labels: Mapping[str, str] | None = None,
                      ) -> Figure:
    """P(pilot) of funded and unfunded sites, and nationally, per funding rule (each
    named by its label in ``labels``, as :func:`national_figure`)."""
    labels = labels or {}
    fig = new_figure(8, 4.8)
    ax = fig.subplots()
    x = np.arange(len(table))
    width = 0.27
    def err(col: str) -> list[np.ndarray] | None:
        mid = table[col].fillna(0).to_numpy()
        if f"{col}_lo" not in table:
            return None
        lo = table[f"{col}_lo"].fillna(table[col]).fillna(0).to_numpy()
        hi = table[f"{col}_hi"].fillna(table[col]).fillna(0).to_numpy()
        return [mid - lo, hi - mid]

    ax.bar(x - width, table["p_pilot_funded"].fillna(0), width, color=PALETTE["blue"],
           label="funded sites (95% CI)", yerr=err("p_pilot_funded"), capsize=4)
    ax.bar(x, table["p_pilot_unfunded"].fillna(0), width, color=PALETTE["orange"],
           label="unfunded sites (95% CI)", yerr=err("p_pilot_unfunded"), capsize=4)
    p = table["p_pilot"].to_numpy()
    ax.bar(x + width, p, width, color=PALETTE["green"], label="all sites (95% CI)",
           yerr=[p - table["p_pilot_lo"].fillna(table["p_pilot"]),
                 table["p_pilot_hi"].fillna(table["p_pilot"]) - p],
           capsize=4)
    ax.set_xticks(x, [textwrap.fill(labels.get(rule, rule), 22) for rule in table["rule"]],
                  fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of site runs reaching a pilot")
    ax.set_xlabel("national funding rule")
    fig.suptitle("Who reaches a pilot: funded and unfunded sites")
    # Swatches drawn here, not taken from the bars (a rule that funds no site has a bar of
    # height 0, whose swatch was blank), and the legend above the bars, not over them.
    ax.legend([Patch(color=PALETTE[c]) for c in ("blue", "orange", "green")],
              ["funded sites", "unfunded sites", "all sites"], title="whiskers: 95% CI", ncol=3,
              fontsize=9, title_fontsize=9, frameon=False, loc="lower center",
              bbox_to_anchor=(0.5, 1.04))
    return fig


# ------------------------------------------------------------------ sensitivity (make sensitivity)
def _ranked_bars(ax: Axes, table: pd.DataFrame, value: str, conf: str, top: int,
                 colour_by_group: bool) -> None:
    rows = table.head(top).iloc[::-1]
    colours = [PALETTE["blue"] if g == "lever" else PALETTE["orange"] for g in rows.group] \
        if colour_by_group else PALETTE["blue"]
    y = np.arange(len(rows))
    ax.barh(y, rows[value], xerr=rows[conf], color=colours, ecolor=PALETTE["black"],
            capsize=2)
    ax.set_yticks(y, rows.label, fontsize=8)
    ax.axvline(0, color=PALETTE["black"], linewidth=0.8)


def screening_figure(screening: Screening, outcomes: dict[str, str], top: int = 15) -> Figure:
    """The Morris screening of every entry: top ``top`` by mu* per outcome
    (``sim.studies.sensitivity.Screening``; ``outcomes`` name the panels)."""
    from matplotlib.patches import Patch

    fig = new_figure(12, 9)
    axes = fig.subplots(2, 2)
    for ax, (outcome, title) in zip(axes.flat, outcomes.items(), strict=True):
        _ranked_bars(ax, screening.tables[outcome], "mu_star", "mu_star_conf", top, True)
        ax.set_title(f"{title}: noise {screening.noise[outcome]:.0%} of the means' variance",
                     fontsize=10)
        ax.set_xlabel("Morris mu* (95% bootstrap interval)")
    fig.legend(handles=[Patch(color=PALETTE["blue"], label="lever"),
                        Patch(color=PALETTE["orange"], label="assumption")],
               loc="outside lower center", ncol=2)
    fig.suptitle(f"Screening of all {len(next(iter(screening.tables.values())))} entries: "
                 f"top {top} by mu* per outcome ({screening.runs:,} runs)")
    return fig


def sobol_figure(result: SobolResult, outcomes: dict[str, str]) -> Figure:
    """The Sobol follow-up's total indices per outcome
    (``sim.studies.sensitivity.SobolResult``)."""
    from matplotlib.patches import Patch

    shown = {o: t for o, t in outcomes.items() if o in result.tables}
    rows = -(-len(shown) // 2)
    fig = new_figure(12, 4.5 * rows)
    axes = np.atleast_1d(fig.subplots(rows, 2)).ravel()
    for ax in axes[len(shown):]:
        ax.set_visible(False)
    for ax, (outcome, title) in zip(axes, shown.items(), strict=False):
        table = result.tables[outcome]
        _ranked_bars(ax, table, "ST", "ST_conf", len(table), True)
        # two lines: on one, the longest outcome's title ran past the figure's edge
        ax.set_title(f"{title}\nnoise {result.noise[outcome]:.0%} of the means' variance",
                     fontsize=10)
        ax.set_xlabel("Sobol total index ST (95% bootstrap interval)")
    fig.legend(handles=[Patch(color=PALETTE["blue"], label="lever"),
                        Patch(color=PALETTE["orange"], label="assumption")],
               loc="outside lower center", ncol=2)
    fig.suptitle(f"Sobol follow-up: total indices ({result.runs:,} runs)")
    return fig


# ------------------------------------------------------------------ calibration (icsim calibrate)
def posterior_marginals_figure(name: str, priors: Mapping[str, tuple[float, float]],
                               draws: pd.DataFrame, names: list[str]) -> Figure:
    """Each calibrated parameter's posterior histogram over its uniform prior, with the
    registry default."""
    cols = 4
    rows = -(-len(names) // cols)
    fig = new_figure(12, 2.6 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, parameter in zip(axes, names, strict=False):
        low, high = priors[parameter]
        ax.hist(draws[parameter], bins=30, range=(low, high), density=True,
                color=PALETTE["blue"], alpha=0.8, label="posterior")
        ax.axhline(1.0 / (high - low), color=PALETTE["black"], linestyle=":",
                   label="prior")
        ax.axvline(PARAMETERS[parameter].default, color=PALETTE["vermillion"],
                   label="registry default")
        ax.set_xlabel(PARAMETERS[parameter].axis_label, fontsize=8)
        ax.set_ylabel("density (per unit)", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3)
    fig.suptitle(f"{name}: posterior marginals ({len(draws):,} draws)")
    return fig


def posterior_pairs_figure(draws: pd.DataFrame, top: list[str]) -> Figure:
    """Pairs plot of the parameters the case narrows most."""
    fig = new_figure(9, 9)
    axes = fig.subplots(len(top), len(top), squeeze=False)
    for i, a in enumerate(top):
        for j, b in enumerate(top):
            ax = axes[i, j]
            if i == j:
                ax.hist(draws[a], bins=30, color=PALETTE["blue"])
            else:
                ax.scatter(draws[b], draws[a], s=2, alpha=0.3, color=PALETTE["blue"],
                           rasterized=True)  # a small SVG however many draws
            if i == len(top) - 1:
                ax.set_xlabel(PARAMETERS[b].display, fontsize=8)
            if j == 0:
                ax.set_ylabel(PARAMETERS[a].display, fontsize=8)
            ax.tick_params(labelsize=6)
    fig.suptitle("Pairs of the four parameters the case narrows most")
    return fig


def model_forms_figure(table: pd.DataFrame) -> Figure:
    """Each structural choice's forms: prior and posterior probability (95% interval)."""
    choices = list(dict.fromkeys(table.choice))
    fig = new_figure(10, 1.0 + 0.9 * len(choices))
    axes = np.atleast_1d(fig.subplots(len(choices), 1, squeeze=False)[:, 0])
    for ax, choice in zip(axes, choices, strict=True):
        part = table[table.choice == choice]
        y = np.arange(len(part))
        ax.barh(y, part.posterior, color=PALETTE["blue"], alpha=0.8, label="posterior")
        ax.errorbar(part.posterior, y, xerr=[part.posterior - part.posterior_low,
                                             part.posterior_high - part.posterior],
                    fmt="none", color=PALETTE["black"], capsize=2)
        ax.scatter(part.prior, y, marker="|", s=200, color=PALETTE["vermillion"],
                   label="prior", zorder=3)
        ax.set_yticks(y, list(part.form), fontsize=7)
        ax.set_xlim(0, 1)
        ax.set_ylabel(PARAMETERS[choice].display, fontsize=7, rotation=0, ha="right",
                      va="center")
        ax.tick_params(axis="x", labelsize=7)
    axes[-1].set_xlabel("probability of the form")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2)
    fig.suptitle("Model forms: prior and posterior probability")
    return fig


# ---- external validation of the national view

#: A colour per validation statistic (``sim.studies.validation.STATISTICS``).
VALIDATION_COLOURS = {"pilot": PALETTE["green"], "commissioned": PALETTE["sky"],
                      "integrated": PALETTE["blue"], "small_tasks": PALETTE["orange"],
                      "collapsed": PALETTE["vermillion"]}


def validation_figure(series: Any, statements: Any, title: str,
                      contrasts: dict[str, Any] | None = None) -> Figure:
    """The model's shares of sites over months (mean, 95% band across replicates) for one
    configuration, per site group, with each evidence statement's allowed range drawn as a
    bar at its month. ``series``: ``sim.studies.validation.shares``; ``statements``: the
    configuration's rows of the verdict table; ``contrasts``: the shares of the
    configurations its contrast statements compare it with, drawn dashed."""
    groups = ["all"] + [g for g in ("funded", "programme")
                        if series[series.sites == g]["mean"].notna().any()]
    fig = new_figure(5.6 * len(groups), 4.6)
    axes = fig.subplots(1, len(groups), sharey=True, squeeze=False)[0]
    dashed: dict[int, list[Any]] = {}  # per panel, the contrasts' lines
    for index, (ax, group) in enumerate(zip(axes, groups, strict=True)):
        part = series[series.sites == group]
        for stat, colour in VALIDATION_COLOURS.items():
            line = part[part.statistic == stat]
            if line["mean"].isna().all():
                continue
            label = stat.replace("_", " ")
            if len(line) == 1:  # collapse: known at the horizon only
                row = line.iloc[0]
                lo = row["mean"] - (row["lo"] if row["lo"] == row["lo"] else row["mean"])
                hi = (row["hi"] if row["hi"] == row["hi"] else row["mean"]) - row["mean"]
                ax.errorbar([row["month"]], [row["mean"]], yerr=[[lo], [hi]], fmt="o",
                            color=colour, label=f"{label} (at the horizon)")
                continue
            ax.plot(line["month"], line["mean"], color=colour, linewidth=2, label=label)
            ax.fill_between(line["month"], line["lo"], line["hi"], color=colour, alpha=0.2,
                            linewidth=0)
        drawn: set[tuple[str, str]] = set()
        for row in statements[statements.sites == group].itertuples():
            other = getattr(row, "contrast", "")
            if not (isinstance(other, str) and other and contrasts and other in contrasts
                    and (other, row.statistic) not in drawn):
                continue
            drawn.add((other, row.statistic))
            line = contrasts[other]
            line = line[(line.sites == group) & (line.statistic == row.statistic)]
            dashed.setdefault(index, []).extend(ax.plot(
                line["month"], line["mean"], color=VALIDATION_COLOURS[row.statistic],
                linewidth=1.5, linestyle="--", marker="x" if len(line) == 1 else None,
                label=f"{row.statistic.replace('_', ' ')}: {other}"))
        placed: dict[tuple[int, float], int] = {}  # labels at one spot are stacked
        for row in statements[statements.sites == group].itertuples():
            colour = VALIDATION_COLOURS[row.statistic]
            contrast = isinstance(getattr(row, "contrast", ""), str) and bool(row.contrast)
            if row.verdict != "not comparable" and not contrast:  # else no range to draw
                ax.vlines(row.month, row.low, row.high, colors=colour, linewidth=7,
                          alpha=0.45)
            mark = {"consistent": "✓", "inconsistent": "✗"}.get(row.verdict,
                                                               "(not comparable)")
            if contrast:
                mark += f" (vs {row.contrast}: table)"
            spot = (int(row.month), 1.0 if contrast else float(row.high))
            placed[spot] = placed.get(spot, 0) + 1
            ax.annotate(f"{row.id} {mark}", spot, xytext=(5, -10 * placed[spot]),
                        textcoords="offset points", fontsize=8, color=colour)
        ax.set_title(f"{group} sites")
        ax.set_xlabel("month")
        ax.set_ylim(0, 1.02)
    axes[0].set_ylabel("share of sites (95% CI across replicates)")
    axes[0].legend(loc="upper left", fontsize=8, frameon=False)
    for index, lines in dashed.items():
        if index:  # the first panel's legend has them already
            axes[index].legend(handles=lines, loc="upper left", fontsize=8, frameon=False)
    fig.suptitle(f"{title}: the model's shares, and the evidence's ranges (bars)")
    return fig
