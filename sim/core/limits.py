"""Ceilings on every size a user gives, checked before any work starts or anything is written.

A request past a ceiling is refused in one line naming the flag or key, the ceiling and how
to raise it deliberately: the environment variable ``ICSIM_MAX_<NAME>`` (for example
``ICSIM_MAX_MONTHS=2400``). The long commands (``sweep``, ``national``, ``compare``) also
estimate the memory and the output a job needs, print the plan in one line, and refuse a
job whose memory estimate exceeds this machine's memory (``ICSIM_MAX_MEMORY_MB``).

Input files (experiment, scenario and calibration files, posteriors) must be regular files
of a sane size: a directory, a device such as ``/dev/zero``, a FIFO or a huge file is
refused in one line instead of hanging or filling memory.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

from sim.core.errors import UsageError

#: The default ceilings. ``runs`` is the total of a job (design points x replicates, sites
#: x replicates x rules, scenarios x replicates); ``text_file_kb`` bounds experiment,
#: scenario and calibration files, ``data_file_mb`` posterior files.
CEILINGS: dict[str, int] = {
    "months": 1200,
    "replicates": 100_000,
    "sites": 100_000,
    "workers": 256,
    "samples": 1_048_576,
    "levels": 1000,
    "runs_per_part": 1_000_000,
    "runs": 50_000_000,
    "resamples": 100_000,
    "text_file_kb": 1024,
    "data_file_mb": 50,
    "changes": 1200,  # [[changes]] of a scenario file (one a month at most)
    "posterior_draws": 100_000,  # rows of a posterior file, counted before it is read
}

#: How the plan line and the memory ceiling describe sizes.
_MB = 1024 * 1024


def ceiling(name: str) -> int:
    """The ceiling of ``name``: ``ICSIM_MAX_<NAME>`` if set to a whole number, else the
    default (the machine's memory for ``memory_mb``)."""
    text = os.environ.get(f"ICSIM_MAX_{name.upper()}", "").strip()
    if text.isascii() and text.isdigit() and int(text) > 0:
        return int(text)
    if name == "memory_mb":
        return machine_memory_mb()
    return CEILINGS[name]


def machine_memory_mb() -> int:
    """Physical memory of this machine in MB (16 GB where it cannot be read)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // _MB)
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 16 * 1024


def how_to_raise(name: str) -> str:
    return f"raise it deliberately with ICSIM_MAX_{name.upper()}=N"


def check_size(name: str, value: Any, label: str | None = None, minimum: int = 1) -> int:
    """``value`` must be a whole number in [minimum, ceiling(name)]; ``label`` names it in
    the message (default ``--name``)."""
    label = label or f"--{name.replace('_', '-')}"
    if isinstance(value, bool) or not _is_whole(value) or value < minimum:
        raise UsageError(f"{label} must be a whole number >= {minimum}, got {value!r}")
    top = ceiling(name)
    if value > top:
        raise UsageError(f"{label} {value} is past the ceiling {top:,}; {how_to_raise(name)}")
    return int(value)


def _is_whole(value: Any) -> bool:
    import numpy as np

    return isinstance(value, int | np.integer)


def check_runs(runs: int, what: str) -> int:
    """A job's total runs (``what`` says how they arise) must be within ``ceiling('runs')``."""
    top = ceiling("runs")
    if runs > top:
        raise UsageError(f"{what} make {runs:,} runs, past the ceiling {top:,}; "
                         f"{how_to_raise('runs')}")
    return runs


class Plan:
    """What a long job will do: runs, an estimate of its memory and of what it writes."""

    def __init__(self, runs: int, memory_bytes: float, output_bytes: float) -> None:
        self.runs = int(runs)
        self.memory_bytes = float(memory_bytes)
        self.output_bytes = float(output_bytes)

    def check(self) -> Plan:
        """Refuse a job whose memory estimate is past ``ceiling('memory_mb')``."""
        top = ceiling("memory_mb")
        need = self.memory_bytes / _MB
        if need > top:
            raise UsageError(f"this job needs about {_size(self.memory_bytes)} of memory for "
                             f"{self.runs:,} runs, past the ceiling {top:,} MB; ask for fewer "
                             f"runs or {how_to_raise('memory_mb')}")
        return self

    def line(self) -> str:
        """The plan in one line: ``plan: 43,520 runs, about 493 MB of memory, up to about
        7.97 MB written`` (the output before compression)."""
        return (f"plan: {self.runs:,} runs, about {_size(self.memory_bytes)} of memory, "
                f"up to about {_size(self.output_bytes)} written")


def _size(n: float) -> str:
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} TB"  # pragma: no cover


#: A baseline for the coordinating process (interpreter, numpy, pandas, the model).
BASE_MEMORY = 250 * _MB
#: A worker process (the model imported).
WORKER_MEMORY = 120 * _MB


