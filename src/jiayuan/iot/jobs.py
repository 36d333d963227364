"""The periodic work of the device side: offline detection, the welfare check for old
people living alone, escalation of unacknowledged alarms, telemetry retention.

Each job takes ``now`` so tests (and a catch-up run) can move time. Their inputs are
rows — ``Device.last_seen_at``, the welfare rule's ``RuleState.last_activity``, alarm
times — so a restart of any process in the middle of a window changes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from jiayuan.core.validity import valid_on
from jiayuan.org.models import Area
from jiayuan.people.models import PersonTag, Residence

from .choices import (
    OPEN_ALARM_STATUSES,
    AlarmStatus,
    DeviceStatus,
    EscalationLevel,
    MessageKind,
    RuleKind,
)
from .lifecycle import auto_clear, escalate, open_case, raise_alarm, repeat
from .models import Alarm, AlarmRule, DeadLetter, Device, Message, RuleState

LIVING_ALONE_TAG = "独居老人"
MESSAGE_RETENTION = dt.timedelta(days=30)
# A heartbeat's row is what makes a redelivered heartbeat change nothing, and the broker
# redelivers only within a persistent session's life (``mqtt.SESSION_EXPIRY_S``, seven
# days); past that it is liveness history nobody reads (docs/decisions.md).
HEARTBEAT_RETENTION = dt.timedelta(days=7)
DEAD_LETTER_RETENTION = dt.timedelta(days=90)
PURGE_CHUNK = 5000


# Share of an area's devices that must fall silent in the same run for the offline job to
# see a common failure (a gateway, a power cut) rather than devices failing one by one;
# the area-offline rule's ``count`` is the least number of devices.
AREA_SILENT_SHARE = 0.5
# Path depths looked at for a common failure, widest first: county, street, community,
# zone, grid, building (a unit's handful of devices is too few to tell).
AREA_DEPTHS = (1, 2, 3, 4, 5, 6)
AREA_SERIALS_SHOWN = 20


def detect_offline(*, now: dt.datetime) -> dict[str, int]:
    """Devices silent (no message at all, heartbeats included) for longer than an offline
    rule's duration go offline and get that rule's alarm. A device never heard from
    counts from when it was registered.

    When many devices of one area fall silent together (at least the area-offline
    rule's ``count`` and :data:`AREA_SILENT_SHARE` of the area's devices), that is one
    failure — a gateway, a power cut, the demo's simulator not running — and raises one
    area alarm instead of one per device; devices that fall silent later under an open
    area alarm are counted on it. Area alarms clear here once most of their devices
    talk again; whoever is still silent then gets their own alarm."""
    area_rule = AlarmRule.objects.filter(enabled=True, kind=RuleKind.AREA_OFFLINE).first()
    marked = grouped = 0
    for rule in AlarmRule.objects.filter(enabled=True, kind=RuleKind.OFFLINE):
        cutoff = now - dt.timedelta(seconds=rule.duration_s)
        silent_qs = Device.objects.filter(
            Q(last_seen_at__lt=cutoff) | Q(last_seen_at__isnull=True, created_at__lt=cutoff),
            status__in=[DeviceStatus.ONLINE, DeviceStatus.FAULT],
            area_path__startswith=rule.area_path,
        )
        if rule.device_type_id is not None:
            silent_qs = silent_qs.filter(device_type_id=rule.device_type_id)
        silent = list(silent_qs.select_related("device_type", "area", "dwelling").order_by("pk"))
        if not silent:
            continue
        alone = silent
        if area_rule is not None:
            outages, alone = _area_outages(silent, rule, area_rule)
            for path, devices in outages.items():
                _raise_area_alarm(area_rule, rule, path, devices, now=now)
                grouped += len(devices)
        for device in alone:
            last = device.last_seen_at
            raise_alarm(
                device, rule, at=now,
                detail={"last_seen_at": last.isoformat() if last else None},
            )  # fmt: skip
        ids = [d.pk for d in silent]
        for start in range(0, len(ids), 500):
            Device.objects.filter(pk__in=ids[start : start + 500]).update(
                status=DeviceStatus.OFFLINE
            )
        marked += len(silent)
    cleared = _clear_recovered_areas(area_rule, now=now) if area_rule is not None else 0
    return {"offline": marked, "grouped": grouped, "areas_cleared": cleared}


def _ancestor(path: str, depth: int) -> str | None:
    parts = path.rstrip("/").split("/")
    if len(parts) < depth:
        return None
    return "/".join(parts[:depth]) + "/"


def _open_area_alarms(area_rule: AlarmRule) -> dict[str, Alarm]:
    found = Alarm.objects.filter(rule=area_rule, status__in=OPEN_ALARM_STATUSES)
    return {str(a.detail.get("area_path")): a for a in found if a.detail.get("area_path")}


def _area_outages(
    silent: list[Device], rule: AlarmRule, area_rule: AlarmRule
) -> tuple[dict[str, list[Device]], list[Device]]:
    """Split newly silent devices into common failures by area path (widest area first,
    and areas whose outage is already open) and the devices silent on their own."""
    outages: dict[str, list[Device]] = {}
    rest: list[Device] = []
    open_paths = sorted(_open_area_alarms(area_rule), key=len)
    for device in silent:
        path = next((p for p in open_paths if device.area_path.startswith(p)), None)
        if path is None:
            rest.append(device)
        else:
            outages.setdefault(path, []).append(device)
    least = max(area_rule.count, 2)
    if len(rest) < least:
        return outages, rest
    totals: dict[str, int] | None = None
    for depth in AREA_DEPTHS:
        by_area: dict[str, list[Device]] = {}
        for device in rest:
            ancestor = _ancestor(device.area_path, depth)
            if ancestor is not None:
                by_area.setdefault(ancestor, []).append(device)
        candidates = {p: ds for p, ds in by_area.items() if len(ds) >= least}
        if not candidates:
            continue
        if totals is None:
            totals = _devices_per_path(rule)
        taken: set[int] = set()
        for path, devices in candidates.items():
            total = sum(n for p, n in totals.items() if p.startswith(path))
            if len(devices) >= AREA_SILENT_SHARE * total:
                outages[path] = devices
                taken.update(d.pk for d in devices)
        rest = [d for d in rest if d.pk not in taken]
        if len(rest) < least:
            break
    return outages, rest


def _devices_per_path(rule: AlarmRule) -> dict[str, int]:
    """How many working devices the offline rule watches, by area path (one query)."""
    watched = Device.objects.exclude(status=DeviceStatus.DECOMMISSIONED).filter(
        area_path__startswith=rule.area_path
    )
    if rule.device_type_id is not None:
        watched = watched.filter(device_type_id=rule.device_type_id)
    rows = watched.values("area_path").annotate(n=Count("id")).order_by()
    return {row["area_path"]: row["n"] for row in rows}


def _raise_area_alarm(
    area_rule: AlarmRule, rule: AlarmRule, path: str, devices: list[Device], *, now: dt.datetime
) -> Alarm:
    """One alarm for an area whose devices fell silent together (hung on the first of
    them: an alarm belongs to a device), or more devices counted on the open one.

    The detail keeps how many devices went silent and between which last-heard times, so
    the recovery check can tell them from devices that were already offline before."""
    seen = [(d.last_seen_at or d.created_at).isoformat() for d in devices]
    current = _open_area_alarms(area_rule).get(path)
    if current is not None:
        before = current.detail
        detail = {
            **before,
            "devices": int(before.get("devices", 0)) + len(devices),
            "silent_since": min([str(before.get("silent_since") or seen[0]), *seen]),
            "silent_until": max([str(before.get("silent_until") or seen[0]), *seen]),
        }
        return repeat(current, at=now, detail=detail, count=len(devices))
    area = Area.objects.filter(path=path).first()
    name = area.name if area is not None else path
    detail = {
        "area_path": path,
        "area_name": name,
        "offline_rule": rule.code,
        "devices": len(devices),
        "silent_since": min(seen),
        "silent_until": max(seen),
        "serials": [d.serial for d in devices[:AREA_SERIALS_SHOWN]],
    }
    title = f"{name} {len(devices)}台设备同时离线（疑似网关故障或停电）"
    alarm, _ = raise_alarm(
        devices[0], area_rule, at=now, detail=detail, title=title, count=len(devices)
    )
    return alarm


def _clear_recovered_areas(area_rule: AlarmRule, *, now: dt.datetime) -> int:
    """Clear area alarms once fewer than half of their devices are still silent; those
    still silent then get their own offline alarm (a device broken for good)."""
    cleared = 0
    for path, alarm in _open_area_alarms(area_rule).items():
        detail = alarm.detail
        if not detail.get("silent_since") or not detail.get("silent_until"):
            continue
        since = dt.datetime.fromisoformat(str(detail["silent_since"]))
        until = dt.datetime.fromisoformat(str(detail["silent_until"]))
        # The devices of this outage: offline, last heard within the outage's window
        # (devices offline from before were last heard earlier, or never since).
        still = Device.objects.filter(
            Q(last_seen_at__gte=since, last_seen_at__lte=until)
            | Q(last_seen_at__isnull=True, created_at__gte=since, created_at__lte=until),
            area_path__startswith=path,
            status=DeviceStatus.OFFLINE,
        ).select_related("device_type", "area", "dwelling")
        if still.count() * 2 >= int(detail.get("devices", 0)):
            continue
        auto_clear(alarm, at=now, note="区域设备恢复通信")
        cleared += 1
        offline = AlarmRule.objects.filter(code=detail.get("offline_rule")).first()
        if offline is None:
            continue
        for device in still:
            raise_alarm(device, offline, at=now, detail={"area_alarm": alarm.pk})
    return cleared


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
    keep_heartbeats: dt.timedelta = HEARTBEAT_RETENTION,
) -> dict[str, Any]:
    """Telemetry retention: delete messages received before ``now - keep`` — heartbeats
    before ``now - keep_heartbeats`` — in chunks (so no single transaction holds millions
    of rows), and old dead letters."""
    cutoff = now - keep
    deleted = _purge(Message.objects.filter(received_at__lt=cutoff))
    heartbeats = _purge(
        Message.objects.filter(kind=MessageKind.HEARTBEAT, received_at__lt=now - keep_heartbeats)
    )
    dead = DeadLetter.objects.filter(received_at__lt=now - keep_dead).delete()[0]
    return {
        "messages": deleted + heartbeats,
        "heartbeats": heartbeats,
        "dead_letters": dead,
        "cutoff": cutoff.isoformat(),
    }


def _purge(rows: Any) -> int:
    deleted = 0
    while True:
        ids = list(rows.values_list("pk", flat=True)[:PURGE_CHUNK])
        if not ids:
            return deleted
        deleted += Message.objects.filter(pk__in=ids).delete()[0]
