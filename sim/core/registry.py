"""The one registry of every number that shapes the model's dynamics.

Every parameter of the model is defined here once: name, readable label, default (the
case = baseline), bounds, plausible range, unit, level, meaning and the source of the
default. The command line, the experiment files, the docs tables (``icsim params
--markdown``, docs/ODD.md §8) and the dashboard's sliders all read this registry; there is
no second list, and the model files hold no numeric constant that shapes behaviour.

Two groups, because users need the distinction:

* ``lever`` — what a policy maker or the project could set (funding, regulation,
  turnover, the toolkit's interventions);
* ``assumption`` — structural constants of the mechanisms (rates, weights, spreads),
  uncertain and fixed by no one; screened in docs/sensitivity.md and inferred by the
  calibration. Some are *structural choices* (``kind="choice"``): alternative forms of a
  mechanism, today's form the default.

``low``/``high`` are hard validity bounds; ``plausible`` is the range a screening or a
prior should span (the bounds, unless the entry says otherwise).

Sources are cited by short key; the full references are in docs/ODD.md and
``docs/sources.md``. "Case" means Kozlowska, Seda Gombau & Rea (2020), *Leadership for
integrated care: a case study*, Leadership in Health Services.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.core.errors import UsageError

Value = float | int | bool | str

LEVELS = ("system", "organisation", "team")
#: The level of the national view's assumptions: they shape `icsim national`, not a project.
NATIONAL_LEVEL = "national"
GROUPS = ("lever", "assumption")
KINDS = ("float", "int", "bool", "choice")


@dataclass(frozen=True, slots=True)
class Parameter:
    """One registry entry: its default describes the case (the baseline)."""

    name: str
    default: Value
    low: float
    high: float
    unit: str
    level: str
    meaning: str
    source: str
    kind: str = "float"  # "float" | "int" | "bool" | "choice"
    principal: bool = False  # shown as a dashboard slider and swept by the Sobol design
    group: str = "lever"  # "lever" | "assumption"
    label: str = ""  # a readable name for figures and reports
    choices: tuple[str, ...] = ()  # the alternatives of a structural choice
    plausible: tuple[float, float] | None = None  # screening / prior range; None: bounds

    @property
    def display(self) -> str:
        """The readable name (the label, or the name made readable)."""
        return self.label or self.name.replace("_", " ").capitalize()

    @property
    def axis_label(self) -> str:
        """``Readable name (unit)`` for a figure axis or a report column."""
        if self.kind in ("bool", "choice") or self.unit in ("", "switch", "choice"):
            return self.display
        return f"{self.display} ({self.unit})"

    @property
    def plausible_range(self) -> tuple[float, float]:
        """The range a screening or a prior spans (numeric kinds only)."""
        return self.plausible if self.plausible is not None else (self.low, self.high)

    @property
    def bounds_text(self) -> str:
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(f"'{c}'" for c in self.choices)
        if self.kind == "int":
            return f"an integer in [{int(self.low)}, {int(self.high)}]"
        return f"a number in [{self.low:g}, {self.high:g}]"

    def _refuse(self, value: Any) -> UsageError:
        return UsageError(f"parameter '{self.name}' must be {self.bounds_text}, got {value!r}")

    def coerce(self, value: Any) -> Value:
        """Return ``value`` as this parameter's type, or raise ``UsageError`` naming it.

        Strict, as from Python, TOML or Parquet: a number must be a number (numpy's
        included), not the string ``"0.2"``; a switch takes ``True``/``False`` (numpy
        booleans included) or 0/1. The command line's text goes through :meth:`parse`.
        """
        if self.kind == "choice":
            if isinstance(value, str) and value.strip() in self.choices:
                return value.strip()
            raise self._refuse(value)
        if self.kind == "bool":
            if isinstance(value, bool | np.bool_):
                return bool(value)
            if isinstance(value, int | float | np.integer | np.floating) and value in (0, 1):
                return bool(value)
            raise self._refuse(value)
        if isinstance(value, bool | np.bool_) or not isinstance(
                value, int | float | np.integer | np.floating):
            raise self._refuse(value)
        number = float(value)
        if self.kind == "int":
            if not number.is_integer():
                raise self._refuse(value)
            number = int(number)
        if math.isnan(number) or not (self.low <= number <= self.high):
            raise self._refuse(value)
        return number


    def parse(self, text: str) -> Value:
        """Return command-line ``text`` (``--set NAME=VALUE``) as this parameter's type."""
        text = text.strip()
        if self.kind == "bool":
            if text.lower() in _BOOL_WORDS:
                return _BOOL_WORDS[text.lower()]
            raise self._refuse(text)
        if self.kind == "choice":
            return self.coerce(text)
        try:
            number = float(text)
        except ValueError:
            raise self._refuse(text) from None
        return self.coerce(number)


_BOOL_WORDS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def _p(*args: Any, **kwargs: Any) -> Parameter:
    return Parameter(*args, **kwargs)


