"""The alarm lifecycle (告警处置): raise, repeat, acknowledge, clear, mark false, close,
escalate — and the case an alarm opens through the incident bridge.

Every change goes through here: the engine and the periodic jobs (actor ``None``) as
well as people on pages and in the API. Each transition is checked against
:data:`TRANSITIONS`, locks the alarm row, writes one :class:`AlarmEvent` and one audit
entry, all in one transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from jiayuan.core import audit
from jiayuan.core.actions import ensure_in_scope
from jiayuan.core.errors import Conflict, NotFound, ValidationFailed
from jiayuan.core.incidents import raise_incident
from jiayuan.core.models import AuditEntry, Notification
from jiayuan.core.notices import notify
from jiayuan.core.roles import Perm, Role
from jiayuan.org.models import Membership

from .choices import (
    OPEN_ALARM_STATUSES,
    AlarmEventKind,
    AlarmStatus,
    EscalationLevel,
    Severity,
)
from .models import Alarm, AlarmEvent, AlarmRule, Device

log = logging.getLogger(__name__)

# action -> (statuses it may start from, Chinese label)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "acknowledge": (frozenset({AlarmStatus.ACTIVE}), "确认"),
    "clear": (frozenset({AlarmStatus.ACTIVE, AlarmStatus.ACKNOWLEDGED}), "解除"),
    "mark_false": (
        frozenset({AlarmStatus.ACTIVE, AlarmStatus.ACKNOWLEDGED, AlarmStatus.CLEARED}),
        "标记误报",
    ),
    "close": (
        frozenset({AlarmStatus.ACTIVE, AlarmStatus.ACKNOWLEDGED, AlarmStatus.CLEARED}),
        "关闭",
    ),
}

CASE_PRIORITY = {
    Severity.CRITICAL: "critical",
    Severity.MAJOR: "urgent",
    Severity.MINOR: "normal",
    Severity.WARNING: "normal",
}


def allowed_actions(alarm: Alarm) -> list[str]:
    """The transitions open from the alarm's current status (for pages and the API)."""
    return [name for name, (sources, _) in TRANSITIONS.items() if alarm.status in sources]


def event(
    alarm: Alarm,
    kind: str,
    *,
    actor: Any = None,
    note: str = "",
    at: dt.datetime | None = None,
    data: dict[str, Any] | None = None,
) -> AlarmEvent:
    """Append one line to the alarm's timeline."""
    return AlarmEvent.objects.create(
        alarm=alarm,
        kind=kind,
        actor=actor if getattr(actor, "pk", None) else None,
        note=note[:300],
        at=at or timezone.now(),
        data=data or {},
    )


# --- the system side: raising and clearing ---------------------------------------------
def raise_alarm(
    device: Device,
    rule: AlarmRule,
    *,
    at: dt.datetime,
    detail: dict[str, Any] | None = None,
    count: int = 1,
    title: str = "",
    after_commit: bool = False,
) -> tuple[Alarm, bool]:
    """Raise ``rule`` on ``device``, or count a repeat on its open alarm.

    Returns the alarm and whether it is new. A new alarm of a rule that opens cases
    gets its case, and a critical one (fire, gas, an emergency call) is told at once to
    the grid workers of the place (:func:`tell_grid`), whoever the case is routed to —
    both through :func:`follow_up`. By default that runs in the caller's transaction
    (jobs, demo data); with ``after_commit`` (the ingest engine) it becomes a job
    enqueued once the transaction commits, so case intake never holds up a batch of
    device messages. A failure to open the case is logged and retried (by the job, then
    by the escalation job) rather than losing the alarm. ``title`` defaults to the
    device's name and the rule's."""
    with transaction.atomic():
        current = _open_alarm(device, rule)
        if current is not None:
            return repeat(current, at=at, detail=detail, count=count), False
        alarm = Alarm(
            device=device,
            rule=rule,
            severity=rule.severity,
            title=(title or f"{device.name or device.serial} {rule.name}")[:200],
            detail=detail or {},
            count=count,
            first_at=at,
            last_at=at,
        )
        try:
            with transaction.atomic():
                alarm.save()
        except IntegrityError:
            # Another ingest process raised it a moment ago: count ours on theirs.
            current = _open_alarm(device, rule)
            if current is None:
                raise
            return repeat(current, at=at, detail=detail, count=count), False
        event(alarm, AlarmEventKind.RAISED, at=at, note=rule.name, data=detail)
        audit.record(AuditEntry.Action.CREATE, alarm, None, audit.snapshot(alarm), rule.code)
        if needs_follow_up(rule):
            if after_commit:
                request_follow_up(alarm.pk)
            else:
                _follow_up(alarm)
    return alarm, True


