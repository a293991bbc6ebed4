"""Options and helpers every command shares: the one ``--help`` style
(:class:`HelpFormatter`), figure formats (``--format``) and saving figures in each of them.
``sim.ui.cli`` and ``sim.ui.commands`` both use them, so they live here rather than in
either (which would import each other)."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.core.errors import UsageError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

def shown_default(action: argparse.Action) -> str | None:
    """The default ``--help`` shows for an option, as text, or ``None`` for none: a flag
    (off unless given), a default of ``None`` (its help says in words what happens
    instead, e.g. "(default: all cores)") or an empty list (a repeatable option) have
    none to show."""
    default: Any = action.default
    if default is None or default is False or default == [] or default is argparse.SUPPRESS:
        return None
    if isinstance(action, argparse._StoreConstAction | argparse._HelpAction):
        return None
    return str(default)


class HelpFormatter(argparse.HelpFormatter):
    """The one ``--help`` style of every icsim command: an option's help ends with
    "(default: VALUE)" when it has a default value, added here from the parser (so the
    text and the default cannot disagree); an option whose default is ``None`` says in its
    help, in the same words "(default: ...)", what happens when it is not given. No help
    names its default twice (``tests/ui/test_cli_reference.py`` checks)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = shown_default(action)
        if default is not None and action.option_strings:
            text += f" (default: {default.replace('%', '%%')})"
        return text


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
    from sim.report import figures as plots  # matplotlib: only when figures are saved

    written = []
    for stem, fig in figures:
        for fmt in formats:
            plots.save(fig, folder / f"{stem}.{fmt}")
            written.append(f"{stem}.{fmt}")
    return written