def sweep_plan(points: int, replicates: int, columns: int, runs_per_part: int,
               workers: int, series_months: int = 0, series: int = 0) -> Plan:
    """The plan of a sweep: the design (values per point and column, twice: coordinates and
    model values), the chunks in flight, and the parts written (8 bytes a value, before
    compression: an upper bound). With a time series (``series`` outcomes at
    ``series_months`` months), its rows in flight and in the parts too (3 key columns)."""
    runs = points * replicates
    design = points * columns * 8 * 2
    per_run = series_months * (series + 3)
    in_flight = min(runs, 4 * max(workers, 1) * runs_per_part) * (columns + 8 + per_run) \
        * 8 * 3
    memory = BASE_MEMORY + workers * WORKER_MEMORY + design + in_flight
    output = runs * (columns + 5 + per_run) * 8
    return Plan(runs, memory, output)


def compare_plan(runs: int, months: int, workers: int) -> Plan:
    """The plan of a comparison: the runs' summaries held in memory (about 20 kB a run, as
    measured: 1.1 GB for 40,000 runs), the monthly DAC histograms, and ``runs.parquet``
    (about 50 values a run before compression) and the figures written."""
    memory = (BASE_MEMORY + workers * WORKER_MEMORY + runs * 20 * 1024
              + (months + 1) * 9 * 50 * 8)
    output = runs * 50 * 8 + 2 * _MB
    return Plan(runs, memory, output)


def calibration_plan(max_simulations: int, population: int, generations: int,
                     parameters: int, draws: int, workers: int) -> Plan:
    """The plan of a calibration: at most ``max_simulations`` runs; pyabc holds a
    generation's particles and writes every generation to its SQLite database (about
    100 bytes a particle and parameter, with its summary statistics), then the draws."""
    memory = BASE_MEMORY + workers * WORKER_MEMORY + population * (parameters + 20) * 8 * 50
    output = population * generations * (parameters + 20) * 100 + draws * parameters * 8 \
        + 2 * _MB
    return Plan(max_simulations, memory, output)


# --------------------------------------------------------------------------- input files

_SIZE_NAMES = {"text": "text_file_kb", "data": "data_file_mb"}


def check_input_file(path: str | Path, what: str, kind: str = "text") -> Path:
    """``path`` must name a regular file no larger than its ceiling; return it.

    ``what`` names the file in the message ("experiment file", ...); ``kind`` is ``text``
    (TOML: ``ICSIM_MAX_TEXT_FILE_KB``) or ``data`` (Parquet: ``ICSIM_MAX_DATA_FILE_MB``).
    Never opens the file, so a FIFO or a device cannot block.
    """
    path = Path(path)
    if str(path).strip() in ("", "."):
        raise UsageError(f"{what}: expected a file, got {str(path)!r} (empty or the current "
                         "directory)")
    try:
        info = path.stat()
    except FileNotFoundError:
        raise UsageError(f"{what} not found: {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{what} {path} is a directory; expected a file")
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{what} {path} is not a regular file (a device, FIFO or socket); "
                         "expected a file")
    name = _SIZE_NAMES[kind]
    unit = 1024 if name.endswith("_kb") else _MB
    top = ceiling(name)
    if info.st_size > top * unit:
        shown = f"{top:,} {'kB' if unit == 1024 else 'MB'}"
        raise UsageError(f"{what} {path} is {_size(info.st_size)}, past the ceiling {shown}; "
                         f"{how_to_raise(name)}")
    if not os.access(path, os.R_OK):
        raise UsageError(f"cannot read {what} {path}: permission denied")
    return path


def read_text_file(path: str | Path, what: str) -> str:
    """Check ``path`` with :func:`check_input_file` and read it as UTF-8 text."""
    path = check_input_file(path, what, "text")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{what} {path} is not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None


# --------------------------------------------------------------------------- identifiers

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")  # \Z: no trailing newline


def check_identifier(value: Any, label: str) -> str:
    """``value`` must be a plain identifier (letters, digits, underscores; not starting
    with a digit): it becomes a directory or file name, so it may hold no path."""
    if not isinstance(value, str) or not IDENTIFIER.match(value) or len(value) > 100:
        raise UsageError(f"{label} must be a plain identifier (letters, digits and "
                         f"underscores, not starting with a digit, at most 100), got {value!r}")
    return value


# --------------------------------------------------------------------------- schedulers

_SCHEDULER = re.compile(
    r"^(?:(?P<scheme>tcp|tls|ucx|ws|wss)://)?"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?)"
    r":(?P<port>[0-9]{1,5})/?$")


def check_scheduler_address(address: str) -> str:
    """A Dask scheduler address must look like ``tcp://HOST:PORT`` (or ``tls://``, ``ws://``,
    ``wss://``, ``ucx://``, or ``HOST:PORT``), checked before anything connects."""
    text = address.strip() if isinstance(address, str) else address
    if isinstance(text, str) and re.match(r"^inproc://\S+$", text):  # an in-process cluster
        return text
    match = _SCHEDULER.match(text) if isinstance(text, str) else None
    if match is None or not 1 <= int(match.group("port")) <= 65535:
        raise UsageError(f"--scheduler: {address!r} is not a scheduler address; expected "
                         "tcp://HOST:PORT (or tls://, ws://, wss://, ucx://), e.g. "
                         "tcp://10.0.0.5:8786")
    return text
