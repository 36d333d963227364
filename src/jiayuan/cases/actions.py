"""What each action of the case state machine does to a case, without saving anything.

:func:`apply` takes a case in memory, runs the action's ``apply`` function and then what
the table decides for every action alike (:mod:`jiayuan.cases.machine`): the status
after, the stage clock, the step and visibility of each timeline event. It returns the
action's :class:`Effects` — timeline events to write, inbox notices, messages to the
reporter, return visits, whether an incident is closed. It writes nothing:
:func:`jiayuan.cases.services.perform` persists the effects inside its transaction (and
sends the outbound messages after commit); the demo's year of cases applies the same
functions to thousands of cases in memory and bulk-inserts the result.

An ``apply`` function never sets ``case.status`` and never names a step: those come
from the table. It may read the world (handlers, departments, the case to merge into)
only through :class:`World`, so that the live path reads the database and the demo its
own in-memory staff.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.contrib.auth import get_user_model
from django.utils.translation import get_language

from jiayuan.core import bulk
from jiayuan.core.calendar import MINUTES_PER_WORKDAY, WorkClock
from jiayuan.core.errors import BilingualError, PermissionDenied, ValidationFailed
from jiayuan.core.incidents import is_incident_key
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed
from jiayuan.org.models import Area

from . import routing, sla
from .choices import FINAL_STATUSES, LEVEL_ORDER, Level, Satisfaction, Status
from .machine import OTHER_EVENTS, TRANSITIONS, event_kind
from .models import Case, Department, ReturnVisit


class TransitionRefused(BilingualError):
    code = "transition_not_allowed"
    status = 409


# --- effects ---------------------------------------------------------------------------
@dataclass(slots=True)
class Event:
    """A timeline event to write: what ``apply`` functions say (the action, its note and
    data); :func:`apply` adds the step, visibility and statuses from the table."""

    action: str
    note: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    by_system: bool = False  # written by the system, not the acting user
    on: Case | None = None  # another case's timeline (``merged_in``)
    # filled in by :func:`apply`
    step: str = ""
    public: bool = False
    from_status: str = ""
    to_status: str = ""
    actor: Any = None


@dataclass(slots=True)
class Notice:
    """An inbox notice about the case, to ``users`` and to the supervisors of
    ``supervisors_of`` (resolved when the notice is written)."""

    kind: str
    title: str
    body: str = ""
    users: tuple[Any, ...] = ()
    supervisors_of: Area | None = None


@dataclass(slots=True)
class Effects:
    """Everything an action does besides changing the case's own fields."""

    events: list[Event] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    to_reporter: list[str] = field(default_factory=list)  # outbound, after commit
    visits: list[ReturnVisit] = field(default_factory=list)
    outcome: str = ""  # for actions with declared outcomes (``visit``)
    incident_closed: bool = False  # a finished incident's case closes its incident

    def add(self, other: Effects) -> None:
        self.events += other.events
        self.notices += other.notices
        self.to_reporter += other.to_reporter
        self.visits += other.visits


# --- the world an action reads ---------------------------------------------------------
class World(Protocol):
    """What an action looks up beyond the case: people, areas, departments, cases."""

    def owner_for(self, grid: Area, level: str) -> Area: ...

    def handler_for(self, owner: Area, level: str) -> Any: ...

    def user_at(self, case: Case, user_id: int) -> Any: ...

    def department(self, department_id: int) -> Department | None: ...

    def merge_target(self, case: Case, into: str | int, actor: Any) -> Case | None: ...


