"""The experiment runner: declarative experiment files, designs, executors, the store.

>>> from sim.experiment import run_sweep
>>> report = run_sweep("experiments/sobol_pilot.toml", "results/sobol_pilot")  # doctest: +SKIP

Modules, bottom up: ``plugins`` (which plug-in models may run: plug-in code is opt-in),
``spec`` (experiment files), ``design`` (SALib / qmc / grid designs and
the seed scheme), ``models`` (how a worker calls the model), ``execute`` (one executor
interface: local processes or Dask), ``store`` (Parquet parts, manifest, resume), ``sweep``
(ties them together) and ``commands`` (the ``sweep`` and ``analyze`` subcommands).
"""

from sim.experiment.design import SEED_SCHEME, Design, make_design, run_seed
from sim.experiment.execute import DaskExecutor, Executor, LocalExecutor, make_executor
from sim.experiment.spec import Experiment, load_experiment, parse_experiment
from sim.experiment.sweep import SweepReport, run_sweep

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
