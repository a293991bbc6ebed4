"""icsim: an agent-based model of multilevel healthcare-integration projects.

>>> import sim
>>> summary = sim.run_project("baseline", seed=1, months=60)
>>> summary["outcome"] in sim.OUTCOMES
True

The names below are imported on first use (PEP 562), so ``import sim`` -- and every
``import sim.<module>``, which imports this package first -- costs almost nothing: a
command that runs on the fast engine never imports Mesa, and ``icsim --help`` imports
neither numpy nor the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names, for type checkers and readers
    from sim.core.outputs import DAC_KEYS, OUTCOMES
    from sim.core.registry import PARAMETERS
    from sim.core.scenarios import SCENARIOS
    from sim.experiment.plugins import register_model
    from sim.mesa.agents import ClinicalLead, OrganisationalManager, SystemLeader, TeamMember
    from sim.mesa.model import IntegrationModel, run_project, simulate, timeseries_frame

__version__ = "0.1.0"

#: Where each public name lives: imported when first asked for.
_WHERE = {
    "DAC_KEYS": "sim.core.outputs",
    "OUTCOMES": "sim.core.outputs",
    "PARAMETERS": "sim.core.registry",
    "SCENARIOS": "sim.core.scenarios",
    "ClinicalLead": "sim.mesa.agents",
    "IntegrationModel": "sim.mesa.model",
    "OrganisationalManager": "sim.mesa.agents",
    "SystemLeader": "sim.mesa.agents",
    "TeamMember": "sim.mesa.agents",
    "register_model": "sim.experiment.plugins",
    "run_project": "sim.mesa.model",
    "simulate": "sim.mesa.model",
    "timeseries_frame": "sim.mesa.model",
}

__all__ = [
    "DAC_KEYS",
    "OUTCOMES",
    "PARAMETERS",
    "SCENARIOS",
    "ClinicalLead",
    "IntegrationModel",
    "OrganisationalManager",
    "SystemLeader",
    "TeamMember",
    "register_model",
    "run_project",
    "simulate",
    "timeseries_frame",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value  # once: later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
