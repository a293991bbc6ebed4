"""Calibration to the case with ABC-SMC (pyabc), and the posterior it yields.

* :mod:`sim.calibration.targets` — the case as one observed trajectory: fourteen
  statistics of one run (docs/case_targets.md) and the documented distance;
* :mod:`sim.calibration.spec` — calibration files (TOML);
* :mod:`sim.calibration.run` — ABC-SMC with pyabc's SQLite history, resumable;
* :mod:`sim.calibration.report` — the posterior sample, figures and ``summary.md``.
"""

from sim.calibration.posterior import load_posterior

__all__ = ["load_posterior"]
