"""The one registry of levers.

Every parameter of the model is defined here once: name, default (the case = baseline),
bounds, unit, level, meaning and the source of the default. The command line, the
experiment files, the docs table (``icsim params --markdown``) and the dashboard's sliders
all read this registry; there is no second list.

Sources are cited by short key; the full references are in docs/ODD.md and
``shared/SOURCES.md``. "Case" means Kozlowska, Seda Gombau & Rea (2020), *Leadership for
integrated care: a case study*, Leadership in Health Services.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sim.errors import UsageError

Value = float | int | bool

LEVELS = ("system", "organisation", "team")


@dataclass(frozen=True, slots=True)
class Parameter:
    """One lever: its default describes the case (the baseline)."""

    name: str
    default: Value
    low: float
    high: float
    unit: str
    level: str
    meaning: str
    source: str
    kind: str = "float"  # "float" | "int" | "bool"
    principal: bool = False  # shown as a dashboard slider and swept by the Sobol design

    @property
    def bounds_text(self) -> str:
        if self.kind == "bool":
            return "true or false"
        if self.kind == "int":
            return f"an integer in [{int(self.low)}, {int(self.high)}]"
        return f"a number in [{self.low:g}, {self.high:g}]"

    def coerce(self, value: Any) -> Value:
        """Return ``value`` as this parameter's type, or raise ``ValueError`` naming it."""
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
                return _BOOL_WORDS[value.strip().lower()]
            if isinstance(value, int | float) and value in (0, 1):
                return bool(value)
            raise UsageError(f"parameter '{self.name}' must be {self.bounds_text}, got {value!r}")
        if isinstance(value, bool):
            raise UsageError(f"parameter '{self.name}' must be {self.bounds_text}, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise UsageError(
                f"parameter '{self.name}' must be {self.bounds_text}, got {value!r}"
            ) from None
        if self.kind == "int":
            if not number.is_integer():
                raise UsageError(
                    f"parameter '{self.name}' must be {self.bounds_text}, got {value!r}"
                )
            number = int(number)
        if math.isnan(number) or not (self.low <= number <= self.high):
            raise UsageError(f"parameter '{self.name}' must be {self.bounds_text}, got {value!r}")
        return number


_BOOL_WORDS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def _p(*args: Any, **kwargs: Any) -> Parameter:
    return Parameter(*args, **kwargs)


