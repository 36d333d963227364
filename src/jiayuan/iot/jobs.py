"""The periodic work of the device side: offline detection, the welfare check for old
people living alone, escalation of unacknowledged alarms, telemetry retention.

Each job takes ``now`` so tests (and a catch-up run) can move time. Their inputs are
rows — ``Device.last_seen_at``, the welfare rule's ``RuleState.last_activity``, alarm
times — so a restart of any process in the middle of a window changes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q
from django.utils import timezone

from jiayuan.core.validity import valid_on
from jiayuan.people.models import PersonTag, Residence

from .choices import AlarmStatus, DeviceStatus, EscalationLevel, RuleKind
from .lifecycle import escalate, open_case, raise_alarm
from .models import Alarm, AlarmRule, DeadLetter, Device, Message, RuleState

LIVING_ALONE_TAG = "独居老人"
MESSAGE_RETENTION = dt.timedelta(days=30)
DEAD_LETTER_RETENTION = dt.timedelta(days=90)
PURGE_CHUNK = 5000


def detect_offline(*, now: dt.datetime) -> dict[str, int]:
    """Devices silent (no message at all, heartbeats included) for longer than an offline
    rule's duration go offline and get that rule's alarm. A device never heard from
    counts from when it was registered."""
    marked = 0
    for rule in AlarmRule.objects.filter(enabled=True, kind=RuleKind.OFFLINE):
        cutoff = now - dt.timedelta(seconds=rule.duration_s)
        silent = Device.objects.filter(
            Q(last_seen_at__lt=cutoff) | Q(last_seen_at__isnull=True, created_at__lt=cutoff),
            status__in=[DeviceStatus.ONLINE, DeviceStatus.FAULT],
            area_path__startswith=rule.area_path,
        ).select_related("device_type", "area", "dwelling")
        if rule.device_type_id is not None:
            silent = silent.filter(device_type_id=rule.device_type_id)
        for device in silent.iterator(chunk_size=500):
            last = device.last_seen_at
            raise_alarm(
                device, rule, at=now,
                detail={"last_seen_at": last.isoformat() if last else None},
            )  # fmt: skip
            Device.objects.filter(pk=device.pk).update(status=DeviceStatus.OFFLINE)
            marked += 1
    return {"offline": marked}


def living_alone_devices(today: dt.date) -> dict[int, list[Device]]:
    """Activity devices (door sensors, water meters) by dwelling, for the dwellings where
    a resident tagged 独居老人 currently lives."""
    # A tag's valid_until is the first day it no longer holds: one that ended today is
    # not held today (the same reading as the rule language and the tag lists).
    persons = PersonTag.objects.filter(valid_on(today), tag__code=LIVING_ALONE_TAG).values(
        "person_id"
    )
    dwellings = Residence.objects.filter(
        Q(until__isnull=True) | Q(until__gte=today), person_id__in=persons
    ).values("dwelling_id")
    found: dict[int, list[Device]] = {}
    devices = (
        Device.objects.filter(dwelling_id__in=dwellings, device_type__activity=True)
        .exclude(status=DeviceStatus.DECOMMISSIONED)
        .select_related("device_type", "area", "dwelling")
        .order_by("pk")
    )
    for device in devices:
        found.setdefault(device.dwelling_id or 0, []).append(device)
    return found


def welfare_check(*, now: dt.datetime) -> dict[str, int]:
    """独居老人关怀: a dwelling of someone living alone whose door sensor and water meter
    showed no activity for the welfare rule's duration gets a welfare alarm (on its
    first activity device) and, through the rule, a case for the grid."""
    rule = AlarmRule.objects.filter(enabled=True, kind=RuleKind.WELFARE).first()
    if rule is None:
        return {"checked": 0, "raised": 0}
    by_dwelling = living_alone_devices(timezone.localdate(now))
    ids = [d.pk for devices in by_dwelling.values() for d in devices]
    last_activity = {
        device_id: state.get("last_activity")
        for device_id, state in RuleState.objects.filter(rule=rule, device_id__in=ids).values_list(
            "device_id", "state"
        )
    }
    already = set(
        Alarm.objects.filter(
            rule=rule, device_id__in=ids, status__in=[AlarmStatus.ACTIVE, AlarmStatus.ACKNOWLEDGED]
        ).values_list("device__dwelling_id", flat=True)
    )
    limit = now.timestamp() - rule.duration_s
    raised = 0
    for dwelling_id, devices in by_dwelling.items():
        if dwelling_id in already:
            continue
        # Without any activity yet, the clock starts when the devices were installed.
        times = [last_activity.get(d.pk) or d.created_at.timestamp() for d in devices]
        newest = max(times)
        if newest > limit:
            continue
        seen = dt.datetime.fromtimestamp(newest, tz=dt.UTC)
        raise_alarm(devices[0], rule, at=now, detail={"last_activity": seen.isoformat()})
        raised += 1
    return {"checked": len(by_dwelling), "raised": raised}


def escalate_unacknowledged(*, now: dt.datetime) -> dict[str, int]:
    """Alarms left unacknowledged past their rule's limit go up one level per period
    (grid worker → community → street); alarms whose case could not be opened when
    they were raised get another try."""
    escalated = 0
    pending = Alarm.objects.filter(
        status=AlarmStatus.ACTIVE,
        rule__escalate_after_min__isnull=False,
        escalation_level__lt=EscalationLevel.STREET,
    ).select_related("rule")
    for alarm in pending:
        since = alarm.escalated_at or alarm.first_at
        minutes = alarm.rule.escalate_after_min or 0
        if now - since >= dt.timedelta(minutes=minutes):
            escalate(alarm, now=now)
            escalated += 1
    retried = 0
    missing = Alarm.objects.filter(
        status__in=[AlarmStatus.ACTIVE, AlarmStatus.ACKNOWLEDGED],
        rule__opens_case=True,
        case_ref="",
    ).select_related("rule", "device__device_type", "device__area", "device__dwelling")
    for alarm in missing:
        retried += int(bool(open_case(alarm)))
    return {"escalated": escalated, "cases_opened": retried}


def purge_old_messages(
    *,
    now: dt.datetime,
    keep: dt.timedelta = MESSAGE_RETENTION,
    keep_dead: dt.timedelta = DEAD_LETTER_RETENTION,
) -> dict[str, Any]:
    """Telemetry retention: delete messages received before ``now - keep`` in chunks (so
    no single transaction holds millions of rows), and old dead letters."""
    cutoff = now - keep
    deleted = 0
    while True:
        ids = list(
            Message.objects.filter(received_at__lt=cutoff).values_list("pk", flat=True)[
                :PURGE_CHUNK
            ]
        )
        if not ids:
            break
        deleted += Message.objects.filter(pk__in=ids).delete()[0]
    dead = DeadLetter.objects.filter(received_at__lt=now - keep_dead).delete()[0]
    return {"messages": deleted, "dead_letters": dead, "cutoff": cutoff.isoformat()}
