"""Overdue escalation (超时督办): the job that chases cases which overran their stage.

For every open case that is not suspended and whose stage due time has passed, three
tiers, each taken once per stage and written to the timeline:

1. ``overdue_notice`` — the stage is overdue: tell whoever must act now (the handler;
   the dispatchers while nobody was dispatched, the reviewers in review and visit).
2. ``overdue_upper`` — overdue by half the stage limit or more: tell the supervisors
   of the level above the one that owns the case.
3. ``escalate`` — overdue by the whole stage limit or more: raise the case one level
   through the ordinary action (``services.perform(..., "escalate")``), which starts a
   new stage with a fresh clock. Cases in review or waiting for the return visit are
   not raised (the delay is not the handler's), nor cases already at the top, nor a
   case whose category names no department to raise it to.

``Case.escalations`` holds the last tier taken in the current stage (every new stage
resets it to 0), so re-running the job never repeats a tier. Each case is advanced in
its own transaction under a row lock, so two overlapping runs cannot both take a tier
and a failure on one case leaves the others done.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from jiayuan.core import audit
from jiayuan.core.calendar import MINUTES_PER_WORKDAY, WorkClock
from jiayuan.core.errors import BilingualError
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import ROLE_PERMS, Perm
from jiayuan.org.models import Membership

from . import notify, routing
from .choices import OPEN_STATUSES, STAGE_OF_STATUS, Level, SlaStage, Status, Step
from .machine import TRANSITIONS
from .models import Case, CaseEvent

logger = logging.getLogger(__name__)

#: Share of the stage limit a case must be overdue by for tiers 2 and 3.
UPPER_SHARE = 0.5
RAISE_SHARE = 1.0
RAISE_REASON = "超时自动提级"

NOTICE, UPPER, RAISE = 1, 2, 3
CHASED_STATUSES = [s for s in OPEN_STATUSES if s != Status.SUSPENDED]
RAISABLE_STATUSES = frozenset(TRANSITIONS["escalate"].sources) - {Status.SUSPENDED}
SUPERVISING_ROLES = sorted(role for role, perms in ROLE_PERMS.items() if Perm.SUPERVISE in perms)
STEP_OF_STAGE = {
    SlaStage.DISPATCH: Step.DISPATCH,
    SlaStage.ACCEPT: Step.DISPATCH,
    SlaStage.HANDLE: Step.HANDLE,
    SlaStage.REVIEW: Step.REVIEW,
    SlaStage.VISIT: Step.REPLY,
}


@dataclass
class Summary:
    """What one run did: cases looked at, tiers taken, and raises that failed."""

    checked: int = 0
    notices: int = 0
    upper: int = 0
    raised: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def tier_due(case: Case, now: dt.datetime, clock: WorkClock) -> int:
    """The highest tier ``case`` has earned at ``now`` (0 when not overdue).

    Overdue time and the stage limit are both working minutes, so a case that fell due
    at 17:30 on Friday is overdue (tier 1) over the weekend but climbs no higher until
    working time passes on Monday. Tier 3 only where the case can be raised."""
    if case.stage_due_at is None or case.stage_due_at >= now:
        return 0
    limit = max(clock.minutes_between(case.stage_started_at, case.stage_due_at), 1.0)
    over = clock.minutes_between(case.stage_due_at, now)
    if over >= RAISE_SHARE * limit and can_raise(case):
        return RAISE
    if over >= UPPER_SHARE * limit:
        return UPPER
    return NOTICE


def can_raise(case: Case) -> bool:
    """Whether the job may raise ``case`` one level (提级) when its stage overruns."""
    if case.status not in RAISABLE_STATUSES:
        return False
    target = routing.level_above(case.level)
    if target is None:
        return False
    return target != Level.DEPARTMENT or case.category.department_id is not None


class _Recipients:
    """Who to tell, looked up once per owning area in a run."""

    def __init__(self) -> None:
        self._dispatchers: dict[str, list[Any]] = {}
        self._upper: dict[str, list[Any]] = {}

    def responsible(self, case: Case) -> list[Any]:
        """Tier 1: whoever must act in the current stage."""
        stage = STAGE_OF_STATUS.get(Status(case.status))
        if stage in (SlaStage.ACCEPT, SlaStage.HANDLE) and case.handler_user is not None:
            return [case.handler_user]
        path = case.owner_area.path
        if path not in self._dispatchers:
            self._dispatchers[path] = routing.supervisors(case.owner_area)
        return self._dispatchers[path]

    def upper(self, case: Case) -> list[Any]:
        """Tier 2: the supervisors of the nearest level above the owner that has any."""
        path = case.owner_area.path
        if path not in self._upper:
            self._upper[path] = upper_supervisors(path)
        return self._upper[path]


def upper_supervisors(owner_path: str) -> list[Any]:
    """Active users holding a supervising role (社区工作者, 街道领导, 县级管理员) at the
    nearest area strictly above ``owner_path`` where anybody holds one."""
    parts = owner_path.rstrip("/").split("/")
    above = ["/".join(parts[:i]) + "/" for i in range(1, len(parts))]
    rows = (
        Membership.objects.filter(
            area_path__in=above, role__in=SUPERVISING_ROLES, active=True, user__is_active=True
        )
        .select_related("user")
        .order_by("user_id")
    )
    by_path: dict[str, list[Any]] = {}
    for m in rows:
        by_path.setdefault(m.area_path, [])
        if m.user not in by_path[m.area_path]:
            by_path[m.area_path].append(m.user)
    for path in reversed(above):
        if path in by_path:
            return by_path[path]
    return []


def run(now: dt.datetime | None = None) -> dict[str, int]:
    """Take every tier due at ``now`` (default: now) on every overdue open case.

    One query finds the candidates with what the tiers need joined in; only cases that
    earned a new tier are then locked and changed, one transaction each."""
    now = now or timezone.now()
    clock = WorkClock()
    recipients = _Recipients()
    summary = Summary()
    candidates = (
        Case.objects.filter(status__in=CHASED_STATUSES, stage_due_at__lt=now, escalations__lt=RAISE)
        .select_related("category", "owner_area", "handler_user")
        .order_by("stage_due_at", "pk")
    )
    for case in candidates:
        summary.checked += 1
        if tier_due(case, now, clock) > case.escalations:
            _advance(case.pk, now, clock, recipients, summary)
    if summary.notices or summary.upper or summary.raised or summary.failed:
        logger.info("overdue escalation: %s", summary.as_dict())
    return summary.as_dict()


def _advance(
    pk: int, now: dt.datetime, clock: WorkClock, recipients: _Recipients, summary: Summary
) -> None:
    with transaction.atomic():
        # Re-read under the lock: a handler may have acted since the candidate query.
        case = (
            Case.objects.select_for_update(of=("self",))
            .select_related("category", "owner_area", "handler_user")
            .filter(pk=pk, status__in=CHASED_STATUSES)
            .first()
        )
        if case is None:
            return
        target = tier_due(case, now, clock)
        for tier in range(case.escalations + 1, target + 1):
            if tier == RAISE:
                _raise(case, now, summary)
            else:
                _notice(case, tier, now, clock, recipients)
                if tier == NOTICE:
                    summary.notices += 1
                else:
                    summary.upper += 1


def _notice(
    case: Case, tier: int, now: dt.datetime, clock: WorkClock, recipients: _Recipients
) -> None:
    stage = STAGE_OF_STATUS[Status(case.status)]
    assert case.stage_due_at is not None  # noqa: S101 - candidates are overdue
    over = clock.minutes_between(case.stage_due_at, now)
    limit = clock.minutes_between(case.stage_started_at, case.stage_due_at)
    hours = _hours(over)
    stage_label = SlaStage(stage).label
    if tier == NOTICE:
        users = recipients.responsible(case)
        action, kind = "overdue_notice", "overdue"
        title = f"超时提醒 {case.number}"
        note = f"{stage_label}已超时{hours}，已提醒办理人"
    else:
        users = recipients.upper(case)
        action, kind = "overdue_upper", "overdue_upper"
        title = f"超时督办 {case.number}"
        note = f"{stage_label}已超时{hours}（超过时限一半），已报上级督办"
    names = "、".join(u.username for u in users) or "无人可通知"
    CaseEvent.objects.create(
        case=case,
        actor=None,
        actor_name="系统",
        action=action,
        step=STEP_OF_STAGE[stage],
        from_status=case.status,
        to_status=case.status,
        note=f"{note}：{names}",
        data={
            "tier": tier,
            "stage": str(stage),
            "overdue_minutes": round(over, 1),
            "limit_minutes": round(limit, 1),
            "notified": [u.pk for u in users],
        },
    )
    notify.notify(users, case, kind, title, f"{case.title}（{stage_label}超时{hours}）")
    before = case.escalations
    case.escalations = tier
    case.save(update_fields=["escalations", "updated_at"])
    audit.record(
        AuditEntry.Action.UPDATE,
        case,
        None,
        {"escalations": [before, tier]},
        f"{action}: overdue {round(over)} working minutes",
    )


def _raise(case: Case, now: dt.datetime, summary: Summary) -> None:
    from .services import perform

    try:
        perform(case.pk, "escalate", actor=None, reason=RAISE_REASON, now=now)
    except BilingualError as exc:
        # Leave the case at tier 2; it is retried on the next run.
        logger.warning("overdue escalation of %s failed: %s", case.number, exc)
        summary.failed += 1
    else:
        summary.raised += 1


def _hours(minutes: float) -> str:
    if minutes < 60:
        return f"{max(round(minutes), 0)}分钟"
    if minutes < MINUTES_PER_WORKDAY * 2:
        return f"{minutes / 60:.1f}个工作小时"
    return f"{minutes / MINUTES_PER_WORKDAY:.1f}个工作日"