def needs_follow_up(rule: AlarmRule) -> bool:
    """Whether a new alarm of ``rule`` has work beyond its own row (a case, a notice)."""
    return bool(rule.opens_case)


def request_follow_up(alarm_id: int) -> None:
    """Enqueue :func:`follow_up` for ``alarm_id`` once the current transaction commits
    (a rolled-back alarm enqueues nothing; the job finds the committed row)."""
    from .tasks import follow_up_alarm

    transaction.on_commit(lambda: follow_up_alarm(alarm_id), robust=True)


class CaseNotOpened(Exception):
    """The alarm's case could not be opened yet (the job is retried)."""


def follow_up(alarm_id: int) -> str:
    """What a new alarm sets going beyond its own row, in its own transaction: open its
    case through the incident bridge (the number written back to the alarm) and, for a
    critical alarm, tell the grid workers of the place. Idempotent, so a job retried or
    run twice changes nothing more: the alarm row is locked, a case already linked is
    kept (and the cases side answers a re-sent key with the case it opened), and the grid
    is told once. Returns the case number; raises :class:`CaseNotOpened` when the rule
    opens cases and none could be opened, so that the job is retried."""
    with transaction.atomic():
        alarm = (
            Alarm.objects.select_for_update(of=("self",))
            .select_related("rule", "device__device_type", "device__area", "device__dwelling")
            .filter(pk=alarm_id)
            .first()
        )
        if alarm is None:
            return ""
        number = _follow_up(alarm)
    if alarm.rule.opens_case and not number:
        raise CaseNotOpened(f"alarm {alarm_id}: case not opened")
    return number


def _follow_up(alarm: Alarm) -> str:
    rule = alarm.rule
    number = open_case(alarm) if rule.opens_case else ""
    if rule.opens_case and alarm.severity == Severity.CRITICAL and not _grid_told(alarm):
        tell_grid(alarm)
    return number


def _grid_told(alarm: Alarm) -> bool:
    return Notification.objects.filter(
        kind="alarm_grid", link=reverse("iot:alarm", args=[alarm.pk])
    ).exists()


def _open_alarm(device: Device, rule: AlarmRule) -> Alarm | None:
    return (
        Alarm.objects.select_for_update()
        .filter(device=device, rule=rule, status__in=OPEN_ALARM_STATUSES)
        .first()
    )


def repeat(
    alarm: Alarm, *, at: dt.datetime, detail: dict[str, Any] | None = None, count: int = 1
) -> Alarm:
    """Count ``count`` more occurrences on an open alarm (no timeline line per repeat: a
    detector reporting every five seconds would bury the timeline)."""
    alarm.count += count
    alarm.last_at = max(alarm.last_at, at)
    if detail is not None:
        alarm.detail = detail
    alarm.save(update_fields=["count", "last_at", "detail", "updated_at"])
    return alarm


def auto_clear(alarm: Alarm, *, at: dt.datetime, note: str) -> Alarm:
    """The clear condition held (or the device came back, or someone moved at home)."""
    with transaction.atomic():
        locked = Alarm.objects.select_for_update().get(pk=alarm.pk)
        if locked.status not in OPEN_ALARM_STATUSES:
            return locked
        before = audit.snapshot(locked)
        locked.status = AlarmStatus.CLEARED
        locked.cleared_at = at
        locked.save(update_fields=["status", "cleared_at", "updated_at"])
        event(locked, AlarmEventKind.CLEARED, at=at, note=note)
        audit.record(
            AuditEntry.Action.UPDATE, locked, None, audit.diff(before, audit.snapshot(locked)),
            f"auto clear: {note}",
        )  # fmt: skip
    return locked


