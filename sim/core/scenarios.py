"""Named scenarios: national approaches, the local toolkit, and how they compose.

A scenario is a set of parameter values over the baseline (the case). Names compose with
``+`` in order, later ones winning where two set the same lever:
``"enabling_national+toolkit"``. Every scenario names the finding it stands for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.core.errors import UsageError
from sim.core.limits import check_size, read_text_file
from sim.core.registry import PARAMETERS, Value, resolve, validate
from sim.core.tomlfile import loads as toml_loads


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str  # "national" | "toolkit" | "team"
    description: str
    finding: str
    values: Mapping[str, Value] = field(default_factory=dict)


_NATIONAL = (
    Scenario("baseline", "national",
             "Flexible national approach: strong narrative, weak tools, funding to some sites",
             "Case, Table 1: 'promoting a flexible national approach to regulatory, financial, "
             "and incentive solutions'; 'awarding transformation funding to some but not all'"),
    Scenario("enabling_national", "national",
             "Same narrative, plus aligned regulation, integrated payment and incentives",
             "Case: local initiatives 'could succeed only if operating in a regulatory, "
             "financial and incentive system that is conducive of collaboration'",
             {"regulatory_alignment": 0.75, "payment_integration": 0.7, "incentives": 0.7}),
    Scenario("funded_vanguard", "national",
             "Early, sufficient transformation funding and national project support",
             "Case: 'The vanguard sites and ICPs had additional resources to develop and test "
             "the new models'; NAO 2018: £329m direct plus £60m central support",
             {"funding_round_rate": 4.0, "funding_award_prob": 1.0, "funding_amount": 1.2,
              "pm_support": 0.8}),
    Scenario("prescriptive_national", "national",
             "Ready-made national models: less local design work, worse local fit",
             "Case: national programmes 'did not always match what was needed locally and "
             "what was already achieved'",
             {"prescriptiveness": 0.8}),
    Scenario("austerity", "national",
             "Savings before investment, scarce money, rare funding rounds",
             "Case, Discussion: 'scarce resources for transformation', 'prioritising savings "
             "over investment'",
             {"savings_pressure": 0.9, "local_investment": 0.3, "funding_round_rate": 0.2,
              "management_support": 0.2}),
)

_TOOLKIT = (
    Scenario("map_decisions", "toolkit",
             "Map the decision-making structure; a management lead for every clinical lead",
             "Case toolkit: 'know the decision making structure in all organisations … clarify "
             "who will make the final decisions'",
             {"decision_pathway_prob": 1.0, "management_lead_prob": 1.0}),
    Scenario("project_management", "toolkit",
             "Project-management support for every lead",
             "Case toolkit: 'check if all leaders have project management support'",
             {"pm_support": 1.0}),
    Scenario("feedback_meetings", "toolkit",
             "Regular meetings with feedback on action points",
             "Case toolkit: 'held regular meetings … with feedback from action points'",
             {"meeting_feedback": 1.0}),
    Scenario("small_wins", "toolkit",
             "Smaller tasks with celebrated successes, toward a locality pilot",
             "Case toolkit: 'divide the project into smaller tasks requiring cooperation and "
             "celebrate successes'",
             {"small_tasks": True, "task_size": 0.1, "win_boost": 0.25}),
    Scenario("shared_vision", "toolkit",
             "An agreed shared vision and accepted roles",
             "Case toolkit: 'establish if all leaders share the vision and accept their new "
             "roles'",
             {"initial_vision": 0.85, "initial_role_clarity": 0.7}),
    Scenario("strong_clinical_leadership", "toolkit",
             "Strong clinical leadership, clear about who leads and chairs",
             "Case toolkit: 'strong clinical leadership voiced at the meetings but also "
             "clinical practice in everyday interaction'",
             {"clinical_leadership": 0.85, "leadership_clarity": 0.6}),
    Scenario("face_to_face", "toolkit",
             "Face-to-face engagement with providers to hear and address their concerns",
             "Case toolkit: 'face-to-face engagement with providers of care to collect their "
             "views and address their concerns'",
             {"face_to_face": 0.9}),
    Scenario("supportive_engagement", "toolkit",
             "Engagement that supports providers rather than shaming them",
             "Case toolkit: 'engagement … focused on supporting them … avoiding shaming those "
             "who do not achieve'",
             {"shaming": 0.0}),
)


def _toolkit_values() -> dict[str, Value]:
    merged: dict[str, Value] = {}
    for s in _TOOLKIT:
        merged.update(s.values)
    return merged


_COMBINED = (
    Scenario("toolkit", "toolkit", "All eight local-toolkit interventions together",
             "Case, Practical implications: 'the need for practical guidelines and "
             "step-by-step toolkits to support the local leaders'",
             _toolkit_values()),
    Scenario("stable_team", "team", "Low personnel turnover and a stable host",
             "Case: 'there have been too many personnel changes for me to feel that there is a "
             "strong leadership'; the team renamed by successive commissioners",
             {"turnover_rate": 0.04, "host_change_rate": 0.2, "manager_turnover": 0.1}),
)

SCENARIOS: dict[str, Scenario] = {s.name: s for s in _NATIONAL + _TOOLKIT + _COMBINED}
NATIONAL_APPROACHES: tuple[str, ...] = tuple(s.name for s in _NATIONAL)


def split(spec: str) -> list[str]:
    """Split ``"a+b"`` into known scenario names, or raise ``UsageError`` listing them."""
    names = [part.strip() for part in str(spec).split("+")]
    for name in names:
        if name not in SCENARIOS:
            known = ", ".join(SCENARIOS)
            raise UsageError(f"unknown scenario '{name}'; known scenarios: {known}")
    return names


def scenario_values(spec: str) -> dict[str, Value]:
    """The parameter values a (composed) scenario sets over the baseline."""
    values: dict[str, Value] = {}
    for name in split(spec):
        values.update(SCENARIOS[name].values)
    return values


def parameters_for(spec: str = "baseline", overrides: Mapping[str, Any] | None = None,
                   ) -> dict[str, Value]:
    """Every parameter's value: defaults, then the scenario, then the overrides."""
    return resolve(scenario_values(spec), overrides or {})