# Levers, and the case's own uncertain numbers (group='assumption'), by level.
_BY_LEVEL: tuple[Parameter, ...] = (
    # ------------------------------------------------------------------ system level
    _p("national_narrative", 0.85, 0, 1, "share", "system",
       "Strength of the national narrative for integration (system direction)",
       "Case, Table 1: 'expressing imperative to provide integrated care'; 33 policy "
       "documents 2006-16 promote integration", principal=False,
       plausible=(0.7, 0.95)),
    _p("regulatory_alignment", 0.15, 0, 1, "share", "system",
       "How far regulation measures the integrated service as one (1 = aligned regime)",
       "Case, 'Split regulatory system': services 'still measured against different "
       "outcomes with CQC looking at each service separately'", principal=True,
       plausible=(0.05, 0.3)),
    _p("payment_integration", 0.10, 0, 1, "share", "system",
       "How far payment is pooled across primary and specialist care (1 = integrated payment)",
       "Case, 'Inadequate payment system': funding 'remained split between primary and "
       "secondary'; payment by results", principal=True,
       plausible=(0.0, 0.25)),
    _p("incentives", 0.15, 0, 1, "share", "system",
       "How far national incentives reward collaboration rather than single services",
       "Case, 'Rhetoric and reality': 'incentives rewarded individual services (payment by "
       "result) without rewarding collaboration' (Ham & Smith 2010)", principal=True,
       plausible=(0.05, 0.3)),
    _p("funding_round_rate", 1.0, 0, 6, "rounds/year", "system",
       "Rate at which national transformation-funding rounds open to the site",
       "About one national round a year in the case's period: pioneers 2013 and 2015, "
       "vanguards 2015, STP transformation funds 2016-17, the diabetes fund 2017 (case; NAO "
       "2018; PIRU)",
       plausible=(0.5, 2.0)),
    _p("funding_award_prob", 0.25, 0, 1, "probability", "system",
       "Chance that the site is funded in a round ('some but not all local initiatives')",
       "50 vanguards from 260+ expressions of interest, ~20-25% (NAO 2018; NIHR ARC-GM)",
       principal=True,
       plausible=(0.15, 0.35)),
    _p("funding_amount", 0.4, 0, 3, "x full pilot cost", "system",
       "National funding per award, as a share of the cost of a full-scope pilot",
       "Case: the fund 'increased collaboration through MDT meetings … but was "
       "insufficient to fund full integration': less than one pilot's cost (0.4; about GBP "
       "1m an area against a full pilot's ~2.5m, NHS England 2017, docs/sources.md)",
       principal=True,
       plausible=(0.2, 0.8)),
    _p("initial_funding", 0.0, 0, 5, "x full pilot cost", "system",
       "Transformation funding granted to the site at the start by a national programme",
       "0 in the case: 'It was not one of the NHS England supported sites and therefore did "
       "not initially have additional funding'; set per site by 'icsim national'",
       plausible=(0.0, 0.5)),
    _p("policy_churn_rate", 0.33, 0, 2, "shocks/year", "system",
       "Rate of new national programmes that force the local plan to be re-thought",
       "Case: the programme 'had to be rethought to fit' the STP (one re-plan in ~3 years); "
       "Lewis et al. 2021: changing national policy hindered pilots",
       plausible=(0.2, 0.6)),
    _p("churn_rework", 0.2, 0, 1, "share of progress", "system",
       "Share of specification progress lost to rework at each policy-churn shock",
       "Assumption (no published figure); explored by sensitivity analysis",
       group="assumption", plausible=(0.1, 0.3)),
    _p("prescriptiveness", 0.0, 0, 1, "share", "system",
       "How far the nation supplies ready-made models: less local design work, worse local fit",
       "Case: national programmes 'did not always match what was needed locally'; baseline "
       "is the flexible, non-prescriptive approach (NHS England 2014b)",
       plausible=(0.0, 0.3)),
    # ------------------------------------------------------------ organisational level
    _p("ceo_support", 0.8, 0, 1, "share", "organisation",
       "Strategic support of chief executives (organisational direction)",
       "Case, Table 2: 'reassurance of support from the chief executives'; integration in "
       "all strategic objectives (2013)",
       plausible=(0.6, 0.9)),
    _p("management_support", 0.3, 0, 1, "share", "organisation",
       "Initial operational support of senior and middle managers",
       "Case, Table 2: 'support less explicit at senior and middle management levels'",
       principal=True,
       plausible=(0.15, 0.45)),
    _p("decision_pathway_prob", 0.25, 0, 1, "probability", "organisation",
       "Chance that an organisation has a decision pathway from the team to its decision makers",
       "Case, Table 2: 'no clear decision making pathway to enforce decisions made by the "
       "transformation team'", principal=True,
       plausible=(0.1, 0.5)),
    _p("management_lead_prob", 0.5, 0, 1, "probability", "organisation",
       "Chance that an organisation has a management lead matching its clinical lead (for the "
       "commissioner: a manager who carries the project inside it)",
       "Case: 'Not all clinical leads … were supported with the visible presence of their "
       "corresponding management leads'",
       plausible=(0.25, 0.75)),
    _p("pm_support", 0.25, 0, 1, "probability", "organisation",
       "Chance that an organisation gives its lead and representatives project-management "
       "support",
       "Case: 'not all of them were empowered with project management and resources'; "
       "Ham & Walsh 2013", principal=True,
       plausible=(0.1, 0.5)),
    _p("savings_pressure", 0.6, 0, 1, "share", "organisation",
       "Priority of savings over investment in the organisations",
       "Case, Discussion: 'operating in the times of prioritising savings over investment'",
       principal=True,
       plausible=(0.4, 0.8)),
    _p("risk_appetite", 0.3, 0, 1, "share", "organisation",
       "Readiness of managers to take the risk of new, unproven solutions",
       "Case, Table 1: 'challenging for some at the organisational level not ready to take a "
       "risk attached to the new solutions'",
       plausible=(0.15, 0.45)),
    _p("local_investment", 0.6, 0, 3, "x full pilot cost", "organisation",
       "Money the organisations could jointly commit at full operational support",
       "Case: 'scarce resources for transformation'; 'lacked … resources for implementation' "
       "(assumption: 0.6)",
       group="assumption", plausible=(0.3, 0.9)),
    _p("manager_turnover", 0.23, 0, 1, "per year", "organisation",
       "Annual hazard that an organisation's responsible manager changes",
       "Trust chief executive median tenure 3 years: ln2/3 = 0.23 a year "
       "(King's Fund / NHS Providers 2018)",
       plausible=(0.15, 0.35)),
    _p("host_change_rate", 0.8, 0, 4, "per year", "organisation",
       "Annual rate at which a newly appointed commissioner takes over hosting the team",
       "Case: three team names 'given to the team by a sequence of newly appointed "
       "commissioners hosting the meetings', i.e. two or three host changes in about three "
       "years: 0.67-1 a year (0.8 the midpoint; see ODD §9.1)", principal=True,
       plausible=(0.4, 1.4)),
    # ------------------------------------------------------------------ team level
    _p("team_size", 19, 6, 40, "persons", "team",
       "Members of the transformation team, clinical leads included",
       "Case: 'nearly twenty members … this number fluctuating'", kind="int",
       plausible=(15, 22)),
    _p("turnover_rate", 0.11, 0, 0.6, "per year", "team",
       "Annual leaver rate of team members (scaled by profession, see ODD)",
       "All NHS staff about 1 in 9 a year (Health Foundation 2019); nurses 9-11%, "
       "consultants 6-7%, GPs 11-18% (SOURCES)", principal=True,
       plausible=(0.06, 0.18)),
    _p("initial_engagement", 0.7, 0.1, 1, "share", "team",
       "Mean engagement of members when they join",
       "Case: 'the drive … came from those providing and those receiving diabetes care' "
       "(assumption: 0.7)",
       group="assumption", plausible=(0.5, 0.9)),
    _p("motivation_threshold", 0.35, 0, 0.9, "share", "team",
       "Mean personal threshold below which a member disengages (spread ±0.15)",
       "Repenning 2002 motivation threshold; Granovetter 1978 threshold spread "
       "(assumption: 0.35)",
       group="assumption", plausible=(0.2, 0.5)),
    _p("initial_vision", 0.65, 0, 1, "share", "team",
       "Mean agreement of a member with the shared vision when they join",
       "Case: 'everyone cares about the patient but then care about their role' "
       "(assumption: 0.65)",
       group="assumption", plausible=(0.45, 0.85)),
    _p("initial_role_clarity", 0.3, 0, 1, "share", "team",
       "Mean clarity of a member about the team's and their own role when they join",
       "Case, Table 3: 'unclear role of the transformation team', 'confusion among the team "
       "members'",
       plausible=(0.15, 0.45)),
    _p("leadership_clarity", 0.3, 0, 1, "share", "team",
       "Initial clarity of who leads and who chairs the team",
       "Case: 'Who is the leader? … a little bit of a void'; 'who would chair a meeting'",
       plausible=(0.15, 0.45)),
    _p("clinical_leadership", 0.45, 0, 1, "share", "team",
       "Strength of the clinical leads: the level leadership clarity recovers to",
       "Case: 'I don't feel that the leadership is strong'; toolkit: 'strong clinical "
       "leadership'", principal=True,
       plausible=(0.3, 0.6)),
    _p("agenda_pull", 0.03, 0, 0.5, "per month", "team",
       "Pull of competing organisational agendas on members' vision",
       "Case, 'managing competing agendas': 'clinicians … driven by respective organisational "
       "priorities' (assumption: 0.03)",
       group="assumption", plausible=(0.015, 0.045)),
    _p("meeting_feedback", 0.3, 0, 1, "share", "team",
       "How far regular meetings feed back on action points (learning between meetings)",
       "Case toolkit: 'held regular meetings … with feedback from action points', "
       "which the case recommends because its meetings lacked it: a low level, 0.3 "
       "(plausible 0.1-0.5)",
       plausible=(0.1, 0.5)),
    _p("face_to_face", 0.2, 0, 1, "share", "team",
       "Face-to-face engagement with providers, which damps competing agendas",
       "Case toolkit: 'face-to-face engagement with providers of care to collect their views "
       "and address their concerns', recommended because it was rare: 0.2 (plausible "
       "0.05-0.4)",
       plausible=(0.05, 0.4)),
    _p("shaming", 0.3, 0, 1, "share", "team",
       "How far engagement with providers shames those who do not achieve (adds frustration)",
       "Case toolkit: 'engagement … focused on supporting them … avoiding shaming', "
       "recommended because the case's engagement shamed some: 0.3 (plausible 0.1-0.5)",
       principal=True,
       plausible=(0.1, 0.5)),
    _p("progress_rate", 0.14, 0.01, 0.5, "spec/month", "team",
       "Specification progress a month of a fully attended, aligned, resourced team makes",
       "Calibrated: the case's broad project had no finished specification after 3 years; "
       "Derby's 5-practice service ran within months (SOURCES)",
       group="assumption", plausible=(0.05, 0.3)),
    _p("task_size", 0.5, 0.05, 1, "share of spec", "team",
       "Size of a visible milestone: big goals (0.5) or small tasks (0.1)",
       "Case: leaders 'focused on the final monumental goal may overlook … small-scale "
       "changes'", principal=True,
       plausible=(0.3, 0.7)),
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
       "(assumption: 24 months; not reported)", kind="int",
       group="assumption", plausible=(12, 36)),
    _p("learn_threshold", 0.45, 0, 1, "share", "team",
       "Mean frustration at which the team switches to smaller tasks (one of three triggers)",
       "Assumption calibrated to the case's switch after about three years",
       group="assumption", plausible=(0.3, 0.6)),
    _p("win_boost", 0.15, 0, 0.6, "share", "team",
       "Engagement lift of a visible small win (share of the gap to full engagement)",
       "Weick 1984; Ansell & Gash 2008; Amabile & Kramer 2011 (assumption: 0.15)",
       principal=True,
       group="assumption", plausible=(0.075, 0.225)),
    _p("frustration_rate", 0.03, 0, 0.3, "per month", "team",
       "Growth of a member's frustration per meeting without visible progress",
       "Case: 'a shared feeling that the transformation was going slowly'; Repenning 2002 "
       "(assumption: 0.03)",
       group="assumption", plausible=(0.015, 0.045)),
    _p("collapse_floor", 0.33, 0, 0.8, "share", "team",
       "Mean engagement below which the team is failing",
       "Case: 'a concern that it might come to a halt'; calibrated so that collapse is the "
       "exception, as the case's team 'kept meeting'",
       group="assumption", plausible=(0.2, 0.45)),
    _p("collapse_months", 6, 1, 36, "months", "team",
       "Consecutive months below the floor after which the team collapses",
       "Assumption (no published figure): two quarters of failed meetings", kind="int",
       group="assumption", plausible=(3, 9)),
    _p("pilot_spec_share", 0.6, 0.1, 1, "share of spec", "team",
       "Share of the full specification a small-scope (locality) pilot needs",
       "Case: 'pilot elements of the new service in one primary care locality' "
       "(assumption: 0.6)",
       group="assumption", plausible=(0.4, 0.8)),
    _p("locality_pilot_share", 0.35, 0.05, 1, "x full pilot cost", "team",
       "Cost of a locality pilot as a share of a full-scope pilot",
       "Case: 7 of 70 practices in the pilot locality; 'apply for smaller funding' "
       "(assumption: 0.35 with fixed specialist input)",
       group="assumption", plausible=(0.2, 0.5)),
    _p("evaluation_months", 24, 1, 48, "months", "team",
       "Months a pilot runs before its evaluation decides whether to commission it",
       "The national evaluation of the DH integrated care pilots assessed them over two "
       "years (RAND Europe & Ernst & Young 2012)", kind="int", plausible=(12, 24)),
    _p("n_localities", 6, 1, 20, "localities", "team",
       "Localities the service must be live in to count as integrated (county-wide)",
       "Oxfordshire CCG 'is organised into six localities' (OCCG, Your local area); the "
       "case's pilot ran in one of them", kind="int", plausible=(4, 10)),
    _p("local_budget", 0.0, 0, 5, "x full pilot cost", "organisation",
       "Extra local money the organisations commit to the project (beyond what their "
       "support gives)",
       "0 in the case: 'the project lacked … the resources for implementation'",
       plausible=(0.0, 1.0)),
    _p("pooled_budget", 0.0, 0, 5, "x full pilot cost", "organisation",
       "Budget pooled for the integrated service when it is commissioned (times payment "
       "integration)",
       "0 in the case: funding 'remained split between primary and secondary'; the Better "
       "Care Fund pooled GBP 5.3bn (PAC 2015) shows the lever exists", plausible=(0.0, 1.0)),
    _p("prior_progress", 0.0, 0, 0.9, "share of spec", "team",
       "Share of the service specification agreed before the project starts (earlier work)",
       "0 in the case: work 'began in 2014' is month 0; national programmes select sites "
       "for earlier work (Erens et al. 2017; NAO 2018)", plausible=(0.0, 0.5)),
    _p("prior_relationships", 0.0, 0, 1, "share", "team",
       "Working relationships the team brings from earlier joint work",
       "Ansell & Gash 2008: 'the prior history of conflict or cooperation'; 0 in the case",
       plausible=(0.0, 0.6)),
)