class LiveWorld:
    """The world as the database has it (the live actions)."""

    def owner_for(self, grid: Area, level: str) -> Area:
        return routing.owner_for(grid, level)

    def handler_for(self, owner: Area, level: str) -> Any:
        return routing.handler_for(owner, level)

    def user_at(self, case: Case, user_id: int) -> Any:
        user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
        if user is None or not path_allowed(user, case.owner_area.path, Perm.VIEW):
            raise ValidationFailed(
                "指定的办理人不在该层级",
                "the handler does not work at this level",
                field="handler_id",
            )
        return user

    def department(self, department_id: int) -> Department | None:
        return Department.objects.filter(pk=department_id).first()

    def merge_target(self, case: Case, into: str | int, actor: Any) -> Case | None:
        target = Case.objects.filter(number=into).first() if isinstance(into, str) else None
        target = target or Case.objects.filter(pk=into if isinstance(into, int) else -1).first()
        if target is not None and actor is not None:
            if not path_allowed(actor, target.area_path, Perm.VIEW):
                return None
        return target


@dataclass(slots=True)
class Context:
    """Who acts, when, on which clock and in which world."""

    actor: Any
    now: dt.datetime
    world: World
    clock: WorkClock


ApplyFn = Callable[..., Effects]
#: The ``apply`` function of each action of the table (checked by a test).
APPLY: dict[str, ApplyFn] = {}


def applies(action: str) -> Callable[[ApplyFn], ApplyFn]:
    def register(fn: ApplyFn) -> ApplyFn:
        APPLY[action] = fn
        return fn

    return register


def apply(case: Case, action: str, ctx: Context, **params: Any) -> Effects:
    """Apply ``action`` to ``case`` in memory and return its effects.

    Checks of scope, relation and state are the caller's (``services.perform``); this
    runs the action's own checks of its input, changes the case's fields, sets the
    status the table names, restarts the stage clock where the table says so, and
    resolves each event's step, visibility and statuses from the table.
    """
    transition = TRANSITIONS[action]
    before = case.status
    effects = APPLY[action](case, ctx, **params)
    moved_by_own_event = True
    if transition.outcomes:
        outcome = transition.outcomes.get(effects.outcome)
        if outcome is None:
            raise KeyError(f"{action} ended in an undeclared outcome {effects.outcome!r}")
        # With a follow-up that moves the case, its own event leaves it as it was.
        moved_by_own_event = not outcome.via
        after = outcome.status
    else:
        after = transition.target if transition.target is not None else before
    case.status = after
    if transition.restarts_clock:
        sla.start_stage(case, ctx.now, ctx.clock)
    actor = ctx.actor
    own = True
    for event in effects.events:
        kind = TRANSITIONS.get(event.action) or OTHER_EVENTS[event.action]
        event.step = kind.step
        event.public = kind.public
        event.actor = None if event.by_system else actor
        if event.on is not None:
            event.from_status = event.to_status = event.on.status
        else:
            event.from_status = before
            event.to_status = after if (moved_by_own_event or not own) else before
        own = False
    # One rule for every channel: the case of an incident key closes its incident.
    finished = after in FINAL_STATUSES and before not in FINAL_STATUSES
    if finished and is_incident_key(case.source_ref):
        effects.incident_closed = True
    return effects


def first_event(action: str, note: str = "", **data: Any) -> Effects:
    return Effects(events=[Event(action, note, data)])


# --- helpers ---------------------------------------------------------------------------
def assign(case: Case, world: World, handler: Any, level: str | None = None) -> None:
    """Give the case to ``handler`` (and to the owner of ``level`` when it changes)."""
    if level is not None and level != case.level:
        case.level = level
        case.owner_area = world.owner_for(case.grid, level)
        case.area_path = case.owner_area.path
    case.handler_user = handler
    case.handler_department = (
        case.category.department if case.level == Level.DEPARTMENT else case.handler_department
    )


def unsuspend(case: Case, now: dt.datetime, clock: WorkClock) -> float:
    """End a suspension: the due times move later by the paused working minutes."""
    paused = clock.minutes_between(case.suspended_at, now) if case.suspended_at else 0.0
    sla.pause_ended(case, paused, clock)
    case.suspended_at = None
    return paused


@functools.lru_cache(maxsize=32)
def _verdict_label_in(satisfaction: str, language: str | None) -> str:
    return str(Satisfaction(satisfaction).label)


def _verdict_label(satisfaction: str) -> str:
    """The verdict's label (a lazy translation costs more than the rest of a visit)."""
    return _verdict_label_in(satisfaction, get_language())


