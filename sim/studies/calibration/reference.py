"""The reference table: prior simulations' statistics, built in chunks, resumable exactly.

Chunk ``c`` holds runs ``c * chunk`` to ``(c + 1) * chunk - 1`` of the prior stream
(:mod:`sim.studies.calibration.priors`): the statistics the targets read, one float32
column per field, in ``DIR/reference/chunk-<c>.npy``, each written whole (temporary file
and ``os.replace``) by the coordinator. A chunk on disk is finished; a resumed calibration
runs the missing ones. Because a chunk's draws depend on the seed and its index alone, the
table — and so the posterior — is the same whether the calibration ran at once or was
killed and resumed, on one worker or many, locally or on Dask.

``DIR/reference/table.json`` records what the table is a table *of* (the prior, scenario,
months, seed and fields): another calibration file with the same prior can condition on
it in seconds (``icsim calibrate NEW.toml --reference DIR``).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.core.errors import UsageError
from sim.core.registry import PARAMETERS
from sim.experiment.execute import Executor
from sim.experiment.store import write_atomic
from sim.studies.calibration import priors
from sim.studies.calibration.spec import CalibrationSpec
from sim.studies.calibration.targets import Target, simulate

FOLDER = "reference"
TABLE = "table.json"


def fields_of(targets: tuple[Target, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f for t in targets for f in t.fields))


def prior_key(spec: CalibrationSpec) -> dict[str, Any]:
    """What a reference table depends on besides the targets' fields (and, with national
    targets, how the national runs are made)."""
    national = {"national": spec.national.key()} if spec.national is not None else {}
    return {**national, "seed": spec.seed, "scenario": spec.scenario, "months": spec.months,
            "chunk": spec.chunk, "simulations": spec.simulations,
            "priors": {k: list(v) for k, v in spec.priors.items()},
            "choices": {k: list(v) for k, v in spec.choices.items()},
            "defaults": {n: p.default for n, p in PARAMETERS.items()}}


def prior_hash(spec: CalibrationSpec) -> str:
    text = json.dumps(prior_key(spec), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def n_chunks(spec: CalibrationSpec) -> int:
    return math.ceil(spec.simulations / spec.chunk)


def chunk_size(spec: CalibrationSpec, index: int) -> int:
    return min(spec.chunk, spec.simulations - index * spec.chunk)


def simulate_chunk(spec: CalibrationSpec, stream: int, index: int, size: int,
                   fields: tuple[str, ...]) -> tuple[int, np.ndarray, float]:
    """One chunk's runs: ``(index, float32[size, fields], CPU-seconds)`` (a worker's
    task)."""
    started = time.process_time()
    params, seeds = priors.chunk(spec, stream, index, size)
    # the inputs the targets read included
    columns = simulate(spec.targets, params, seeds, spec.months, spec.national)
    stats = np.stack([np.asarray(columns[f], dtype=np.float32) for f in fields], axis=1)
    return index, stats, time.process_time() - started


@dataclass
class Reference:
    """The table in memory: ``stats[run, field]``."""

    fields: tuple[str, ...]
    stats: np.ndarray

    def columns(self) -> dict[str, np.ndarray]:
        return {f: self.stats[:, i].astype(float) for i, f in enumerate(self.fields)}

    def __len__(self) -> int:
        return len(self.stats)


def _chunk_path(folder: Path, index: int) -> Path:
    return folder / f"chunk-{index:06d}.npy"


def check_table(folder: Path, spec: CalibrationSpec) -> dict[str, Any]:
    """The table's record, refused in one line if it belongs to another prior."""
    path = folder / TABLE
    try:
        record = json.loads(path.read_text())
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path} is missing or damaged ({exc}); use a new --out") from None
    if record.get("prior") != prior_hash(spec):
        raise UsageError(f"{folder} is a reference table of another prior (seed, scenario, "
                         "months, simulations, chunk, priors or registry defaults differ); "
                         "run the calibration without --reference")
    return record


def build(spec: CalibrationSpec, out: Path, executor: Executor,
          progress: Callable[[int], None] | None = None,
          cpu: list[float] | None = None) -> Reference:
    """Run the chunks not yet on disk and return the whole table; the workers'
    CPU-seconds are added to ``cpu[0]``."""
    cpu = cpu if cpu is not None else [0.0]
    folder = out / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    fields = fields_of(spec.targets)
    if (folder / TABLE).exists():
        record = check_table(folder, spec)
        if tuple(record.get("fields", ())) != fields:
            raise UsageError(f"{folder} holds other statistics ({record.get('fields')}); "
                             "use a new --out")
    else:
        write_atomic(folder / TABLE, json.dumps(
            {"prior": prior_hash(spec), "fields": list(fields), "key": prior_key(spec)},
            indent=1, default=str).encode())
    todo = [i for i in range(n_chunks(spec)) if not _chunk_path(folder, i).exists()]
    started, used = time.perf_counter(), 0.0
    done_runs = spec.simulations - sum(chunk_size(spec, i) for i in todo)
    if progress is not None and done_runs:
        progress(done_runs)
    tasks = ((spec, priors.REFERENCE, i, chunk_size(spec, i), fields) for i in todo)
    for index, stats, seconds in executor.imap_unordered(simulate_chunk, tasks):
        cpu[0] += seconds
        used += seconds
        buffer = io.BytesIO()
        np.save(buffer, stats, allow_pickle=False)
        write_atomic(_chunk_path(folder, index), buffer.getvalue())
        if progress is not None:
            progress(len(stats))
    if todo:  # what building the table cost, over every session that built part of it
        record = json.loads((folder / TABLE).read_text())
        record["cpu_seconds"] = record.get("cpu_seconds", 0.0) + used
        record["wall_seconds"] = record.get("wall_seconds", 0.0) + time.perf_counter() - started
        write_atomic(folder / TABLE, json.dumps(record, indent=1, default=str).encode())
    return load(spec, out)


def cost(folder: Path) -> tuple[float, float]:
    """CPU- and wall-seconds the table in ``folder`` took to build (0 if unrecorded)."""
    try:
        record = json.loads((folder / TABLE).read_text())
    except (OSError, ValueError):
        return 0.0, 0.0
    return float(record.get("cpu_seconds", 0.0)), float(record.get("wall_seconds", 0.0))


def load(spec: CalibrationSpec, out: Path) -> Reference:
    """The finished table of ``out`` (every chunk present)."""
    folder = out / FOLDER
    record = check_table(folder, spec)
    fields = tuple(record["fields"])
    parts = []
    for i in range(n_chunks(spec)):
        path = _chunk_path(folder, i)
        try:
            part = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise UsageError(f"{path} is missing or damaged ({type(exc).__name__}); continue "
                             "with --resume (damaged: delete it first)") from None
        if part.shape != (chunk_size(spec, i), len(fields)):
            raise UsageError(f"{path} has shape {part.shape}, not "
                             f"({chunk_size(spec, i)}, {len(fields)}); delete it and "
                             "continue with --resume")
        parts.append(part)
    return Reference(fields=fields, stats=np.concatenate(parts))
