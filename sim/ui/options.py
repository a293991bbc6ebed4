"""Options and helpers every command shares: figure formats (``--format``) and saving
figures in each of them. ``sim.ui.cli`` and ``sim.ui.commands`` both use them, so they live
here rather than in either (which would import each other)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sim.core.errors import UsageError
from sim.report import figures as plots

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Figure file formats every drawing command can write (``--format``).
FIGURE_FORMATS = ("png", "svg", "pdf")


def figure_formats(text: str) -> list[str]:
    """``--format png,svg`` -> ``["png", "svg"]``; refuse anything else in one line."""
    names = [part.strip().lower() for part in str(text).split(",") if part.strip()]
    for name in names:
        if name not in FIGURE_FORMATS:
            raise UsageError(f"--format: unknown figure format '{name}'; allowed: "
                             f"{', '.join(FIGURE_FORMATS)} (comma-separated)")
    if not names:
        raise UsageError(f"--format needs at least one of {', '.join(FIGURE_FORMATS)}")
    return list(dict.fromkeys(names))


def save_figures(figures: Iterable[tuple[str, Figure]], folder: Path,
                 formats: Sequence[str]) -> list[str]:
    """Save ``(stem, figure)`` pairs in every format; return the file names written."""
    written = []
    for stem, fig in figures:
        for fmt in formats:
            plots.save(fig, folder / f"{stem}.{fmt}")
            written.append(f"{stem}.{fmt}")
    return written
