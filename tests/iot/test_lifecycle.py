"""People acting on alarms: acknowledge, clear, mark false, close — each audited, each
on the timeline, each refused outside the actor's area or from the wrong status."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from jiayuan.core.errors import Conflict, NotFound, ValidationFailed
from jiayuan.core.models import AuditEntry, Notification
from jiayuan.iot import lifecycle
from jiayuan.iot.choices import AlarmStatus
from jiayuan.iot.models import Alarm, AlarmEvent, AlarmRule

from .conftest import item


@pytest.fixture
def alarm(make_device: Any, send: Any) -> Alarm:
    device = make_device("fence")
    result = send(item(device, "event", {"event": "intrusion", "zone": "东墙"}))
    return Alarm.objects.get(pk=result.alarms_raised[0])


def test_acknowledge_then_clear_by_the_grid_worker(alarm: Alarm, users: dict[str, Any]) -> None:
    grid = users["grid"]
    lifecycle.acknowledge(alarm, grid)
    assert alarm.status == AlarmStatus.ACKNOWLEDGED and alarm.acknowledged_by == grid
    assert alarm.acknowledged_at is not None
    lifecycle.clear(alarm, grid, "已到现场，系猫触发")
    assert alarm.status == AlarmStatus.CLEARED and alarm.cleared_at is not None
    assert lifecycle.allowed_actions(alarm) == ["mark_false", "close"]
    events = list(alarm.events.values_list("kind", "actor__username", "note"))
    assert events[1:] == [
        ("acknowledged", "grid", ""),
        ("cleared", "grid", "已到现场，系猫触发"),
    ]
    audits = AuditEntry.objects.for_object(alarm).filter(action="update", actor=grid)
    assert audits.count() == 2
    assert audits.filter(changes__status=["acknowledged", "cleared"]).exists()


def test_mark_false_needs_a_reason_and_closes(alarm: Alarm, users: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed):
        lifecycle.mark_false(alarm, users["grid"], "  ")
    lifecycle.mark_false(alarm, users["grid"], "风吹动树枝")
    assert alarm.false_alarm and alarm.false_reason == "风吹动树枝"
    assert alarm.status == AlarmStatus.CLOSED and alarm.closed_at is not None


def test_wrong_status_is_a_conflict(alarm: Alarm, users: dict[str, Any]) -> None:
    lifecycle.close(alarm, users["grid"], "处理完毕")
    with pytest.raises(Conflict):
        lifecycle.acknowledge(alarm, users["grid"])
    with pytest.raises(Conflict):
        lifecycle.clear(alarm, users["grid"])


def test_someone_of_another_grid_cannot_act(
    make_device: Any, send: Any, other_grid: Any, users: dict[str, Any]
) -> None:
    device = make_device("fence", area=other_grid)
    alarm = Alarm.objects.get(
        pk=send(item(device, "event", {"event": "intrusion"})).alarms_raised[0]
    )
    with pytest.raises(NotFound):
        lifecycle.acknowledge(alarm, users["grid"])
    assert Alarm.objects.get(pk=alarm.pk).status == AlarmStatus.ACTIVE
    assert not AlarmEvent.objects.filter(alarm=alarm, kind="acknowledged").exists()


def test_scope_a_grid_worker_sees_only_their_grid(
    make_device: Any, send: Any, other_grid: Any, users: dict[str, Any]
) -> None:
    mine = make_device("smoke")
    theirs = make_device("smoke", area=other_grid)
    send(item(mine, "event", {"event": "alarm"}), item(theirs, "event", {"event": "alarm"}))
    grid = users["grid"]
    visible = set(Alarm.objects.visible_to(grid).values_list("device_id", flat=True))
    assert mine.pk in visible and theirs.pk not in visible
    from jiayuan.iot.models import Device

    devices = set(Device.objects.visible_to(grid).values_list("pk", flat=True))
    assert mine.pk in devices and theirs.pk not in devices


def test_one_open_alarm_per_device_and_rule_is_a_database_rule(alarm: Alarm) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Alarm.objects.create(
            device=alarm.device, rule=alarm.rule, severity="major", title="dup",
        )  # fmt: skip


def test_alarm_events_are_append_only(alarm: Alarm) -> None:
    first = alarm.events.first()
    assert first is not None
    first.note = "changed"
    with pytest.raises(TypeError):
        first.save()
    with pytest.raises(TypeError):
        alarm.events.update(note="x")


def test_default_rules_are_seeded_and_valid(db: Any) -> None:
    codes = set(AlarmRule.objects.values_list("code", flat=True))
    assert {"smoke_alarm", "gas_leak", "tamper", "low_battery", "stranger_night", "offline",
            "welfare", "sos"} <= codes  # fmt: skip
    gas = AlarmRule.objects.get(code="gas_leak")
    assert (gas.condition, gas.duration_s, gas.severity) == ("lel >= 25", 10, "critical")
    welfare = AlarmRule.objects.get(code="welfare")
    assert welfare.opens_case and welfare.case_category_code == "0802"
    assert welfare.duration_s == 24 * 3600


# --- defect 8: a fire or gas alarm tells the grid worker at once ------------------------------
@pytest.mark.parametrize(
    ("type_code", "items"),
    [
        ("smoke", [("event", {"event": "alarm"})]),
        ("gas", [("telemetry", {"lel": 40.0}), ("telemetry", {"lel": 42.0})]),
    ],
)
def test_a_fire_or_gas_alarm_tells_the_grid_worker_of_the_dwelling_at_once(
    make_device: Any, send: Any, users: dict[str, Any], dwelling: Any, other_grid: Any,
    type_code: str, items: list[tuple[str, dict[str, Any]]],
) -> None:  # fmt: skip
    # given a detector in a home of the grid worker's grid, hung on another grid's area
    # (the dwelling decides whose home it is)
    device = make_device(type_code, area=other_grid, dwelling=dwelling)
    start = timezone.now()
    # when it raises its alarm (gas: %LEL above 25 for ten seconds of device time)
    result = None
    for offset, (kind, data) in enumerate(items):
        ts = start + dt.timedelta(seconds=12 * offset)
        result = send(item(device, kind, data, ts=ts), now=ts)
    assert result is not None and len(result.alarms_raised) == 1
    alarm = Alarm.objects.get(pk=result.alarms_raised[0])
    # then the grid worker has an inbox notice now, naming the alarm and its case
    told = Notification.objects.filter(kind="alarm_grid")
    notice = told.get(user=users["grid"])
    assert alarm.title in notice.title and alarm.case_ref and alarm.case_ref in notice.body
    assert notice.link.endswith(f"/{alarm.pk}/")
    # and nobody else was told that way (the case itself goes its usual way)
    assert told.count() == 1


def test_a_minor_alarm_tells_no_grid_worker_at_once(make_device: Any, send: Any) -> None:
    device = make_device("fence")
    assert send(item(device, "event", {"event": "tamper"})).alarms_raised
    assert not Notification.objects.filter(kind="alarm_grid").exists()
