"""Duty (上岗/下岗), positions and availability of forces.

A position is kept only while its shift is open and only for
``COMMAND_LOCATION_RETENTION_HOURS`` (PIPL: minimum necessary): going off duty wipes it,
:func:`purge_locations` wipes older ones. Staff reading a force's position go through
:func:`position_of`, which writes the audit log.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from jiayuan.core import audit
from jiayuan.core.errors import Conflict, NotFound, ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed
from jiayuan.people.models import Force, Person

from .models import Availability, DutyShift

DEFAULT_RETENTION_HOURS = 24
_TIME = "%H:%M"


def retention() -> dt.timedelta:
    hours = getattr(settings, "COMMAND_LOCATION_RETENTION_HOURS", DEFAULT_RETENTION_HOURS)
    return dt.timedelta(hours=float(hours))


def check_point(lat: Any, lng: Any) -> tuple[float, float] | None:
    """A WGS 84 point, or ``None`` when both are missing; anything else is refused."""
    if lat in (None, "") and lng in (None, ""):
        return None
    try:
        la, ln = float(lat), float(lng)
    except (TypeError, ValueError):
        raise ValidationFailed("位置无效", "invalid location", field="lat") from None
    if not (math.isfinite(la) and math.isfinite(ln) and -90 <= la <= 90 and -180 <= ln <= 180):
        raise ValidationFailed("位置超出范围", "location out of range", field="lat")
    return la, ln


def forces_of(user: Any) -> list[Force]:
    """The forces the signed-in user serves as (through their person record)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    person = Person.objects.filter(user=user).first()
    if person is None:
        return []
    return list(person.forces.select_related("area").order_by("pk"))


def open_shift(force: Force) -> DutyShift | None:
    return DutyShift.objects.filter(force=force, ended_at__isnull=True).first()


def go_on_duty(
    force: Force, *, actor: Any, lat: Any = None, lng: Any = None, now: dt.datetime | None = None
) -> DutyShift:
    """上岗: open a shift (or update the open one's position)."""
    now = now or timezone.now()
    point = check_point(lat, lng)
    with transaction.atomic():
        shift = DutyShift.objects.select_for_update().filter(force=force, ended_at__isnull=True)
        current = shift.first()
        if current is None:
            current = DutyShift(force=force, started_at=now)
        if point is not None:
            current.lat, current.lng = point
            current.located_at = now
        try:
            with transaction.atomic():
                current.save()
        except IntegrityError:  # another request opened it a moment ago
            raise Conflict("已在岗", "already on duty") from None
        if not force.on_duty:
            Force.objects.filter(pk=force.pk).update(on_duty=True)
            force.on_duty = True
        audit.record(AuditEntry.Action.UPDATE, current, actor, {"on_duty": True}, "上岗")
    return current


def go_off_duty(force: Force, *, actor: Any, now: dt.datetime | None = None) -> DutyShift:
    """下岗: close the open shift and forget its position."""
    now = now or timezone.now()
    with transaction.atomic():
        current = (
            DutyShift.objects.select_for_update().filter(force=force, ended_at__isnull=True).first()
        )
        if current is None:
            raise Conflict("当前不在岗", "not on duty")
        current.ended_at = now
        current.lat = current.lng = current.located_at = None
        current.save()
        Force.objects.filter(pk=force.pk).update(on_duty=False)
        force.on_duty = False
        audit.record(AuditEntry.Action.UPDATE, current, actor, {"on_duty": False}, "下岗")
    return current


def purge_locations(now: dt.datetime | None = None) -> int:
    """Wipe positions of closed shifts and positions older than the retention."""
    now = now or timezone.now()
    stale = DutyShift.objects.filter(located_at__isnull=False).filter(
        located_at__lt=now - retention()
    )
    closed = DutyShift.objects.filter(ended_at__isnull=False, lat__isnull=False)
    ids = set(stale.values_list("pk", flat=True)) | set(closed.values_list("pk", flat=True))
    if not ids:
        return 0
    return DutyShift.objects.filter(pk__in=ids).update(lat=None, lng=None, located_at=None)


def position_of(force: Force, *, actor: Any) -> dict[str, Any] | None:
    """The force's last known position for staff in scope; every look is audited."""
    if not path_allowed(actor, force.area_path, Perm.VIEW):
        raise NotFound()
    shift = open_shift(force)
    if shift is None or shift.lat is None:
        return None
    audit.record(AuditEntry.Action.REVEAL, shift, actor, {"fields": ["lat", "lng"]}, "查看力量位置")
    return {"lat": shift.lat, "lng": shift.lng, "at": shift.located_at}


def parse_windows(raw: Any) -> list[dict[str, Any]]:
    """Validate availability windows: a list of ``{weekday 0–6, start, end "HH:MM"}``."""
    if not isinstance(raw, list) or len(raw) > 50:
        raise ValidationFailed(
            "可调度时段格式无效", "windows must be a short list", field="windows"
        )
    out = []
    for item in raw:
        if not isinstance(item, dict):
            raise ValidationFailed("可调度时段格式无效", "invalid window", field="windows")
        try:
            weekday = int(item.get("weekday"))  # type: ignore[arg-type]
            start = dt.datetime.strptime(str(item.get("start")), _TIME).time()  # noqa: DTZ007
            end = dt.datetime.strptime(str(item.get("end")), _TIME).time()  # noqa: DTZ007
        except (TypeError, ValueError):
            raise ValidationFailed(
                "可调度时段格式无效", "invalid window", field="windows"
            ) from None
        if not 0 <= weekday <= 6 or end <= start:
            raise ValidationFailed("可调度时段无效", "invalid weekday or span", field="windows")
        out.append({"weekday": weekday, "start": start.strftime(_TIME), "end": end.strftime(_TIME)})
    return out


def set_availability(force: Force, windows: Any, *, actor: Any) -> Availability:
    clean = parse_windows(windows)
    with transaction.atomic():
        row, _ = Availability.objects.get_or_create(force=force)
        row.windows = clean
        row.save()
        audit.record(AuditEntry.Action.UPDATE, row, actor, {"windows": clean}, "可调度时段")
    return row


def available(windows: list[dict[str, Any]] | None, at: dt.datetime) -> bool:
    """Whether ``at`` (local time) falls inside one of the windows; none means always."""
    if not windows:
        return True
    local = timezone.localtime(at)
    hhmm = local.strftime(_TIME)
    return any(
        w.get("weekday") == local.weekday() and w.get("start", "") <= hhmm < w.get("end", "")
        for w in windows
    )
