"""Named scenarios: national approaches, the local toolkit, and how they compose.

A scenario is a set of parameter values over the baseline (the case). Names compose with
``+`` in order, later ones winning where two set the same lever:
``"enabling_national+toolkit"``. Every scenario names the finding it stands for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.core.errors import UsageError
from sim.core.limits import check_size, read_text_file
from sim.core.registry import PARAMETERS, Value, resolve, validate
from sim.core.tomlfile import loads as toml_loads


@dataclass(frozen=True)
class Setting:
    """One value a scenario sets: the lever, its target at full strength, the range the
    target could plausibly take (``None``: exact, e.g. a switch or a definition) and the
    source of the target."""

    lever: str
    target: Value
    plausible: tuple[float, float] | None
    source: str


@dataclass(frozen=True)
class Scenario:
    """A named scenario: the finding it stands for and the settings it applies. At
    strength s (registry ``<name>_strength``, default 1) a number moves from the case's
    value x to x + s (target - x); a switch or a structural choice applies at any s > 0."""

    name: str
    kind: str  # "national" | "toolkit" | "team"
    description: str
    finding: str
    settings: tuple[Setting, ...] = ()

    @property
    def values(self) -> dict[str, Value]:
        """The values at full strength."""
        return {s.lever: s.target for s in self.settings}

    @property
    def strength(self) -> str:
        """The registry entry that sets how strongly the scenario is applied."""
        return f"{self.name}_strength"


_FIDELITY = ("definitional at full fidelity; how fully a site implements it is the "
             "scenario's strength")

_NATIONAL = (
    Scenario("baseline", "national",
             "Flexible national approach: strong narrative, weak tools, funding to some sites",
             "Case, Table 1: 'promoting a flexible national approach to regulatory, financial, "
             "and incentive solutions'; 'awarding transformation funding to some but not all'"),
    Scenario("enabling_national", "national",
             "Same narrative, plus aligned regulation, integrated payment and incentives",
             "Case: local initiatives 'could succeed only if operating in a regulatory, "
             "financial and incentive system that is conducive of collaboration'",
             (Setting("regulatory_alignment", 0.75, (0.4, 0.9),
                      "No published level; the Five Year Forward View planned 'greater "
                      "alignment' of regulators (case)"),
              Setting("payment_integration", 0.7, (0.4, 0.9),
                      "No published level; new payment approaches were 'published later in "
                      "2015 to be further tested' (case)"),
              Setting("incentives", 0.7, (0.4, 0.9),
                      "No published level (case: incentives 'rewarded individual services')"))),
    Scenario("funded_vanguard", "national",
             "Transformation funding each year and national project support, as the vanguards "
             "had",
             "Case: 'The vanguard sites and ICPs had additional resources to develop and test "
             "the new models'; NAO 2018: £329m direct over three years plus £60m central "
             "support",
             (Setting("funding_round_rate", 1.0, None,
                      "NAO 2018: direct funding in annual tranches over three years"),
              Setting("funding_award_prob", 1.0, None,
                      "Definitional: a selected vanguard is funded each year"),
              Setting("funding_amount", 0.9, (0.1, 0.9),
                      "NAO 2018: £329m / 50 vanguards / 3 years = about £2.2m a year each, "
                      "about 0.9 of a full pilot's cost (~£2.5m, docs/sources.md); lower if "
                      "only part reached one service"),
              Setting("pm_support", 0.8, (0.4, 1.0),
                      "NAO 2018: £60m of central support; its effect on a site's project "
                      "management has no published figure"))),
    Scenario("prescriptive_national", "national",
             "Ready-made national models: less local design work, worse local fit",
             "Case: national programmes 'did not always match what was needed locally and "
             "what was already achieved'",
             (Setting("prescriptiveness", 0.8, (0.5, 1.0), "No published level"),)),
    Scenario("austerity", "national",
             "Savings before investment, scarce money, rare funding rounds",
             "Case, Discussion: 'scarce resources for transformation', 'prioritising savings "
             "over investment'",
             (Setting("savings_pressure", 0.9, (0.75, 1.0), "No published level"),
              Setting("local_investment", 0.3, (0.15, 0.45),
                      "No published level: half the case's local money"),
              Setting("funding_round_rate", 0.2, (0.0, 0.5), "No published level"),
              Setting("management_support", 0.2, (0.1, 0.3), "No published level"))),
)

_TOOLKIT = (
    Scenario("map_decisions", "toolkit",
             "Map the decision-making structure; a management lead for every clinical lead",
             "Case toolkit: 'know the decision making structure in all organisations … clarify "
             "who will make the final decisions'",
             (Setting("decision_pathway_prob", 1.0, None, _FIDELITY),
              Setting("management_lead_prob", 1.0, None, _FIDELITY))),
    Scenario("project_management", "toolkit",
             "Project-management support for every lead",
             "Case toolkit: 'check if all leaders have project management support'",
             (Setting("pm_support", 1.0, None, _FIDELITY),)),
    Scenario("feedback_meetings", "toolkit",
             "Regular meetings with feedback on action points",
             "Case toolkit: 'held regular meetings … with feedback from action points'",
             (Setting("meeting_feedback", 1.0, None, _FIDELITY),)),
    Scenario("small_wins", "toolkit",
             "Smaller tasks with celebrated successes, toward a locality pilot",
             "Case toolkit: 'divide the project into smaller tasks requiring cooperation and "
             "celebrate successes'",
             (Setting("small_tasks", True, None, _FIDELITY),
              Setting("task_size", 0.1, (0.05, 0.2),
                      "Case: 'Smaller tasks, shorter timeframe' (the small milestone size)"),
              Setting("win_boost", 0.25, (0.15, 0.35),
                      "No published level: celebrated wins lift engagement more (Amabile & "
                      "Kramer 2011, form)"))),
    Scenario("shared_vision", "toolkit",
             "An agreed shared vision and accepted roles",
             "Case toolkit: 'establish if all leaders share the vision and accept their new "
             "roles'",
             (Setting("initial_vision", 0.85, (0.7, 0.95), "No published level"),
              Setting("initial_role_clarity", 0.7, (0.5, 0.9), "No published level"))),
    Scenario("strong_clinical_leadership", "toolkit",
             "Strong clinical leadership, clear about who leads and chairs",
             "Case toolkit: 'strong clinical leadership voiced at the meetings but also "
             "clinical practice in everyday interaction'",
             (Setting("clinical_leadership", 0.85, (0.65, 0.95), "No published level"),
              Setting("leadership_clarity", 0.6, (0.45, 0.8), "No published level"))),
    Scenario("face_to_face", "toolkit",
             "Face-to-face engagement with providers to hear and address their concerns",
             "Case toolkit: 'face-to-face engagement with providers of care to collect their "
             "views and address their concerns'",
             (Setting("face_to_face", 0.9, (0.6, 1.0), _FIDELITY),)),
    Scenario("supportive_engagement", "toolkit",
             "Engagement that supports providers rather than shaming them",
             "Case toolkit: 'engagement … focused on supporting them … avoiding shaming those "
             "who do not achieve'",
             (Setting("shaming", 0.0, (0.0, 0.15), _FIDELITY),)),
)


def _toolkit_settings() -> tuple[Setting, ...]:
    merged: dict[str, Setting] = {}
    for s in _TOOLKIT:
        merged.update({setting.lever: setting for setting in s.settings})
    return tuple(merged.values())


_COMBINED = (
    Scenario("toolkit", "toolkit", "All eight local-toolkit interventions together",
             "Case, Practical implications: 'the need for practical guidelines and "
             "step-by-step toolkits to support the local leaders'",
             _toolkit_settings()),
    Scenario("stable_team", "team", "Low personnel turnover and a stable host",
             "Case: 'there have been too many personnel changes for me to feel that there is a "
             "strong leadership'; the team renamed by successive commissioners",
             (Setting("turnover_rate", 0.04, (0.03, 0.07),
                      "Below the lowest published NHS rate (doctors 6-7% a year, docs/"
                      "sources.md): a stable team"),
              Setting("host_change_rate", 0.2, (0.1, 0.4), "No published level"),
              Setting("manager_turnover", 0.1, (0.07, 0.15),
                      "A chief executive tenure of about seven years (the median is three: "
                      "King's Fund / NHS Providers 2018)"))),
)

SCENARIOS: dict[str, Scenario] = {s.name: s for s in _NATIONAL + _TOOLKIT + _COMBINED}
NATIONAL_APPROACHES: tuple[str, ...] = tuple(s.name for s in _NATIONAL)


#: Readable names of the named scenarios, for pickers, figures and reports.
LABELS: dict[str, str] = {
    "baseline": "Flexible national approach",
    "enabling_national": "Enabling national approach",
    "funded_vanguard": "Funded vanguard",
    "prescriptive_national": "Prescriptive national approach",
    "austerity": "Austerity",
    "map_decisions": "Map the decision-making structure",
    "project_management": "Project-management support",
    "feedback_meetings": "Feedback meetings",
    "small_wins": "Small wins",
    "shared_vision": "Shared vision",
    "strong_clinical_leadership": "Strong clinical leadership",
    "face_to_face": "Face-to-face engagement",
    "supportive_engagement": "Supportive engagement",
    "toolkit": "Full local toolkit",
    "stable_team": "Stable team",
}


def scenario_label(spec: str) -> str:
    """A readable name for a scenario, a ``+`` composition or a scenario file, with the
    name a command takes in brackets: "Flexible national approach (baseline)"."""
    if is_scenario_file(spec):
        return load_scenario_file(spec).labelled
    split(spec)  # an unknown name is refused
    return labelled(spec)


def described(spec: str) -> str:
    """A scenario as a report names it: "Flexible national approach (`baseline`)", a file
    by its description up to the first colon with its path; a spec that names nothing
    known (a file since moved) in backticks alone."""
    spec = str(spec).strip()
    try:
        words = load_scenario_file(spec).label if is_scenario_file(spec) else readable(spec)
    except UsageError:
        words = spec
    return f"`{spec}`" if words == spec else f"{words} (`{spec}`)"


def readable(name: str) -> str:
    """The readable name of a named scenario or a ``+`` composition ("Enabling national
    approach + Full local toolkit"); any other name (a scenario file's own) as it is."""
    parts = [part.strip() for part in str(name).split("+")]
    if not all(part in SCENARIOS for part in parts):
        return str(name).strip()
    return " + ".join(LABELS.get(part, part) for part in parts)


def labelled(name: str) -> str:
    """``readable(name)`` with the name a command takes in brackets ("Flexible national
    approach (baseline)"); a name without a label as it is."""
    words, name = readable(name), str(name).strip()
    return name if words == name else f"{words} ({name})"


def split(spec: str) -> list[str]:
    """Split ``"a+b"`` into known scenario names, or raise ``UsageError`` listing them."""
    names = [part.strip() for part in str(spec).split("+")]
    for name in names:
        if name not in SCENARIOS:
            known = ", ".join(SCENARIOS)
            raise UsageError(f"unknown scenario '{name}'; known scenarios: {known}")
    return names


def applied(setting: Setting, strength: float) -> Value:
    """A setting's value at ``strength`` (0 = the case's value, 1 = the target)."""
    param = PARAMETERS[setting.lever]
    if param.kind in ("bool", "choice"):
        return setting.target if strength > 0 else param.default
    base = float(param.default)
    value = base + strength * (float(setting.target) - base)
    return int(round(value)) if param.kind == "int" else value


def scenario_values(spec: str, strengths: Mapping[str, Any] | None = None,
                    ) -> dict[str, Value]:
    """The parameter values a (composed) scenario sets over the baseline, each scenario at
    its strength (``strengths`` by registry name ``<scenario>_strength``; default 1)."""
    strengths = strengths or {}
    values: dict[str, Value] = {}
    for name in split(spec):
        scenario = SCENARIOS[name]
        strength = float(strengths.get(scenario.strength, 1.0))
        if strength == 1.0:
            values.update(scenario.values)
        else:
            values.update({s.lever: applied(s, strength) for s in scenario.settings})
    return values


def parameters_for(spec: str = "baseline", overrides: Mapping[str, Any] | None = None,
                   ) -> dict[str, Value]:
    """Every parameter's value: defaults, then the scenario (at the strengths the
    overrides give), then the overrides."""
    checked = validate(overrides or {})
    return resolve(scenario_values(spec, checked), checked)


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

    @property
    def label(self) -> str:
        """What a person reads: a file's description up to its first colon (or its name),
        a named scenario's or composition's label (``readable``)."""
        if self.path:
            return self.description.split(":")[0].strip() or self.name
        return readable(self.name)

    @property
    def labelled(self) -> str:
        """The label with what a command takes in brackets, the name or the file:
        "Flexible national approach (baseline)", "Stop-go funding (scenarios/x.toml)"."""
        spec = self.path or self.name
        return spec if self.label == spec else f"{self.label} ({spec})"

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
    checked = validate(overrides or {})
    if is_scenario_file(spec):
        scenario = load_scenario_file(spec)
    else:
        parts = split(spec)
        scenario = ResolvedScenario(
            name=str(spec).strip(), values=scenario_values(spec, checked),
            description="; ".join(SCENARIOS[p].description for p in parts),
            source="; ".join(SCENARIOS[p].finding for p in parts))
    if not checked:
        return scenario
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
