"""The monthly submodels of one project, written once for both engines.

Each function reads the parameters ``p`` (a ``PARAM_DTYPE`` record, fields by registry
name) and changes the state arrays of :mod:`sim.engine.layout` in place; random draws come
from the two PCG64 streams in ``streams`` (row 0 the model's generator, row 1 its spawned
child for event-driven draws). docs/ODD.md §7 states each equation and the case passage or
source it rests on; the docstrings here name the section.

The order of the draws is part of the model: every running month draws
``layout.month_draws(n)`` uniforms from the model's stream into named slots (the ``U_*``
table of :mod:`sim.engine.layout`: system and organisations, the gates, then one per seat
for leaving and one per seat for attending), and the child stream supplies four uniforms
per new manager (but the host, who uses the month's ``U_NEW_HOST`` slots) and per
newcomer. The Mesa engine (:mod:`sim.mesa.model`) and the fast engine
(:mod:`sim.engine.fast`) both call :func:`month_step`, so the equations exist once.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
from llvmlite import ir  # type: ignore[import-untyped]
from numba.core import types
from numba.extending import intrinsic

from sim.engine import rng
from sim.engine.layout import (
    C_BUSINESS_CASE,
    C_COLLAPSE,
    C_COMMISSIONED,
    C_EVALUATED,
    C_EVENTS,
    C_FUNDING_ROUNDS,
    C_HOST_CHANGES,
    C_INTEGRATED,
    C_LEAVERS,
    C_LOCALITIES,
    C_LOW_MONTHS,
    C_MANAGER_CHANGES,
    C_MANAGERS_REPLACED,
    C_MONTHS_RUN,
    C_N,
    C_NEXT_EVALUATION,
    C_PILOT,
    C_PILOT_LOCALITIES,
    C_POLICY_CHURNS,
    C_RUNNING,
    C_SMALL_MODE,
    C_SMALL_TASKS,
    C_SMALL_WINS,
    C_TURNOVER_EVENTS,
    CLIMATE_INHERIT,
    D_ORG_COMMITMENT,
    D_TEAM_ALIGNMENT,
    D_TEAM_COMMITMENT,
    D_TEAM_DIRECTION,
    E_BUSINESS_CASE,
    E_COLLAPSE,
    E_COMMISSIONED,
    E_EVALUATED,
    E_FUNDING,
    E_HOST_CHANGE,
    E_INTEGRATED,
    E_LOCALITY_LIVE,
    E_MANAGER_CHANGE,
    E_PILOT,
    E_POLICY_CHURN,
    E_SMALL_TASKS,
    E_SMALL_WIN,
    E_TURNOVER,
    ENABLERS_MEAN,
    EVALUATION_THRESHOLD,
    G_CHURN_PROB,
    G_ENGAGEMENT_SUM,
    G_FUNDING_RECEIVED,
    G_HOST_HAZARD,
    G_K_CEILING,
    G_K_FRUSTRATION,
    G_K_LEARN,
    G_K_PROGRESS,
    G_K_PULL,
    G_K_ROLE,
    G_K_TIES_LEAD,
    G_K_TIES_MEMBER,
    G_LEADERSHIP,
    G_LOCAL_COMMITTED,
    G_MANAGER_HAZARD,
    G_N,
    G_NEXT_MILESTONE,
    G_ORG_ALIGNMENT,
    G_ORG_DIRECTION,
    G_PILOT_PERF,
    G_PM_SHARE,
    G_POOLED,
    G_POT,
    G_PROGRESS,
    G_RECENT_WINS,
    G_ROLLOUT_PROB,
    G_ROUND_PROB,
    G_SCOPE,
    G_SPENT,
    G_TASK_SIZE,
    G_WITHDRAWN,
    LOCAL_CAPACITY,
    LOCALITY_LEAD,
    M_ALIGNMENT,
    M_APPROVED,
    M_FIXED_TARGET,
    M_LEAD,
    M_N,
    M_PATHWAY,
    M_PM,
    M_REACH,
    M_SUPPORT,
    N_DAC,
    N_FIXED_DRAWS,
    N_LEADS,
    N_MEMBER_ROLES,
    N_ORGS,
    NOT_YET,
    ROLE_GROUP,
    ROLE_ORG,
    SCOPE_CHANCE,
    SCOPE_THRESHOLD,
    T_DISPOSITION,
    T_ENGAGEMENT,
    T_FRUSTRATION,
    T_KNOWLEDGE,
    T_LEAVE_HAZARD,
    T_N,
    T_ROLE,
    T_THRESHOLD,
    T_TIES,
    T_VISION,
    TI_IS_LEAD,
    TI_JOINED,
    TI_LEFT,
    TI_N,
    TI_ORG,
    TRIGGERS_ALL,
    TRIGGERS_OVERRUN,
    TURNOVER_GROUPS,
    U_APPROVAL,
    U_COMMISSION,
    U_EVALUATE,
    U_FUNDING_AWARD,
    U_FUNDING_ROUND,
    U_HOST_CHANGE,
    U_LEAVE,
    U_MANAGER_CHANGE,
    U_NEW_HOST,
    U_PILOT_MONEY,
    U_POLICY_CHURN,
    U_ROLLOUT,
)
from sim.engine.rng import draw, draw_into

_jit = numba.njit(cache=True)
# The submodels are inlined into the month (and the month into the fast engine's loop):
# separate compiled calls would pass a dozen arrays each, twenty times a month.
_inline = numba.njit(cache=True, inline="always")
_TOL = 1e-12  # tolerance of progress comparisons (floating-point accumulation)
# What a seat's organisation contributes to its attendance and motivation is worked out
# once a month per organisation (and the patients' seat), not once per seat, and kept in
# the work space after the month's uniforms: slot month_draws(n) + W_* + organisation.
_ORG_SLOTS = N_ORGS + 1
W_ATTEND = 0                  # the factor on engagement in the chance to attend
W_LOYAL = _ORG_SLOTS          # the loyalty factor on motivation
W_GOAL = 2 * _ORG_SLOTS       # the goal gradient's term of motivation
W_PULL = 3 * _ORG_SLOTS       # the organisation's agenda's pull on vision


@intrinsic
def _opaque(typingctx: Any, x: Any) -> Any:
    """``x`` (an int64) through an empty inline-assembly statement: the same value, but
    the optimiser no longer knows it is 0 or 1, so :func:`flag` converts it instead of
    choosing between two constants."""
    if x != types.int64:
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        word = ir.IntType(64)
        barrier = ir.InlineAsm(ir.FunctionType(word, [word]), "", "=r,0")
        return builder.call(barrier, [args[0]])

    return types.int64(types.int64), codegen


@_inline
def unsigned(i: int) -> np.uint64:
    """A non-negative index as an unsigned integer: numba indexes with it directly, where
    a signed index is first checked for a negative value (counting from the end), two
    more instructions at each look-up of a seat's organisation."""
    return np.uint64(i)


