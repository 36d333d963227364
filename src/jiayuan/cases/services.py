"""Domain actions of the request loop. Every transition goes through :func:`perform`:
lock the row, check the state machine and the actor's relation to the case, change the
case, write a timeline event and an audit entry, notify — in one transaction."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from jiayuan.core import actions, audit
from jiayuan.core.calendar import WorkClock
from jiayuan.core.errors import (
    BilingualError,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed
from jiayuan.org.models import Area, Dwelling
from jiayuan.people.models import Person

from . import notify, routing, sla
from .choices import LEVEL_ORDER, Channel, Level, Priority, Satisfaction, Status, Step
from .machine import TRANSITIONS, Transition, allowed
from .models import Case, CaseEvent, CaseSequence, Category, Department, ReturnVisit

User = get_user_model()


class TransitionRefused(BilingualError):
    code = "transition_not_allowed"
    status = 409


# --- reading ---------------------------------------------------------------------------
def relations(user: Any, case: Case) -> set[str]:
    """How ``user`` stands to ``case``: handler, supervisor, reporter (or system)."""
    if user is None:
        return {"system"}
    found: set[str] = set()
    if case.handler_user_id is not None and case.handler_user_id == user.pk:
        found.add("handler")
    if path_allowed(user, case.area_path, Perm.SUPERVISE):
        found.add("supervisor")
    if case.reporter_id is not None and getattr(case.reporter, "user_id", None) == user.pk:
        found.add("reporter")
    return found


def available_actions(user: Any, case: Case) -> list[Transition]:
    return allowed(case.status, relations(user, case))


def visible_case(user: Any, pk: int) -> Case:
    case = Case.objects.visible_to(user).select_related("category").filter(pk=pk).first()
    if case is None:
        raise NotFound("诉求不存在", "case not found")
    return case


# --- intake (问) -------------------------------------------------------------------------
def _next_number(day: dt.date) -> str:
    for _attempt in range(5):
        try:
            with transaction.atomic():
                seq, _created = CaseSequence.objects.select_for_update().get_or_create(day=day)
                seq.last += 1
                seq.save(update_fields=["last"])
                return f"WS{day:%Y%m%d}-{seq.last:04d}"
        except IntegrityError:  # two first cases of a day at once: try again
            continue
    raise Conflict("生成编号失败，请重试", "could not allocate a case number, try again")


def _distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    r = 6371000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def duplicate_candidates(case: Case, limit: int = 5) -> list[Case]:
    """Open cases of the same category near the same place within the category's window."""
    category = case.category
    since = case.received_at - dt.timedelta(hours=category.duplicate_window_hours)
    qs = (
        Case.objects.filter(
            category=category,
            received_at__range=(since, case.received_at),  # earlier cases, even when backdated
            merged_into__isnull=True,
        )
        .exclude(pk=case.pk)
        .exclude(status__in=[Status.REJECTED, Status.MERGED])
    )
    if case.lat is not None and case.lng is not None:
        d_lat = category.duplicate_radius_m / 111_000
        d_lng = d_lat / max(math.cos(math.radians(case.lat)), 0.1)
        qs = qs.filter(
            lat__range=(case.lat - d_lat, case.lat + d_lat),
            lng__range=(case.lng - d_lng, case.lng + d_lng),
        )
        near = [
            c
            for c in qs[:200]
            if c.lat is not None
            and c.lng is not None
            and _distance_m(case.lat, case.lng, c.lat, c.lng) <= category.duplicate_radius_m
        ]
    elif case.dwelling_id is not None:
        near = list(qs.filter(dwelling_id=case.dwelling_id)[:limit])
    else:
        near = []
    return near[:limit]


def _event(
    case: Case,
    actor: Any,
    action: str,
    step: str,
    from_status: str,
    note: str = "",
    public: bool = False,
    **data: Any,
) -> CaseEvent:
    return CaseEvent.objects.create(
        case=case,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=getattr(actor, "username", "") or "系统",
        action=action,
        step=step,
        from_status=from_status,
        to_status=case.status,
        note=note,
        public=public,
        data=data,
    )


