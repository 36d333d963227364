"""Device alarms on the desk: the unacknowledged alarms of the user's scope that are
theirs to act on — every one in a grid worker's grid, those escalated to the community or
the street for the staff there (``Alarm.escalation_level``)."""

from __future__ import annotations

from typing import Any

from django.db.models import Case as When_
from django.db.models import IntegerField, Value, When
from django.urls import reverse

from jiayuan.iot.choices import AlarmStatus, EscalationLevel, Severity
from jiayuan.iot.models import Alarm
from jiayuan.iot.queries import alarms_for

from .base import RED, YELLOW, Item, Section, section

SEVERITY_LIGHT = {
    Severity.CRITICAL: RED,
    Severity.MAJOR: RED,
    Severity.MINOR: YELLOW,
    Severity.WARNING: YELLOW,
}
_RANK = When_(
    *[When(severity=s.value, then=Value(i)) for i, s in enumerate(Severity)],
    default=Value(len(Severity)),
    output_field=IntegerField(),
)


def _item(alarm: Alarm) -> Item:
    device = alarm.device
    return Item(
        text=alarm.title,
        url=reverse("iot:alarm", args=[alarm.pk]),
        due=alarm.last_at,
        due_label="最近",
        light=SEVERITY_LIGHT.get(Severity(alarm.severity), YELLOW),
        word=alarm.get_severity_display(),
        meta=" · ".join(x for x in (device.area.name if device.area_id else "", device.name) if x),
    )


def active(user: Any, at_least: int = EscalationLevel.GRID, title: str = "待处置告警") -> Section:
    """Unacknowledged alarms in scope escalated to ``at_least`` or further, worst first."""
    qs = (
        alarms_for(user)
        .filter(status=AlarmStatus.ACTIVE, escalation_level__gte=at_least)
        .order_by(_RANK, "-last_at", "-pk")
    )
    return section(
        "alarms",
        title,
        qs,
        _item,
        empty="没有待处置的告警",
        more_url=reverse("iot:alarms") + "?status=active",
    )