@_inline
def flag(x: bool) -> float:
    """1.0 if ``x`` else 0.0, without a branch. The compiler turns ``1.0 if x else 0.0``
    (and ``float(x)``) into a jump on x86-64, mispredicted half the time when ``x`` is a
    coin toss such as attending a meeting; this converts the integer 0 or 1 instead."""
    return float(_opaque(np.int64(x)))  # type: ignore[call-arg]  # numba passes typingctx


# ================================================================ the project's state
class Project:
    """The state arrays of one project (plain numpy arrays; no behaviour).

    ``g`` float scalars, ``c`` int scalars, ``dac`` and ``dac_sum`` the measures,
    ``m`` the managers (organisation x field), ``support`` operational support by
    organisation plus the patients' seat, ``t`` the team's float state (field x seat),
    ``ti`` its int state, ``streams`` the two random streams.
    """

    __slots__ = ("g", "c", "dac", "dac_sum", "m", "support", "t", "ti", "streams", "work",
                 "attend")

    def __init__(self, n: int, streams: np.ndarray) -> None:
        self.g, self.c, self.dac, self.dac_sum, self.m, self.support, self.t, self.ti = \
            allocate(n)
        self.streams = streams
        self.work, self.attend = scratch(n)


@_jit
def scratch(n: int):
    """Work space of the month: the month's uniforms followed by the per-organisation
    factors of the meeting and of motivation (:data:`W_ATTEND`, :data:`W_LOYAL`,
    :data:`W_GOAL`, :data:`W_PULL`), and who attends (1.0 or 0.0 a seat)."""
    return np.empty(N_FIXED_DRAWS + 2 * n + 4 * _ORG_SLOTS), np.empty(n)


@_jit
def allocate(n: int):
    """Empty state arrays for a team of ``n`` seats."""
    return (np.zeros(G_N), np.zeros(C_N, dtype=np.int64), np.zeros(N_DAC), np.zeros(N_DAC),
            np.zeros((N_ORGS, M_N)), np.ones(N_ORGS + 1), np.zeros((T_N, n)),
            np.zeros((TI_N, n), dtype=np.int64))


# ================================================================ set-up (ODD §5)
@_jit
def apply_levers(p, g, m) -> None:
    """What depends on the (possibly scheduled) levers: rates, products, managers'
    fixed targets (ODD §7.1–7.4, §7.6–7.8)."""
    g[G_ROUND_PROB] = 1.0 - math.exp(-p.funding_round_rate / 12.0)
    g[G_CHURN_PROB] = 1.0 - math.exp(-p.policy_churn_rate / 12.0)
    g[G_HOST_HAZARD] = 1.0 - math.exp(-p.host_change_rate / 12.0)
    g[G_MANAGER_HAZARD] = 1.0 - math.exp(-p.manager_turnover / 12.0)
    g[G_K_PROGRESS] = p.progress_rate * (1.0 + p.feedback_progress * p.meeting_feedback) \
        * (1.0 + p.prescribed_speedup * p.prescriptiveness)
    g[G_K_CEILING] = 1.0 - p.prescribed_vision_misfit * p.prescriptiveness
    g[G_K_PULL] = p.agenda_pull * p.savings_pressure \
        * (1.0 - p.face_to_face_damping * p.face_to_face)
    g[G_K_ROLE] = p.role_rate * (1.0 + p.feedback_role * p.meeting_feedback)
    g[G_K_LEARN] = p.knowledge_rate * (1.0 + p.feedback_learning * p.meeting_feedback)
    g[G_K_FRUSTRATION] = p.frustration_rate * (1.0 + p.shaming_frustration * p.shaming)
    g[G_K_TIES_MEMBER] = 1.0 - math.exp(-1.0 / p.newcomer_ramp_months)
    g[G_K_TIES_LEAD] = 1.0 - math.exp(-1.0 / p.lead_ramp_months)
    g[G_ROLLOUT_PROB] = 1.0 - math.exp(-1.0 / p.rollout_months)
    target = (p.management_support + p.w_incentives * p.incentives
              + p.w_regulation * p.regulatory_alignment
              - p.w_savings * p.savings_pressure * (1.0 - p.risk_appetite))
    for o in range(N_ORGS):
        m[o, M_FIXED_TARGET] = target


@_inline
def new_manager(p, m, o: int, d0: float, d1: float, d2: float, d3: float) -> None:
    """A responsible manager drawn anew: support, pathway, management lead, PM support
    (ODD §5, §7.3; case, Table 2)."""
    support = p.management_support + p.support_spread * (d0 - 0.5)
    m[o, M_SUPPORT] = min(1.0, max(0.0, support))
    pathway = d1 < p.decision_pathway_prob
    lead = d2 < p.management_lead_prob
    pm = d3 < p.pm_support
    m[o, M_PATHWAY] = pathway
    m[o, M_LEAD] = lead
    m[o, M_PM] = pm
    m[o, M_REACH] = (1.0 if pathway else p.pathway_leak) * (
        1.0 if lead else p.no_management_lead)
    m[o, M_ALIGNMENT] = (p.align_pathway_weight * pathway + p.align_lead_weight * lead
                         + (1.0 - p.align_pathway_weight - p.align_lead_weight) * pm)