def _users(*users: Any) -> tuple[Any, ...]:
    return tuple(u for u in users if u is not None)


# --- the actions -----------------------------------------------------------------------
@applies("dispatch")
def apply_dispatch(
    case: Case,
    ctx: Context,
    *,
    handler_id: int | None = None,
    reason: str = "",
    handler: Any = ...,
) -> Effects:
    """派单: give the case to a handler of its level (named, or the level's default).
    Intake passes the ``handler`` it found itself (``None``: a department's case)."""
    if handler is ...:
        handler = (
            ctx.world.user_at(case, handler_id)
            if handler_id
            else ctx.world.handler_for(case.owner_area, case.level)
        )
    if handler is None and case.level != Level.DEPARTMENT:
        raise ValidationFailed(
            "该层级没有可派单的人员", "nobody takes cases at this level", field="handler_id"
        )
    first = case.dispatched_at is None
    assign(case, ctx.world, handler)
    if first:
        case.dispatched_at = ctx.now
        case.dispatched_on_time = case.stage_due_at is None or ctx.now <= case.stage_due_at
    who = handler.username if handler else (case.handler_department or "")
    effects = first_event(
        "dispatch", reason or f"派单给 {who}", handler=getattr(handler, "pk", None)
    )
    effects.notices.append(
        Notice("dispatch", f"新派单 {case.number}", case.title, users=_users(handler))
    )
    return effects


@applies("accept")
def apply_accept(case: Case, ctx: Context) -> Effects:
    """接单: the handler takes the case."""
    case.accepted_at = case.accepted_at or ctx.now
    return first_event("accept", "已接单")


@applies("return")
def apply_return(case: Case, ctx: Context, *, reason: str) -> Effects:
    """退回: the handler hands the case back to the dispatchers of its level."""
    case.handler_user = None
    effects = first_event("return", reason)
    effects.notices.append(
        Notice("returned", f"诉求被退回 {case.number}", reason, supervisors_of=case.owner_area)
    )
    return effects


@applies("start")
def apply_start(case: Case, ctx: Context) -> Effects:
    """开始办理."""
    return first_event("start", "开始办理")


@applies("transfer")
def apply_transfer(
    case: Case,
    ctx: Context,
    *,
    reason: str,
    handler_id: int | None = None,
    level: str | None = None,
    department_id: int | None = None,
) -> Effects:
    """转办: to another handler of the same level, a level below, or a department."""
    target_level = level or case.level
    if target_level not in LEVEL_ORDER:
        raise ValidationFailed("层级无效", "invalid level", field="level")
    if LEVEL_ORDER.index(target_level) > LEVEL_ORDER.index(case.level):
        raise ValidationFailed(
            "向上转办请使用「提级帮办」", "use escalate to move a case up", field="level"
        )
    dept = None
    if department_id is not None:
        target_level = Level.DEPARTMENT
        dept = ctx.world.department(department_id)
        if dept is None:
            raise ValidationFailed("部门不存在", "no such department", field="department_id")
    old_level = case.level
    assign(case, ctx.world, None, target_level)
    if dept is not None:
        case.handler_department = dept
    handler = (
        ctx.world.user_at(case, handler_id)
        if handler_id
        else ctx.world.handler_for(case.owner_area, case.level)
    )
    if (
        handler is not None
        and handler.pk == getattr(ctx.actor, "pk", None)
        and old_level == case.level
    ):
        raise ValidationFailed("不能转办给自己", "cannot transfer to yourself", field="handler_id")
    case.handler_user = handler
    case.transfer_count += 1
    effects = first_event(
        "transfer",
        reason,
        from_level=old_level,
        to_level=case.level,
        handler=getattr(handler, "pk", None),
    )
    effects.notices.append(Notice("transfer", f"转办 {case.number}", reason, users=_users(handler)))
    return effects