_LABELS = {
    "national_narrative": "National narrative", "regulatory_alignment": "Regulatory alignment",
    "payment_integration": "Payment integration", "incentives": "Collaboration incentives",
    "funding_round_rate": "Funding rounds", "funding_award_prob": "Funding award chance",
    "funding_amount": "Funding per award", "initial_funding": "Initial national funding",
    "policy_churn_rate": "Policy churn", "churn_rework": "Rework per policy churn",
    "prescriptiveness": "Prescriptiveness of national models",
    "ceo_support": "Chief executives' support", "management_support": "Managers' support",
    "decision_pathway_prob": "Decision pathway chance",
    "management_lead_prob": "Management lead chance",
    "pm_support": "Project-management support chance", "savings_pressure": "Savings pressure",
    "risk_appetite": "Risk appetite", "local_investment": "Local investment",
    "manager_turnover": "Manager turnover", "host_change_rate": "Host changes",
    "team_size": "Team size", "turnover_rate": "Staff turnover",
    "initial_engagement": "Initial engagement", "motivation_threshold": "Motivation threshold",
    "initial_vision": "Initial shared vision", "initial_role_clarity": "Initial role clarity",
    "leadership_clarity": "Initial leadership clarity",
    "clinical_leadership": "Clinical leadership", "agenda_pull": "Competing agendas",
    "meeting_feedback": "Meeting feedback", "face_to_face": "Face-to-face engagement",
    "shaming": "Shaming", "progress_rate": "Specification progress rate",
    "task_size": "Milestone size", "small_tasks": "Small tasks from the start",
    "learn_small_tasks": "May learn small tasks", "planned_months": "Planned framework",
    "learn_threshold": "Frustration to switch", "win_boost": "Engagement lift of a win",
    "frustration_rate": "Frustration growth", "collapse_floor": "Collapse floor",
    "collapse_months": "Months to collapse", "pilot_spec_share": "Locality pilot specification",
    "locality_pilot_share": "Locality pilot cost", "evaluation_months": "Pilot evaluation period",
    "n_localities": "Localities to roll out to", "local_budget": "Extra local budget",
    "pooled_budget": "Pooled budget", "prior_progress": "Work already done",
    "prior_relationships": "Prior joint work",
}


