"""API of the device side: ``/devices`` (filter by type, status, area), ``/devices/{id}``,
``/alarms`` (filter by status, severity, area; acknowledge, clear, mark false) and
``/alarm-rules`` (list, create, update; a condition the rule language refuses is a 422
with the position of the mistake). ``POST /ingest`` lives in :mod:`.ingest_api`.

Reads start from ``visible_to(user)`` (:mod:`.queries`): outside the scope answers 404,
a user who may look but not act 403.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from ninja import Query, Router, Status

from jiayuan.core.api import acting_user, paginate, responses
from jiayuan.core.schemas import Page, PageParams

from . import queries
from .choices import OPEN_ALARM_STATUSES
from .models import Alarm, AlarmEvent, AlarmRule, Device, Message
from .schemas import (
    AlarmActionIn,
    AlarmDetail,
    AlarmFilters,
    AlarmOut,
    DeviceDetail,
    DeviceFilters,
    DeviceOut,
    RuleFields,
    RuleIn,
    RuleOut,
)

router = Router()

DETAIL_MESSAGES = 20


# --- devices -----------------------------------------------------------------------------
@router.get("/devices", response=responses(Page[DeviceOut]), tags=["devices"])
def list_devices(
    request: HttpRequest, filters: Query[DeviceFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """Devices in the user's scope, by serial."""
    qs = queries.filter_devices(
        queries.devices_for(acting_user(request)),
        type_code=filters.type,
        statuses=filters.status,
        area=filters.area,
        q=filters.q,
    )
    return paginate(qs.order_by("serial"), page)


@router.get("/devices/{device_id}", response=responses(DeviceDetail), tags=["devices"])
def get_device(request: HttpRequest, device_id: int) -> Device:
    """One device with its open alarms and its latest messages."""
    user = acting_user(request)
    device: Any = queries.get_device(user, device_id)
    device._open_alarms = list(
        queries.alarms_for(user).filter(device=device, status__in=OPEN_ALARM_STATUSES)
    )
    device._messages = list(
        Message.objects.filter(device=device).order_by("-device_ts", "-id")[:DETAIL_MESSAGES]
    )
    return device  # type: ignore[no-any-return]


# --- alarms ------------------------------------------------------------------------------
@router.get("/alarms", response=responses(Page[AlarmOut]), tags=["alarms"])
def list_alarms(
    request: HttpRequest, filters: Query[AlarmFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """Alarms in the user's scope, latest first."""
    qs = queries.filter_alarms(
        queries.alarms_for(acting_user(request)),
        statuses=filters.status,
        open_only=bool(filters.open),
        severities=filters.severity,
        area=filters.area,
        device=filters.device,
        since=filters.since,
    )
    return paginate(qs.order_by("-last_at", "-id"), page)


def alarm_detail(user: Any, alarm_id: int) -> Alarm:
    alarm = queries.get_alarm(user, alarm_id)
    events = AlarmEvent.objects.select_related("actor").order_by("at", "id")
    return (
        queries.alarms_for(user)
        .prefetch_related(Prefetch("events", queryset=events))
        .get(pk=alarm.pk)
    )


@router.get("/alarms/{alarm_id}", response=responses(AlarmDetail), tags=["alarms"])
def get_alarm(request: HttpRequest, alarm_id: int) -> Alarm:
    """One alarm with its timeline (raised, repeated, acknowledged, escalated …)."""
    return alarm_detail(acting_user(request), alarm_id)


def _act(request: HttpRequest, alarm_id: int, action: str, body: AlarmActionIn) -> Alarm:
    user = acting_user(request)
    queries.act_on_alarm(user, alarm_id, action, note=body.note, reason=body.reason)
    return alarm_detail(user, alarm_id)


@router.post("/alarms/{alarm_id}/acknowledge", response=responses(AlarmDetail), tags=["alarms"])
def acknowledge(request: HttpRequest, alarm_id: int, body: AlarmActionIn) -> Alarm:
    """Acknowledge an active alarm (确认): someone is on it; escalation stops."""
    return _act(request, alarm_id, "acknowledge", body)


@router.post("/alarms/{alarm_id}/clear", response=responses(AlarmDetail), tags=["alarms"])
def clear(request: HttpRequest, alarm_id: int, body: AlarmActionIn) -> Alarm:
    """Clear an open alarm by hand (解除), with an optional ``note``."""
    return _act(request, alarm_id, "clear", body)


@router.post("/alarms/{alarm_id}/false-alarm", response=responses(AlarmDetail), tags=["alarms"])
def false_alarm(request: HttpRequest, alarm_id: int, body: AlarmActionIn) -> Alarm:
    """Mark an open alarm as a false alarm (误报); ``reason`` is required."""
    return _act(request, alarm_id, "false_alarm", body)


# --- rules -------------------------------------------------------------------------------
@router.get("/alarm-rules", response=responses(Page[RuleOut]), tags=["alarm rules"])
def list_rules(request: HttpRequest, page: Query[PageParams]) -> dict[str, Any]:
    """Rules that apply in the user's scope: county-wide ones and those of their areas."""
    qs: QuerySet[AlarmRule] = queries.rules_for(acting_user(request)).order_by("code")
    return paginate(qs, page)


@router.get("/alarm-rules/{rule_id}", response=responses(RuleOut), tags=["alarm rules"])
def get_rule(request: HttpRequest, rule_id: int) -> AlarmRule:
    return queries.get_rule(acting_user(request), rule_id)


@router.post("/alarm-rules", response=responses(RuleOut, 201), tags=["alarm rules"])
def create_rule(request: HttpRequest, body: RuleIn) -> Status[AlarmRule]:
    """A new rule. Conditions are rule-language expressions over the message payload
    (``alarm == true``, ``lel >= 25``); a mistake answers 422 ``invalid_rule`` with its
    line and column. Editing needs 督办 where the rule applies (``area``; none: county)."""
    user = acting_user(request)
    changes = body.dict(exclude_unset=True)
    changes.setdefault("area", None)
    rule = AlarmRule(code=changes.pop("code"), kind=changes.pop("kind"))
    return Status(201, queries.save_rule(user, rule, changes, new=True))


@router.patch("/alarm-rules/{rule_id}", response=responses(RuleOut), tags=["alarm rules"])
def update_rule(request: HttpRequest, rule_id: int, body: RuleFields) -> AlarmRule:
    """Change the fields named in the body; the whole rule is checked again."""
    user = acting_user(request)
    rule = queries.get_rule(user, rule_id)
    return queries.save_rule(user, rule, body.dict(exclude_unset=True), new=False)