@_inline
def organisation_profile(p, g, m) -> None:
    """The parts of organisational DAC that change only when a manager changes
    (ODD §7.13): chief executives' support and the managers' alignment, and the share of
    organisations giving project-management support."""
    alignment = 0.0
    pm = 0.0
    for o in range(N_ORGS):
        alignment += m[o, M_ALIGNMENT]
        pm += m[o, M_PM]
    g[G_ORG_DIRECTION] = p.ceo_support
    g[G_ORG_ALIGNMENT] = alignment / N_ORGS
    g[G_PM_SHARE] = pm / N_ORGS


@_inline
def newcomer(p, t, ti, slot: int, month: int, knowledge: float, vision_scale: float,
             ties: float, d0: float, d1: float, d2: float, d3: float) -> None:
    """Seat a new person (ODD §7.5): their own disposition and threshold (Granovetter
    1978), a vision and role clarity drawn around the registry's means, the project
    knowledge and ties to the team they bring (none for a newcomer: case, 'too many
    personnel changes'; Rollag et al. 2005). The floor on disposition and the ceiling on
    thresholds (registry) keep everyone able to engage and to disengage. The team's climate
    a newcomer inherits is set by :func:`turnover`."""
    disposition = min(1.0, max(p.disposition_floor, p.initial_engagement
                               + p.disposition_spread * (d0 - 0.5)))
    t[T_DISPOSITION, slot] = disposition
    t[T_ENGAGEMENT, slot] = disposition
    t[T_THRESHOLD, slot] = min(p.threshold_ceiling, max(0.0, p.motivation_threshold
                                                        + p.threshold_spread * (d1 - 0.5)))
    t[T_VISION, slot] = min(1.0, max(0.0, vision_scale * p.initial_vision
                                     + p.vision_spread * (d2 - 0.5)))
    t[T_ROLE, slot] = min(1.0, max(0.0, p.initial_role_clarity
                                   + p.role_spread * (d3 - 0.5)))
    t[T_KNOWLEDGE, slot] = knowledge
    t[T_FRUSTRATION, slot] = 0.0
    t[T_TIES, slot] = ties
    ti[TI_JOINED, slot] = month


@_inline
def turnover_multiplier(p, group: int) -> float:
    """The profession's leaver rate relative to all staff (registry ``turnover_*``)."""
    if group == 1:
        return p.turnover_consultant
    if group == 2:
        return p.turnover_specialist_nurse
    if group == 3:
        return p.turnover_gp
    if group == 4:
        return p.turnover_practice_nurse
    if group == 5:
        return p.turnover_commissioner
    return 1.0


@_inline
def seat_role(slot: int) -> int:
    """The role index of a seat: the four leads, then the member roles in turn."""
    if slot < N_LEADS:
        return slot
    return N_LEADS + (slot - N_LEADS) % N_MEMBER_ROLES


@_jit
def initialise(p, g, c, dac, dac_sum, m, support, t, ti, streams) -> None:
    """A new project at month 0 (ODD §5): managers, the founding team, the measures."""
    n = t.shape[1]
    for k in range(C_N):
        c[k] = 0
    for k in range(G_N):
        g[k] = 0.0
    for k in (C_BUSINESS_CASE, C_PILOT, C_INTEGRATED, C_COLLAPSE, C_SMALL_TASKS,
              C_EVALUATED, C_COMMISSIONED, C_NEXT_EVALUATION):
        c[k] = NOT_YET
    c[C_RUNNING] = 1
    apply_levers(p, g, m)
    draws = np.empty((N_ORGS, 4))
    rng.fill(streams, 0, draws)
    for o in range(N_ORGS):
        new_manager(p, m, o, draws[o, 0], draws[o, 1], draws[o, 2], draws[o, 3])
        m[o, M_APPROVED] = 0.0
        support[o] = m[o, M_SUPPORT]
    support[N_ORGS] = p.patient_seat_support  # the patients' seat: no organisation's agenda
    organisation_profile(p, g, m)
    # The all-staff leaver share as a rate, scaled by the profession's multiplier: worked
    # out once a profession (-1: not yet), the seats of a profession sharing the value.
    leaving = -math.log(1.0 - p.turnover_rate)
    hazards = np.full(len(TURNOVER_GROUPS), -1.0)
    for s in range(n):
        role = seat_role(s)
        ti[TI_ORG, s] = ROLE_ORG[role]
        ti[TI_IS_LEAD, s] = s < N_LEADS
        ti[TI_LEFT, s] = 0
        group = ROLE_GROUP[role]
        if hazards[group] < 0.0:
            rate = leaving * turnover_multiplier(p, group)
            hazards[group] = 1.0 - math.exp(-rate / 12.0)
        t[T_LEAVE_HAZARD, s] = hazards[group]
    founders = np.empty((n, 4))
    rng.fill(streams, 0, founders)
    # Founders know something of the service they want to change and each other; earlier
    # joint work adds to both (ODD §5; Ansell & Gash 2008).
    prior = p.prior_relationships
    knowledge = p.founder_knowledge + prior * (1.0 - p.founder_knowledge)
    ties = p.founder_ties + prior * (1.0 - p.founder_ties)
    for s in range(n):
        newcomer(p, t, ti, s, 0, knowledge, 1.0, ties, founders[s, 0], founders[s, 1],
                 founders[s, 2], founders[s, 3])
    g[G_LEADERSHIP] = p.leadership_clarity
    small = p.small_tasks != 0.0
    c[C_SMALL_MODE] = small
    g[G_TASK_SIZE] = min(p.task_size, p.small_task) if small else p.task_size
    g[G_PROGRESS] = p.prior_progress  # earlier work (ODD §5)
    g[G_NEXT_MILESTONE] = (math.floor(g[G_PROGRESS] / g[G_TASK_SIZE] + _TOL) + 1.0) \
        * g[G_TASK_SIZE]
    g[G_FUNDING_RECEIVED] = p.initial_funding
    g[G_LOCAL_COMMITTED] = p.local_budget
    g[G_POT] = p.initial_funding + p.local_budget
    if small:
        c[C_SMALL_TASKS] = 0
    measure(p, g, dac, support, t)
    for k in range(N_DAC):
        dac_sum[k] = 0.0


