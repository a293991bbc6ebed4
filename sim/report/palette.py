"""The one colour palette of every figure and the dashboard (no matplotlib here, so the
dashboard takes the colours without the report figures' style)."""

from __future__ import annotations

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
    "grey": "#777777",  # not in Okabe & Ito: muted marks (the dashboard)
}
CYCLE = [PALETTE[c] for c in ("blue", "orange", "green", "vermillion", "purple", "sky",
                              "yellow", "black")]
LEVEL_COLOURS = {"system": PALETTE["blue"], "organisation": PALETTE["orange"],
                 "team": PALETTE["green"]}
OUTCOME_COLOURS = {"integrated": PALETTE["blue"], "pilot": PALETTE["green"],
                   "stalled": PALETTE["orange"], "collapsed": PALETTE["vermillion"]}
