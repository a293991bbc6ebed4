"""icsim: an agent-based model of multilevel healthcare-integration projects.

>>> import sim
>>> summary = sim.run_project("baseline", seed=1, months=60)
>>> summary["outcome"] in sim.OUTCOMES
True
"""

from sim.core.outputs import DAC_KEYS, OUTCOMES
from sim.core.registry import PARAMETERS
from sim.core.scenarios import SCENARIOS
from sim.experiment.plugins import register_model
from sim.mesa.agents import ClinicalLead, OrganisationalManager, SystemLeader, TeamMember
from sim.mesa.model import IntegrationModel, run_project, simulate, timeseries_frame

__version__ = "0.1.0"

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
