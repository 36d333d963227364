"""SLA clocks on working time: stage due times, pause and resume, traffic lights."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from jiayuan.core.calendar import WorkClock

from .choices import STAGE_OF_STATUS, Light, SlaStage, Status

if TYPE_CHECKING:
    from .models import Case


def start_stage(case: Case, now: dt.datetime, clock: WorkClock | None = None) -> None:
    """Start the clock of the stage the case's status belongs to."""
    clock = clock or WorkClock()
    # (str-valued choices hash as their values: no enum lookup on this hot path)
    stage = STAGE_OF_STATUS.get(case.status)  # type: ignore[call-overload]
    case.stage_started_at = now
    case.escalations = 0
    if stage is None:
        case.stage_due_at = None
        return
    minutes = case.category.limit_minutes(stage, case.priority)
    if stage == SlaStage.HANDLE:
        minutes += case.delay_minutes
    case.stage_due_at = clock.add(now, minutes)


def start_total(case: Case, clock: WorkClock | None = None) -> None:
    clock = clock or WorkClock()
    case.due_at = clock.add(case.received_at, case.category.limit_minutes("total", case.priority))


def shift(case: Case, minutes: float, clock: WorkClock | None = None) -> None:
    """Move the stage and total due times later by ``minutes`` working minutes."""
    clock = clock or WorkClock()
    if case.stage_due_at is not None:
        case.stage_due_at = clock.add(case.stage_due_at, minutes)
    if case.due_at is not None:
        case.due_at = clock.add(case.due_at, minutes)


def pause_ended(case: Case, paused: float, clock: WorkClock | None = None) -> None:
    """A suspension of ``paused`` working minutes ended: the due times move later by
    that much, and so does the start of the stage's clock.

    The clock's start moves too because the traffic light (and the overdue tiers)
    measure the share of the stage limit used as working time from the clock's start
    to now: left where it was, the pause would count as time used, and the limit,
    stretched to the shifted due time, would count it as time allowed.
    """
    clock = clock or WorkClock()
    shift(case, paused, clock)
    if paused:
        case.stage_started_at = clock.add(case.stage_started_at, paused)


def light_for(case: Case, now: Any = None, clock: WorkClock | None = None) -> str:
    if not case.is_open or case.stage_due_at is None:
        return Light.GREEN
    clock = clock or WorkClock()
    now = now or timezone.now()
    if case.status == Status.SUSPENDED and case.suspended_at is not None:
        now = case.suspended_at
    limit = clock.minutes_between(case.stage_started_at, case.stage_due_at)
    used = clock.minutes_between(case.stage_started_at, now)
    # Red once the due time has passed: at exactly 100 % the case is still on time.
    if now > case.stage_due_at or (limit and used / limit > 1):
        return Light.RED
    if limit and used / limit >= 0.8:
        return Light.YELLOW
    return Light.GREEN