def intake(
    *,
    actor: Any,
    channel: str,
    category: Category,
    description: str,
    lat: float | None = None,
    lng: float | None = None,
    dwelling: Dwelling | None = None,
    grid: Area | None = None,
    address: str = "",
    reporter: Person | None = None,
    reporter_name: str = "",
    reporter_phone: str = "",
    anonymous: bool = False,
    priority: str = Priority.NORMAL,
    title: str = "",
    source_ref: str = "",
    attributes: dict[str, Any] | None = None,
    received_at: dt.datetime | None = None,
    auto_dispatch: bool = True,
) -> Case:
    """Receive a request (问): validate, locate, number, look for duplicates, and
    dispatch it to the default level's handler of the located grid (派)."""
    description = (description or "").strip()
    if not description:
        raise ValidationFailed("请填写诉求内容", "a description is required", field="description")
    if channel not in Channel.values:
        raise ValidationFailed(f"未知渠道 {channel}", f"unknown channel {channel}", field="channel")
    if priority not in Priority.values:
        raise ValidationFailed("紧急程度无效", "invalid priority", field="priority")
    if grid is None:
        grid = routing.locate_grid(lat=lat, lng=lng, dwelling=dwelling)
    elif grid.kind != "grid":
        raise ValidationFailed("请选择网格", "the area must be a grid", field="grid")
    if actor is not None and not path_allowed(actor, grid.path, Perm.VIEW):
        # Staff may only file cases where they work; residents file through the
        # public page, which passes actor=None.
        raise NotFound("该位置不在您的管辖范围内", "the location is outside your area")
    phone = ""
    if reporter_phone:
        from jiayuan.people.services import validate_phone

        phone = validate_phone(reporter_phone)
    now = received_at or timezone.now()
    level = category.default_level
    owner = routing.owner_for(grid, level)
    case = Case(
        number=_next_number(timezone.localdate(now)),
        channel=channel,
        category=category,
        title=title[:100] or description[:30],
        description=description,
        priority=priority,
        level=level,
        lat=lat,
        lng=lng,
        address=address,
        grid=grid,
        dwelling=dwelling,
        owner_area=owner,
        reporter=reporter,
        reporter_name="" if anonymous else reporter_name,
        anonymous=anonymous,
        received_at=now,
        source_ref=source_ref,
        attributes=attributes or {},
        handler_department=category.department if level == Level.DEPARTMENT else None,
    )
    if phone and not anonymous:
        case.set_reporter_phone(phone)
    clock = WorkClock()
    sla.start_total(case, clock)
    sla.start_stage(case, now, clock)
    with transaction.atomic():
        case.duplicate_of_hint = []
        actions.save_new(case, actor=None, note=f"intake via {channel}")
        hints = [c.number for c in duplicate_candidates(case)]
        if hints:
            case.duplicate_of_hint = hints
            case.save(update_fields=["duplicate_of_hint"])
        _event(
            case,
            actor,
            "receive",
            Step.ASK,
            "",
            f"渠道：{case.get_channel_display()}",
            public=True,
            duplicates=hints,
        )
        if auto_dispatch:
            handler = routing.handler_for(owner, level)
            if handler is not None or level == Level.DEPARTMENT:
                _dispatch(case, None, handler, now, note="自动派单", clock=clock)
    return case


# --- transitions -----------------------------------------------------------------------
def _assign(case: Case, handler: Any, level: str | None = None) -> None:
    if level is not None and level != case.level:
        case.level = level
        case.owner_area = routing.owner_for(case.grid, level)
        case.area_path = case.owner_area.path
    case.handler_user = handler
    case.handler_department = (
        case.category.department if case.level == Level.DEPARTMENT else case.handler_department
    )