def _a(name: str, default: Value, low: float, high: float, unit: str, level: str, label: str,
       meaning: str, source: str, kind: str = "float",
       plausible: tuple[float, float] | None = None,
       choices: tuple[str, ...] = ()) -> Parameter:
    return Parameter(name, default, low, high, unit, level, meaning, source, kind=kind,
                     group="assumption", label=label, choices=choices, plausible=plausible)


_HALF = "Assumption (no published figure); plausible range ±50% of the default"

# Structural assumptions: the numbers inside the mechanisms (docs/ODD.md §7, §9). Defaults
# are the values the model used before they entered the registry (tests/engine/test_reference.py).
_ASSUMPTIONS: tuple[Parameter, ...] = (
    # ------------------------------------------------------------ structural choices
    _a("enablers_form", "product", 0, 0, "choice", "system", "National enablers' form",
       "How regulation and payment combine into what full integration needs: 'product' "
       "(each necessary) or 'mean' (each helps alone)",
       "Case, 'Gaps at the system level': pooled budgets help little while services are "
       "regulated apart; the 'mean' alternative tests that reading", kind="choice",
       choices=("product", "mean")),
    _a("pilot_scope", "scaled", 0, 0, "choice", "team", "Pilot scope and money",
       "How money decides a pilot: 'scaled' (the pilot's scope is the share of its cost the "
       "money covers, if at least pilot_min_scope), 'threshold' (only a fully covered pilot "
       "starts) or 'chance' (a monthly chance equal to the share covered)",
       "Case: 'The identified funding enabled support of only some elements' (scaled); "
       "the other two forms are the earlier model's", kind="choice",
       choices=("scaled", "threshold", "chance")),
    _a("local_money", "commitment", 0, 0, "choice", "organisation", "Local money",
       "How local money reaches a pilot: 'commitment' (each organisation commits its share "
       "when it approves the business case, a stock that is spent) or 'capacity' (the "
       "earlier form: a capacity re-read each month, never spent)",
       "Case: the team learned to 'apply for smaller funding'; both forms screened",
       kind="choice", choices=("commitment", "capacity")),
    _a("newcomer_climate", "inherit", 0, 0, "choice", "team", "Newcomer's climate",
       "Whether a newcomer inherits part of the team's climate (frustration, engagement) "
       "or joins as a clean slate (the earlier form)",
       "Barsade 2002: moods transfer among people in a group (inherit); Bauer et al. 2007 "
       "(socialisation); 'clean' tests the earlier form", kind="choice",
       choices=("inherit", "clean")),
    _a("evaluation_form", "chance", 0, 0, "choice", "team", "Evaluation verdict",
       "Whether a pilot's evaluation is positive with a chance equal to its evidence "
       "('chance') or when the evidence reaches evaluation_bar ('threshold')",
       "No source decides; both forms screened", kind="choice",
       choices=("chance", "threshold")),
    _a("small_task_triggers", "all", 0, 0, "choice", "team", "Triggers of the switch",
       "What may trigger the learned switch to small tasks: 'frustration' only, "
       "'frustration_overrun' (plus the leaders' recognition of an overrun) or 'all' (plus "
       "the scale-down of a stalled business case)",
       "Case: 'It took some time for the leaders to recognise …'; 'apply for smaller "
       "funding'; docs/ODD.md §14 entry 3", kind="choice",
       choices=("frustration", "frustration_overrun", "all")),
    # ------------------------------------------------------------ system
    _a("small_bid_advantage", 1.5, 1.0, 3.0, "x award chance", "system",
       "Small-bid advantage", "Award-chance multiplier for small bids after the switch",
       "Case: the team learned 'to apply for smaller funding'; value assumption",
       plausible=(1.0, 2.25)),
    _a("prescribed_speedup", 1.0, 0.0, 3.0, "x per unit", "system",
       "Speed-up by ready-made models",
       "Progress multiplier per unit of prescriptiveness (1 + this x prescriptiveness)",
       "Case: national programmes supply models; value assumption (±50%)",
       plausible=(0.5, 1.5)),
    _a("prescribed_vision_misfit", 0.3, 0.0, 1.0, "share per unit", "system",
       "Vision misfit of ready-made models",
       "Lowering of the vision ceiling per unit of prescriptiveness",
       "Case: national programmes 'did not always match what was needed locally'; "
       "value assumption (±50%)", plausible=(0.15, 0.45)),
    _a("prescribed_pilot_misfit", 0.5, 0.0, 1.0, "share per unit", "system",
       "Pilot misfit of ready-made models",
       "Lowering of pilot quality per unit of prescriptiveness", "Same passage; "
       "value assumption (±50%)", plausible=(0.25, 0.75)),
    _a("misfit_rework", 0.4, 0.0, 1.0, "share per unit", "system",
       "Rework of ready-made models",
       "Share of progress reworked at the business case per unit of prescriptiveness",
       "Same passage; value assumption (ODD §14 entry 4)", plausible=(0.2, 0.6)),
    # ------------------------------------------------------------ organisation
    _a("support_adjust", 0.1, 0.01, 1.0, "per month", "organisation", "Support adjustment",
       "Monthly adjustment of managers' support toward its target (about 10 months)",
       _HALF, plausible=(0.05, 0.15)),
    _a("w_incentives", 0.3, 0.0, 1.0, "weight", "organisation", "Weight of incentives",
       "Weight of national incentives in managers' support target",
       "Case, Table 1 / 'Rhetoric and reality'; value assumption (±50%)",
       plausible=(0.15, 0.45)),
    _a("w_regulation", 0.2, 0.0, 1.0, "weight", "organisation", "Weight of regulation",
       "Weight of regulatory alignment in managers' support target",
       "Case, 'Split regulatory system'; value assumption (±50%)", plausible=(0.1, 0.3)),
    _a("w_funding", 0.2, 0.0, 1.0, "weight", "organisation", "Weight of national money",
       "Weight of national money received in managers' support target",
       "Case, Table 1; value assumption (±50%)", plausible=(0.1, 0.3)),
    _a("w_savings", 0.35, 0.0, 1.0, "weight", "organisation", "Weight of savings pressure",
       "Weight of savings pressure x (1 - risk appetite) in managers' support target",
       "Case, Discussion: 'prioritising savings over investment'; value assumption (±50%)",
       plausible=(0.175, 0.525)),
    _a("w_team", 0.3, 0.0, 1.0, "weight", "organisation", "Weight of the team's signal",
       "Weight of the team's visible commitment in managers' support target",
       "Case, Table 2 (team decisions must reach managers); value assumption (±50%)",
       plausible=(0.15, 0.45)),
    _a("signal_base", 0.3, 0.0, 1.0, "share", "organisation", "Signal without wins",
       "The team's signal to managers without recent wins (signal = commitment x "
       "(this + recent wins))", _HALF, plausible=(0.15, 0.45)),
    _a("pathway_leak", 0.4, 0.0, 1.0, "share", "organisation", "Reach without a pathway",
       "Share of the team's signal, and of the approval rate, that gets through without a "
       "decision pathway",
       "Case, Table 2: 'no clear decision making pathway'; value assumption (±50%)",
       plausible=(0.2, 0.6)),
    _a("no_management_lead", 0.6, 0.0, 1.0, "share", "organisation",
       "Reach without a management lead",
       "Share of the team's signal heard without a matching management lead",
       "Case: clinical leads without 'corresponding management leads'; value assumption "
       "(±50%, capped at 1)", plausible=(0.3, 0.9)),
    _a("approval_rate", 1.0, 0.05, 1.0, "per month", "organisation", "Approval rate",
       "Monthly approval chance of the business case at full support with a pathway",
       "Assumption: monthly boards; plausible 0.5-1", plausible=(0.5, 1.0)),
    _a("support_spread", 0.2, 0.0, 1.0, "width", "organisation", "Spread of managers' support",
       "Width of the uniform spread of a new manager's support around management_support",
       _HALF, plausible=(0.1, 0.3)),
    _a("align_pathway_weight", 0.4, 0.0, 0.5, "weight", "organisation",
       "Alignment weight of pathways",
       "Weight of decision pathways in organisational alignment (project-management support "
       "takes 1 minus both weights)", "Case, Table 2; value assumption",
       plausible=(0.2, 0.5)),
    _a("align_lead_weight", 0.3, 0.0, 0.5, "weight", "organisation",
       "Alignment weight of management leads",
       "Weight of management leads in organisational alignment",
       "Case: 'corresponding management leads'; value assumption", plausible=(0.15, 0.45)),
    # ------------------------------------------------------------ team: turnover by profession
    _a("turnover_consultant", 0.6, 0.1, 3.0, "x staff turnover", "team",
       "Consultants' relative turnover",
       "Leaver rate of consultants (hospital lead, diabetologists) relative to all staff",
       "Doctors excl. trainees 6.3-6.7% a year vs all staff ~11% (UK Parliament WA 112582)",
       plausible=(0.5, 0.7)),
    _a("turnover_specialist_nurse", 1.3, 0.1, 3.0, "x staff turnover", "team",
       "Specialist nurses' relative turnover",
       "Leaver rate of community specialist nurses (lead and members) relative to all staff",
       "Community trusts lose staff at about twice the rate of acute teaching trusts "
       "(Health Foundation 2019); nurses 9-10% (WA 112582)", plausible=(0.9, 2.0)),
    _a("turnover_gp", 1.3, 0.1, 3.0, "x staff turnover", "team", "GPs' relative turnover",
       "Leaver rate of GPs (leads and members) relative to all staff",
       "Practice-level GP turnover, 75th percentile 11-18% (Parisi et al. 2021)",
       plausible=(1.0, 1.65)),
    _a("turnover_practice_nurse", 0.9, 0.1, 3.0, "x staff turnover", "team",
       "Practice nurses' relative turnover",
       "Leaver rate of practice nurses relative to all staff",
       "Nurses 9.0-10.1% a year (WA 112582; Nuffield Trust 2022)", plausible=(0.8, 1.05)),
    _a("turnover_commissioner", 1.5, 0.1, 3.0, "x staff turnover", "team",
       "Commissioners' relative turnover",
       "Leaver rate of commissioners and commissioning managers relative to all staff",
       "Case: 'a sequence of newly appointed commissioners'; CCG structural churn 211 -> "
       "135 (2013-20); value assumption", plausible=(1.0, 2.0)),
    # ------------------------------------------------------------ team: people
    _a("disposition_spread", 0.3, 0.0, 1.0, "width", "team", "Spread of dispositions",
       "Width of the uniform spread of a newcomer's disposition around initial_engagement",
       "Granovetter 1978: the spread of thresholds matters; value assumption (±50%)",
       plausible=(0.15, 0.45)),
    _a("threshold_spread", 0.3, 0.0, 1.0, "width", "team", "Spread of thresholds",
       "Width of the uniform spread of a newcomer's threshold around motivation_threshold",
       "Granovetter 1978; value assumption (±50%)", plausible=(0.15, 0.45)),
    _a("vision_spread", 0.3, 0.0, 1.0, "width", "team", "Spread of vision",
       "Width of the uniform spread of a newcomer's vision around initial_vision",
       _HALF, plausible=(0.15, 0.45)),
    _a("role_spread", 0.2, 0.0, 1.0, "width", "team", "Spread of role clarity",
       "Width of the uniform spread of a newcomer's role clarity around initial_role_clarity",
       _HALF, plausible=(0.1, 0.3)),
    _a("founder_knowledge", 0.5, 0.0, 1.0, "share", "team", "Founders' knowledge",
       "Project knowledge of the founding members (newcomers have none)",
       "Case: the drive came from those providing diabetes care; value assumption (±50%)",
       plausible=(0.25, 0.75)),
    _a("newcomer_vision", 0.8, 0.0, 1.0, "x founders'", "team", "Newcomers' vision",
       "Newcomers' mean vision as a share of the founders' mean",
       "Case: vulnerability to 'personnel changes … changes in the proposed model'; "
       "value assumption (ODD §14)", plausible=(0.6, 1.0)),
    _a("reopen", 0.15, 0.0, 0.5, "share", "team", "Re-opening by a newcomer",
       "Share of progress one newcomer re-opens at zero leadership clarity and shared vision",
       "Same passage; value assumption (ODD §14)", plausible=(0.075, 0.225)),
    _a("lead_loss", 0.25, 0.0, 1.0, "share", "team", "Leadership lost with a lead",
       "Share of leadership clarity lost when a clinical lead leaves",
       "Case: 'too many personnel changes for me to feel that there is a strong "
       "leadership'; value assumption (±50%)", plausible=(0.125, 0.375)),
    _a("host_leadership_loss", 0.2, 0.0, 1.0, "share", "team",
       "Leadership lost at a host change",
       "Share of leadership clarity lost when a new commissioner takes over hosting",
       "Case: the team renamed by 'newly appointed commissioners'; value assumption (±50%)",
       plausible=(0.1, 0.3)),
    _a("host_role_reset", 0.5, 0.0, 1.0, "share kept", "team",
       "Role clarity kept at a host change",
       "Share of role clarity kept when the host changes (the team renamed)",
       "Case: 'lack of clarity on the team's role … a changing name'; value assumption "
       "(±50%)", plausible=(0.25, 0.75)),
    # ------------------------------------------------------------ team: meeting
    _a("vision_rate", 0.1, 0.0, 1.0, "per month", "team", "Vision convergence",
       "Monthly convergence of an attending member's vision toward the leads', x leadership",
       _HALF, plausible=(0.05, 0.15)),
    _a("role_rate", 0.08, 0.0, 1.0, "per month", "team", "Role-clarity gain",
       "Monthly gain in role clarity at a meeting, x leadership clarity", _HALF,
       plausible=(0.04, 0.12)),
    _a("knowledge_rate", 0.15, 0.0, 1.0, "per month", "team", "Learning at a meeting",
       "Monthly learning of an attending member", _HALF, plausible=(0.075, 0.225)),
    _a("knowledge_decay", 0.03, 0.0, 0.6, "per month", "team", "Forgetting when absent",
       "Monthly knowledge loss of a member who misses the meeting",
       "Assumption: 0.03. Argote et al. 1990 report 25-45% monthly depreciation of a plant's "
       "production knowledge, which includes turnover; the model removes knowledge with "
       "leavers separately, so individual forgetting is set far lower and the plausible "
       "range reaches the published figure (ODD §9.1)", plausible=(0.0, 0.45)),
    _a("leadership_recovery", 0.05, 0.0, 1.0, "per month", "team", "Leadership recovery",
       "Monthly recovery of leadership clarity toward clinical_leadership", _HALF,
       plausible=(0.025, 0.075)),
    _a("face_to_face_damping", 0.6, 0.0, 1.0, "share", "team", "Damping by face-to-face",
       "How far face-to-face engagement damps the pull of competing agendas",
       "Case toolkit: face-to-face engagement 'to collect their views and address their "
       "concerns'; value assumption (±50%, capped at 1)", plausible=(0.3, 0.9)),
    _a("feedback_progress", 0.3, 0.0, 2.0, "x per unit", "team", "Feedback on progress",
       "Progress multiplier per unit of meeting_feedback (1 + this x feedback)", _HALF,
       plausible=(0.15, 0.45)),
    _a("feedback_role", 1.0, 0.0, 3.0, "x per unit", "team", "Feedback on role clarity",
       "Role-clarity gain multiplier per unit of meeting_feedback", _HALF,
       plausible=(0.5, 1.5)),
    _a("feedback_learning", 0.5, 0.0, 3.0, "x per unit", "team", "Feedback on learning",
       "Learning multiplier per unit of meeting_feedback", _HALF, plausible=(0.25, 0.75)),
    _a("alignment_progress_weight", 0.5, 0.0, 1.0, "weight", "team",
       "Progress weight of team alignment",
       "Weight w of team alignment in progress, as the factor (1 - w) + w x alignment",
       _HALF, plausible=(0.25, 0.75)),
    _a("pm_progress_weight", 0.4, 0.0, 1.0, "weight", "team",
       "Progress weight of project management",
       "Weight of the share of organisations with project-management support in progress",
       _HALF, plausible=(0.2, 0.6)),
    _a("support_progress_weight", 0.4, 0.0, 1.0, "weight", "team",
       "Progress weight of managers' support",
       "Weight of organisational commitment (managers' support) in progress", _HALF,
       plausible=(0.2, 0.6)),
    _a("knowledge_progress_weight", 0.4, 0.0, 1.0, "weight", "team",
       "Progress weight of knowledge",
       "Weight of attending members' mean knowledge in progress", _HALF,
       plausible=(0.2, 0.6)),
    _a("direction_progress_weight", 0.4, 0.0, 1.0, "weight", "team",
       "Progress weight of shared vision",
       "Weight of team direction (shared vision) in progress", _HALF, plausible=(0.2, 0.6)),
    _a("team_alignment_leadership_weight", 0.5, 0.0, 1.0, "weight", "team",
       "Alignment weight of leadership clarity",
       "Weight of leadership clarity in team alignment (mean role clarity takes the rest)",
       "Case, Table 3: 'who is the leader' and 'unclear role'; value assumption (±50%)",
       plausible=(0.25, 0.75)),
    # ------------------------------------------------------------ team: motivation
    _a("engagement_adjust", 0.2, 0.01, 1.0, "per month", "team", "Engagement adjustment",
       "Monthly adjustment of engagement toward motivation", _HALF, plausible=(0.1, 0.3)),
    _a("goal_gradient", 0.2, 0.0, 1.0, "share", "team", "Goal gradient",
       "Extra motivation per unit of progress as the goal nears",
       "Kivetz, Urminsky & Zheng 2006 (form); value assumption (±50%)",
       plausible=(0.1, 0.3)),
    _a("goal_support_weight", 0.5, 0.0, 1.0, "weight", "team",
       "Goal gradient's dependence on support",
       "Weight of the member's organisation's support in the goal gradient", _HALF,
       plausible=(0.25, 0.75)),
    _a("disengage", 0.5, 0.0, 1.0, "share kept", "team", "Motivation below threshold",
       "Share of motivation kept by a member below their threshold",
       "Repenning 2002 (form); value assumption (±50%)", plausible=(0.25, 0.75)),
    _a("frustration_weight", 0.6, 0.0, 1.0, "share", "team", "Weight of frustration",
       "Share of motivation that frustration can take away", _HALF, plausible=(0.3, 0.9)),
    _a("peer_weight", 0.4, 0.0, 1.0, "share", "team", "Weight of peers",
       "Share of motivation that follows peers' attendance",
       "Granovetter 1978 (form); value assumption (±50%)", plausible=(0.2, 0.6)),
    _a("shaming_frustration", 1.0, 0.0, 3.0, "x per unit", "team", "Frustration of shaming",
       "Frustration multiplier per unit of shaming (1 + this x shaming)",
       "Case toolkit: 'avoiding shaming'; value assumption (±50%)", plausible=(0.5, 1.5)),
    _a("frustration_leadership", 1.5, 1.0, 3.0, "offset", "team",
       "Frustration and leadership",
       "Frustration grows with (this - leadership clarity): clearer leadership, less "
       "frustration; at least 1 so frustration never falls without a win",
       "Case: 'I don't feel that the leadership is strong'; value assumption",
       plausible=(1.0, 2.0)),
    _a("win_relief", 0.5, 0.0, 1.0, "share", "team", "Relief of a win",
       "Share of frustration relieved by a visible win or a pilot start",
       "Amabile & Kramer 2011 (form); value assumption (±50%)", plausible=(0.25, 0.75)),
    _a("win_memory", 0.8, 0.0, 0.99, "per month", "team", "Memory of wins",
       "Monthly persistence of the team's memory of recent wins", _HALF,
       plausible=(0.6, 0.9)),
    _a("small_task", 0.1, 0.01, 0.5, "share of spec", "team", "Small milestone size",
       "Milestone size after the switch to small tasks",
       "Case: 'Smaller tasks, shorter timeframe'; value assumption (±50%)",
       plausible=(0.05, 0.15)),
    # ------------------------------------------------------------ team: gates
    _a("recognition_lag", 24, 0, 60, "months", "team", "Lag in recognising an overrun",
       "Months by which leaders' recognition of an overrun lags, at zero leadership clarity",
       "Case: 'It took some time for the leaders to recognise'; value assumption (±50%)",
       kind="int", plausible=(12, 36)),
    _a("scale_down_months", 6, 1, 36, "months", "team", "Wait before scaling down",
       "Months a full business case waits without a pilot before the team scales down",
       "Case: 'apply for smaller funding, to introduce elements of integrated care to pilot "
       "solutions'; value assumption (±50%)", kind="int", plausible=(3, 9)),
    _a("locality_ready", 0.5, 0.0, 1.0, "share", "team", "Locality readiness",
       "Engagement at which the locality's clinical lead declares readiness",
       "Case: 'declaring the locality's readiness to proceed'; value assumption (±50%)",
       plausible=(0.25, 0.75)),
    _a("pilot_boost", 0.3, 0.0, 1.0, "share", "team", "Engagement lift of a pilot",
       "Engagement lift when a pilot starts (share of the gap to full engagement)", _HALF,
       plausible=(0.15, 0.45)),
    _a("pilot_learning", 0.1, 0.01, 1.0, "per month", "team", "Pilot learning",
       "Monthly adjustment of pilot performance toward team quality", _HALF,
       plausible=(0.05, 0.15)),
    _a("pilot_quality_alignment_weight", 0.5, 0.0, 1.0, "weight", "team",
       "Pilot quality: weight of alignment",
       "Weight of team alignment in a running pilot's quality (commitment takes the rest)",
       "Earlier a fixed 0.5 (the mean); no source decides", plausible=(0.25, 0.75)),
    _a("pilot_relief", 0.5, 0.0, 1.0, "share", "team", "Relief of a pilot start",
       "Share of frustration relieved when a pilot starts",
       "Earlier the win relief; Amabile & Kramer 2011 (form); no source for the value",
       plausible=(0.25, 0.75)),
    _a("pilot_min_scope", 0.3, 0.05, 1.0, "share", "team", "Smallest pilot worth starting",
       "Least share of a pilot's cost the money must cover for a scaled pilot to start",
       "Case: the funding 'enabled support of only some elements'; no source for the value",
       plausible=(0.15, 0.6)),
    _a("churn_withdrawal", 0.0, 0.0, 1.0, "share of money", "system",
       "Money withdrawn at a re-plan",
       "Share of the project's unspent money withdrawn when a new national programme "
       "forces a re-plan",
       "Case: at the STP re-plan 'no additional resources were provided' (0); NAO 2018: "
       "transformation money diverted to deficits (up to half)", plausible=(0.0, 0.5)),
    # ------------------------------------------------------------ after the pilot (§7.12)
    _a("reevaluation_months", 6, 1, 24, "months", "team", "Re-evaluation interval",
       "Months to the next evaluation after an inconclusive one",
       "No source (half-yearly planning rounds)", kind="int", plausible=(3, 12)),
    _a("evaluation_bar", 0.5, 0.0, 1.0, "share", "team", "Evidence needed",
       "Evidence a positive evaluation needs under evaluation_form = 'threshold'",
       "No source", plausible=(0.3, 0.7)),
    _a("scope_evidence_weight", 0.5, 0.0, 1.0, "weight", "team", "Evidence and scope",
       "Weight of the pilot's scope in the evidence it gives (quality takes the rest)",
       "Health Foundation 2018, The spread challenge: a small pilot's result may not hold "
       "at scale; no source for the value", plausible=(0.25, 1.0)),
    _a("commission_rate", 0.25, 0.0, 1.0, "per month", "organisation",
       "Commissioning chance",
       "Monthly chance that commissioners commission an evaluated service, at full host "
       "support, pathway, national enablers and roll-out money",
       "Addicott 2015: commissioning integrated care 'is difficult and resource-intensive'; "
       "no source for the value", plausible=(0.1, 0.5)),
    _a("commission_enabler_weight", 1.0, 0.0, 1.0, "weight", "system",
       "Commissioning's need for national enablers",
       "Weight of aligned regulation and payment in the commissioning chance",
       "Case, 'Gaps at the system level': split regulation and payment by results keep "
       "services apart", plausible=(0.5, 1.0)),
    _a("rollout_months", 6.0, 1.0, 36.0, "months", "team", "Months per locality",
       "Mean months to bring the next locality live once the service is commissioned",
       "No source; the Health Foundation 2018 and NAO 2018 describe spread as slow",
       plausible=(3.0, 12.0)),
    # ------------------------------------------------------------ newcomers (§7.5)
    _a("climate_inherit", 0.5, 0.0, 1.0, "share", "team", "Climate inherited",
       "Share of the stayers' mean frustration and engagement a newcomer takes on",
       "Barsade 2002 (form); no source for the value", plausible=(0.2, 0.8)),
    _a("frustration_contagion", 0.05, 0.0, 0.5, "per month", "team",
       "Frustration contagion",
       "Monthly convergence of an attending member's frustration toward the attendees' mean",
       "Barsade 2002 (form); no source for the value", plausible=(0.0, 0.15)),
    _a("newcomer_knowledge", 0.0, 0.0, 1.0, "share", "team", "Newcomer's project knowledge",
       "Project knowledge a newcomer brings",
       "Case: 'too many personnel changes'; Kammeyer-Mueller & Wanberg 2003 (pre-entry "
       "knowledge helps adjustment)", plausible=(0.0, 0.2)),
    _a("newcomer_ramp_months", 5.0, 0.5, 24.0, "months", "team",
       "Time to full productivity",
       "Mean months of attended meetings for a member's ties to the team (and their "
       "contribution) to build up",
       "Rollag, Parise & Cross 2005: full productivity takes about 20 weeks for "
       "professionals", plausible=(2.0, 7.0)),
    _a("lead_ramp_months", 6.5, 0.5, 24.0, "months", "team", "Lead's time to productivity",
       "The same for a clinical lead",
       "Rollag, Parise & Cross 2005: 'more than 26 weeks for executives'",
       plausible=(4.0, 12.0)),
    _a("newcomer_productivity_floor", 0.25, 0.0, 1.0, "share", "team",
       "Newcomer's first-month contribution",
       "Contribution to progress of a member with no ties, as a share of a settled member's",
       "Rollag, Parise & Cross 2005: newcomers are 'a net drain on productivity' at first; "
       "no source for the value", plausible=(0.0, 0.5)),
    _a("founder_ties", 0.6, 0.0, 1.0, "share", "team", "Founders' ties",
       "Ties of the founding members to each other at month 0",
       "Case: the team formed by those providing and receiving diabetes care; no source "
       "for the value", plausible=(0.3, 0.9)),
    _a("tie_loss_scale", 1.0, 0.0, 3.0, "x 1/(n-1)", "team", "Ties lost per leaver",
       "Share of each stayer's ties lost when a member leaves, in units of 1/(n - 1)",
       "Lewis et al. 2007: groups after membership change rely on the structure the "
       "leavers helped build", plausible=(0.5, 2.0)),
    _a("lead_tie_loss_scale", 3.0, 1.0, 10.0, "x a member's", "team", "Ties lost per lead",
       "How many times a member's tie loss a departing clinical lead costs",
       "Hale, Ployhart & Shepherd 2016: units recover from losing an employee but not from "
       "losing a manager; no source for the value", plausible=(1.5, 5.0)),
    _a("lead_reopen_multiplier", 2.0, 1.0, 5.0, "x", "team", "Re-opening by a new lead",
       "How many times a member's re-opening a new clinical lead causes",
       "Hale et al. 2016; case: 'too many personnel changes for me to feel that there is a "
       "strong leadership'", plausible=(1.0, 3.0)),
    # ------------------------------------------------------------ members differ (§7.8)
    _a("w_loyalty", 0.5, 0.0, 1.0, "weight", "team", "Loyalty to own organisation",
       "Weight of the member's organisation's support, relative to the organisations' "
       "mean, in their motivation",
       "Case: 'clinicians … driven by respective organisational priorities'; no source for "
       "the value", plausible=(0.25, 0.75)),
    _a("w_capacity", 0.3, 0.0, 1.0, "weight", "team", "Organisational capacity to attend",
       "Weight of the member's organisation's management lead and project-management "
       "support, relative to the organisations' mean, in their attendance",
       "Case: 'not all of them were empowered with project management and resources'",
       plausible=(0.1, 0.5)),
    _a("patient_seat_support", 1.0, 0.0, 1.0, "share", "team",
       "Backing of the patients' seat",
       "Support behind the patient representative, who has no organisation's agenda",
       "Case: 'The drive … came from … those receiving diabetes care'; earlier fixed at 1",
       plausible=(0.6, 1.0)),
    _a("disposition_floor", 0.05, 0.0, 0.3, "share", "team", "Least disposition",
       "Floor of a member's disposition to engage (everyone can still engage)",
       "Earlier fixed at 0.05; no source", plausible=(0.0, 0.1)),
    _a("threshold_ceiling", 0.95, 0.5, 1.0, "share", "team", "Highest threshold",
       "Ceiling of a member's motivation threshold (everyone can still be motivated)",
       "Earlier fixed at 0.95; no source", plausible=(0.85, 1.0)),
)

