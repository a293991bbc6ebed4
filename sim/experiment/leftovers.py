"""What a killed writer leaves behind, found and removed by the next writer.

* ``DIR/.manifest.json.tmp-PID``: a manifest being written when the sweep was killed
  (``kill -9``). The next session into ``DIR`` holds the directory's lock, so no other
  writer owns it: it is removed on resume (the manifest itself is whole, written by
  ``os.replace``).
* ``.OUT.PID.XXXX.staging/`` beside an output folder: the staging folder of a ``compare``
  or ``run`` killed before it moved its files into place. A rerun into the same ``--out``
  removes those whose process is gone.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

_STAGING = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.staging\Z")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def remove_manifest_temporaries(root: Path, manifest: str) -> list[Path]:
    """Remove ``root/.{manifest}.tmp-*`` left by a killed writer (call with the lock held);
    return what was removed."""
    removed = []
    for path in root.glob(f".{manifest}.tmp-*"):
        if path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def staging_prefix(out: Path) -> str:
    """The prefix of a staging folder for ``out``: the owner's PID is in its name."""
    return f".{out.name}.{os.getpid()}."


def remove_stale_staging(out: Path) -> list[Path]:
    """Remove the staging folders beside ``out`` whose process is gone; return them."""
    removed: list[Path] = []
    parent = out.resolve().parent
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed
    for path in entries:
        match = _STAGING.match(path.name)
        if (match and match.group("name") == out.name and path.is_dir()
                and not path.is_symlink() and not _alive(int(match.group("pid")))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
