"""Duty (上岗/下岗): positions kept only while on duty and for the retention, audited
reads of a position, availability windows; and the channels (outbox, WeCom pacing)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from jiayuan.command import channels, duty
from jiayuan.command.models import DutyShift, Outbox
from jiayuan.core.errors import Conflict, NotFound, ValidationFailed
from jiayuan.core.models import AuditEntry

from .conftest import GRID, NOW, OTHER_COMMUNITY, POINT, living_forces

pytestmark = pytest.mark.django_db
HOUR = dt.timedelta(hours=1)


def test_off_duty_forgets_the_position(users: dict[str, Any]) -> None:
    force = living_forces(GRID).first()
    shift = duty.go_on_duty(force, actor=None, lat=POINT[0], lng=POINT[1], now=NOW)
    assert (shift.lat, shift.lng) == POINT
    with pytest.raises(Conflict):
        duty.go_off_duty(living_forces(OTHER_COMMUNITY).first(), actor=None)
    duty.go_off_duty(force, actor=None, now=NOW + HOUR)
    shift.refresh_from_db()
    assert shift.ended_at == NOW + HOUR and shift.lat is None and shift.lng is None
    force.refresh_from_db()
    assert force.on_duty is False
    # the audit log never holds the position
    changes = AuditEntry.objects.for_object(shift).values_list("changes", flat=True)
    assert all("lat" not in c and "lng" not in c for c in changes)


def test_positions_are_purged_after_the_retention(settings: Any) -> None:
    settings.COMMAND_LOCATION_RETENTION_HOURS = 6
    old, fresh = list(living_forces(GRID)[:2])
    duty.go_on_duty(old, actor=None, lat=POINT[0], lng=POINT[1], now=NOW - 7 * HOUR)
    duty.go_on_duty(fresh, actor=None, lat=POINT[0], lng=POINT[1], now=NOW - 5 * HOUR)
    assert duty.purge_locations(NOW) == 1
    kept = {s.force_id: s.lat for s in DutyShift.objects.filter(ended_at__isnull=True)}
    assert kept == {old.pk: None, fresh.pk: POINT[0]}  # still on duty, position forgotten
    assert duty.purge_locations(NOW) == 0


def test_reading_a_position_is_audited_and_scoped(users: dict[str, Any]) -> None:
    force = living_forces(GRID).first()
    shift = duty.go_on_duty(force, actor=None, lat=POINT[0], lng=POINT[1], now=NOW)
    seen = duty.position_of(force, actor=users["community"])
    assert seen is not None and seen["lat"] == POINT[0]
    entry = AuditEntry.objects.for_object(shift).filter(action="reveal").get()
    assert entry.actor == users["community"] and entry.note == "查看力量位置"
    stranger = living_forces(OTHER_COMMUNITY).first()
    duty.go_on_duty(stranger, actor=None, lat=1, lng=1, now=NOW)
    with pytest.raises(NotFound):
        duty.position_of(stranger, actor=users["community"])


@pytest.mark.parametrize(
    "windows",
    [
        "mon",
        [{"weekday": 7, "start": "08:00", "end": "09:00"}],
        [{"weekday": 1, "start": "09:00", "end": "08:00"}],
        [{"weekday": 1, "start": "25:00", "end": "26:00"}],
        [{"weekday": "x"}],
        [1] * 60,
    ],
)
def test_bad_availability_is_refused(windows: Any) -> None:
    with pytest.raises(ValidationFailed):
        duty.parse_windows(windows)


def test_availability_window_in_local_time() -> None:
    windows = duty.parse_windows([{"weekday": 2, "start": "17:30", "end": "18:30"}])
    assert duty.available(windows, NOW)  # Wednesday 18:00 in Beijing
    assert not duty.available(windows, NOW + HOUR)
    assert duty.available([], NOW)


@pytest.mark.parametrize(
    ("lat", "lng"), [("abc", 1), (91, 0), (0, 181), ("nan", 0), (1e308 * 10, 0), (1, None)]
)
def test_bad_points_are_refused(lat: Any, lng: Any) -> None:
    with pytest.raises(ValidationFailed):
        duty.check_point(lat, lng)


def test_the_wecom_robot_is_paced_at_20_a_minute(db: Any) -> None:
    robot = channels.WeComRobot()
    person = living_forces(GRID).first().person
    message = channels.Message(person, None, "调度", "集合", "/", "DD1")
    for _ in range(45):
        robot.send(message, NOW)
    due = sorted(Outbox.objects.filter(channel="wecom").values_list("send_after", flat=True))
    assert len(due) == 45
    assert sum(1 for d in due if d < NOW + dt.timedelta(minutes=1)) == 20 + 20 - 1
    assert all(d <= NOW + dt.timedelta(seconds=76) for d in due)
    in_first_minute = [d for d in due if d == NOW]
    assert len(in_first_minute) == 20
    # pure bucket: an idle minute refills it, never beyond 20
    tokens, wait = channels.take_token(-5.0, NOW, NOW + dt.timedelta(minutes=10))
    assert (tokens, wait) == (19.0, 0.0)


def test_without_endpoints_nothing_leaves(db: Any, monkeypatch: Any, settings: Any) -> None:
    settings.COMMAND_SMS_ENDPOINT = ""
    settings.COMMAND_WECOM_WEBHOOK = ""
    calls: list[Any] = []
    monkeypatch.setattr(channels, "_post", lambda *a: calls.append(a))
    person = living_forces(GRID).exclude(person__phone_masked="").first().person  # type: ignore[union-attr]
    channels.Sms().send(channels.Message(person, None, "调度", "集合", "/", "DD1"), NOW)
    assert channels.flush_outbox(NOW + HOUR) == 0 and calls == []
    row = Outbox.objects.get(channel="sms")
    assert person.phone_masked in row.recipient and row.sent_at is None
    # with an endpoint the due row is sent once, with the clear number
    settings.COMMAND_SMS_ENDPOINT = "https://sms.example.invalid/send"
    assert channels.flush_outbox(NOW + HOUR) == 1
    assert calls[0][1]["phone"] == person.reveal_phone()
    assert channels.flush_outbox(NOW + HOUR) == 0


def test_the_periodic_jobs_run(db: Any, settings: Any) -> None:
    from jiayuan.command import tasks

    settings.COMMAND_LOCATION_RETENTION_HOURS = 0
    force = living_forces(GRID).first()
    duty.go_on_duty(force, actor=None, lat=POINT[0], lng=POINT[1], now=NOW)
    assert tasks.purge_locations.call_local() == 1
    assert tasks.sweep_mobilisations.call_local() == {
        "escalated": 0,
        "timed_out": 0,
        "topped_up": 0,
    }
    assert tasks.flush_outbox.call_local() == 0