def open_case(alarm: Alarm) -> str:
    """Open the alarm's case through the incident bridge and link both ways.

    Runs in a savepoint: if the case cannot be opened (no such category, no grid), the
    alarm stays and the escalation job tries again."""
    if alarm.case_ref:
        return alarm.case_ref
    rule, device = alarm.rule, alarm.device
    try:
        with transaction.atomic():
            number = raise_incident(
                Alarm,
                key=alarm.key,
                category_code=rule.case_category_code,
                title=alarm.title[:100],
                description=_case_description(alarm),
                area=device.area,
                dwelling=device.dwelling,
                lat=device.lat,
                lng=device.lng,
                priority=CASE_PRIORITY.get(Severity(alarm.severity), "urgent"),
            )
            if number:
                alarm.case_ref = number
                alarm.save(update_fields=["case_ref", "updated_at"])
                event(alarm, AlarmEventKind.CASE_OPENED, note=f"工单 {number}",
                      data={"case": number})  # fmt: skip
    except Exception:
        log.exception("could not open the case of alarm %s", alarm.pk)
        return ""
    return alarm.case_ref


GRID_DEPTH = 5  # county/street/community/zone/grid


def grid_workers(device: Device) -> list[Any]:
    """The active grid workers (网格员 accounts) of the grid a device's dwelling — or,
    without a dwelling, the device itself — lies in."""
    path = device.dwelling.area_path if device.dwelling_id and device.dwelling else ""
    parts = (path or device.area_path).rstrip("/").split("/")
    if len(parts) < GRID_DEPTH:
        return []
    grid_path = "/".join(parts[:GRID_DEPTH]) + "/"
    members = Membership.objects.filter(
        area_path=grid_path, role=Role.GRID_WORKER, active=True, user__is_active=True
    ).select_related("user")
    return [m.user for m in members.order_by("id")]


def tell_grid(alarm: Alarm) -> int:
    """Tell the grid workers of the alarm's place at once (inbox notice), beside the case
    the request loop routes: for a fire or a gas leak the grid worker is the nearest
    responder, whatever level the case starts at. Runs in the alarm's transaction."""
    case = f"，已生成工单 {alarm.case_ref}" if alarm.case_ref else ""
    return notify(
        grid_workers(alarm.device),
        kind="alarm_grid",
        title=f"紧急告警：{alarm.title}"[:100],
        body=f"{alarm.get_severity_display()}告警，请立即到场处置{case}。",
        link=reverse("iot:alarm", args=[alarm.pk]),
    )


def _case_description(alarm: Alarm) -> str:
    device = alarm.device
    where = device.area.name if device.area_id else ""
    local = timezone.localtime(alarm.first_at)
    return (
        f"{device.device_type.name}（{device.serial}）于 {local:%Y-%m-%d %H:%M:%S} "
        f"触发「{alarm.rule.name}」，级别：{alarm.get_severity_display()}，位置：{where}。"
        f"告警编号 {alarm.pk}。"
    )


# --- the people side ---------------------------------------------------------------------
def _transition(
    alarm: Alarm,
    action: str,
    user: Any,
    *,
    now: dt.datetime | None = None,
    note: str = "",
    change: Any = None,
) -> Alarm:
    sources, label = TRANSITIONS[action]
    with transaction.atomic():
        locked = Alarm.objects.select_for_update().filter(pk=alarm.pk).first()
        if locked is None:
            raise NotFound("告警不存在", "alarm not found")
        ensure_in_scope(user, locked, Perm.CHANGE)
        if locked.status not in sources:
            raise Conflict(
                f"当前状态「{locked.get_status_display()}」不能执行「{label}」",
                f"cannot {action} an alarm that is {locked.status}",
            )
        before = audit.snapshot(locked)
        when = now or timezone.now()
        kind = change(locked, when)
        locked.save()
        event(locked, kind, actor=user, note=note, at=when)
        audit.record(
            AuditEntry.Action.UPDATE, locked, user, audit.diff(before, audit.snapshot(locked)),
            f"{action}: {note}",
        )  # fmt: skip
    alarm.refresh_from_db()
    return alarm


def acknowledge(alarm: Alarm, user: Any, *, now: dt.datetime | None = None) -> Alarm:
    """Someone responsible has seen the alarm (确认): stops its escalation."""

    def change(a: Alarm, when: dt.datetime) -> str:
        a.status = AlarmStatus.ACKNOWLEDGED
        a.acknowledged_by = user if getattr(user, "pk", None) else None
        a.acknowledged_at = when
        return AlarmEventKind.ACKNOWLEDGED

    return _transition(alarm, "acknowledge", user, now=now, change=change)