# The national view's country (sim/national.py): how sites differ, and what a programme
# funds. They shape `icsim national` only, not one project: experiment files refuse them.
_NATIONAL: tuple[Parameter, ...] = (
    _a("national_funded_share", 0.22, 0.01, 1.0, "share of sites", "national",
       "Funded share of sites", "Share of sites a competitive or targeted programme funds",
       "50 vanguards from 260+ expressions of interest, ~20-25% (NAO 2018; NIHR ARC-GM)",
       plausible=(0.15, 0.3)),
    _a("national_budget_per_site", 0.22, 0.0, 5.0, "x full pilot cost", "national",
       "National budget per site",
       "Default national budget per site: the funded fifth gets about one full pilot's cost",
       "Assumption tied to the funded share; NAO 2018: GBP 329m for 50 vanguards",
       plausible=(0.05, 0.5)),
    _a("site_team_size_sd", 4.0, 0.0, 10.0, "persons", "national", "Spread of team sizes",
       "Standard deviation of sites' team sizes around team_size (clipped to 8-30)",
       "Case: 'nearly twenty members … this number fluctuating'; spread an assumption",
       plausible=(2.0, 6.0)),
    _a("site_turnover_log_sd", 0.25, 0.0, 1.0, "log units", "national",
       "Spread of turnover rates",
       "Standard deviation of log turnover across sites around turnover_rate (clipped to "
       "3-40% a year)",
       "Health Foundation 2019: community trusts lose staff at about twice the acute rate; "
       "10-90% range about 8-15% a year", plausible=(0.15, 0.4)),
    _a("site_leadership_sd", 0.15, 0.01, 0.3, "share", "national",
       "Spread of clinical leadership",
       "Standard deviation of sites' clinical_leadership (beta around the case's value)",
       _HALF, plausible=(0.075, 0.225)),
    _a("site_support_sd", 0.1, 0.01, 0.2, "share", "national", "Spread of managers' support",
       "Standard deviation of sites' management_support (beta around the case's value)",
       _HALF, plausible=(0.05, 0.15)),
    _a("site_prior_work_mean", 0.15, 0.0, 0.9, "share", "national", "Mean prior work",
       "Mean of sites' earlier joint work (beta): their prior relationships, and a share "
       "prior_progress_scale of it as work already done",
       "No published figure; Pioneers and vanguards were chosen for earlier work (Erens "
       "et al. 2017; NAO 2018)", plausible=(0.05, 0.3)),
    _a("site_prior_work_sd", 0.1, 0.01, 0.3, "share", "national", "Spread of prior work",
       "Standard deviation of sites' prior work (beta)", "No published figure",
       plausible=(0.05, 0.2)),
    _a("prior_progress_scale", 0.5, 0.0, 0.9, "share of spec", "national",
       "Progress at full prior work",
       "Share of the specification already agreed at a site with full prior work",
       "No published figure", plausible=(0.3, 0.7)),
    _a("site_vision_sd", 0.1, 0.01, 0.2, "share", "national", "Spread of starting vision",
       "Standard deviation of sites' initial_vision (beta around the case's value)",
       _HALF, plausible=(0.05, 0.15)),
)