_REGISTRY: tuple[Parameter, ...] = (
    # ------------------------------------------------------------------ system level
    _p("national_narrative", 0.85, 0, 1, "share", "system",
       "Strength of the national narrative for integration (system direction)",
       "Case, Table 1: 'expressing imperative to provide integrated care'; 33 policy "
       "documents 2006-16 promote integration", principal=False),
    _p("regulatory_alignment", 0.15, 0, 1, "share", "system",
       "How far regulation measures the integrated service as one (1 = aligned regime)",
       "Case, 'Split regulatory system': services 'still measured against different "
       "outcomes with CQC looking at each service separately'", principal=True),
    _p("payment_integration", 0.10, 0, 1, "share", "system",
       "How far payment is pooled across primary and specialist care (1 = integrated payment)",
       "Case, 'Inadequate payment system': funding 'remained split between primary and "
       "secondary'; payment by results", principal=True),
    _p("incentives", 0.15, 0, 1, "share", "system",
       "How far national incentives reward collaboration rather than single services",
       "Case, 'Rhetoric and reality': 'incentives rewarded individual services (payment by "
       "result) without rewarding collaboration' (Ham & Smith 2010)", principal=True),
    _p("funding_round_rate", 1.0, 0, 6, "rounds/year", "system",
       "Rate at which national transformation-funding rounds open to the site",
       "About one national round a year in the case's period: pioneers 2013 and 2015, "
       "vanguards 2015, STP transformation funds 2016-17, the diabetes fund 2017 (case; NAO "
       "2018; PIRU)"),
    _p("funding_award_prob", 0.25, 0, 1, "probability", "system",
       "Chance that the site is funded in a round ('some but not all local initiatives')",
       "50 vanguards from 260+ expressions of interest, ~20-25% (NAO 2018; NIHR ARC-GM)",
       principal=True),
    _p("funding_amount", 0.4, 0, 3, "x full pilot cost", "system",
       "National funding per award, as a share of the cost of a full-scope pilot",
       "Case: the fund 'increased collaboration through MDT meetings … but was "
       "insufficient to fund full integration' (assumption: 0.4)", principal=True),
    _p("initial_funding", 0.0, 0, 5, "x full pilot cost", "system",
       "Transformation funding granted to the site at the start by a national programme",
       "0 in the case: 'It was not one of the NHS England supported sites and therefore did "
       "not initially have additional funding'; set per site by 'icsim national'"),
    _p("policy_churn_rate", 0.33, 0, 2, "shocks/year", "system",
       "Rate of new national programmes that force the local plan to be re-thought",
       "Case: the programme 'had to be rethought to fit' the STP (one re-plan in ~3 years); "
       "Lewis et al. 2021: changing national policy hindered pilots"),
    _p("churn_rework", 0.2, 0, 1, "share of progress", "system",
       "Share of specification progress lost to rework at each policy-churn shock",
       "Assumption (no published figure); explored by sensitivity analysis"),
    _p("prescriptiveness", 0.0, 0, 1, "share", "system",
       "How far the nation supplies ready-made models: less local design work, worse local fit",
       "Case: national programmes 'did not always match what was needed locally'; baseline "
       "is the flexible, non-prescriptive approach (NHS England 2014b)"),
    # ------------------------------------------------------------ organisational level
    _p("ceo_support", 0.8, 0, 1, "share", "organisation",
       "Strategic support of chief executives (organisational direction)",
       "Case, Table 2: 'reassurance of support from the chief executives'; integration in "
       "all strategic objectives (2013)"),
    _p("management_support", 0.3, 0, 1, "share", "organisation",
       "Initial operational support of senior and middle managers",
       "Case, Table 2: 'support less explicit at senior and middle management levels'",
       principal=True),
    _p("decision_pathway_prob", 0.25, 0, 1, "probability", "organisation",
       "Chance that an organisation has a decision pathway from the team to its decision makers",
       "Case, Table 2: 'no clear decision making pathway to enforce decisions made by the "
       "transformation team'", principal=True),
    _p("management_lead_prob", 0.5, 0, 1, "probability", "organisation",
       "Chance that an organisation has a management lead matching its clinical lead (for the "
       "commissioner: a manager who carries the project inside it)",
       "Case: 'Not all clinical leads … were supported with the visible presence of their "
       "corresponding management leads'"),
    _p("pm_support", 0.25, 0, 1, "probability", "organisation",
       "Chance that an organisation gives its lead and representatives project-management "
       "support",
       "Case: 'not all of them were empowered with project management and resources'; "
       "Ham & Walsh 2013", principal=True),
    _p("savings_pressure", 0.6, 0, 1, "share", "organisation",
       "Priority of savings over investment in the organisations",
       "Case, Discussion: 'operating in the times of prioritising savings over investment'",
       principal=True),
    _p("risk_appetite", 0.3, 0, 1, "share", "organisation",
       "Readiness of managers to take the risk of new, unproven solutions",
       "Case, Table 1: 'challenging for some at the organisational level not ready to take a "
       "risk attached to the new solutions'"),
    _p("local_investment", 0.6, 0, 3, "x full pilot cost", "organisation",
       "Money the organisations could jointly commit at full operational support",
       "Case: 'scarce resources for transformation'; 'lacked … resources for implementation' "
       "(assumption: 0.6)"),
    _p("manager_turnover", 0.23, 0, 1, "per year", "organisation",
       "Annual hazard that an organisation's responsible manager changes",
       "Trust chief executive median tenure 3 years: ln2/3 = 0.23 a year "
       "(King's Fund / NHS Providers 2018)"),
    _p("host_change_rate", 0.8, 0, 4, "per year", "organisation",
       "Annual rate at which a newly appointed commissioner takes over hosting the team",
       "Case: the team renamed three times 'by a sequence of newly appointed commissioners'; "
       "CCG structural churn 211 -> 135 (2013-20)", principal=True),
    # ------------------------------------------------------------------ team level
    _p("team_size", 19, 6, 40, "persons", "team",
       "Members of the transformation team, clinical leads included",
       "Case: 'nearly twenty members … this number fluctuating'", kind="int"),
    _p("turnover_rate", 0.11, 0, 0.6, "per year", "team",
       "Annual leaver rate of team members (scaled by profession, see ODD)",
       "All NHS staff about 1 in 9 a year (Health Foundation 2019); nurses 9-11%, "
       "consultants 6-7%, GPs 11-18% (SOURCES)", principal=True),
    _p("initial_engagement", 0.7, 0.1, 1, "share", "team",
       "Mean engagement of members when they join",
       "Case: 'the drive … came from those providing and those receiving diabetes care' "
       "(assumption: 0.7)"),
    _p("motivation_threshold", 0.35, 0, 0.9, "share", "team",
       "Mean personal threshold below which a member disengages (spread ±0.15)",
       "Repenning 2002 motivation threshold; Granovetter 1978 threshold spread "
       "(assumption: 0.35)"),
    _p("initial_vision", 0.65, 0, 1, "share", "team",
       "Mean agreement of a member with the shared vision when they join",
       "Case: 'everyone cares about the patient but then care about their role' "
       "(assumption: 0.65)"),
    _p("initial_role_clarity", 0.3, 0, 1, "share", "team",
       "Mean clarity of a member about the team's and their own role when they join",
       "Case, Table 3: 'unclear role of the transformation team', 'confusion among the team "
       "members'"),
    _p("leadership_clarity", 0.3, 0, 1, "share", "team",
       "Initial clarity of who leads and who chairs the team",
       "Case: 'Who is the leader? … a little bit of a void'; 'who would chair a meeting'"),
    _p("clinical_leadership", 0.45, 0, 1, "share", "team",
       "Strength of the clinical leads: the level leadership clarity recovers to",
       "Case: 'I don't feel that the leadership is strong'; toolkit: 'strong clinical "
       "leadership'", principal=True),
    _p("agenda_pull", 0.03, 0, 0.5, "per month", "team",
       "Pull of competing organisational agendas on members' vision",
       "Case, 'managing competing agendas': 'clinicians … driven by respective organisational "
       "priorities' (assumption: 0.03)"),
    _p("meeting_feedback", 0.3, 0, 1, "share", "team",
       "How far regular meetings feed back on action points (learning between meetings)",
       "Case toolkit: 'held regular meetings … with feedback from action points' "
       "(assumption: 0.3)"),
    _p("face_to_face", 0.2, 0, 1, "share", "team",
       "Face-to-face engagement with providers, which damps competing agendas",
       "Case toolkit: 'face-to-face engagement with providers of care to collect their views "
       "and address their concerns' (assumption: 0.2)"),
    _p("shaming", 0.3, 0, 1, "share", "team",
       "How far engagement with providers shames those who do not achieve (adds frustration)",
       "Case toolkit: 'engagement … focused on supporting them … avoiding shaming' "
       "(assumption: 0.3)", principal=True),
    _p("progress_rate", 0.14, 0.01, 0.5, "spec/month", "team",
       "Specification progress a month of a fully attended, aligned, resourced team makes",
       "Calibrated: the case's broad project had no finished specification after 3 years; "
       "Derby's 5-practice service ran within months (SOURCES)"),
    _p("task_size", 0.5, 0.05, 1, "share of spec", "team",
       "Size of a visible milestone: big goals (0.5) or small tasks (0.1)",
       "Case: leaders 'focused on the final monumental goal may overlook … small-scale "
       "changes'", principal=True),
    _p("small_tasks", False, 0, 1, "switch", "team",
       "Work in small tasks toward a locality pilot from the start",
       "Case: 'Smaller tasks, shorter timeframe, something positive coming out of it'",
       kind="bool"),
    _p("learn_small_tasks", True, 0, 1, "switch", "team",
       "Whether the team may learn to switch to small tasks (when frustrated, when its leaders "
       "see the project overrun, or when a full business case stalls), as the case's did",
       "Case: 'It took some time for the leaders to recognise …' then switched after ~3 years",
       kind="bool"),
    _p("planned_months", 24, 6, 60, "months", "team",
       "The project's initial framework: overrunning it prompts leaders to rethink the approach",
       "Case: 'prolonging life of the project beyond initially proposed framework' "
       "(assumption: 24 months; not reported)", kind="int"),
    _p("learn_threshold", 0.45, 0, 1, "share", "team",
       "Mean frustration at which the team switches to smaller tasks (one of three triggers)",
       "Assumption calibrated to the case's switch after about three years"),
    _p("win_boost", 0.15, 0, 0.6, "share", "team",
       "Engagement lift of a visible small win (share of the gap to full engagement)",
       "Weick 1984; Ansell & Gash 2008; Amabile & Kramer 2011 (assumption: 0.15)",
       principal=True),
    _p("frustration_rate", 0.03, 0, 0.3, "per month", "team",
       "Growth of a member's frustration per meeting without visible progress",
       "Case: 'a shared feeling that the transformation was going slowly'; Repenning 2002 "
       "(assumption: 0.03)"),
    _p("collapse_floor", 0.33, 0, 0.8, "share", "team",
       "Mean engagement below which the team is failing",
       "Case: 'a concern that it might come to a halt'; calibrated so that collapse is the "
       "exception, as the case's team 'kept meeting'"),
    _p("collapse_months", 6, 1, 36, "months", "team",
       "Consecutive months below the floor after which the team collapses",
       "Assumption (no published figure): two quarters of failed meetings", kind="int"),
    _p("pilot_spec_share", 0.6, 0.1, 1, "share of spec", "team",
       "Share of the full specification a small-scope (locality) pilot needs",
       "Case: 'pilot elements of the new service in one primary care locality' "
       "(assumption: 0.6)"),
    _p("locality_pilot_share", 0.35, 0.05, 1, "x full pilot cost", "team",
       "Cost of a locality pilot as a share of a full-scope pilot",
       "Case: 7 of 70 practices in the pilot locality; 'apply for smaller funding' "
       "(assumption: 0.35 with fixed specialist input)"),
    _p("pilot_months", 12, 1, 48, "months", "team",
       "Months a pilot must run well before full integration can follow",
       "Integrated care pilots were evaluated over two years (RAND Europe 2012); "
       "assumption: 12 months", kind="int"),
)