def _dispatch(
    case: Case,
    actor: Any,
    handler: Any,
    now: dt.datetime,
    note: str = "",
    clock: WorkClock | None = None,
) -> None:
    """Assign and start the accept clock; intake passes its clock so the calendar is
    read once per request."""
    from_status = case.status
    first = case.dispatched_at is None
    _assign(case, handler)
    case.status = Status.DISPATCHED
    if first:
        case.dispatched_at = now
        case.dispatched_on_time = case.stage_due_at is None or now <= case.stage_due_at
    sla.start_stage(case, now, clock)
    case.save()
    who = handler.username if handler else (case.handler_department or "")
    _event(
        case,
        actor,
        "dispatch",
        Step.DISPATCH,
        from_status,
        note or f"派单给 {who}",
        public=True,
        handler=getattr(handler, "pk", None),
    )
    notify.notify([handler], case, "dispatch", f"新派单 {case.number}", case.title)


def perform(
    case_id: int, action: str, *, actor: Any, expected_version: int | None = None, **params: Any
) -> Case:
    """Take ``action`` on a case as ``actor`` (None for the system).

    The case row is locked for the whole transaction, so two handlers accepting at the
    same moment are serialised: the second finds it accepted and gets a 409.
    """
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise ValidationFailed(f"未知操作 {action}", f"unknown action {action}", field="action")
    with transaction.atomic():
        base = Case.objects.select_for_update()
        case = (base.visible_to(actor) if actor is not None else base).filter(pk=case_id).first()
        if case is None and actor is not None:
            # A handler may act on a case assigned to them even outside their area.
            case = base.filter(pk=case_id, handler_user=actor).first()
        if case is None:
            raise NotFound("诉求不存在", "case not found")
        if expected_version is not None and case.version != expected_version:
            raise Conflict("诉求已被他人更新，请刷新后重试", "the case changed meanwhile; reload")
        # Through the tracking link the reporter acts as the reporter alone, never with
        # the system's rights that actor=None otherwise carries.
        rel = {"reporter"} if params.pop("_as_reporter", False) else relations(actor, case)
        if not transition.who & rel:
            raise PermissionDenied(
                f"您不能对该诉求执行「{transition.label}」",
                f"you may not {action} this case",
            )
        if case.status not in transition.sources:
            raise TransitionRefused(
                f"当前状态「{case.get_status_display()}」不能执行「{transition.label}」",
                f"'{action}' is not allowed while the case is {case.status}",
            )
        reason = (params.get("reason") or "").strip()
        if transition.needs_reason and not reason:
            raise ValidationFailed("请填写原因", "a reason is required", field="reason")
        before = audit.snapshot(case)
        now = params.pop("now", None) or timezone.now()
        _HANDLERS[action](case, actor, now, **params)
        case.version += 1
        case.save()
        audit.record(
            AuditEntry.Action.UPDATE,
            case,
            actor,
            audit.diff(before, audit.snapshot(case)),
            f"{action}: {reason}"[:200],
        )
    return case


def _do_dispatch(
    case: Case, actor: Any, now: dt.datetime, *, handler_id: int | None = None, reason: str = ""
) -> None:
    handler = (
        _user_at(case, handler_id)
        if handler_id
        else routing.handler_for(case.owner_area, case.level)
    )
    if handler is None and case.level != Level.DEPARTMENT:
        raise ValidationFailed(
            "该层级没有可派单的人员", "nobody takes cases at this level", field="handler_id"
        )
    _dispatch(case, actor, handler, now, note=reason)


def _user_at(case: Case, user_id: int) -> Any:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not path_allowed(user, case.owner_area.path, Perm.VIEW):
        raise ValidationFailed(
            "指定的办理人不在该层级", "the handler does not work at this level", field="handler_id"
        )
    return user


def _do_accept(case: Case, actor: Any, now: dt.datetime, **_: Any) -> None:
    case.status = Status.ACCEPTED
    case.accepted_at = case.accepted_at or now
    sla.start_stage(case, now)
    _event(case, actor, "accept", Step.DISPATCH, Status.DISPATCHED, "已接单", public=True)