# ================================================================ measures (ODD §7.13)
@_inline
def measure(p, g, dac, support, t) -> None:
    """Direction, alignment and commitment at every level (Drath et al. 2008)."""
    n = t.shape[1]
    dac[0] = p.national_narrative
    dac[1] = (p.regulatory_alignment + p.payment_integration + p.incentives) / 3.0
    dac[2] = min(1.0, g[G_FUNDING_RECEIVED])
    dac[3] = g[G_ORG_DIRECTION]
    dac[4] = g[G_ORG_ALIGNMENT]
    dac[5] = (support[0] + support[1] + support[2] + support[3]) * (1.0 / N_ORGS)
    vision = 0.0
    role = 0.0
    engagement = 0.0
    for s in range(n):
        vision += t[T_VISION, s]
        role += t[T_ROLE, s]
        engagement += t[T_ENGAGEMENT, s]
    w = p.team_alignment_leadership_weight
    inv = 1.0 / n
    dac[6] = vision * inv
    dac[7] = w * g[G_LEADERSHIP] + (1.0 - w) * role * inv
    dac[8] = engagement * inv


@_inline
def enablers(p) -> float:
    """What full integration needs from the nation (ODD §7.12): aligned regulation and
    payment, as a product (each necessary; case, 'Gaps at the system level') or, as the
    structural alternative, their mean."""
    if p.enablers_form == ENABLERS_MEAN:
        return 0.5 * (p.regulatory_alignment + p.payment_integration)
    return p.regulatory_alignment * p.payment_integration


# ================================================================ the month (ODD §3)
@_inline
def month_step(p, g, c, dac, dac_sum, m, support, t, ti, streams, work, attend,
               month: int, horizon: int) -> None:
    """One month of one project: system, organisations, turnover, meeting, small wins and
    engagement, the switch to small tasks, gates; then the measures."""
    c[C_EVENTS] = 0
    c[C_LEAVERS] = 0
    c[C_MANAGERS_REPLACED] = 0
    n = t.shape[1]
    if c[C_RUNNING]:
        u = work  # the month's uniforms: the slots U_* of sim.engine.layout
        draw_into(streams, 0, u, N_FIXED_DRAWS + 2 * n)
        system_level(p, g, c, u)
        organisation_level(p, g, c, dac, m, support, t, u, streams)
        turnover(p, g, c, dac, t, ti, u, streams, month)
        leadership = g[G_LEADERSHIP]  # the month's processes read it before recovery
        attendance = meeting(p, g, dac, m, support, t, ti, u, attend)
        wins_and_engagement(p, g, c, support, t, ti, work, attend, attendance, leadership)
        learn_small_tasks(p, g, c, t, month, leadership)
        gates(p, g, c, dac, m, support, t, u, month)
        if month >= horizon:
            c[C_RUNNING] = 0
    record(p, g, c, dac, dac_sum, support, t)


@_inline
def record(p, g, c, dac, dac_sum, support, t) -> None:
    """This month's measures and the run's running sums (ODD §7.13)."""
    measure(p, g, dac, support, t)
    for k in range(N_DAC):
        dac_sum[k] += dac[k]
    g[G_ENGAGEMENT_SUM] += dac[D_TEAM_COMMITMENT]
    c[C_MONTHS_RUN] += 1


@_inline
def system_level(p, g, c, u) -> None:
    """Funding rounds (ODD §7.1) and policy churn (§7.2)."""
    if u[U_FUNDING_ROUND] < g[G_ROUND_PROB]:
        c[C_FUNDING_ROUNDS] += 1
        award_prob = p.funding_award_prob
        if c[C_SMALL_MODE]:  # case: the team learned 'to apply for smaller funding'
            award_prob = min(1.0, award_prob * p.small_bid_advantage)
        if u[U_FUNDING_AWARD] < award_prob:
            g[G_FUNDING_RECEIVED] += p.funding_amount
            if p.funding_amount != 0.0:
                g[G_POT] += p.funding_amount
                c[C_EVENTS] |= E_FUNDING
    if u[U_POLICY_CHURN] < g[G_CHURN_PROB]:  # a new national programme forces a re-plan (the STP)
        c[C_POLICY_CHURNS] += 1
        g[G_PROGRESS] *= 1.0 - p.churn_rework
        withdrawn = p.churn_withdrawal * g[G_POT]  # the STP re-plan; NAO 2018 (E2.5)
        g[G_POT] -= withdrawn
        g[G_WITHDRAWN] += withdrawn
        c[C_EVENTS] |= E_POLICY_CHURN


@_inline
def replace_manager(p, g, c, m, support, o: int, d0: float, d1: float, d2: float,
                    d3: float) -> None:
    """A new responsible manager; approval persists (institutional memory)."""
    new_manager(p, m, o, d0, d1, d2, d3)
    support[o] = m[o, M_SUPPORT]
    organisation_profile(p, g, m)
    c[C_MANAGER_CHANGES] += 1
    c[C_MANAGERS_REPLACED] |= 1 << o


