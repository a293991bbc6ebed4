"""Nothing icsim writes or moves follows a symbolic link inside an output directory.

A results directory received from someone else may hold links that point elsewhere:
``runs/`` (a resume writes new parts there), ``discarded/`` (a resume moves a damaged part
there), ``checksums.jsonl`` (a line is appended), ``analysis/`` (analyze writes there),
``history.db`` (a calibration writes into it), a dangling ``.icsim.lock`` (opening it
would create its target), ``manifest.json``. Writing through any of them would write
outside the directory. So a directory that holds a symbolic link where icsim writes -- at
its top level, or inside ``runs/``, ``discarded/`` or ``analysis/`` -- is refused in one
line naming the link, before anything is written. (The directory itself may be a link:
that is the user's own choice of ``--out``.)
"""

from __future__ import annotations

import os
from pathlib import Path

from sim.errors import UsageError

#: Sub-directories icsim writes into, whose entries are checked too.
WRITTEN_DIRS = ("runs", "discarded", "analysis")


def find_symlink(root: Path) -> Path | None:
    """The first symbolic link at the top of ``root`` or inside its written sub-directories
    (names in sorted order), or ``None``."""
    try:
        top = sorted(os.scandir(root), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:  # unreadable: the writer's own error names it
        return None
    for entry in top:
        if entry.is_symlink():
            return Path(entry.path)
    for name in WRITTEN_DIRS:
        try:
            inner = sorted(os.scandir(root / name), key=lambda e: e.name)
        except OSError:
            continue
        for entry in inner:
            if entry.is_symlink():
                return Path(entry.path)
    return None


def refuse_symlinks(root: str | Path, label: str = "--out") -> None:
    """Refuse (``UsageError``, one line) a directory holding a symbolic link where icsim
    writes."""
    link = find_symlink(Path(root))
    if link is not None:
        try:
            target = os.readlink(link)
        except OSError:
            target = "?"
        raise UsageError(f"{label} {root}: {link} is a symbolic link (to {target}); icsim "
                         "never writes through one, which could write outside the directory "
                         "-- remove the link or choose another directory")
