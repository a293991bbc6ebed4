"""How one project's parameters and state are laid out for the compiled submodels.

Parameters travel as a numpy record (``PARAM_DTYPE``: one float64 field per registry
entry, switches as 0/1 and structural choices as the index of the choice), so compiled
code reads them by name: ``p.vision_rate``. State lives in a handful of arrays whose rows
are named by the index constants below; the Mesa engine's agents are views of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sim.core.registry import PARAMETERS
from sim.core.team import LEAD_ROLES, LOCALITY_LEAD_SLOT, MEMBER_ROLES, ORGANISATIONS, PATIENTS

PARAM_DTYPE = np.dtype([(name, np.float64) for name in PARAMETERS])


def choice_index(name: str, value: str) -> int:
    """The code of a structural choice's value in ``PARAM_DTYPE``."""
    return PARAMETERS[name].choices.index(value)


# Codes of the structural choices the submodels test.
ENABLERS_MEAN = choice_index("enablers_form", "mean")
SCOPE_THRESHOLD = choice_index("pilot_scope", "threshold")
SCOPE_CHANCE = choice_index("pilot_scope", "chance")
LOCAL_CAPACITY = choice_index("local_money", "capacity")
CLIMATE_INHERIT = choice_index("newcomer_climate", "inherit")
EVALUATION_THRESHOLD = choice_index("evaluation_form", "threshold")
TRIGGERS_OVERRUN = (choice_index("small_task_triggers", "frustration_overrun"),
                    choice_index("small_task_triggers", "all"))
TRIGGERS_ALL = choice_index("small_task_triggers", "all")


def pack(values: Mapping[str, Any], out: np.ndarray | None = None) -> np.ndarray:
    """A complete, validated parameter dict as a ``PARAM_DTYPE`` record (0-d array)."""
    record = np.zeros((), dtype=PARAM_DTYPE) if out is None else out
    for name, param in PARAMETERS.items():
        value = values[name]
        record[name] = param.choices.index(value) if param.kind == "choice" else float(value)
    return record


def pack_many(rows: list[Mapping[str, Any]]) -> np.ndarray:
    """Many parameter dicts as a ``PARAM_DTYPE`` array."""
    out = np.zeros(len(rows), dtype=PARAM_DTYPE)
    for name, param in PARAMETERS.items():
        if param.kind == "choice":
            out[name] = [param.choices.index(row[name]) for row in rows]
        else:
            out[name] = [float(row[name]) for row in rows]
    return out


# ---------------------------------------------------------------- the team's seats
# Seat s holds role ROLES[s] for s < 4 (the leads), then the member roles in turn.
N_LEADS = len(LEAD_ROLES)
TURNOVER_GROUPS = ("staff", "consultant", "specialist_nurse", "gp", "practice_nurse",
                   "commissioner")
ROLE_ORG = np.array([r.organisation for r in LEAD_ROLES + MEMBER_ROLES], dtype=np.int64)
ROLE_GROUP = np.array([TURNOVER_GROUPS.index(r.turnover_group)
                       for r in LEAD_ROLES + MEMBER_ROLES], dtype=np.int64)
N_MEMBER_ROLES = len(MEMBER_ROLES)
N_ORGS = len(ORGANISATIONS)
LOCALITY_LEAD = LOCALITY_LEAD_SLOT
assert PATIENTS == N_ORGS  # the patients' seat follows the organisations in `support`

# ---------------------------------------------------------------- float scalars: g[...]
# Money (ODD §7.11), in units of a full-scope pilot's cost: G_POT is the project's unspent
# money; G_FUNDING_RECEIVED (national), G_LOCAL_COMMITTED, G_POOLED, G_WITHDRAWN and G_SPENT
# are running totals, so POT = RECEIVED + LOCAL_COMMITTED + POOLED - WITHDRAWN - SPENT.
(G_PROGRESS, G_LEADERSHIP, G_TASK_SIZE, G_NEXT_MILESTONE, G_RECENT_WINS, G_PILOT_PERF,
 G_POT, G_FUNDING_RECEIVED, G_ENGAGEMENT_SUM, G_PM_SHARE, G_ORG_DIRECTION,
 G_ORG_ALIGNMENT, G_ROUND_PROB, G_CHURN_PROB, G_HOST_HAZARD, G_MANAGER_HAZARD,
 G_K_PROGRESS, G_K_CEILING, G_K_PULL, G_K_ROLE, G_K_LEARN, G_K_FRUSTRATION,
 G_LOCAL_COMMITTED, G_POOLED, G_WITHDRAWN, G_SPENT, G_SCOPE, G_K_TIES_MEMBER, G_K_TIES_LEAD,
 G_ROLLOUT_PROB, G_N) = range(31)

# ---------------------------------------------------------------- int scalars: c[...]
(C_SMALL_MODE, C_LOW_MONTHS, C_SMALL_WINS, C_TURNOVER_EVENTS, C_HOST_CHANGES,
 C_MANAGER_CHANGES, C_POLICY_CHURNS, C_FUNDING_ROUNDS, C_BUSINESS_CASE, C_PILOT,
 C_INTEGRATED, C_COLLAPSE, C_SMALL_TASKS, C_RUNNING, C_MONTHS_RUN, C_EVENTS,
 C_LEAVERS, C_MANAGERS_REPLACED, C_EVALUATED, C_COMMISSIONED, C_LOCALITIES,
 C_NEXT_EVALUATION, C_PILOT_LOCALITIES, C_N) = range(24)
