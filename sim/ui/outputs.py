"""The output directory of a command that writes files but runs no sweep (``run``,
``compare``): held under the directory lock for the command's whole life, refused when it
holds another job's results, and replaced completely on a rerun (issue 23, item 7).

A ledger, ``.icsim-outputs.json``, names the command and the files it wrote; a rerun of the
same command removes its earlier files that it does not write again (an SVG of an earlier
``--format png,svg``), so the directory never mixes two runs' outputs. Files icsim did not
write are left alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sim.core.errors import UsageError
from sim.experiment.store import LOCK, MANIFEST, DirectoryLock, staged, write_atomic

LEDGER = ".icsim-outputs.json"


def _ledger(out: Path) -> dict | None:
    path = out / LEDGER
    if not path.is_file() or path.is_symlink():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class OutputDir:
    """``with OutputDir(out, "compare") as target: ... with target.stage() as stage:``"""

    def __init__(self, out: str | Path, command: str) -> None:
        self.out = Path(out)
        self.command = command
        self._lock = DirectoryLock(self.out)
        self._wrote = False

    def __enter__(self) -> OutputDir:
        self._lock.acquire()
        try:
            self._refuse_foreign()
        except BaseException:
            self._lock.release(discard=True)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release(discard=not self._wrote)

    def _refuse_foreign(self) -> None:
        if (self.out / MANIFEST).exists():
            raise UsageError(f"--out {self.out} holds a sweep or national run ({MANIFEST}); "
                             f"icsim {self.command} does not write into it: choose another "
                             "--out")
        ledger = _ledger(self.out)
        if ledger is not None and ledger.get("command") != self.command:
            raise UsageError(f"--out {self.out} holds the outputs of icsim "
                             f"{ledger.get('command')}; icsim {self.command} does not mix its "
                             "outputs with them: choose another --out")

    @contextmanager
    def stage(self) -> Iterator[Path]:
        """A staging folder; on success its files replace this command's earlier outputs
        completely (stale ones removed) and the ledger names the new ones."""
        earlier = set((_ledger(self.out) or {}).get("files", []))
        with staged(self.out) as stage:
            yield stage
            written = sorted(p.name for p in stage.iterdir())
        for name in sorted(earlier - set(written)):
            path = self.out / name
            if name not in (LOCK, LEDGER) and "/" not in name and path.is_file() \
                    and not path.is_symlink():
                path.unlink()
        write_atomic(self.out / LEDGER, json.dumps(
            {"command": self.command, "files": written}, indent=1).encode())
        self._wrote = True
