"""The experiment runner: declarative experiment files, designs, executors, the store.

>>> from sim.experiment import run_sweep
>>> report = run_sweep("experiments/sobol_pilot.toml", "results/sobol_pilot")  # doctest: +SKIP

Modules, bottom up: ``plugins`` (which plug-in models may run: plug-in code is opt-in),
``spec`` (experiment files), ``design`` (SALib / qmc / grid designs and
the seed scheme), ``models`` (how a worker calls the model), ``execute`` (one executor
interface: local processes or Dask), ``store`` (Parquet parts, manifest, resume), ``sweep``
(ties them together) and ``commands`` (the ``sweep`` and ``analyze`` subcommands).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.experiment.design import SEED_SCHEME, Design, make_design, run_seed
    from sim.experiment.execute import DaskExecutor, Executor, LocalExecutor, make_executor
    from sim.experiment.spec import Experiment, load_experiment, parse_experiment
    from sim.experiment.sweep import SweepReport, run_sweep

#: Where each name lives: imported on first use (PEP 562), so importing one light module
#: of this package (``sim.experiment.timeout``, say) does not import the whole runner.
_WHERE = {
    **dict.fromkeys(("SEED_SCHEME", "Design", "make_design", "run_seed"),
                    "sim.experiment.design"),
    **dict.fromkeys(("DaskExecutor", "Executor", "LocalExecutor", "make_executor"),
                    "sim.experiment.execute"),
    **dict.fromkeys(("Experiment", "load_experiment", "parse_experiment"),
                    "sim.experiment.spec"),
    **dict.fromkeys(("SweepReport", "run_sweep"), "sim.experiment.sweep"),
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'sim.experiment' has no attribute {name!r}")
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value
    return value


__all__ = [
    "SEED_SCHEME",
    "DaskExecutor",
    "Design",
    "Executor",
    "Experiment",
    "LocalExecutor",
    "SweepReport",
    "load_experiment",
    "make_design",
    "make_executor",
    "parse_experiment",
    "run_seed",
    "run_sweep",
]