NOT_YET = -1  # a gate month not reached
#: Where each integer summary field lives, in the order of ``sim.core.outputs.INT_FIELDS``
#: (gate months, then counts).
INT_SOURCES = (C_PILOT, C_INTEGRATED, C_COLLAPSE, C_BUSINESS_CASE, C_SMALL_TASKS,
               C_EVALUATED, C_COMMISSIONED, C_TURNOVER_EVENTS, C_HOST_CHANGES,
               C_MANAGER_CHANGES, C_POLICY_CHURNS, C_SMALL_WINS, C_LOCALITIES)

# Events of the month (bits of c[C_EVENTS]), in the order the month meets them.
EVENT_NAMES = ("funding", "policy_churn", "host_change", "manager_change", "turnover",
               "small_win", "small_tasks", "business_case", "pilot", "collapse",
               "evaluated", "commissioned", "locality_live", "integrated")
(E_FUNDING, E_POLICY_CHURN, E_HOST_CHANGE, E_MANAGER_CHANGE, E_TURNOVER, E_SMALL_WIN,
 E_SMALL_TASKS, E_BUSINESS_CASE, E_PILOT, E_COLLAPSE, E_EVALUATED, E_COMMISSIONED,
 E_LOCALITY_LIVE, E_INTEGRATED) = (1 << i for i in range(len(EVENT_NAMES)))

# ---------------------------------------------------------------- the month's draws: u[...]
# Every running month draws ``month_draws(n)`` uniforms from the model's stream, in this
# order; the order is part of the model (both engines read the same slots), so a new draw
# is appended at the end of the fixed block's spare slots or after the seats, never in
# between. The child stream supplies four uniforms per new manager (but the host, who uses
# U_NEW_HOST..U_NEW_HOST + 3) and per newcomer, in the order they arrive.
U_FUNDING_ROUND = 0    # a national funding round opens this month (ODD §7.1)
U_FUNDING_AWARD = 1    # ... and the project's bid wins it
U_POLICY_CHURN = 2     # a new national programme forces a re-plan (§7.2)
U_HOST_CHANGE = 3      # the hosting commissioner changes (§7.3)
U_NEW_HOST = 4         # four draws for the new host manager: slots 4-7
U_MANAGER_CHANGE = 8   # + organisation o (1..3): its manager changes (slot 8 unused)
U_ROLLOUT = 12         # the next locality goes live (§7.12)
U_APPROVAL = 13        # + organisation o (0..3): it approves the business case (§7.11)
U_PILOT_MONEY = 17     # the money test under pilot_scope = "chance" (§7.11)
U_EVALUATE = 18        # the pilot's evaluation is positive (§7.12)
U_COMMISSION = 19      # commissioners commission the evaluated service (§7.12)
N_FIXED_DRAWS = 20
U_LEAVE = N_FIXED_DRAWS  # + seat s: the person in seat s leaves (§7.5)
# U_LEAVE + n + s: the person in seat s attends the meeting (§7.6)


def month_draws(n: int) -> int:
    """Uniforms drawn from the model's stream in a running month, for ``n`` seats."""
    return N_FIXED_DRAWS + 2 * n


# ---------------------------------------------------------------- managers: m[o, ...]
(M_SUPPORT, M_PATHWAY, M_LEAD, M_PM, M_APPROVED, M_REACH, M_FIXED_TARGET, M_ALIGNMENT,
 M_N) = range(9)

# ---------------------------------------------------------------- team: t[..., seat]
(T_ENGAGEMENT, T_DISPOSITION, T_THRESHOLD, T_VISION, T_ROLE, T_KNOWLEDGE, T_FRUSTRATION,
 T_LEAVE_HAZARD, T_TIES, T_N) = range(10)
(TI_ORG, TI_JOINED, TI_IS_LEAD, TI_LEFT, TI_N) = range(5)

# ---------------------------------------------------------------- measures: dac[...]
N_DAC = 9
(D_SYS_DIRECTION, D_SYS_ALIGNMENT, D_SYS_COMMITMENT, D_ORG_DIRECTION, D_ORG_ALIGNMENT,
 D_ORG_COMMITMENT, D_TEAM_DIRECTION, D_TEAM_ALIGNMENT, D_TEAM_COMMITMENT) = range(N_DAC)


def events_text(events: int, leavers: int, managers_replaced: int) -> str:
    """The month's events as the Mesa engine's ``events`` string (``;``-separated)."""
    out: list[str] = []
    for i, name in enumerate(EVENT_NAMES):
        if not events & (1 << i):
            continue
        if name == "manager_change":
            out.extend(f"manager_change:{ORGANISATIONS[o]}" for o in range(1, N_ORGS)
                       if managers_replaced & (1 << o))
        elif name == "turnover":
            out.append(f"turnover:{leavers}")
        else:
            out.append(name)
    return ";".join(out)
