"""Every figure of the project, used alike by the CLI, the notebooks and the dashboard.

Figures are built on explicit ``Figure`` objects (no pyplot state), so they are safe in
worker processes and servers. Colours are the Okabe-Ito palette, which is safe for the
common forms of colour blindness.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

#: Okabe & Ito (2008) colour-blind-safe palette.
PALETTE = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
CYCLE = [PALETTE[c] for c in ("blue", "orange", "green", "vermillion", "purple", "sky",
                              "yellow", "black")]
LEVEL_COLOURS = {"system": PALETTE["blue"], "organisation": PALETTE["orange"],
                 "team": PALETTE["green"]}
OUTCOME_COLOURS = {"integrated": PALETTE["blue"], "pilot": PALETTE["green"],
                   "stalled": PALETTE["orange"], "collapsed": PALETTE["vermillion"]}


def new_figure(width: float = 8.0, height: float = 5.0, **kwargs) -> Figure:
    """A figure with the project's defaults."""
    fig = Figure(figsize=(width, height), layout="constrained", **kwargs)
    return fig


def save(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Write a figure atomically (temporary file, then rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png")
    tmp.replace(path)
    return path