@_inline
def organisation_level(p, g, c, dac, m, support, t, u, streams) -> None:
    """Host change and manager turnover (ODD §7.3), then managers' support (§7.4)."""
    if u[U_HOST_CHANGE] < g[G_HOST_HAZARD]:
        replace_manager(p, g, c, m, support, 0, u[U_NEW_HOST], u[U_NEW_HOST + 1],
                        u[U_NEW_HOST + 2], u[U_NEW_HOST + 3])
        c[C_HOST_CHANGES] += 1
        for s in range(t.shape[1]):
            t[T_ROLE, s] *= p.host_role_reset
        g[G_LEADERSHIP] *= 1.0 - p.host_leadership_loss
        c[C_EVENTS] |= E_HOST_CHANGE
    for o in range(1, N_ORGS):
        if u[U_MANAGER_CHANGE + o] < g[G_MANAGER_HAZARD]:
            d0, d1 = draw(streams, 1), draw(streams, 1)
            d2, d3 = draw(streams, 1), draw(streams, 1)
            replace_manager(p, g, c, m, support, o, d0, d1, d2, d3)
            c[C_EVENTS] |= E_MANAGER_CHANGE
    signal = min(1.0, dac[D_TEAM_COMMITMENT] * (p.signal_base + g[G_RECENT_WINS]))
    funded = min(1.0, g[G_FUNDING_RECEIVED])
    for o in range(N_ORGS):
        target = m[o, M_FIXED_TARGET] + p.w_funding * funded \
            + p.w_team * signal * m[o, M_REACH]
        target = 1.0 if target > 1.0 else (0.0 if target < 0.0 else target)
        m[o, M_SUPPORT] += p.support_adjust * (target - m[o, M_SUPPORT])
        support[o] = m[o, M_SUPPORT]


@_inline
def power(x: float, k: int) -> float:
    """``x ** float(k)`` for a count ``k`` (of leavers), without calling ``pow`` for the
    counts a month mostly has: ``pow(x, 0)`` is 1 for every x (C99 F.9.4.4) and
    ``pow(x, 1)`` is x (glibc's ``pow`` errs by under 1 ulp, so it returns x, the exact
    result), the values the call would give."""
    if k == 0:
        return 1.0
    if k == 1:
        return x
    return x ** float(k)


@_inline
def turnover(p, g, c, dac, t, ti, u, streams, month: int) -> None:
    """Leavers go; newcomers take their seats (ODD §7.5; case: 'A lack of clear leadership,
    and a clear vision shared by everybody, made the programme vulnerable in face of … the
    personnel changes'). A leaver costs the stayers part of their ties to the team (Lewis et
    al. 2007), a lead more (Hale et al. 2016); newcomers may re-open agreed decisions, a new
    lead more; a newcomer takes on part of the stayers' climate (Barsade 2002) and has no
    ties yet (Rollag et al. 2005)."""
    n = t.shape[1]
    leavers = 0
    leads = 0
    for s in range(n):
        left = u[U_LEAVE + s] < t[T_LEAVE_HAZARD, s]
        ti[TI_LEFT, s] = left
        leavers += left
        leads += left and ti[TI_IS_LEAD, s] != 0
    if leavers == 0:
        return
    members = leavers - leads
    # The stayers' climate and ties, before any newcomer sits down.
    stayers = 0
    frustration = 0.0
    engagement = 0.0
    for s in range(n):
        if not ti[TI_LEFT, s]:
            stayers += 1
            frustration += t[T_FRUSTRATION, s]
            engagement += t[T_ENGAGEMENT, s]
    if n > 1:
        share = p.tie_loss_scale / (n - 1.0)
        keep = power(1.0 - min(1.0, share), members) \
            * power(1.0 - min(1.0, share * p.lead_tie_loss_scale), leads)
        for s in range(n):
            if not ti[TI_LEFT, s]:
                t[T_TIES, s] *= keep
    reopen = p.reopen * (1.0 - g[G_LEADERSHIP]) * (1.0 - dac[D_TEAM_DIRECTION])
    g[G_PROGRESS] *= power(1.0 - reopen, members) \
        * power(1.0 - min(1.0, reopen * p.lead_reopen_multiplier), leads)
    inherit = p.newcomer_climate == CLIMATE_INHERIT and stayers > 0
    share_in = p.climate_inherit
    for s in range(n):
        if ti[TI_LEFT, s]:
            newcomer(p, t, ti, s, month, p.newcomer_knowledge, p.newcomer_vision, 0.0,
                     draw(streams, 1), draw(streams, 1), draw(streams, 1), draw(streams, 1))
            if inherit:
                t[T_ENGAGEMENT, s] = (1.0 - share_in) * t[T_ENGAGEMENT, s] \
                    + share_in * engagement / stayers
                t[T_FRUSTRATION, s] = share_in * frustration / stayers
    for s in range(n):
        if ti[TI_LEFT, s] and ti[TI_IS_LEAD, s]:
            g[G_LEADERSHIP] *= 1.0 - p.lead_loss
    c[C_TURNOVER_EVENTS] += leavers
    c[C_LEAVERS] = leavers
    c[C_EVENTS] |= E_TURNOVER