def _do_return(case: Case, actor: Any, now: dt.datetime, *, reason: str) -> None:
    case.status = Status.RECEIVED
    case.handler_user = None
    sla.start_stage(case, now)
    _event(case, actor, "return", Step.DISPATCH, Status.DISPATCHED, reason)
    notify.notify(
        routing.supervisors(case.owner_area), case, "returned", f"诉求被退回 {case.number}", reason
    )


def _do_start(case: Case, actor: Any, now: dt.datetime, **_: Any) -> None:
    case.status = Status.IN_PROGRESS
    _event(case, actor, "start", Step.HANDLE, Status.ACCEPTED, "开始办理", public=True)


def _do_transfer(
    case: Case,
    actor: Any,
    now: dt.datetime,
    *,
    reason: str,
    handler_id: int | None = None,
    level: str | None = None,
    department_id: int | None = None,
) -> None:
    from_status = case.status
    target_level = level or case.level
    if target_level not in LEVEL_ORDER:
        raise ValidationFailed("层级无效", "invalid level", field="level")
    if LEVEL_ORDER.index(target_level) > LEVEL_ORDER.index(case.level):
        raise ValidationFailed(
            "向上转办请使用「提级帮办」", "use escalate to move a case up", field="level"
        )
    if department_id is not None:
        target_level = Level.DEPARTMENT
        dept = Department.objects.filter(pk=department_id).first()
        if dept is None:
            raise ValidationFailed("部门不存在", "no such department", field="department_id")
    old_level = case.level
    _assign(case, None, target_level)
    if department_id is not None:
        case.handler_department = dept
    handler = (
        _user_at(case, handler_id)
        if handler_id
        else routing.handler_for(case.owner_area, case.level)
    )
    if handler is not None and handler.pk == getattr(actor, "pk", None) and old_level == case.level:
        raise ValidationFailed("不能转办给自己", "cannot transfer to yourself", field="handler_id")
    case.handler_user = handler
    case.status = Status.DISPATCHED
    case.transfer_count += 1
    sla.start_stage(case, now)
    _event(
        case,
        actor,
        "transfer",
        Step.TRANSFER,
        from_status,
        reason,
        public=True,
        from_level=old_level,
        to_level=case.level,
        handler=getattr(handler, "pk", None),
    )
    notify.notify([handler], case, "transfer", f"转办 {case.number}", reason)


def _do_escalate(
    case: Case, actor: Any, now: dt.datetime, *, reason: str, level: str | None = None
) -> None:
    from_status = case.status
    target = level or routing.level_above(case.level)
    if target is None or LEVEL_ORDER.index(target) <= LEVEL_ORDER.index(case.level):
        raise ValidationFailed(
            "已是最高层级", "the case is already at the top level", field="level"
        )
    if case.status == Status.SUSPENDED:
        _unsuspend(case, now)
    old_level = case.level
    _assign(case, None, target)
    handler = routing.handler_for(case.owner_area, case.level)
    case.handler_user = handler
    case.escalated_help = True
    case.status = Status.DISPATCHED
    sla.start_stage(case, now)
    _event(
        case,
        actor,
        "escalate",
        Step.TRANSFER,
        from_status,
        reason,
        public=True,
        from_level=old_level,
        to_level=target,
        handler=getattr(handler, "pk", None),
    )
    notify.notify(
        [handler, *routing.supervisors(case.owner_area)],
        case,
        "escalate",
        f"提级帮办 {case.number}",
        reason,
    )


def _do_suspend(case: Case, actor: Any, now: dt.datetime, *, reason: str) -> None:
    case.status = Status.SUSPENDED
    case.suspended_at = now
    _event(case, actor, "suspend", Step.HANDLE, Status.IN_PROGRESS, reason, public=True)


