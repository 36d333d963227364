"""The ingest pipeline and the alarm engine, in-process on the seeded county."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from jiayuan.cases.models import Case
from jiayuan.core.models import AuditEntry
from jiayuan.iot import ingest
from jiayuan.iot.choices import AlarmStatus, DeviceStatus
from jiayuan.iot.ingest import topic_for
from jiayuan.iot.models import Alarm, AlarmEvent, DeadLetter, Message, RuleState

from .conftest import item

T0 = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


def test_smoke_alarm_raises_critical_alarm_and_case_in_device_grid(
    make_device: Any, send: Any, own_grid: Any
) -> None:
    # given a smoke detector in the grid worker's grid
    device = make_device("smoke")
    # when it reports a fire
    result = send(item(device, "event", {"event": "alarm", "battery": 90}))
    # then one critical alarm, linked both ways to a device case in that grid
    assert result.stored == 1 and len(result.alarms_raised) == 1
    alarm = Alarm.objects.get(pk=result.alarms_raised[0])
    assert alarm.severity == "critical" and alarm.status == AlarmStatus.ACTIVE
    assert alarm.area_path == device.area_path
    case = Case.objects.get(number=alarm.case_ref)
    assert case.channel == "device" and case.source_ref == f"alarm:{alarm.pk}"
    assert case.grid_id == own_grid.pk and case.category.code == "06"
    assert case.priority == "critical"
    kinds = list(alarm.events.values_list("kind", flat=True))
    assert kinds == ["raised", "case_opened"]
    assert AuditEntry.objects.for_object(alarm).filter(action="create").exists()
    device.refresh_from_db()
    assert device.battery == 90 and device.last_seen_at is not None


def test_redelivered_message_changes_nothing(make_device: Any, send: Any) -> None:
    device = make_device("smoke")
    message = item(device, "event", {"event": "alarm"}, message_id="m-1")
    first = send(message)
    again = send(message, message)  # redelivered twice, once within one batch
    assert first.stored == 1 and again.stored == 0 and again.duplicates == 2
    assert Message.objects.filter(device=device).count() == 1
    alarm = Alarm.objects.get(device=device)
    assert alarm.count == 1
    assert Case.objects.filter(source_ref=alarm.key).count() == 1


def test_repeats_count_on_one_open_alarm_then_clear_condition_clears(
    make_device: Any, send: Any
) -> None:
    device = make_device("smoke")
    send(item(device, "event", {"event": "alarm"}))
    send(item(device, "event", {"event": "alarm"}), item(device, "event", {"event": "alarm"}))
    alarm = Alarm.objects.get(device=device)
    assert alarm.count == 3
    result = send(item(device, "event", {"event": "clear"}))
    alarm.refresh_from_db()
    assert result.alarms_cleared == [alarm.pk]
    assert alarm.status == AlarmStatus.CLEARED and alarm.cleared_at is not None
    # a new fire after the clear is a new alarm (the cleared one stays for the record)
    send(item(device, "event", {"event": "alarm"}))
    assert Alarm.objects.filter(device=device).count() == 2


def test_malformed_messages_go_to_dead_letters_and_the_rest_is_processed(
    make_device: Any, send: Any
) -> None:
    device = make_device("gas")
    bad = [
        {"serial": device.serial, "kind": "telemetry", "body": b"{not json"},
        item(device, "telemetry", {"lel": "high"}),
        item(device, "telemetry", {"battery": 50}),  # lel is required
        item(device, "event", {"event": "explode"}),
        item(device, "weather", {}),
        {"serial": "NO-SUCH-DEVICE", "kind": "event", "body": b"{}"},
        {"serial": device.serial, "kind": "event", "body": {"ts": "2026-01-01T00:00:00+08:00"}},
    ]
    good = item(device, "telemetry", {"lel": 3.5})
    result = send(*bad, good)
    assert result.stored == 1 and result.dead_letters == len(bad)
    reasons = list(DeadLetter.objects.filter(received_at__isnull=False).order_by("id")
                   .values_list("reason", flat=True))[-len(bad):]  # fmt: skip
    assert "JSON" in reasons[0]
    assert "lel" in reasons[1] and "lel" in reasons[2]
    assert "event" in reasons[3]
    assert "unknown message kind" in reasons[4]
    assert "unknown device" in reasons[5]
    assert "message_id" in reasons[6]
    letter = DeadLetter.objects.filter(serial=device.serial).order_by("id").first()
    assert letter is not None and letter.area_path == device.area_path
    assert letter.payload == "{not json"


def test_gas_threshold_needs_ten_seconds_on_device_time(make_device: Any, send: Any) -> None:
    device = make_device("gas")
    tel = lambda s, lel: item(device, "telemetry", {"lel": lel}, ts=T0 + dt.timedelta(seconds=s))  # noqa: E731
    assert send(tel(0, 30), tel(5, 32)).alarms_raised == []
    # a late message (device time before the newest) is stored but does not reset the window
    assert send(tel(3, 2)).stored == 1
    # falling below the threshold resets it
    assert send(tel(8, 20)).alarms_raised == []
    assert send(tel(9, 26), tel(15, 27)).alarms_raised == []
    result = send(tel(19, 30))
    assert len(result.alarms_raised) == 1
    alarm = Alarm.objects.get(pk=result.alarms_raised[0])
    assert alarm.rule.code == "gas_leak" and alarm.case_ref
    # between the clear level and the threshold: still open; below it: cleared
    send(tel(20, 15))
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.ACTIVE
    send(tel(21, 5))
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.CLEARED


def test_gas_threshold_state_survives_between_batches(make_device: Any, send: Any) -> None:
    """The window lives in RuleState rows, not in the process."""
    from jiayuan.iot import alarms

    device = make_device("gas")
    send(item(device, "telemetry", {"lel": 40}, ts=T0))
    state = RuleState.objects.get(device=device, rule__code="gas_leak").state
    assert state["since"] == T0.timestamp()
    alarms.BOOK.refresh(force=True)  # as a restarted process would
    result = send(item(device, "telemetry", {"lel": 41}, ts=T0 + dt.timedelta(seconds=10)))
    assert len(result.alarms_raised) == 1


def test_three_strangers_at_night_raise_one_major_alarm(make_device: Any, send: Any) -> None:
    gate = make_device("face_gate")
    night = timezone.make_aware(dt.datetime(2026, 11, 27, 0, 30))
    stranger = lambda minutes: item(  # noqa: E731
        gate,
        "event",
        {"event": "stranger", "similarity": 0.2},
        ts=night + dt.timedelta(minutes=minutes),
    )
    day = item(gate, "event", {"event": "stranger"}, ts=night + dt.timedelta(hours=10))
    assert send(stranger(0), day, stranger(60)).alarms_raised == []
    result = send(stranger(200))
    assert len(result.alarms_raised) == 1
    alarm = Alarm.objects.get(pk=result.alarms_raised[0])
    assert alarm.severity == "major" and alarm.rule.code == "stranger_night"
    assert alarm.case_ref == ""  # major, not critical: no case


def test_low_battery_and_tamper_warnings(make_device: Any, send: Any) -> None:
    device = make_device("door_sensor")
    result = send(
        item(device, "heartbeat", {"battery": 9}),
        item(device, "event", {"event": "tamper"}),
    )
    codes = sorted(Alarm.objects.filter(pk__in=result.alarms_raised)
                   .values_list("rule__code", flat=True))  # fmt: skip
    assert codes == ["low_battery", "tamper"]
    assert set(Alarm.objects.filter(device=device).values_list("severity", flat=True)) == {
        "warning"
    }
    send(item(device, "heartbeat", {"battery": 80}))
    low = Alarm.objects.get(device=device, rule__code="low_battery")
    assert low.status == AlarmStatus.CLEARED


def test_sos_opens_elderly_case(make_device: Any, send: Any, dwelling: Any) -> None:
    button = make_device("sos_button", dwelling=dwelling)
    result = send(item(button, "event", {"event": "sos"}))
    alarm = Alarm.objects.get(pk=result.alarms_raised[0])
    case = Case.objects.get(number=alarm.case_ref)
    assert case.category.code == "0802" and case.dwelling_id == dwelling.pk


def test_closing_the_case_closes_the_alarm(
    make_device: Any, send: Any, users: dict[str, Any], dwelling: Any
) -> None:
    from jiayuan.cases import services

    # given an SOS alarm whose case went to the grid worker
    button = make_device("sos_button", dwelling=dwelling)
    alarm = Alarm.objects.get(pk=send(item(button, "event", {"event": "sos"})).alarms_raised[0])
    case = Case.objects.get(number=alarm.case_ref)
    assert case.handler_user == users["grid"]
    # when the case goes round the loop (办、审、回)
    services.perform(case.pk, "accept", actor=users["grid"])
    services.perform(case.pk, "start", actor=users["grid"])
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.ACTIVE  # still open while the case is handled
    services.perform(case.pk, "handle", actor=users["grid"], result="已上门，老人安好")
    services.perform(case.pk, "approve", actor=users["community"])
    services.visit_by_token(case.tracking_token, "satisfied", "")
    # then the alarm is closed, once
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.CLOSED and alarm.closed_at is not None
    assert AlarmEvent.objects.filter(alarm=alarm, kind="closed").count() == 1


def test_rejecting_the_case_closes_the_alarm(
    make_device: Any, send: Any, users: dict[str, Any]
) -> None:
    from jiayuan.cases import services

    device = make_device("smoke")
    alarm = Alarm.objects.get(pk=send(item(device, "event", {"event": "alarm"})).alarms_raised[0])
    services.perform(
        Case.objects.get(number=alarm.case_ref).pk, "reject", actor=users["community"],
        reason="测试按钮误触",
    )  # fmt: skip
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.CLOSED


def test_offline_device_comes_back_online_and_its_alarm_clears(make_device: Any, send: Any) -> None:
    from jiayuan.iot import jobs

    device = make_device("smoke")
    send(item(device, "heartbeat", {"battery": 70}), now=T0)
    later = T0 + dt.timedelta(minutes=31)
    outcome = jobs.detect_offline(now=later)
    assert outcome["offline"] >= 1
    device.refresh_from_db()
    assert device.status == DeviceStatus.OFFLINE
    alarm = Alarm.objects.get(device=device, rule__code="offline")
    assert alarm.severity == "minor"
    send(item(device, "heartbeat", {"battery": 70}), now=later + dt.timedelta(minutes=1))
    device.refresh_from_db()
    alarm.refresh_from_db()
    assert device.status == DeviceStatus.ONLINE and alarm.status == AlarmStatus.CLEARED


# --- defect 7: a redelivered bad message is one dead letter ----------------------------------
def test_a_redelivered_bad_message_is_kept_once_with_its_count(make_device: Any, send: Any) -> None:
    device = make_device("gas")
    topic = topic_for(device.serial, "telemetry")

    def bad(body: bytes) -> dict[str, Any]:
        return {"serial": device.serial, "kind": "telemetry", "body": body, "topic": topic}

    # given a refused message the broker delivers again (never acknowledged), twice in a
    # later batch too, and another refused message
    first = send(bad(b'{"message_id": "m1", "ts": '), now=T0)
    again = send(bad(b'{"message_id": "m1", "ts": '), now=T0 + dt.timedelta(seconds=5))
    twice = send(
        bad(b'{"message_id": "m1", "ts": '), bad(b'{"message_id": "m1", "ts": '),
        now=T0 + dt.timedelta(seconds=9),
    )  # fmt: skip
    send(bad(b"{other"), now=T0)
    # then every delivery is still reported as refused …
    assert (first.dead_letters, again.dead_letters, twice.dead_letters) == (1, 1, 2)
    # … but the dead-letter table keeps each message once, with how often it came
    letters = DeadLetter.objects.filter(serial=device.serial).order_by("id")
    assert letters.count() == 2
    assert [(d.payload, d.count) for d in letters] == [
        ('{"message_id": "m1", "ts": ', 4),
        ("{other", 1),
    ]
    assert letters[0].received_at == T0
    assert letters[0].last_received_at == T0 + dt.timedelta(seconds=9)


def test_a_poison_message_redelivered_is_one_dead_letter(make_device: Any) -> None:
    device = make_device("smoke")
    raw = {"serial": device.serial, "kind": "event", "body": b"{}", "topic": "t"}
    reason = "处理失败 / processing failed: ZeroDivisionError"
    ingest.dead_letter_raw(dict(raw), "mqtt", reason)
    row = ingest.dead_letter_raw(dict(raw), "mqtt", reason)
    assert row.count == 2
    assert DeadLetter.objects.filter(serial=device.serial).count() == 1


def test_liveness_of_a_whole_batch_is_one_statement_whatever_the_batteries(
    make_device: Any, django_assert_num_queries: Any
) -> None:
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL joins the batch as arrays through psycopg's own cursor")
    # given twenty devices never seen, each reporting a new battery level
    devices = [make_device("smoke") for _ in range(20)]
    refs = ingest.device_refs([d.serial for d in devices])
    now = timezone.now()
    valid = [
        ingest._Valid(i, refs[d.serial], "heartbeat", f"m{i}", now, {"battery": 50 + i})
        for i, d in enumerate(devices)
    ]
    # when liveness is written: one statement (not one per device whose battery changed)
    with django_assert_num_queries(1):
        ingest._touch_devices(valid, now)
    # then every device is seen, with its own battery and device time
    for i, device in enumerate(devices):
        device.refresh_from_db()
        assert (device.battery, device.last_device_ts, device.last_seen_at) == (50 + i, now, now)
