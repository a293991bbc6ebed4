"""IntegrationModel: one multilevel integration project, a month per step (Mesa engine).

The case (Kozlowska, Seda Gombau & Rea 2020): an integrated diabetes service across
primary, community and specialist care in one English county, hosted by the clinical
commissioning group, worked on by a transformation team of nearly twenty people from four
organisations, under a flexible national approach. After three years the team switched to
smaller tasks and piloted elements of the service in one locality; full integration was
not reached. docs/ODD.md describes every process and the passage it rests on.

This is the reference engine: Mesa agents, the monthly time series, the dashboard and
``mesa.batch_run``. The monthly equations are the compiled submodels of
:mod:`sim.engine.kernels`, which the ``fast`` engine (:mod:`sim.engine.fast`) runs for
many projects at once; both draw the same random numbers in the same order, so they agree
run for run. The model knows no files and no command line. ``run_project`` is the one
Python entry point; ``simulate`` returns the model itself for callers who want its time
series.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

import mesa
import numpy as np

from sim.core import outputs as measures
from sim.core.errors import UsageError
from sim.core.inputs import check_months, check_rng, check_seed
from sim.core.registry import resolve
from sim.core.scenarios import (
    check_schedule,
    is_scenario_file,
    parameters_for,
    resolve_scenario,
)
from sim.core.team import team_roles
from sim.engine import compiling
from sim.engine import layout as L
from sim.engine import rng as engine_rng
from sim.engine.fast import probe
from sim.engine.kernels import (
    Project,
    apply_levers,
    initialise,
    month_step,
    summary_floats,
)
from sim.mesa.agents import (
    ORGANISATIONS,
    ClinicalLead,
    OrganisationalManager,
    SystemLeader,
    TeamMember,
    TeamPerson,
    TeamState,
)

if TYPE_CHECKING:
    import pandas as pd


class IntegrationModel(mesa.Model):
    """One integration project at four levels, a month per step.

    Args:
        months: the horizon; the model stops running after it (default 60).
        scenario_name: a named scenario or composition (``"enabling_national+toolkit"``)
            whose values are applied before ``params``, or a scenario file (``*.toml``, see
            scenarios/README.md): its values, then ``params``, and its ``[[changes]]`` as
            the schedule (a lever in ``params`` is taken out of them).
        collect: record the monthly time series in ``datacollector`` (Mesa's
            ``DataCollector``); ``run_project`` turns it off for speed.
        rng: the seed or generator; all randomness flows from it.
        scenario: a scenario by name (the same as ``scenario_name``), or Mesa's
            experimental ``Scenario`` object, accepted so that Mesa's SolaraViz can
            re-create the model (its ``rng`` is used when ``rng`` is None).
        schedule: time-varying national levers, a sequence of ``(month, {name: value})``
            pairs applied at the start of that month, before its processes (national policy
            in the case's period moved in waves). Only system-level levers may vary in
            time; months are whole numbers >= 1.
        **params: parameter values by registry name; the rest take their defaults.
            Validated: an unknown name or out-of-bounds value raises ``ValueError``.
    """

    steps: int  # Mesa's step counter (mesa.Model is untyped)

    def __init__(self, months: int = 60, collect: bool = True, rng: Any = None,
                 scenario_name: str = "baseline", scenario: Any = None,
                 schedule: Any = None, **params: Any) -> None:
        if isinstance(scenario, str):  # a scenario by name: honoured, never ignored
            if scenario_name not in ("baseline", scenario):
                raise UsageError(f"give the scenario once: scenario={scenario!r} and "
                                 f"scenario_name={scenario_name!r} disagree")
            scenario_name, scenario = scenario, None
        if rng is None and scenario is not None:  # Mesa's own Scenario object (SolaraViz)
            rng = getattr(scenario, "rng", None)
        rng = check_rng(rng)
        super().__init__(rng=rng)
        # Event-driven draws (newcomers, new managers) come from a child stream of the one
        # seed, so the monthly draws stay paired across scenarios (common random numbers).
        self.people_rng = self.rng.spawn(1)[0]
        self.months = check_months(months)
        if is_scenario_file(scenario_name):  # a scenario file: its values and changes
            resolved = resolve_scenario(scenario_name, params)
            if schedule is not None and resolved.schedule:
                raise UsageError(f"scenario file {scenario_name} has its own [[changes]]; "
                                 "give no schedule beside it")
            self.scenario_name = resolved.name
            self.p = p = resolve(resolved.values)
            self.schedule = check_schedule(schedule if schedule is not None
                                           else resolved.schedule_list())
        else:
            self.scenario_name = scenario_name
            self.p = p = parameters_for(scenario_name, params)
            self.schedule = check_schedule(schedule)
        self._params = L.pack(p)

        # The state arrays the submodels update; the agents below are views of them.
        self.roles = team_roles(int(p["team_size"]))
        streams = np.stack([engine_rng.state_of(self.rng.bit_generator),
                            engine_rng.state_of(self.people_rng.bit_generator)])
        self.state = state = Project(len(self.roles), streams)
        initialise(self.params, state.g, state.c, state.dac, state.dac_sum, state.m,
                   state.support, state.t, state.ti, state.streams)
        self._sync_rng()
        self.team = TeamState(state.t, state.ti)
        self.support = state.support  # operational support by organisation + patients

        self.system = SystemLeader(self)
        self.managers = [OrganisationalManager(self, o) for o in range(len(ORGANISATIONS))]
        self.people: list[TeamPerson] = [self._seat(slot) for slot in range(self.team.size)]
        self.events: str = ""

        self.datacollector = mesa.DataCollector(model_reporters=_REPORTERS) if collect \
            else None
        if self.datacollector is not None:
            self.datacollector.collect(self)

    # ------------------------------------------------------------------ state as domain
    @property
    def params(self) -> np.void:
        """The current parameters as the submodels' record."""
        return cast(np.void, self._params[()])

    def _gate(self, index: int) -> int | None:
        month = int(self.state.c[index])
        return None if month == L.NOT_YET else month

    host = property(lambda self: self.managers[0], doc="The hosting commissioner's manager.")
    progress = property(lambda self: float(self.state.g[L.G_PROGRESS]),
                        doc="Share of the full service specification agreed.")
    leadership_clarity = property(lambda self: float(self.state.g[L.G_LEADERSHIP]),
                                  doc="Clarity of who leads and who chairs the team.")
    small_mode = property(lambda self: bool(self.state.c[L.C_SMALL_MODE]),
                          doc="Whether the team works in small tasks toward a locality pilot.")
    task_size = property(lambda self: float(self.state.g[L.G_TASK_SIZE]))
    next_milestone = property(lambda self: float(self.state.g[L.G_NEXT_MILESTONE]))
    recent_wins = property(lambda self: float(self.state.g[L.G_RECENT_WINS]))
    pilot_performance = property(lambda self: float(self.state.g[L.G_PILOT_PERF]))
    money = property(lambda self: float(self.state.g[L.G_POT]),
                     doc="The project's unspent money (x a full pilot's cost).")
    localities_live = property(lambda self: int(self.state.c[L.C_LOCALITIES]))
    evaluated_month = property(lambda self: self._gate(L.C_EVALUATED))
    commissioned_month = property(lambda self: self._gate(L.C_COMMISSIONED))
    mean_frustration = property(lambda self: float(self.state.t[L.T_FRUSTRATION].mean()),
                                doc="The team's mean frustration.")
    low_months = property(lambda self: int(self.state.c[L.C_LOW_MONTHS]))
    small_wins = property(lambda self: int(self.state.c[L.C_SMALL_WINS]))
    turnover_events = property(lambda self: int(self.state.c[L.C_TURNOVER_EVENTS]))
    host_changes = property(lambda self: int(self.state.c[L.C_HOST_CHANGES]))
    manager_changes = property(lambda self: int(self.state.c[L.C_MANAGER_CHANGES]))
    business_case_month = property(lambda self: self._gate(L.C_BUSINESS_CASE))
    pilot_month = property(lambda self: self._gate(L.C_PILOT))
    integrated_month = property(lambda self: self._gate(L.C_INTEGRATED))
    collapse_month = property(lambda self: self._gate(L.C_COLLAPSE))
    small_tasks_month = property(lambda self: self._gate(L.C_SMALL_TASKS))
    dac_now = property(lambda self: tuple(float(x) for x in self.state.dac),
                       doc="This month's nine DAC values (``measures.DAC_KEYS`` order).")
    engagement_now = property(lambda self: float(self.state.dac[L.D_TEAM_COMMITMENT]))

    @property
    def organisation_profile(self) -> tuple[float, float]:
        """Organisational direction and alignment (they change only with managers)."""
        return float(self.state.g[L.G_ORG_DIRECTION]), float(self.state.g[L.G_ORG_ALIGNMENT])

    @property
    def outcome(self) -> str:
        return measures.outcome_name(self.integrated_month, self.pilot_month,
                                     self.collapse_month)

    @property
    def month(self) -> int:
        return self.steps

    # ------------------------------------------------------------------ the month
    def step(self) -> None:
        """One month: the compiled submodels (ODD §3), then the agents follow the state."""
        month = self.steps
        if month in self.schedule:
            self._apply_levers(self.schedule[month])
        s = self.state
        month_step(self.params, s.g, s.c, s.dac, s.dac_sum, s.m, s.support, s.t, s.ti,
                   s.streams, s.work, s.attend, month, self.months)
        self._sync_rng()
        replaced = int(s.c[L.C_MANAGERS_REPLACED])
        if replaced:
            for o in range(len(self.managers)):
                if replaced & (1 << o):
                    self.managers[o].remove()
                    self.managers[o] = OrganisationalManager(self, o)
        if s.c[L.C_LEAVERS]:
            for slot in np.flatnonzero(self.team.left):
                self.people[slot].remove()
                self.people[slot] = self._seat(int(slot))
        self.events = L.events_text(int(s.c[L.C_EVENTS]), int(s.c[L.C_LEAVERS]), replaced)
        self.running = bool(s.c[L.C_RUNNING])
        if self.datacollector is not None:
            self.datacollector.collect(self)

    def _seat(self, slot: int) -> TeamPerson:
        role = self.roles[slot]
        cls = ClinicalLead if self.team.is_lead[slot] else TeamMember
        return cls(self, slot, role)

    def _sync_rng(self) -> None:
        """Python-side generators continue where the submodels' draws stopped."""
        engine_rng.write_back(self.state.streams[0], self.rng.bit_generator)
        engine_rng.write_back(self.state.streams[1], self.people_rng.bit_generator)

    def _apply_levers(self, values: dict[str, Any]) -> None:
        """A scheduled change of national levers: re-read what depends on them."""
        self.p = {**self.p, **values}
        self._params = L.pack(self.p)
        apply_levers(self.params, self.state.g, self.state.m)

    # ------------------------------------------------------------------ results
    def summary(self) -> dict[str, Any]:
        """The run's summary: the fields of ``summary.json`` (``sim.core.outputs``'s
        schema, computed by the same kernel as the fast engine's)."""
        s = self.state
        months_run = max(int(s.c[L.C_MONTHS_RUN]), 1)
        out: dict[str, Any] = {"outcome": self.outcome}
        for k, name in enumerate(measures.INT_FIELDS):
            value = int(s.c[L.INT_SOURCES[k]])
            out[name] = (None if value == L.NOT_YET else value) \
                if name in measures.GATE_FIELDS else value
        for key, value in zip(measures.DAC_KEYS, s.dac, strict=True):
            out[f"dac_{key}"] = float(value)
        for key, total in zip(measures.DAC_KEYS, s.dac_sum, strict=True):
            out[f"mean_dac_{key}"] = float(total / months_run)
        rest = measures.FLOAT_FIELDS[2 * len(measures.DAC_KEYS):]
        floats = np.empty(len(rest))
        summary_floats(floats, s.g, s.t, months_run)
        out.update({name: float(v) for name, v in zip(rest, floats, strict=True)})
        out["seed"] = None
        ordered = {name: out[name] for name in measures.SUMMARY_FIELDS}
        ordered.update(scenario=self.scenario_name, months=self.months,
                       parameters=dict(self.p))
        return ordered

def _dac_reporter(i: int) -> Callable[[IntegrationModel], float]:
    return lambda m: float(m.state.dac[i])


_REPORTERS: dict[str, Any] = {
    "progress": "progress",
    "engagement": "engagement_now",
    "frustration": "mean_frustration",
    "money": "money",
    "localities_live": "localities_live",
    **{f"dac_{key}": _dac_reporter(i) for i, key in enumerate(measures.DAC_KEYS)},
    "outcome": "outcome",
    "events": "events",
}


def simulate(scenario: str = "baseline", seed: int = 0, months: int = 60,
             collect: bool = True, schedule: Any = None, **overrides: Any) -> IntegrationModel:
    """Build and run one project; return the model (with its time series if ``collect``)."""
    months = check_months(months)
    seed = check_seed(seed)
    model = IntegrationModel(months=months, collect=collect, rng=seed, scenario_name=scenario,
                             schedule=schedule, **overrides)
    model.run_for(months)
    return model


_warm = False


def warm() -> None:
    """Compile the submodels the Mesa engine calls one at a time, or load them from the
    cache (``sim.engine``), with a two-month run: before forking workers, so they inherit
    them. A compile says so on stderr, once."""
    global _warm
    if _warm:
        return
    _warm = True
    with compiling("mesa"):
        simulate("baseline", 0, 2, collect=True)


def run_project(scenario: str = "baseline", seed: int = 0, months: int = 60,
                schedule: Any = None, **overrides: Any) -> dict[str, Any]:
    """Run one project and return its summary (the fields of ``summary.json``).

    ``scenario`` names a scenario or a composition (``"enabling_national+toolkit"``);
    ``overrides`` are parameter values by registry name, validated as on the command line
    (a ``ValueError`` naming the parameter and its bounds); ``schedule`` gives
    time-varying national levers (see :class:`IntegrationModel`).
    """
    model = simulate(scenario, seed, months, collect=False, schedule=schedule, **overrides)
    out = model.summary()
    out["seed"] = seed
    return out


def probe_project(probe_months: Sequence[int], scenario: str = "baseline", seed: int = 0,
                  months: int = 60, schedule: Any = None, **overrides: Any) -> dict[str, Any]:
    """:func:`run_project` with ``<field>_m<month>`` entries: every ``PROBE_FIELDS`` entry
    at the end of each of ``probe_months``, as the fast engine's probes give them (the same
    compiled function reads both engines' state)."""
    months, seed = check_months(months), check_seed(seed)
    at = sorted({int(m) for m in probe_months})
    if not at or at[0] < 1 or at[-1] > months:
        raise ValueError(f"probe months must lie in [1, {months}]")
    model = IntegrationModel(months=months, collect=False, rng=seed, scenario_name=scenario,
                             schedule=schedule, **overrides)
    probes: dict[str, float] = {}
    values = np.empty(len(measures.PROBE_FIELDS))
    done = 0
    for month in at:
        model.run_for(month - done)
        done = month
        s = model.state
        probe(values, s.g, s.c, s.dac, s.t)
        probes.update({f"{name}_m{month}": float(v)
                       for name, v in zip(measures.PROBE_FIELDS, values, strict=True)})
    if months > done:
        model.run_for(months - done)
    out = model.summary()
    out["seed"] = seed
    out.update(probes)
    return out


def timeseries_frame(model: IntegrationModel) -> pd.DataFrame:
    """The monthly time series of a model run with ``collect=True`` as a DataFrame."""
    if model.datacollector is None:
        raise ValueError("this model was built with collect=False: no time series")
    frame: pd.DataFrame = model.datacollector.get_model_vars_dataframe().reset_index(
        drop=True)
    frame.insert(0, "month", range(len(frame)))
    return frame