@applies("escalate")
def apply_escalate(case: Case, ctx: Context, *, reason: str, level: str | None = None) -> Effects:
    """提级帮办: raise the case to a higher level (the next one unless named)."""
    target = level or routing.level_above(case.level)
    if target is None or LEVEL_ORDER.index(target) <= LEVEL_ORDER.index(case.level):
        raise ValidationFailed(
            "已是最高层级", "the case is already at the top level", field="level"
        )
    if case.status == Status.SUSPENDED:
        unsuspend(case, ctx.now, ctx.clock)
    old_level = case.level
    assign(case, ctx.world, None, target)
    handler = ctx.world.handler_for(case.owner_area, case.level)
    case.handler_user = handler
    case.escalated_help = True
    effects = first_event(
        "escalate",
        reason,
        from_level=old_level,
        to_level=target,
        handler=getattr(handler, "pk", None),
    )
    effects.notices.append(
        Notice(
            "escalate",
            f"提级帮办 {case.number}",
            reason,
            users=_users(handler),
            supervisors_of=case.owner_area,
        )
    )
    return effects


@applies("suspend")
def apply_suspend(case: Case, ctx: Context, *, reason: str) -> Effects:
    """挂起: the clock stops until the case is resumed."""
    case.suspended_at = ctx.now
    return first_event("suspend", reason)


@applies("resume")
def apply_resume(case: Case, ctx: Context) -> Effects:
    """恢复办理: the due times move later by the paused working time."""
    paused = unsuspend(case, ctx.now, ctx.clock)
    return first_event("resume", "恢复办理", paused_minutes=round(paused, 1))


@applies("request_delay")
def apply_request_delay(
    case: Case, ctx: Context, *, reason: str, minutes: int = MINUTES_PER_WORKDAY
) -> Effects:
    """申请延期: ask the supervisors for more working time."""
    if minutes <= 0 or minutes > 30 * MINUTES_PER_WORKDAY:
        raise ValidationFailed("延期时长无效", "invalid delay", field="minutes")
    case.delay_requested_minutes = minutes
    effects = first_event("request_delay", reason, minutes=minutes)
    effects.notices.append(
        Notice("delay", f"延期申请 {case.number}", reason, supervisors_of=case.owner_area)
    )
    return effects


@applies("approve_delay")
def apply_approve_delay(case: Case, ctx: Context) -> Effects:
    """批准延期: the requested minutes are added to the stage and total limits."""
    minutes = case.delay_requested_minutes
    if not minutes:
        raise TransitionRefused("没有待审批的延期申请", "no delay request is pending")
    case.delay_minutes += minutes
    case.delay_requested_minutes = 0
    sla.shift(case, minutes, ctx.clock)
    effects = first_event("approve_delay", f"批准延期 {minutes} 工作分钟", minutes=minutes)
    effects.notices.append(
        Notice("delay_approved", f"延期已批准 {case.number}", users=_users(case.handler_user))
    )
    return effects


@applies("handle")
def apply_handle(case: Case, ctx: Context, *, result: str = "", reason: str = "") -> Effects:
    """办结提交: the handler reports the result for review."""
    result = (result or reason).strip()
    if not result:
        raise ValidationFailed("请填写办理结果", "a result is required", field="result")
    case.result = result
    case.handled_at = ctx.now
    effects = first_event("handle", result)
    effects.notices.append(
        Notice("review", f"待审核 {case.number}", result[:100], supervisors_of=case.owner_area)
    )
    return effects


@applies("approve")
def apply_approve(case: Case, ctx: Context, *, note: str = "", reason: str = "") -> Effects:
    """审核通过: the result is answered to the reporter (答复), who is told by message."""
    actor = ctx.actor
    if actor is not None and case.handler_user_id == actor.pk and not actor.is_superuser:
        raise PermissionDenied("不能审核自己办理的诉求", "you may not review your own handling")
    case.replied_at = ctx.now
    case.public_note = (note or case.result)[:300]
    case.closed_on_time = case.due_at is None or ctx.now <= case.due_at
    case.handling_minutes = round(ctx.clock.minutes_between(case.received_at, ctx.now), 2)
    effects = Effects(
        events=[Event("approve", note or "审核通过"), Event("reply", case.public_note)]
    )
    effects.to_reporter.append(f"您反映的问题（{case.number}）已办理：{case.public_note[:60]}")
    return effects