#: The named scenarios (sim/core/scenarios.py; a test checks the two lists agree).
SCENARIO_NAMES = ("enabling_national", "funded_vanguard", "prescriptive_national", "austerity",
                  "map_decisions", "project_management", "feedback_meetings", "small_wins",
                  "shared_vision", "strong_clinical_leadership", "face_to_face",
                  "supportive_engagement", "toolkit", "stable_team")
#: The level of the scenarios' strengths: they act through a named scenario only.
SCENARIO_LEVEL = "scenario"

# How strongly a named scenario is applied: 0 leaves the case's values, 1 applies its
# targets (sim/core/scenarios.py), so a sweep can ask how strong an approach must be.
_STRENGTHS: tuple[Parameter, ...] = tuple(
    Parameter(f"{name}_strength", 1.0, 0.0, 1.0, "share", SCENARIO_LEVEL,
              f"How fully the '{name}' scenario is applied (0: the case's values, 1: its "
              "targets); acts only when the scenario is named",
              "No published figure for how fully an approach is implemented; the plausible "
              "range spans half to full implementation", group="lever",
              label=f"Strength of {name.replace('_', ' ')}", plausible=(0.5, 1.0))
    for name in SCENARIO_NAMES)

_REGISTRY: tuple[Parameter, ...] = tuple(
    dataclasses.replace(p, label=_LABELS[p.name]) for p in _BY_LEVEL
) + _ASSUMPTIONS + _NATIONAL + _STRENGTHS