@_inline
def meeting(p, g, dac, m, support, t, ti, u, attend) -> float:
    """The team meeting (ODD §7.6–7.7): attendance, progress; vision, role clarity and
    knowledge of those present; ties grow and frustration spreads among them; leadership
    clarity recovers. A member attends as engaged as they are and as far as their
    organisation backs them (a management lead, project-management support; case: 'not
    all of them were empowered with project management and resources'); a member's
    contribution grows with their ties to the team (Rollag et al. 2005). Fills ``attend``
    with who attended (1.0, else 0.0) and returns the attending share."""
    n = t.shape[1]
    present = 0
    known = 0.0
    contribution = 0.0
    frustrated = 0.0
    floor, w_cap = p.newcomer_productivity_floor, p.w_capacity
    # Backing is centred on the organisations' mean: it spreads members' attendance without
    # moving the team's mean (project management's mean effect is in progress below).
    mean_backing = 0.0
    for o in range(N_ORGS):
        mean_backing += 0.5 * (m[o, M_LEAD] + m[o, M_PM]) * (1.0 / N_ORGS)
    factor = N_FIXED_DRAWS + 2 * n + W_ATTEND  # by organisation; the patients' seat backed
    for o in range(N_ORGS):
        backing = 0.5 * (m[o, M_LEAD] + m[o, M_PM])
        u[factor + o] = 1.0 + w_cap * (backing - mean_backing)
    u[factor + N_ORGS] = 1.0 + w_cap * (1.0 - mean_backing)
    # Branch-free, as attendance is a coin toss the processor cannot predict (a branch on
    # it, or on a float chosen by it, was mispredicted half the time): every seat's values
    # are multiplied by a = 1.0 or 0.0 and added. That changes no bit: x * 1.0 is x, and
    # adding x * 0.0 (+-0.0, the state being finite) leaves a sum that started at +0.0
    # as it was.
    for s in range(n):
        came = u[U_LEAVE + n + s] < t[T_ENGAGEMENT, s] * u[unsigned(factor + ti[TI_ORG, s])]
        present += came
        a = flag(came)
        attend[s] = a
        known += a * t[T_KNOWLEDGE, s]
        contribution += a * (floor + (1.0 - floor) * t[T_TIES, s])
        frustrated += a * t[T_FRUSTRATION, s]
    attendance = present * (1.0 / n)
    knowledge = known / present if present else 0.0
    frustrated = frustrated / present if present else 0.0
    leadership = g[G_LEADERSHIP]
    # Progress: each factor is (1 - w) + w x, with x the team's alignment, the share of
    # organisations giving project-management support, managers' support, attending
    # members' knowledge and the shared vision (weights: registry assumptions).
    w = p.alignment_progress_weight
    gain = g[G_K_PROGRESS] * contribution * (1.0 / n) \
        * ((1.0 - w) + w * dac[D_TEAM_ALIGNMENT])
    w = p.pm_progress_weight
    gain *= (1.0 - w) + w * g[G_PM_SHARE]
    w = p.support_progress_weight
    gain *= (1.0 - w) + w * dac[D_ORG_COMMITMENT]
    w = p.knowledge_progress_weight
    gain *= (1.0 - w) + w * knowledge
    w = p.direction_progress_weight
    gain *= (1.0 - w) + w * dac[D_TEAM_DIRECTION]
    g[G_PROGRESS] = min(1.0, g[G_PROGRESS] + gain)
    # Vision converges toward the leads' vision as far as leadership is clear; competing
    # organisational agendas pull it apart (case: 'competing agendas').
    converge_rate = p.vision_rate * leadership
    role_rate = g[G_K_ROLE] * leadership
    ceiling, pull, learn, decay = g[G_K_CEILING], g[G_K_PULL], g[G_K_LEARN], p.knowledge_decay
    contagion = p.frustration_contagion
    ramp_lead, ramp_member = g[G_K_TIES_LEAD], g[G_K_TIES_MEMBER]
    drift = N_FIXED_DRAWS + 2 * n + W_PULL  # by organisation
    for o in range(N_ORGS + 1):
        u[drift + o] = pull * (1.0 - support[o])
    # Branch-free: attend[s] is 1.0 for those present, 0.0 for the absent (converted once
    # above). One loop a state variable: each seat's values are the same (the seats do not
    # read each other's), but a loop that reads a float and writes one row of t is one the
    # compiler vectorises (four seats an instruction); the loop of all five was not.
    for s in range(n):
        converge = attend[s] * converge_rate
        v = t[T_VISION, s]
        t[T_VISION, s] = v + (converge * ceiling - (converge + u[unsigned(drift + ti[TI_ORG, s])])
                              * v)
    for s in range(n):
        t[T_ROLE, s] += attend[s] * role_rate * (1.0 - t[T_ROLE, s])
    for s in range(n):
        a = attend[s]
        k = t[T_KNOWLEDGE, s]
        t[T_KNOWLEDGE, s] = k + (a * learn * (1.0 - k) - (1.0 - a) * decay * k)
    for s in range(n):
        ramp = ramp_lead if ti[TI_IS_LEAD, s] else ramp_member
        t[T_TIES, s] += attend[s] * ramp * (1.0 - t[T_TIES, s])
    for s in range(n):
        t[T_FRUSTRATION, s] += attend[s] * contagion * (frustrated - t[T_FRUSTRATION, s])
    g[G_LEADERSHIP] += p.leadership_recovery * (p.clinical_leadership - leadership)
    return attendance


@_inline
def wins_and_engagement(p, g, c, support, t, ti, work, attend, attendance: float,
                        leadership: float) -> None:
    """Small wins, frustration, motivation and engagement (ODD §7.8); ``leadership`` is
    the clarity before this month's recovery, as in the meeting."""
    n = t.shape[1]
    progress = g[G_PROGRESS]
    win = progress >= g[G_NEXT_MILESTONE] - _TOL
    if win:
        c[C_SMALL_WINS] += 1
        while g[G_NEXT_MILESTONE] <= progress + _TOL:
            g[G_NEXT_MILESTONE] += g[G_TASK_SIZE]
        relief, boost = 1.0 - p.win_relief, p.win_boost
        for s in range(n):
            t[T_FRUSTRATION, s] *= relief
            t[T_ENGAGEMENT, s] += attend[s] * boost * (1.0 - t[T_ENGAGEMENT, s])
        c[C_EVENTS] |= E_SMALL_WIN
    else:
        grow = g[G_K_FRUSTRATION] * (p.frustration_leadership - leadership)
        for s in range(n):
            t[T_FRUSTRATION, s] += attend[s] * grow * (1.0 - t[T_FRUSTRATION, s])
    g[G_RECENT_WINS] = p.win_memory * g[G_RECENT_WINS] + (1.0 if win else 0.0)
    # Motivation: own disposition less frustration, times what peers do (Granovetter 1978),
    # plus the goal gradient (Kivetz et al. 2006); below one's threshold, motivation
    # collapses (Repenning 2002).
    peers = 1.0 - p.peer_weight + p.peer_weight * attendance
    goal = p.goal_gradient * progress
    w_goal, w_frustration, w_loyal = p.goal_support_weight, p.frustration_weight, p.w_loyalty
    disengage, adjust = p.disengage, p.engagement_adjust
    # Loyalty to one's organisation (case: 'clinicians … driven by respective organisational
    # priorities'), centred on the organisations' mean support: members of a well-backing
    # organisation are more motivated than those of a reluctant one, the mean unchanged.
    mean_support = (support[0] + support[1] + support[2] + support[3]) * (1.0 / N_ORGS)
    u = work
    loyal = N_FIXED_DRAWS + 2 * n + W_LOYAL
    goals = N_FIXED_DRAWS + 2 * n + W_GOAL
    for o in range(N_ORGS + 1):
        u[loyal + o] = 1.0 + w_loyal * (support[o] - mean_support)
        u[goals + o] = goal * ((1.0 - w_goal) + w_goal * support[o])
    for s in range(n):
        o = ti[TI_ORG, s]
        motivation = (t[T_DISPOSITION, s] * peers
                      * (1.0 - w_frustration * t[T_FRUSTRATION, s])
                      * u[unsigned(loyal + o)] + u[unsigned(goals + o)])
        motivation *= disengage if motivation < t[T_THRESHOLD, s] else 1.0
        t[T_ENGAGEMENT, s] += adjust * (min(motivation, 1.0) - t[T_ENGAGEMENT, s])


