"""IntegrationModel: one multilevel integration project, a month per step.

The case (Kozlowska, Seda Gombau & Rea 2020): an integrated diabetes service across
primary, community and specialist care in one English county, hosted by the clinical
commissioning group, worked on by a transformation team of nearly twenty people from four
organisations, under a flexible national approach. After three years the team switched to
smaller tasks and piloted elements of the service in one locality; full integration was
not reached. docs/ODD.md describes every process below and the passage it rests on.

The model knows no files and no command line. ``run_project`` is the one Python entry
point; ``simulate`` returns the model itself for callers who want its time series.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import mesa
import numpy as np

from sim import measures
from sim.agents import (
    LOCALITY_LEAD_SLOT,
    ORGANISATIONS,
    ClinicalLead,
    OrganisationalManager,
    SystemLeader,
    TeamMember,
    TeamPerson,
    TeamState,
    team_roles,
)
from sim.errors import UsageError
from sim.scenarios import parameters_for

_sum = np.add.reduce  # a bare ufunc reduce: the hot path's mean without ndarray.mean's overhead

# Team processes (assumptions unless cited; docs/ODD.md, "Submodels").
VISION_RATE = 0.10  # monthly convergence of an attending member toward the shared vision
ROLE_RATE = 0.08  # monthly gain in role clarity at a meeting, scaled by leadership clarity
KNOWLEDGE_RATE = 0.15  # monthly learning at a meeting
KNOWLEDGE_DECAY = 0.03  # monthly loss when absent; far below Argote et al.'s 25-45% bound
LEADERSHIP_RECOVERY = 0.05  # monthly recovery of leadership clarity toward its ceiling
LEAD_LOSS = 0.25  # share of leadership clarity lost when a clinical lead leaves
HOST_LEADERSHIP_LOSS = 0.2  # ... when a new commissioner takes over hosting
HOST_ROLE_RESET = 0.5  # share of role clarity kept when the host changes (team renamed)
ENGAGEMENT_ADJUST = 0.2  # monthly adjustment of engagement toward motivation
GOAL_GRADIENT = 0.2  # extra motivation as the goal nears (Kivetz et al. 2006)
DISENGAGE = 0.5  # motivation kept by someone below their threshold (Repenning 2002)
FRUSTRATION_WEIGHT = 0.6  # share of motivation frustration can take away
PEER_WEIGHT = 0.4  # share of motivation that follows peers' attendance
WIN_RELIEF = 0.5  # share of frustration a visible win relieves
WIN_MEMORY = 0.8  # monthly persistence of the team's memory of recent wins
SMALL_TASK = 0.1  # milestone size after the switch to small tasks
PILOT_BOOST = 0.3  # engagement lift of a pilot starting (a big visible win)
PILOT_LEARNING = 0.1  # monthly adjustment of pilot performance to team quality
INTEGRATION_RATE = 0.3  # monthly chance of integration at full enablers and performance
REOPEN = 0.15  # share of progress a newcomer can re-open at zero leadership and vision
NEWCOMER_VISION = 0.8  # newcomers bring their organisation's view, not the team's vision
RECOGNITION_LAG = 24  # months leaders take to recognise an overrun, at zero leadership clarity
SCALE_DOWN_MONTHS = 6  # months a blocked full business case waits before scaling down
MISFIT_REWORK = 0.4  # share of progress reworked at the business case per unit prescriptiveness
LOCALITY_READY = 0.5  # engagement at which the locality lead declares readiness


class IntegrationModel(mesa.Model):
    """One integration project at four levels, a month per step.

    Args:
        months: the horizon; the model stops running after it (default 60).
        scenario_name: a named scenario or composition (``"enabling_national+toolkit"``)
            whose values are applied before ``params``.
        collect: record the monthly time series in ``datacollector`` (Mesa's
            ``DataCollector``); ``run_project`` turns it off for speed.
        rng: the seed or generator; all randomness flows from it.
        scenario: Mesa's experimental ``Scenario`` object, accepted only so that Mesa's
            SolaraViz can re-create the model; its ``rng`` is used when ``rng`` is None.
        **params: parameter values by registry name; the rest take their defaults.
            Validated: an unknown name or out-of-bounds value raises ``ValueError``.
    """

    def __init__(self, months: int = 60, collect: bool = True, rng: Any = None,
                 scenario_name: str = "baseline", scenario: Any = None,
                 **params: Any) -> None:
        if rng is None and scenario is not None:  # Mesa's own Scenario object (SolaraViz)
            rng = getattr(scenario, "rng", None)
        super().__init__(rng=rng)
        # Event-driven draws (newcomers, new managers) come from a child stream of the one
        # seed, so the monthly draws stay paired across scenarios (common random numbers).
        self.people_rng = self.rng.spawn(1)[0]
        self.months = check_months(months)
        self.scenario_name = scenario_name
        self.p = p = parameters_for(scenario_name, params)

        # System level.
        self.system = SystemLeader(self)

        # Organisational level: one responsible manager per organisation.
        draws = self.rng.random((len(ORGANISATIONS), 4))
        self.managers = [OrganisationalManager(self, o, draws[o]) for o in range(len(draws))]
        self.host = self.managers[0]
        # Operational support by organisation, plus the patients' seat (no agenda).
        self.support = np.ones(len(ORGANISATIONS) + 1)
        self.support[:-1] = [m.support for m in self.managers]
        self.inv_managers = 1.0 / len(self.managers)
        self.organisation_profile = measures.organisation_profile(self.managers)
        self._pm_share = sum(m.has_pm_support for m in self.managers) / len(self.managers)
        self._k = _constants(p, self.system.prescriptiveness)
        self._host_hazard = 1.0 - math.exp(-p["host_change_rate"] / 12.0)
        self._manager_hazard = 1.0 - math.exp(-p["manager_turnover"] / 12.0)

        # Transformation team: arrays plus one agent per seat.
        self.roles = team_roles(int(p["team_size"]))
        self.team = TeamState(self.roles, p["turnover_rate"])
        n = self.team.size
        self.team.newcomers(np.arange(n), self.rng.random((n, 4)), p, 0,
                            knowledge=0.5)  # founders know the service they want to change
        self.people: list[TeamPerson] = [self._seat(slot) for slot in range(n)]
        self._org_of_member = self.team.organisation

        # Team-level state.
        self.leadership_clarity: float = p["leadership_clarity"]
        self.progress: float = 0.0
        self.small_mode: bool = bool(p["small_tasks"])
        self.task_size: float = min(p["task_size"], SMALL_TASK) if self.small_mode \
            else p["task_size"]
        self.next_milestone: float = self.task_size
        self.recent_wins: float = 0.0
        self.low_months: int = 0
        self.pilot_performance: float = 0.0
        self.available_funding: float = p["initial_funding"]

        # Counters and gate months (None until reached).
        self.small_wins = 0
        self.turnover_events = 0
        self.host_changes = 0
        self.manager_changes = 0
        self.business_case_month: int | None = None
        self.pilot_month: int | None = None
        self.integrated_month: int | None = None
        self.collapse_month: int | None = None
        self.small_tasks_month: int | None = 0 if self.small_mode else None
        self.events: str = ""

        # Measures: this month's nine DAC values and running sums for the run's means.
        self.dac_now = measures.dac(self)
        self.engagement_now = self.dac_now[-1]
        self._dac_sum = [0.0] * len(self.dac_now)
        self._engagement_sum = 0.0
        self._months_run = 0

        self.datacollector = mesa.DataCollector(model_reporters=_REPORTERS) if collect \
            else None
        if collect:
            self.datacollector.collect(self)

    # ------------------------------------------------------------------ helpers
    def _seat(self, slot: int) -> TeamPerson:
        role = self.roles[slot]
        cls = ClinicalLead if self.team.is_lead[slot] else TeamMember
        return cls(self, slot, role)

    @property
    def outcome(self) -> str:
        return measures.outcome(self)

    @property
    def month(self) -> int:
        return self.steps

    # ------------------------------------------------------------------ the month
    def step(self) -> None:
        """One month: system, organisations, turnover, meeting, small wins, gates."""
        if not self.running:  # absorbing state reached (collapsed or integrated)
            self.events = ""
            self._record()
            return
        month = self.steps
        p = self.p
        team = self.team
        n = team.size
        u = self.rng.random(2 * n + 20)  # one vectorised draw serves the whole month
        events: list[str] = []

        # 1. System level: funding rounds and policy churn.
        award = self.system.funding_round(u[0], u[1])
        if award:
            self.available_funding += award
            events.append("funding")
        if self.system.policy_churn(u[2]):
            self.progress *= 1.0 - p["churn_rework"]
            events.append("policy_churn")

        # 2. Organisational level: personnel changes, then support.
        if u[3] < self._host_hazard:
            self._replace_manager(0, u[4:8])
            self.host_changes += 1
            team.role_clarity *= HOST_ROLE_RESET
            self.leadership_clarity *= 1.0 - HOST_LEADERSHIP_LOSS
            events.append("host_change")
        for o in range(1, len(self.managers)):
            if u[8 + o] < self._manager_hazard:
                self._replace_manager(o, self.people_rng.random(4))
                events.append(f"manager_change:{ORGANISATIONS[o]}")
        commitment_team = self.dac_now[8]
        signal = min(1.0, commitment_team * (0.3 + self.recent_wins))
        funded = min(1.0, self.system.funding_received)
        support = self.support
        for i, m in enumerate(self.managers):
            m.update_support(signal, funded)
            support[i] = m.support

        # 3. Turnover: leavers are replaced by newcomers with no project knowledge.
        leaving = u[20:20 + n] < team.leave_hazard
        if leaving.any():
            leaving = np.flatnonzero(leaving)
            self._turnover(leaving, month)
            events.append(f"turnover:{leaving.size}")

        # 4. Team meeting.
        attend = u[20 + n:20 + 2 * n] < team.engagement
        present = _sum(attend)
        attendance = present * team.inv_size
        org_support = support[self._org_of_member]
        leadership = self.leadership_clarity
        knowledge = float(team.knowledge @ attend) / present if present else 0.0
        k = self._k  # products of parameters, computed once (see _constants)
        gain = (k.progress * attendance * (0.5 + 0.5 * self.dac_now[7])
                * (0.6 + 0.4 * self._pm_share) * (0.6 + 0.4 * self.dac_now[5])
                * (0.6 + 0.4 * knowledge) * (0.6 + 0.4 * self.dac_now[6]))
        self.progress = min(1.0, self.progress + gain)

        # Vision converges toward the leads' vision as far as leadership is clear;
        # competing organisational agendas pull it apart (case: 'competing agendas'):
        #   v += attend VISION_RATE L (ceiling - v) - agenda_pull agenda v,
        #   agenda = savings_pressure (1 - org support) (1 - 0.6 face_to_face).
        converge = attend * (VISION_RATE * leadership)
        team.vision += converge * k.ceiling - (converge + k.pull * (1.0 - org_support)) \
            * team.vision
        team.role_clarity += attend * (k.role * leadership) * (1.0 - team.role_clarity)
        # Knowledge: learned at a meeting, slowly lost when absent.
        team.knowledge += np.where(attend, k.learn * (1.0 - team.knowledge),
                                   -KNOWLEDGE_DECAY * team.knowledge)
        self.leadership_clarity += LEADERSHIP_RECOVERY * (p["clinical_leadership"] - leadership)

        # 5. Small wins, frustration, engagement.
        win = self.progress >= self.next_milestone - 1e-12
        if win:
            self.small_wins += 1
            while self.next_milestone <= self.progress + 1e-12:
                self.next_milestone += self.task_size
            team.frustration *= 1.0 - WIN_RELIEF
            team.engagement += attend * p["win_boost"] * (1.0 - team.engagement)
            events.append("small_win")
        else:
            team.frustration += attend * (k.frustration * (1.5 - leadership)) \
                * (1.0 - team.frustration)
        self.recent_wins = WIN_MEMORY * self.recent_wins + win
        # Motivation: own disposition less frustration, times what peers do (Granovetter
        # 1978: thresholds respond to others' participation), plus the goal gradient;
        # below one's threshold, motivation collapses (Repenning 2002).
        motivation = (team.disposition * (1.0 - PEER_WEIGHT + PEER_WEIGHT * attendance)
                      * (1.0 - FRUSTRATION_WEIGHT * team.frustration)
                      + (GOAL_GRADIENT * self.progress) * (0.5 + 0.5 * org_support))
        motivation *= np.where(motivation < team.threshold, DISENGAGE, 1.0)
        team.engagement += ENGAGEMENT_ADJUST * (np.minimum(motivation, 1.0) - team.engagement)

        # The team may learn to work in small tasks (the case's switch): when frustration
        # is high, or when its leaders recognise that the project has overrun its initial
        # framework — the sooner, the clearer the leadership (case: 'It took some time for
        # the leaders to recognise … that delivering sustainable improvement may be a long
        # process'; the project was prolonged 'beyond initially proposed framework').
        if not self.small_mode and p["learn_small_tasks"] and self.pilot_month is None and (
                _sum(team.frustration) * team.inv_size >= p["learn_threshold"]
                or month >= p["planned_months"] + RECOGNITION_LAG * (1.0 - leadership)):
            self._switch_to_small_tasks(month, events)

        # 6. Gates: business case, pilot, integration; collapse.
        self._gates(month, u[12:20], events)

        self.events = ";".join(events)
        self._record()
        if month >= self.months:
            self.running = False

    def _gates(self, month: int, u: np.ndarray, events: list[str]) -> None:
        p = self.p
        if self.pilot_month is None:
            self._business_case_and_pilot(month, u, events)
            if self.pilot_month is not None:
                return
            # Collapse: engagement below the floor for too long, before any pilot.
            if self.dac_now[8] < p["collapse_floor"]:
                self.low_months += 1
                if self.low_months >= p["collapse_months"]:
                    self.collapse_month = month
                    self.running = False
                    events.append("collapse")
            else:
                self.low_months = 0
            return
        # A running pilot: performance follows the team's alignment and commitment;
        # misfitting national models lower it. Full integration needs a finished
        # specification, a pilot that ran well, and aligned regulation and payment.
        misfit = 1.0 - 0.5 * self.system.prescriptiveness
        quality = 0.5 * (self.dac_now[7] + self.dac_now[8]) * misfit
        self.pilot_performance += PILOT_LEARNING * (quality - self.pilot_performance)
        if (month - self.pilot_month >= p["pilot_months"] and self.progress >= 1.0 - 1e-12
                and u[0] < INTEGRATION_RATE * self.system.enablers * self.pilot_performance):
            self.integrated_month = month
            self.running = False
            events.append("integrated")

    def _business_case_and_pilot(self, month: int, u: np.ndarray, events: list[str]) -> None:
        """The finished specification goes to the organisations; a pilot starts when all
        approve through their pathways, the money covers it and (for a locality pilot) the
        locality's lead declares readiness (case: 'following its clinical lead's proactive
        engagement … and declaring the locality's readiness to proceed')."""
        p = self.p
        needed = p["pilot_spec_share"] if self.small_mode else 1.0
        if self.business_case_month is None and self.progress >= needed - 1e-12:
            self.business_case_month = month
            events.append("business_case")
            # Ready-made national models meet local needs at the business case: part of
            # the specification is reworked (case: national programmes 'did not always
            # match what was needed locally and what was already achieved').
            if self.system.prescriptiveness:
                self.progress *= 1.0 - MISFIT_REWORK * self.system.prescriptiveness
        if self.business_case_month is None:
            return
        approved = all([m.decide(d) for m, d in zip(self.managers, u[1:5], strict=True)])
        cost = p["locality_pilot_share"] if self.small_mode else 1.0
        money = self.available_funding + p["local_investment"] * (
            float(_sum(self.support[:-1])) * self.inv_managers)
        ready = (not self.small_mode
                 or self.team.engagement[LOCALITY_LEAD_SLOT] >= LOCALITY_READY)
        if approved and ready and money >= cost:
            self.pilot_month = month
            self.team.engagement += PILOT_BOOST * (1.0 - self.team.engagement)
            self.team.frustration *= 1.0 - WIN_RELIEF
            events.append("pilot")
        elif (not self.small_mode and p["learn_small_tasks"]
              and month - self.business_case_month >= SCALE_DOWN_MONTHS):
            # A full business case the money or the organisations will not carry: the
            # team scales down to what it can pilot (case: 'apply for smaller funding, to
            # introduce elements of integrated care to pilot solutions').
            self._switch_to_small_tasks(month, events)

    def _switch_to_small_tasks(self, month: int, events: list[str]) -> None:
        """Work in small tasks toward a locality pilot from now on."""
        self.small_mode = True
        self.small_tasks_month = month
        self.task_size = min(self.task_size, SMALL_TASK)
        self.next_milestone = (math.floor(self.progress / self.task_size) + 1) * self.task_size
        events.append("small_tasks")

    def _replace_manager(self, o: int, draws: np.ndarray) -> None:
        """A new responsible manager: support, pathway and management lead drawn anew."""
        old = self.managers[o]
        new = OrganisationalManager(self, o, draws)
        new.approved = old.approved
        old.remove()
        self.managers[o] = new
        self.support[o] = new.support
        self.organisation_profile = measures.organisation_profile(self.managers)
        self._pm_share = sum(m.has_pm_support for m in self.managers) / len(self.managers)
        if o == 0:
            self.host = new
        self.manager_changes += 1

    def _turnover(self, slots: np.ndarray, month: int) -> None:
        """Leavers go; newcomers take their seats and may re-open agreed decisions.

        Case: 'A lack of clear leadership, and a clear vision shared by everybody, made the
        programme vulnerable in face of problems that came along, namely the personnel
        changes on the transformation team, … the changes in the proposed model'. So each
        newcomer re-opens part of the specification, the less so the clearer the
        leadership and the shared vision.
        """
        reopen = REOPEN * (1.0 - self.leadership_clarity) * (1.0 - self.dac_now[6])
        self.progress *= (1.0 - reopen) ** slots.size
        self.team.newcomers(slots, self.people_rng.random((slots.size, 4)), self.p, month,
                            vision_scale=NEWCOMER_VISION)
        for slot in slots:
            self.people[slot].remove()
            self.people[slot] = self._seat(int(slot))
            if self.team.is_lead[slot]:
                self.leadership_clarity *= 1.0 - LEAD_LOSS
        self.turnover_events += int(slots.size)

    def _record(self) -> None:
        self.dac_now = measures.dac(self)
        self.engagement_now = self.dac_now[8]
        self._dac_sum = [a + b for a, b in zip(self._dac_sum, self.dac_now, strict=True)]
        self._engagement_sum += self.engagement_now
        self._months_run += 1
        if self.datacollector is not None:
            self.datacollector.collect(self)

    # ------------------------------------------------------------------ results
    def summary(self) -> dict[str, Any]:
        """The run's summary: the fields of ``summary.json``."""
        months_run = max(self._months_run, 1)
        out: dict[str, Any] = {
            "outcome": self.outcome,
            "pilot_month": self.pilot_month,
            "integrated_month": self.integrated_month,
            "collapse_month": self.collapse_month,
            "business_case_month": self.business_case_month,
            "small_tasks_month": self.small_tasks_month,
        }
        for key, value in zip(measures.DAC_KEYS, self.dac_now, strict=True):
            out[f"dac_{key}"] = float(value)
        for key, total in zip(measures.DAC_KEYS, self._dac_sum, strict=True):
            out[f"mean_dac_{key}"] = float(total / months_run)
        out.update({
            "mean_engagement": float(self._engagement_sum / months_run),
            "final_progress": float(self.progress),
            "turnover_events": self.turnover_events,
            "host_changes": self.host_changes,
            "manager_changes": self.manager_changes,
            "policy_churns": self.system.policy_churns,
            "funding_received": float(self.system.funding_received),
            "small_wins": self.small_wins,
            "seed": None,
            "scenario": self.scenario_name,
            "months": self.months,
            "parameters": dict(self.p),
        })
        return out