@applies("send_back")
def apply_send_back(case: Case, ctx: Context, *, reason: str) -> Effects:
    """退回重办: the reviewer sends the case back to its handler."""
    case.rework_count += 1
    effects = first_event("send_back", reason)
    effects.notices.append(
        Notice("rework", f"退回重办 {case.number}", reason, users=_users(case.handler_user))
    )
    return effects


@applies("visit")
def apply_visit(
    case: Case,
    ctx: Context,
    *,
    satisfaction: str,
    comment: str = "",
    by: str = ReturnVisit.By.PHONE,
    reason: str = "",
) -> Effects:
    """回访: the reporter's verdict. Satisfied closes the case; the first "unsatisfied"
    reopens it with its handler, a second one raises it a level."""
    if satisfaction not in _SATISFACTIONS:
        raise ValidationFailed("请选择满意度", "choose a satisfaction", field="satisfaction")
    actor = ctx.actor
    # the bulk path's constructor: the same instance without the generic per-field work
    visit = bulk.build(
        ReturnVisit,
        by=by,
        satisfaction=satisfaction,
        comment=comment,
        visitor=actor if getattr(actor, "pk", None) else None,
        at=ctx.now,
    )
    visit.case = case
    case.satisfaction = satisfaction
    label = _verdict_label(satisfaction)
    effects = first_event("visit", f"回访：{label}。{comment}", satisfaction=satisfaction)
    effects.visits.append(visit)
    if satisfaction != Satisfaction.UNSATISFIED:
        case.closed_at = ctx.now
        case.closed_level = case.level
        effects.outcome = "closed"
        return effects
    case.reopen_count += 1
    if case.reopen_count == 1:
        effects.outcome = "reopened"
        effects.events.append(Event("reopen", "居民不满意，重新办理", by_system=True))
        effects.notices.append(
            Notice("reopen", f"不满意重办 {case.number}", comment, users=_users(case.handler_user))
        )
        return effects
    effects.outcome = "escalated"
    raised = apply_escalate(case, ctx, reason="居民再次不满意，提级办理")
    for event in raised.events:
        event.by_system = True
    effects.add(raised)
    return effects


_SATISFACTIONS = tuple(Satisfaction.values)  # (``.values`` builds a new list on each call)


@applies("reject")
def apply_reject(case: Case, ctx: Context, *, reason: str) -> Effects:
    """不予受理: the case is refused, with the reason shown to the reporter."""
    case.closed_at = ctx.now
    case.public_note = reason[:300]
    return first_event("reject", reason)


@applies("merge")
def apply_merge(case: Case, ctx: Context, *, into: str | int, reason: str = "") -> Effects:
    """合并重复: the case duplicates another and is closed into it."""
    target = ctx.world.merge_target(case, into, ctx.actor)
    itself = target is case or (
        target is not None and target.pk is not None and target.pk == case.pk
    )
    if target is None or itself or target.status == Status.MERGED:
        raise ValidationFailed("合并目标无效", "invalid case to merge into", field="into")
    case.merged_into = target
    case.closed_at = ctx.now
    return Effects(
        events=[
            Event("merge", f"与 {target.number} 重复，已合并", {"into": target.number}),
            Event("merged_in", f"合并了重复诉求 {case.number}", on=target),
        ]
    )


def receive_event(
    case: Case, actor: Any, duplicates: Iterable[str], channel_label: str = ""
) -> Event:
    """Intake's ``receive`` event (问), resolved like an action's (``channel_label``
    spares a caller who knows it the translation lookup)."""
    kind = event_kind("receive")
    return Event(
        "receive",
        f"渠道：{channel_label or case.get_channel_display()}",
        {"duplicates": list(duplicates)},
        step=kind.step,
        public=kind.public,
        from_status="",
        to_status=case.status,
        actor=actor,
    )