PARAMETERS: dict[str, Parameter] = {p.name: p for p in _REGISTRY}


def defaults() -> dict[str, Value]:
    """The baseline (the case): every parameter at its default."""
    return {p.name: p.default for p in _REGISTRY}


def principal() -> list[Parameter]:
    """The principal levers of all levels: dashboard sliders and the Sobol design."""
    return [p for p in _REGISTRY if p.principal]


def random_point(generator: np.random.Generator,
                 names: list[str] | None = None) -> dict[str, Value]:
    """Values drawn uniformly over the plausible ranges (switches and choices uniformly
    over their values) for ``names`` (default: every entry): a random point of the model's
    parameter space, for tests and benchmarks."""
    values: dict[str, Value] = {}
    for name in names if names is not None else list(PARAMETERS):
        p = PARAMETERS[name]
        if p.kind == "bool":
            values[name] = bool(generator.random() < 0.5)
        elif p.kind == "choice":
            values[name] = p.choices[int(generator.integers(len(p.choices)))]
        else:
            low, high = p.plausible_range
            x = low + (high - low) * generator.random()
            values[name] = int(round(x)) if p.kind == "int" else float(x)
    return values


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
    return name, PARAMETERS[name].parse(raw)


def in_group(group: str | None = None) -> list[Parameter]:
    """The registry's entries, all or one group (``lever`` or ``assumption``)."""
    if group is not None and group not in GROUPS:
        raise UsageError(f"unknown group {group!r}; groups: {', '.join(GROUPS)}")
    return [p for p in _REGISTRY if group is None or p.group == group]