def clear(alarm: Alarm, user: Any, note: str = "", *, now: dt.datetime | None = None) -> Alarm:
    """The danger is over (解除), by hand."""

    def change(a: Alarm, when: dt.datetime) -> str:
        a.status = AlarmStatus.CLEARED
        a.cleared_at = when
        return AlarmEventKind.CLEARED

    return _transition(alarm, "clear", user, now=now, note=note, change=change)


def mark_false(alarm: Alarm, user: Any, reason: str, *, now: dt.datetime | None = None) -> Alarm:
    """The alarm was false (误报), with the reason; it is closed at once."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("请填写误报原因", "a reason is required", field="reason")

    def change(a: Alarm, when: dt.datetime) -> str:
        a.false_alarm = True
        a.false_reason = reason[:200]
        a.status = AlarmStatus.CLOSED
        a.cleared_at = a.cleared_at or when
        a.closed_at = when
        return AlarmEventKind.FALSE_ALARM

    return _transition(alarm, "mark_false", user, now=now, note=reason, change=change)


def close(alarm: Alarm, user: Any, note: str = "", *, now: dt.datetime | None = None) -> Alarm:
    """Done with (关闭): by hand, or by the system when the alarm's case is finished."""

    def change(a: Alarm, when: dt.datetime) -> str:
        a.status = AlarmStatus.CLOSED
        a.cleared_at = a.cleared_at or when
        a.closed_at = when
        return AlarmEventKind.CLOSED

    return _transition(alarm, "close", user, now=now, note=note, change=change)


def close_for_incident(sender: Any, *, key: str, number: str = "", **_: Any) -> None:
    """Receiver of ``incident_closed``: the alarm's case is finished, so is the alarm."""
    if not key.startswith("alarm:") or not key[6:].isdigit():
        return
    alarm = Alarm.objects.filter(pk=int(key[6:])).first()
    if alarm is None or alarm.status == AlarmStatus.CLOSED:
        return
    close(alarm, None, f"工单 {number} 已办结")


# --- escalation ----------------------------------------------------------------------------
ESCALATION_LABEL = {EscalationLevel.COMMUNITY: "社区", EscalationLevel.STREET: "街道"}


def escalate(alarm: Alarm, *, now: dt.datetime) -> Alarm:
    """Raise an unacknowledged alarm one level (grid worker → community → street)."""
    with transaction.atomic():
        locked = Alarm.objects.select_for_update().get(pk=alarm.pk)
        if locked.status != AlarmStatus.ACTIVE or locked.escalation_level >= EscalationLevel.STREET:
            return locked
        before = audit.snapshot(locked)
        locked.escalation_level += 1
        locked.escalated_at = now
        locked.save(update_fields=["escalation_level", "escalated_at", "updated_at"])
        label = ESCALATION_LABEL[EscalationLevel(locked.escalation_level)]
        event(locked, AlarmEventKind.ESCALATED, at=now, note=f"超时未确认，升级至{label}",
              data={"level": locked.escalation_level})  # fmt: skip
        audit.record(
            AuditEntry.Action.UPDATE, locked, None, audit.diff(before, audit.snapshot(locked)),
            "escalate",
        )  # fmt: skip
        _notify_level(locked, label)
    return locked


# The level an escalated alarm reaches: (depth of its area in the path, role told there).
ESCALATION_TARGET = {
    EscalationLevel.COMMUNITY: (3, Role.COMMUNITY_STAFF),
    EscalationLevel.STREET: (2, Role.STREET_LEADER),
}


def _notify_level(alarm: Alarm, label: str) -> int:
    """Tell the staff of the level the alarm reached (through ``core.notices``, whose
    inbox the request loop keeps)."""
    depth, role = ESCALATION_TARGET[EscalationLevel(alarm.escalation_level)]
    parts = alarm.area_path.rstrip("/").split("/")
    if len(parts) < depth:
        return 0
    path = "/".join(parts[:depth]) + "/"
    users = [
        m.user
        for m in Membership.objects.filter(area_path=path, role=role, active=True).select_related(
            "user"
        )
    ]
    return notify(
        users,
        kind="alarm_escalated",
        title=f"告警升级至{label}：{alarm.title}"[:100],
        body=f"{alarm.get_severity_display()}告警超时未确认",
        link=reverse("iot:alarm", args=[alarm.pk]),
    )