# ================================================================ the switch (ODD §7.9)
@_inline
def switch_to_small_tasks(p, g, c, month: int) -> None:
    """Work in small tasks toward a locality pilot from now on."""
    c[C_SMALL_MODE] = 1
    c[C_SMALL_TASKS] = month
    g[G_TASK_SIZE] = min(g[G_TASK_SIZE], p.small_task)
    g[G_NEXT_MILESTONE] = (math.floor(g[G_PROGRESS] / g[G_TASK_SIZE]) + 1) * g[G_TASK_SIZE]
    c[C_EVENTS] |= E_SMALL_TASKS


@_inline
def learn_small_tasks(p, g, c, t, month: int, leadership: float) -> None:
    """The team may learn to work in small tasks (the case's switch): when frustration is
    high, or (``small_task_triggers``) when its leaders recognise that the project has
    overrun its initial framework — the sooner, the clearer the leadership (case: 'It took
    some time for the leaders to recognise …'; the project was prolonged 'beyond initially
    proposed framework')."""
    if c[C_SMALL_MODE] or p.learn_small_tasks == 0.0 or c[C_PILOT] != NOT_YET:
        return
    n = t.shape[1]
    frustration = 0.0
    for s in range(n):
        frustration += t[T_FRUSTRATION, s]
    overrun = (p.small_task_triggers == TRIGGERS_OVERRUN[0]
               or p.small_task_triggers == TRIGGERS_OVERRUN[1])
    if (frustration * (1.0 / n) >= p.learn_threshold
            or (overrun and month >= p.planned_months
                + p.recognition_lag * (1.0 - leadership))):
        switch_to_small_tasks(p, g, c, month)


# ================================================================ gates (ODD §7.10–7.12)
@_inline
def gates(p, g, c, dac, m, support, t, u, month: int) -> None:
    """Business case, pilot and integration; collapse before a pilot."""
    if c[C_PILOT] == NOT_YET:
        business_case_and_pilot(p, g, c, m, support, t, u, month)
        if c[C_PILOT] != NOT_YET:
            return
        # Collapse: engagement below the floor for too long, before any pilot (§7.11).
        if dac[D_TEAM_COMMITMENT] < p.collapse_floor:
            c[C_LOW_MONTHS] += 1
            if c[C_LOW_MONTHS] >= p.collapse_months:
                c[C_COLLAPSE] = month
                c[C_RUNNING] = 0
                c[C_EVENTS] |= E_COLLAPSE
        else:
            c[C_LOW_MONTHS] = 0
        return
    after_pilot(p, g, c, dac, m, support, u, month)


@_inline
def after_pilot(p, g, c, dac, m, support, u, month: int) -> None:
    """The road from a running pilot to a county-wide service (ODD §7.12): the pilot is
    evaluated after ``evaluation_months`` (RAND Europe 2012), commissioners decide whether
    to commission the service — as far as the host backs it, through its pathway, with
    national enablers (aligned regulation and payment) and money for the roll-out
    (Addicott 2015; case, 'Gaps at the system level') — and it then goes live locality by
    locality, each needing money; "integrated" is every locality live (case: 'proceed to a
    bigger pilot and continue working towards the full integration')."""
    # The pilot's quality follows the team's alignment and commitment; misfitting national
    # models lower it.
    misfit = 1.0 - p.prescribed_pilot_misfit * p.prescriptiveness
    w = p.pilot_quality_alignment_weight
    quality = (w * dac[D_TEAM_ALIGNMENT] + (1.0 - w) * dac[D_TEAM_COMMITMENT]) * misfit
    g[G_PILOT_PERF] += p.pilot_learning * (quality - g[G_PILOT_PERF])
    if c[C_EVALUATED] == NOT_YET:
        if month >= c[C_NEXT_EVALUATION]:
            w = p.scope_evidence_weight
            evidence = g[G_PILOT_PERF] * ((1.0 - w) + w * g[G_SCOPE])
            if p.evaluation_form == EVALUATION_THRESHOLD:
                positive = evidence >= p.evaluation_bar
            else:
                positive = u[U_EVALUATE] < evidence
            if positive:
                c[C_EVALUATED] = month
                c[C_EVENTS] |= E_EVALUATED
            else:
                c[C_NEXT_EVALUATION] = month + p.reevaluation_months
        return
    localities = int(p.n_localities)
    per_locality = (1.0 - p.locality_pilot_share) / (localities - 1.0) if localities > 1 \
        else 0.0
    if c[C_COMMISSIONED] == NOT_YET:
        host = support[0]
        pathway = 1.0 if m[0, M_PATHWAY] != 0.0 else p.pathway_leak
        w = p.commission_enabler_weight
        enabled = (1.0 - w) + w * enablers(p)
        pooled = p.pooled_budget * p.payment_integration
        rollout_money = p.local_investment * host
        needed = (localities - c[C_PILOT_LOCALITIES]) * per_locality
        money = 1.0 if needed <= _TOL else min(1.0, (g[G_POT] + pooled + rollout_money)
                                                / needed)
        if u[U_COMMISSION] < p.commission_rate * host * pathway * enabled * money:
            c[C_COMMISSIONED] = month
            c[C_EVENTS] |= E_COMMISSIONED
            g[G_POT] += pooled + rollout_money
            g[G_POOLED] += pooled
            g[G_LOCAL_COMMITTED] += rollout_money
            c[C_LOCALITIES] = c[C_PILOT_LOCALITIES]
            if c[C_LOCALITIES] >= localities:
                integrate(c, month)
        return
    if (c[C_LOCALITIES] < localities and g[G_POT] >= per_locality - _TOL
            and u[U_ROLLOUT] < g[G_ROLLOUT_PROB] * g[G_PILOT_PERF]):
        c[C_LOCALITIES] += 1
        g[G_POT] -= per_locality
        g[G_SPENT] += per_locality
        c[C_EVENTS] |= E_LOCALITY_LIVE
        if c[C_LOCALITIES] >= localities:
            integrate(c, month)