def _text(value: Value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return value
    return f"{value:g}"


def table_rows(group: str | None = None) -> list[dict[str, str]]:
    """The registry as rows of text, for the CLI table and the docs."""
    rows = []
    for p in in_group(group):
        if p.kind == "bool":
            bounds = plausible = "switch"
        elif p.kind == "choice":
            bounds = plausible = " / ".join(p.choices)
        else:
            bounds = f"[{p.low:g}, {p.high:g}]"
            lo, hi = p.plausible_range
            plausible = f"[{lo:g}, {hi:g}]"
        rows.append({"name": p.name, "group": p.group, "level": p.level, "label": p.display,
                     "default": _text(p.default), "bounds": bounds, "plausible": plausible,
                     "unit": p.unit, "meaning": p.meaning, "source": p.source})
    return rows


def markdown_table(group: str | None = None) -> str:
    """The registry (or one group) as a Markdown table; docs/ODD.md §8 embeds both groups
    between generated-table markers, and a test keeps them equal."""
    rows = table_rows(group)
    head = "| name | level | default | bounds | plausible | unit | meaning | source |"
    lines = [head, "|" + "---|" * 8]
    for r in rows:
        cells = [f"`{r['name']}`", r["level"], r["default"], r["bounds"], r["plausible"],
                 r["unit"], r["meaning"], r["source"]]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


_MARK = "<!-- registry:{group} (generated by 'make docs' from sim/core/registry.py) -->"
_END = "<!-- /registry:{group} -->"


def render_doc_tables(text: str) -> str:
    """Replace the generated registry tables in a Markdown document (docs/ODD.md).

    Each group's table sits between its two markers; the text outside them is kept.
    Raises ``ValueError`` when a marker is missing, so the docs cannot silently drift.
    """
    for group in GROUPS:
        start, end = _MARK.format(group=group), _END.format(group=group)
        if start not in text or end not in text:
            raise ValueError(f"the document has no markers for the {group} table: {start}")
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{start}\n{markdown_table(group)}\n{end}{tail}"
    return text