PARAMETERS: dict[str, Parameter] = {p.name: p for p in _REGISTRY}


def defaults() -> dict[str, Value]:
    """The baseline (the case): every parameter at its default."""
    return {p.name: p.default for p in _REGISTRY}


def principal() -> list[Parameter]:
    """The principal levers of all levels: dashboard sliders and the Sobol design."""
    return [p for p in _REGISTRY if p.principal]


def unknown_message(name: str) -> str:
    known = ", ".join(PARAMETERS)
    return f"unknown parameter '{name}'; known parameters: {known}"


def validate(values: Mapping[str, Any]) -> dict[str, Value]:
    """Check names, types and bounds; return the values coerced to their types.

    Raises ``ValueError`` with a one-line message naming the culprit and what is allowed.
    """
    checked: dict[str, Value] = {}
    for name, value in values.items():
        if name not in PARAMETERS:
            raise UsageError(unknown_message(name))
        checked[name] = PARAMETERS[name].coerce(value)
    return checked


def resolve(*layers: Mapping[str, Any]) -> dict[str, Value]:
    """Defaults, then each layer of overrides in turn (e.g. scenario, then ``--set``)."""
    values = defaults()
    for layer in layers:
        values.update(validate(layer))
    return values


def parse_assignment(text: str) -> tuple[str, Value]:
    """Parse ``NAME=VALUE`` from the command line into a validated pair."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise UsageError(f"--set expects NAME=VALUE, got {text!r}")
    if name not in PARAMETERS:
        raise UsageError(unknown_message(name))
    return name, PARAMETERS[name].coerce(raw.strip())


def table_rows() -> list[dict[str, str]]:
    """The registry as rows of text, for the CLI table and the docs."""
    rows = []
    for p in _REGISTRY:
        default = str(p.default).lower() if p.kind == "bool" else f"{p.default:g}"
        bounds = "switch" if p.kind == "bool" else f"[{p.low:g}, {p.high:g}]"
        rows.append({"name": p.name, "level": p.level, "default": default, "bounds": bounds,
                     "unit": p.unit, "meaning": p.meaning, "source": p.source})
    return rows


def markdown_table() -> str:
    """The registry as a Markdown table (docs/ODD.md embeds it)."""
    rows = table_rows()
    head = "| name | level | default | bounds | unit | meaning | source |"
    lines = [head, "|" + "---|" * 7]
    for r in rows:
        cells = [f"`{r['name']}`", r["level"], r["default"], r["bounds"], r["unit"],
                 r["meaning"], r["source"]]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)
