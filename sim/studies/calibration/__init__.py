"""Calibration to the case with ABC-SMC (pyabc), and the posterior it yields.

* :mod:`sim.studies.calibration.targets` — the case as one observed trajectory: fourteen
  statistics of one run (docs/case_targets.md) and the documented distance;
* :mod:`sim.studies.calibration.spec` — calibration files (TOML);
* :mod:`sim.studies.calibration.run` — ABC-SMC with pyabc's SQLite history, resumable;
* :mod:`sim.report.calibration` — the posterior sample, figures and ``summary.md``.
"""

from sim.experiment.posterior import load_posterior

__all__ = ["load_posterior"]