def _unsuspend(case: Case, now: dt.datetime) -> float:
    paused = WorkClock().minutes_between(case.suspended_at, now) if case.suspended_at else 0.0
    sla.shift(case, paused)
    case.suspended_at = None
    return paused


def _do_resume(case: Case, actor: Any, now: dt.datetime, **_: Any) -> None:
    paused = _unsuspend(case, now)
    case.status = Status.IN_PROGRESS
    _event(
        case,
        actor,
        "resume",
        Step.HANDLE,
        Status.SUSPENDED,
        "恢复办理",
        public=True,
        paused_minutes=round(paused, 1),
    )


def _do_request_delay(
    case: Case, actor: Any, now: dt.datetime, *, reason: str, minutes: int = 450
) -> None:
    if minutes <= 0 or minutes > 30 * 450:
        raise ValidationFailed("延期时长无效", "invalid delay", field="minutes")
    case.delay_requested_minutes = minutes
    _event(case, actor, "request_delay", Step.HANDLE, case.status, reason, minutes=minutes)
    notify.notify(
        routing.supervisors(case.owner_area), case, "delay", f"延期申请 {case.number}", reason
    )


def _do_approve_delay(case: Case, actor: Any, now: dt.datetime, **_: Any) -> None:
    minutes = case.delay_requested_minutes
    if not minutes:
        raise TransitionRefused("没有待审批的延期申请", "no delay request is pending")
    case.delay_minutes += minutes
    case.delay_requested_minutes = 0
    sla.shift(case, minutes)
    _event(
        case,
        actor,
        "approve_delay",
        Step.REVIEW,
        case.status,
        f"批准延期 {minutes} 工作分钟",
        minutes=minutes,
    )
    notify.notify([case.handler_user], case, "delay_approved", f"延期已批准 {case.number}")


def _do_handle(
    case: Case, actor: Any, now: dt.datetime, *, result: str = "", reason: str = ""
) -> None:
    result = (result or reason).strip()
    if not result:
        raise ValidationFailed("请填写办理结果", "a result is required", field="result")
    from_status = case.status
    case.status = Status.HANDLED
    case.result = result
    case.handled_at = now
    sla.start_stage(case, now)
    _event(case, actor, "handle", Step.HANDLE, from_status, result, public=True)
    notify.notify(
        routing.supervisors(case.owner_area), case, "review", f"待审核 {case.number}", result[:100]
    )


def _do_approve(
    case: Case, actor: Any, now: dt.datetime, *, note: str = "", reason: str = ""
) -> None:
    if actor is not None and case.handler_user_id == actor.pk and not actor.is_superuser:
        raise PermissionDenied("不能审核自己办理的诉求", "you may not review your own handling")
    case.status = Status.REPLIED
    case.replied_at = now
    case.public_note = (note or case.result)[:300]
    case.closed_on_time = case.due_at is None or now <= case.due_at
    case.handling_minutes = round(WorkClock().minutes_between(case.received_at, now), 2)
    sla.start_stage(case, now)
    _event(case, actor, "approve", Step.REVIEW, Status.HANDLED, note or "审核通过")
    _event(case, actor, "reply", Step.REPLY, Status.HANDLED, case.public_note, public=True)
    notify.tell_reporter(case, f"您反映的问题（{case.number}）已办理：{case.public_note[:60]}")


def _do_send_back(case: Case, actor: Any, now: dt.datetime, *, reason: str) -> None:
    case.status = Status.IN_PROGRESS
    case.rework_count += 1
    sla.start_stage(case, now)
    _event(case, actor, "send_back", Step.REVIEW, Status.HANDLED, reason)
    notify.notify([case.handler_user], case, "rework", f"退回重办 {case.number}", reason)