# ------------------------------------------------------------------ scenario files
#: The keys a scenario file may have (see scenarios/README.md).
FILE_KEYS = ("name", "description", "source", "base", "levers", "changes")


@dataclass(frozen=True)
class ResolvedScenario:
    """A scenario ready to run: its label, its values over the defaults, its schedule.

    ``values`` are validated registry values (the base scenario(s), then the file's
    ``[levers]``, then ``--set``); ``schedule`` is ``((month, {lever: value}), ...)``,
    the time-varying national levers, applied at the start of that month.
    """

    name: str
    values: Mapping[str, Value]
    schedule: tuple[tuple[int, Mapping[str, Value]], ...] = ()
    description: str = ""
    source: str = ""
    path: str | None = None

    def schedule_list(self) -> list[tuple[int, dict[str, Value]]] | None:
        """The schedule as the model takes it (``None`` when nothing varies in time)."""
        return [(m, dict(v)) for m, v in self.schedule] or None


def is_scenario_file(spec: str) -> bool:
    """A spec names a file when it ends in ``.toml`` (it need not exist yet: then the
    error says so)."""
    return str(spec).strip().lower().endswith(".toml")


def _file_error(path: str, message: str) -> UsageError:
    return UsageError(f"scenario file {path}: {message}")


def load_scenario_file(path: str | Path) -> ResolvedScenario:
    """Read and validate a scenario file; raise ``UsageError`` (one line) on any fault."""
    import tomllib

    path = str(path)
    text = read_text_file(path, "scenario file")
    try:
        data = toml_loads(text)  # nesting past a ceiling is a TOMLDecodeError
    except tomllib.TOMLDecodeError as exc:
        raise _file_error(path, f"is not valid TOML ({exc})") from None
    unknown = sorted(set(data) - set(FILE_KEYS))
    if unknown:
        raise _file_error(path, f"unknown key '{unknown[0]}'; allowed keys: "
                          f"{', '.join(FILE_KEYS)}")
    for key in ("name", "description", "source"):
        if key not in data or not isinstance(data[key], str) or not data[key].strip():
            raise _file_error(path, f"'{key}' must be a non-empty string")
    name = data["name"].strip()
    if "+" in name or "|" in name or any(c.isspace() or not c.isprintable() for c in name):
        raise _file_error(path, f"'name' must be one word without '+', '|' or control "
                          f"characters, got {name!r}")
    base = data.get("base", "baseline")
    if isinstance(base, str):
        base = [base]
    if not isinstance(base, list) or not base or not all(isinstance(b, str) for b in base):
        raise _file_error(path, "'base' must be a scenario name or a list of names, e.g. "
                          "base = [\"baseline\", \"toolkit\"]")
    values: dict[str, Value] = {}
    try:
        for part in base:
            values.update(scenario_values(part))
    except UsageError as exc:
        raise _file_error(path, f"base: {exc}") from None
    levers = data.get("levers", {})
    if not isinstance(levers, dict):
        raise _file_error(path, "[levers] must be a table of NAME = VALUE")
    try:
        values.update(validate(levers))
    except UsageError as exc:
        raise _file_error(path, f"[levers]: {exc}") from None
    changes = data.get("changes", [])
    if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
        raise _file_error(path, "changes must be [[changes]] tables with a month and levers")

    try:  # counted before any is validated: each costs memory in every run
        check_size("changes", len(changes), "[[changes]]: their number", minimum=0)
    except UsageError as exc:
        raise _file_error(path, str(exc)) from None
    pairs = []
    for i, change in enumerate(changes, 1):
        change = dict(change)
        if "month" not in change:
            raise _file_error(path, f"[[changes]] number {i} has no 'month'")
        month = change.pop("month")
        if not change:
            raise _file_error(path, f"[[changes]] at month {month!r} changes no lever")
        pairs.append((month, change))
    months = [m for m, _ in pairs]
    if len(set(map(repr, months))) != len(months):
        raise _file_error(path, "two [[changes]] share a month; merge them into one")
    try:
        schedule = check_schedule(pairs)
    except UsageError as exc:
        raise _file_error(path, str(exc)) from None
    return ResolvedScenario(
        name=name, values=values,
        schedule=tuple(sorted((m, dict(v)) for m, v in schedule.items())),
        description=data["description"].strip(), source=data["source"].strip(), path=path)