@_inline
def integrate(c, month: int) -> None:
    """Every locality is live: the service is integrated county-wide; the run ends."""
    c[C_INTEGRATED] = month
    c[C_RUNNING] = 0
    c[C_EVENTS] |= E_INTEGRATED


@_inline
def business_case_and_pilot(p, g, c, m, support, t, u, month: int) -> None:
    """The finished specification goes to the organisations; a pilot starts when all
    approve through their pathways, the money covers it and (for a locality pilot) the
    locality's lead declares readiness (case: 'following its clinical lead's proactive
    engagement … and declaring the locality's readiness to proceed')."""
    small = c[C_SMALL_MODE] != 0
    needed = p.pilot_spec_share if small else 1.0
    if c[C_BUSINESS_CASE] == NOT_YET and g[G_PROGRESS] >= needed - _TOL:
        c[C_BUSINESS_CASE] = month
        c[C_EVENTS] |= E_BUSINESS_CASE
        # Ready-made national models meet local needs at the business case: part of the
        # specification is reworked (case: national programmes 'did not always match what
        # was needed locally and what was already achieved').
        if p.prescriptiveness != 0.0:
            g[G_PROGRESS] *= 1.0 - p.misfit_rework * p.prescriptiveness
    if c[C_BUSINESS_CASE] == NOT_YET:
        return
    approved = True
    commit = p.local_money != LOCAL_CAPACITY
    for o in range(N_ORGS):  # every organisation decides, through its pathway or not
        if m[o, M_APPROVED] == 0.0:
            rate = p.approval_rate * m[o, M_SUPPORT] * (
                1.0 if m[o, M_PATHWAY] != 0.0 else p.pathway_leak)
            m[o, M_APPROVED] = u[U_APPROVAL + o] < rate
            if commit and m[o, M_APPROVED] != 0.0:
                # An approving organisation commits its share of local money (ODD §7.11).
                local = p.local_investment * m[o, M_SUPPORT] * (1.0 / N_ORGS)
                g[G_POT] += local
                g[G_LOCAL_COMMITTED] += local
        approved = approved and m[o, M_APPROVED] != 0.0
    cost = p.locality_pilot_share if small else 1.0
    money = g[G_POT]
    if not commit:  # the earlier form: a local capacity re-read each month, never spent
        money += p.local_investment * (
            (support[0] + support[1] + support[2] + support[3]) * (1.0 / N_ORGS))
    ready = (not small) or t[T_ENGAGEMENT, LOCALITY_LEAD] >= p.locality_ready
    # How money decides a pilot is a structural choice (registry 'pilot_scope'): a scope
    # scaled to the money (case: 'The identified funding enabled support of only some
    # elements'), a hard threshold, or a monthly chance (U_PILOT_MONEY, drawn every month).
    share = money / cost
    scope = 1.0
    if p.pilot_scope == SCOPE_THRESHOLD:
        covered = share >= 1.0 - _TOL
    elif p.pilot_scope == SCOPE_CHANCE:
        covered = share >= 1.0 - _TOL or u[U_PILOT_MONEY] < share
    else:
        covered = share >= p.pilot_min_scope - _TOL
        scope = min(1.0, share)
    if approved and ready and covered:
        c[C_PILOT] = month
        spend = min(g[G_POT], scope * cost)
        g[G_POT] -= spend
        g[G_SPENT] += spend
        g[G_SCOPE] = scope
        c[C_PILOT_LOCALITIES] = 1 if small else max(1, int(scope * p.n_localities + _TOL))
        c[C_NEXT_EVALUATION] = month + p.evaluation_months
        n = t.shape[1]
        lift = p.pilot_boost * scope
        for s in range(n):
            t[T_ENGAGEMENT, s] += lift * (1.0 - t[T_ENGAGEMENT, s])
            t[T_FRUSTRATION, s] *= 1.0 - p.pilot_relief
        c[C_EVENTS] |= E_PILOT
    elif (not small and p.learn_small_tasks != 0.0 and p.small_task_triggers == TRIGGERS_ALL
          and month - c[C_BUSINESS_CASE] >= p.scale_down_months):
        # A full business case the money or the organisations will not carry: the team
        # scales down to what it can pilot (case: 'apply for smaller funding, to introduce
        # elements of integrated care to pilot solutions').
        switch_to_small_tasks(p, g, c, month)

# ================================================================ the run's summary
@_jit
def summary_floats(out, g, t, months_run: int) -> None:
    """The run summary's float fields after the DAC values, in the order of
    ``sim.core.outputs.FLOAT_FIELDS``: mean engagement, final progress, the pilot's scope,
    mean frustration, then the money totals (national received, local committed, pooled,
    withdrawn, spent, unspent)."""
    n = t.shape[1]
    frustration = 0.0
    for s in range(n):
        frustration += t[T_FRUSTRATION, s]
    out[0] = g[G_ENGAGEMENT_SUM] / months_run
    out[1] = g[G_PROGRESS]
    out[2] = g[G_SCOPE]
    out[3] = frustration / n
    out[4] = g[G_FUNDING_RECEIVED]
    out[5] = g[G_LOCAL_COMMITTED]
    out[6] = g[G_POOLED]
    out[7] = g[G_WITHDRAWN]
    out[8] = g[G_SPENT]
    out[9] = g[G_POT]
