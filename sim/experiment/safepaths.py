"""Nothing icsim writes or moves follows a symbolic link inside an output directory.

A results directory received from someone else may hold links that point elsewhere:
``runs/`` and ``timeseries/`` (a resume writes new parts there), ``discarded/`` (a resume
moves a damaged part there), ``checksums.jsonl`` (a line is appended), ``analysis/``
(analyze writes there), ``history.db`` (a calibration writes into it), a dangling
``.icsim.lock`` (opening it would create its target), ``manifest.json``. Writing through
any of them would write outside the directory. So a directory that holds a symbolic link
where icsim writes -- at its top level, or inside ``runs/``, ``timeseries/``,
``discarded/`` or ``analysis/`` -- is refused in one line naming the link, before anything
is written. (The directory itself may be a link: that is the user's own choice of
``--out``.)
"""

from __future__ import annotations

import os
from pathlib import Path

from sim.core.errors import UsageError

#: Sub-directories icsim writes into, whose entries are checked too.
WRITTEN_DIRS = ("runs", "timeseries", "discarded", "analysis", "reference")


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


def check_path_length(path: str | Path, label: str = "--out") -> None:
    """Refuse (one line) a path with a name longer than the file system allows
    (``ENAMETOOLONG``, 255 bytes a name on most) or too long a whole path (4,096), before
    anything -- a parent directory included -- is created."""
    whole = os.fsencode(os.path.abspath(str(path)))  # no file system call
    parent = os.path.dirname(whole) or b"/"
    while parent != b"/" and not os.path.isdir(parent):  # isdir never raises
        parent = os.path.dirname(parent)
    try:
        name_max = os.pathconf(parent, "PC_NAME_MAX")
        path_max = os.pathconf(parent, "PC_PATH_MAX")
    except (OSError, ValueError, AttributeError):  # pragma: no cover - not POSIX
        name_max, path_max = 255, 4096
    if len(whole) >= path_max:
        raise UsageError(f"{label}: the path is {len(whole):,} bytes, past the {path_max:,} a "
                         "path may have here; choose a shorter one")
    for part in Path(path).parts:
        if len(os.fsencode(part)) > name_max:
            raise UsageError(f"{label}: the name {part[:40]!r}... is {len(os.fsencode(part))} "
                             f"bytes, past the {name_max} a name may have here; choose a "
                             "shorter one")