def _dac_reporter(i: int):
    return lambda m: m.dac_now[i]


_REPORTERS: dict[str, Any] = {
    "progress": "progress",
    "engagement": "engagement_now",
    **{f"dac_{key}": _dac_reporter(i) for i, key in enumerate(measures.DAC_KEYS)},
    "outcome": "outcome",
    "events": "events",
}


class _Constants(NamedTuple):
    """Products of parameters the monthly update uses, computed once per run."""

    progress: float  # progress_rate (1 + 0.3 meeting_feedback)(1 + prescriptiveness)
    ceiling: float  # vision ceiling: ready-made models fit local needs less well
    pull: float  # agenda_pull savings_pressure (1 - 0.6 face_to_face)
    role: float  # ROLE_RATE (1 + meeting_feedback)
    learn: float  # KNOWLEDGE_RATE (1 + 0.5 meeting_feedback)
    frustration: float  # frustration_rate (1 + shaming)


def _constants(p: dict[str, Any], prescriptiveness: float) -> _Constants:
    return _Constants(
        progress=p["progress_rate"] * (1.0 + 0.3 * p["meeting_feedback"])
        * (1.0 + prescriptiveness),
        ceiling=1.0 - 0.3 * prescriptiveness,
        pull=p["agenda_pull"] * p["savings_pressure"] * (1.0 - 0.6 * p["face_to_face"]),
        role=ROLE_RATE * (1.0 + p["meeting_feedback"]),
        learn=KNOWLEDGE_RATE * (1.0 + 0.5 * p["meeting_feedback"]),
        frustration=p["frustration_rate"] * (1.0 + p["shaming"]),
    )