def _do_visit(
    case: Case,
    actor: Any,
    now: dt.datetime,
    *,
    satisfaction: str,
    comment: str = "",
    by: str = ReturnVisit.By.PHONE,
    reason: str = "",
) -> None:
    if satisfaction not in Satisfaction.values:
        raise ValidationFailed("请选择满意度", "choose a satisfaction", field="satisfaction")
    ReturnVisit.objects.create(
        case=case,
        by=by,
        satisfaction=satisfaction,
        comment=comment,
        visitor=actor if getattr(actor, "pk", None) else None,
        at=now,
    )
    case.satisfaction = satisfaction
    label = Satisfaction(satisfaction).label
    if satisfaction != Satisfaction.UNSATISFIED:
        case.status = Status.CLOSED
        case.closed_at = now
        case.closed_level = case.level
        sla.start_stage(case, now)
        _event(
            case,
            actor,
            "visit",
            Step.REPLY,
            Status.REPLIED,
            f"回访：{label}。{comment}",
            public=True,
            satisfaction=satisfaction,
        )
        return
    case.reopen_count += 1
    _event(
        case,
        actor,
        "visit",
        Step.REPLY,
        Status.REPLIED,
        f"回访：{label}。{comment}",
        public=True,
        satisfaction=satisfaction,
    )
    if case.reopen_count == 1:
        case.status = Status.IN_PROGRESS
        sla.start_stage(case, now)
        _event(case, None, "reopen", Step.HANDLE, Status.REPLIED, "居民不满意，重新办理")
        notify.notify([case.handler_user], case, "reopen", f"不满意重办 {case.number}", comment)
    else:
        _do_escalate(case, None, now, reason="居民再次不满意，提级办理")


def _do_reject(case: Case, actor: Any, now: dt.datetime, *, reason: str) -> None:
    from_status = case.status
    case.status = Status.REJECTED
    case.closed_at = now
    case.public_note = reason[:300]
    sla.start_stage(case, now)
    _event(case, actor, "reject", Step.ASK, from_status, reason, public=True)


def _do_merge(
    case: Case, actor: Any, now: dt.datetime, *, into: str | int, reason: str = ""
) -> None:
    target = Case.objects.filter(number=into).first() if isinstance(into, str) else None
    target = target or Case.objects.filter(pk=into if isinstance(into, int) else -1).first()
    if target is None or target.pk == case.pk or target.status == Status.MERGED:
        raise ValidationFailed("合并目标无效", "invalid case to merge into", field="into")
    if actor is not None and not path_allowed(actor, target.area_path, Perm.VIEW):
        raise ValidationFailed("合并目标无效", "invalid case to merge into", field="into")
    from_status = case.status
    case.status = Status.MERGED
    case.merged_into = target
    case.closed_at = now
    sla.start_stage(case, now)
    _event(
        case,
        actor,
        "merge",
        Step.ASK,
        from_status,
        f"与 {target.number} 重复，已合并",
        public=True,
        into=target.number,
    )
    _event(target, actor, "merged_in", Step.ASK, target.status, f"合并了重复诉求 {case.number}")


_HANDLERS: dict[str, Callable[..., None]] = {
    "dispatch": _do_dispatch,
    "accept": _do_accept,
    "return": _do_return,
    "start": _do_start,
    "transfer": _do_transfer,
    "escalate": _do_escalate,
    "suspend": _do_suspend,
    "resume": _do_resume,
    "request_delay": _do_request_delay,
    "approve_delay": _do_approve_delay,
    "handle": _do_handle,
    "approve": _do_approve,
    "send_back": _do_send_back,
    "visit": _do_visit,
    "reject": _do_reject,
    "merge": _do_merge,
}


def visit_by_token(token: str, satisfaction: str, comment: str = "") -> Case:
    """The resident's own verdict through the tracking link (no login)."""
    case = Case.objects.filter(tracking_token=token).first()
    if case is None:
        raise NotFound("诉求不存在", "case not found")
    return perform(
        case.pk,
        "visit",
        actor=None,
        _as_reporter=True,
        satisfaction=satisfaction,
        comment=comment,
        by=ReturnVisit.By.RESIDENT,
    )
