"""Imported last by the fork server (``LocalExecutor``'s preload list): compiles the
engines the server has imported, or loads them from the compile cache, once in the server,
so that every worker it forks inherits them ready instead of loading them again itself
(about 0.3-0.6 s of CPU a worker). A forked coordinator's workers inherit its own warm
engines; this module does the same for a coordinator that runs threads (a notebook, the
dashboard, a Dask client), whose pools start from the fork server."""

from __future__ import annotations

import sys

for _name in ("sim.engine.fast", "sim.mesa.model"):
    _module = sys.modules.get(_name)
    if _module is not None:
        _module.warm()