def check_months(months: Any) -> int:
    """Months must be a whole number ≥ 1."""
    if isinstance(months, bool) or not isinstance(months, int | np.integer) or months < 1:
        raise UsageError(f"months must be a whole number >= 1, got {months!r}")
    return int(months)


def check_seed(seed: Any) -> int:
    """A seed must be a whole number >= 0 (numpy integers included); ``None`` is refused
    because it would give an unrepeatable run."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise UsageError(f"seed must be a whole number >= 0, got {seed!r}")
    return int(seed)


def simulate(scenario: str = "baseline", seed: int = 0, months: int = 60,
             collect: bool = True, **overrides: Any) -> IntegrationModel:
    """Build and run one project; return the model (with its time series if ``collect``)."""
    months = check_months(months)
    seed = check_seed(seed)
    model = IntegrationModel(months=months, collect=collect, rng=seed, scenario_name=scenario,
                             **overrides)
    model.run_for(months)
    return model


def run_project(scenario: str = "baseline", seed: int = 0, months: int = 60,
                **overrides: Any) -> dict[str, Any]:
    """Run one project and return its summary (the fields of ``summary.json``).

    ``scenario`` names a scenario or a composition (``"enabling_national+toolkit"``);
    ``overrides`` are parameter values by registry name, validated as on the command line
    (a ``ValueError`` naming the parameter and its bounds).
    """
    model = simulate(scenario, seed, months, collect=False, **overrides)
    out = model.summary()
    out["seed"] = seed
    return out


def timeseries_frame(model: IntegrationModel):
    """The monthly time series of a model run with ``collect=True`` as a DataFrame."""
    if model.datacollector is None:
        raise ValueError("this model was built with collect=False: no time series")
    frame = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    frame.insert(0, "month", range(len(frame)))
    return frame