def resolve_scenario(spec: str, overrides: Mapping[str, Any] | None = None,
                     ) -> ResolvedScenario:
    """A scenario name, a ``a+b`` composition or a scenario file, with ``--set`` values
    applied on top (they win over everything, and over the file's schedule from month 1:
    a lever set with ``--set`` is removed from the schedule)."""
    if is_scenario_file(spec):
        scenario = load_scenario_file(spec)
    else:
        parts = split(spec)
        scenario = ResolvedScenario(
            name=str(spec).strip(), values=scenario_values(spec),
            description="; ".join(SCENARIOS[p].description for p in parts),
            source="; ".join(SCENARIOS[p].finding for p in parts))
    if not overrides:
        return scenario
    checked = validate(overrides)
    schedule = tuple((m, {k: v for k, v in values.items() if k not in checked})
                     for m, values in scenario.schedule)
    return ResolvedScenario(
        name=scenario.name, values={**scenario.values, **checked},
        schedule=tuple((m, v) for m, v in schedule if v),
        description=scenario.description, source=scenario.source, path=scenario.path)


def check_schedule(schedule: Any) -> dict[int, dict[str, Any]]:
    """Validate a schedule of time-varying national levers; return ``{month: values}``.

    ``schedule`` is ``None`` or a sequence of ``(month, {name: value})`` pairs; months are
    whole numbers >= 1 and the names are system-level registry entries. Raises
    ``UsageError`` with one line naming the culprit.
    """
    if schedule is None:
        return {}
    if isinstance(schedule, Mapping):
        schedule = list(schedule.items())
    out: dict[int, dict[str, Any]] = {}
    try:
        entries = list(schedule)
    except TypeError:
        raise UsageError(f"schedule must be a sequence of (month, values) pairs, got "
                         f"{schedule!r}") from None
    for entry in entries:
        if not (isinstance(entry, tuple | list) and len(entry) == 2
                and isinstance(entry[1], Mapping)):
            raise UsageError(f"schedule entries must be (month, {{lever: value}}) pairs, got "
                             f"{entry!r}")
        month, values = entry
        if isinstance(month, bool) or not isinstance(month, int | np.integer) or month < 1:
            raise UsageError(f"schedule month must be a whole number >= 1, got {month!r}")
        for name in values:
            param = PARAMETERS.get(name)
            if param is not None and (param.level != "system" or param.group != "lever"):
                system = ", ".join(p.name for p in PARAMETERS.values()
                                   if p.level == "system" and p.group == "lever")
                raise UsageError(f"schedule: '{name}' cannot vary in time; only national "
                                 f"levers can: {system}")
        out.setdefault(int(month), {}).update(validate(values))
    return out
