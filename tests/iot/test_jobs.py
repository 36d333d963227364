"""The periodic jobs with moved time: offline detection, the 24-hour welfare check,
escalation of unacknowledged alarms and telemetry retention. Their state lives in rows
(``Device.last_seen_at``, ``RuleState``), so a "restart" between two runs — a fresh
rule book, nothing kept in memory — must change nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from jiayuan.cases.models import Case
from jiayuan.iot import alarms, jobs, lifecycle
from jiayuan.iot.choices import AlarmStatus, DeviceStatus, EscalationLevel
from jiayuan.iot.models import Alarm, AlarmRule, DeadLetter, Device, Message, RuleState
from jiayuan.org.models import Dwelling
from jiayuan.people.models import Person, PersonTag, Residence, Tag

from .conftest import item

T0 = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)


def restart() -> None:
    """What a restarted worker or ingest process starts from: nothing in memory."""
    alarms.BOOK.__init__()  # type: ignore[misc]
    alarms._activity.clear()


@pytest.fixture
def lonely_home(own_grid: Any) -> Dwelling:
    """A dwelling in the grid where a resident tagged 独居老人 lives."""
    residence = (
        Residence.objects.filter(until__isnull=True, dwelling__area_path__startswith=own_grid.path)
        .select_related("person", "dwelling")
        .first()
    )
    assert residence is not None
    tag, _ = Tag.objects.get_or_create(
        code=jobs.LIVING_ALONE_TAG, defaults={"name": "独居老人", "category": "特殊人群"}
    )
    PersonTag.objects.get_or_create(person=residence.person, tag=tag)
    return residence.dwelling


def home_devices(make_device: Any, dwelling: Dwelling) -> tuple[Device, Device]:
    door = make_device("door_sensor", dwelling=dwelling)
    meter = make_device("water_meter", dwelling=dwelling)
    Device.objects.filter(pk__in=[door.pk, meter.pk]).update(created_at=T0 - dt.timedelta(days=9))
    return door, meter


def test_offline_after_thirty_silent_minutes_and_only_once(make_device: Any, send: Any) -> None:
    device = make_device("gas")
    send(item(device, "heartbeat", {"battery": 80}), now=T0)
    # 29 minutes: still fine (a restart in between changes nothing)
    assert Device.objects.get(pk=device.pk).last_seen_at == T0
    restart()
    jobs.detect_offline(now=T0 + dt.timedelta(minutes=29))
    assert not Alarm.objects.filter(device=device).exists()
    # 31 minutes: offline, one minor alarm; a later run adds nothing
    jobs.detect_offline(now=T0 + dt.timedelta(minutes=31))
    jobs.detect_offline(now=T0 + dt.timedelta(minutes=45))
    alarm = Alarm.objects.get(device=device)
    assert (alarm.rule.code, alarm.severity, alarm.count) == ("offline", "minor", 1)
    assert Device.objects.get(pk=device.pk).status == DeviceStatus.OFFLINE


def test_never_heard_device_counts_from_registration(make_device: Any) -> None:
    device = make_device("smoke")
    Device.objects.filter(pk=device.pk).update(created_at=T0)
    jobs.detect_offline(now=T0 + dt.timedelta(minutes=20))
    assert not Alarm.objects.filter(device=device).exists()
    jobs.detect_offline(now=T0 + dt.timedelta(minutes=40))
    assert Alarm.objects.filter(device=device, rule__code="offline").exists()


def test_welfare_check_fires_after_24_quiet_hours_and_survives_a_restart(
    make_device: Any, send: Any, lonely_home: Dwelling, own_grid: Any
) -> None:
    # given a lonely home whose door opened at T0 and whose water ran at T0+2h
    door, meter = home_devices(make_device, lonely_home)
    send(item(door, "event", {"event": "open"}, ts=T0), now=T0)
    restart()  # mid-window: the activity must come back from the database
    two = T0 + dt.timedelta(hours=2)
    send(item(meter, "telemetry", {"flow": 0.0}, ts=two + dt.timedelta(minutes=5)), now=two)
    send(item(meter, "telemetry", {"flow": 6.5}, ts=two), now=two)
    # heartbeats are no sign of life for the welfare check
    send(item(door, "heartbeat", {"battery": 90}, ts=T0 + dt.timedelta(hours=20)),
         now=T0 + dt.timedelta(hours=20))  # fmt: skip
    state = RuleState.objects.get(device=meter, rule__code="welfare").state
    assert state["last_activity"] == two.timestamp()
    restart()
    # when the job runs 25 h after the door (but 23 h after the water): nothing
    assert jobs.welfare_check(now=T0 + dt.timedelta(hours=25))["raised"] == 0
    restart()
    # then 24 h after the last activity: one major welfare alarm with an elderly-care case
    outcome = jobs.welfare_check(now=two + dt.timedelta(hours=24, minutes=1))
    assert outcome["raised"] == 1
    alarm = Alarm.objects.get(rule__code="welfare", device__dwelling=lonely_home)
    assert alarm.severity == "major" and alarm.device_id == door.pk
    case = Case.objects.get(number=alarm.case_ref)
    assert case.category.code == "0802" and case.grid_id == own_grid.pk
    assert case.dwelling_id == lonely_home.pk
    # a second run does not raise it again
    assert jobs.welfare_check(now=two + dt.timedelta(hours=30))["raised"] == 0
    # and activity at home clears it
    later = two + dt.timedelta(hours=31)
    result = send(item(door, "event", {"event": "close"}, ts=later), now=later)
    assert alarm.pk in result.alarms_cleared
    assert Alarm.objects.get(pk=alarm.pk).status == AlarmStatus.CLEARED


def test_welfare_check_ignores_homes_without_a_living_alone_resident(
    make_device: Any, own_grid: Any
) -> None:
    tagged = PersonTag.objects.filter(tag__code=jobs.LIVING_ALONE_TAG).values("person_id")
    dwelling = (
        Dwelling.objects.filter(area_path__startswith=own_grid.path)
        .exclude(residences__person_id__in=tagged)
        .first()
    )
    assert dwelling is not None
    home_devices(make_device, dwelling)
    jobs.welfare_check(now=T0 + dt.timedelta(days=3))
    assert not Alarm.objects.filter(device__dwelling=dwelling).exists()


def test_unacknowledged_alarm_escalates_grid_community_street(
    make_device: Any, send: Any, users: dict[str, Any]
) -> None:
    device = make_device("smoke")
    alarm_id = send(item(device, "event", {"event": "alarm"}), now=T0).alarms_raised[0]
    jobs.escalate_unacknowledged(now=T0 + dt.timedelta(minutes=4))
    assert Alarm.objects.get(pk=alarm_id).escalation_level == EscalationLevel.GRID
    jobs.escalate_unacknowledged(now=T0 + dt.timedelta(minutes=5))
    assert Alarm.objects.get(pk=alarm_id).escalation_level == EscalationLevel.COMMUNITY
    jobs.escalate_unacknowledged(now=T0 + dt.timedelta(minutes=7))
    assert Alarm.objects.get(pk=alarm_id).escalation_level == EscalationLevel.COMMUNITY
    jobs.escalate_unacknowledged(now=T0 + dt.timedelta(minutes=10))
    jobs.escalate_unacknowledged(now=T0 + dt.timedelta(minutes=60))
    alarm = Alarm.objects.get(pk=alarm_id)
    assert alarm.escalation_level == EscalationLevel.STREET
    assert list(alarm.events.filter(kind="escalated").values_list("note", flat=True)) == [
        "超时未确认，升级至社区",
        "超时未确认，升级至街道",
    ]
    # the community's staff and then the street's leaders were told, with a link
    from jiayuan.core.models import Notification

    told = Notification.objects.filter(kind="alarm_escalated")
    community = told.filter(user=users["community"]).first()
    assert community is not None and "升级至社区" in community.title
    assert told.filter(user=users["street"], title__contains="升级至街道").exists()


def test_acknowledged_alarm_does_not_escalate(
    make_device: Any, send: Any, users: dict[str, Any]
) -> None:
    device = make_device("smoke")
    alarm = Alarm.objects.get(pk=send(item(device, "event", {"event": "alarm"}), now=T0)
                              .alarms_raised[0])  # fmt: skip
    lifecycle.acknowledge(alarm, users["grid"], now=T0 + dt.timedelta(minutes=1))
    jobs.escalate_unacknowledged(now=T0 + dt.timedelta(hours=1))
    assert Alarm.objects.get(pk=alarm.pk).escalation_level == EscalationLevel.GRID


def test_escalation_job_retries_a_case_that_could_not_be_opened(
    make_device: Any, send: Any
) -> None:
    AlarmRule.objects.filter(code="smoke_alarm").update(case_category_code="99")
    device = make_device("smoke")
    alarm_id = send(item(device, "event", {"event": "alarm"}), now=T0).alarms_raised[0]
    assert Alarm.objects.get(pk=alarm_id).case_ref == ""  # no such category: alarm kept
    AlarmRule.objects.filter(code="smoke_alarm").update(case_category_code="06")
    assert jobs.escalate_unacknowledged(now=T0)["cases_opened"] == 1
    assert Case.objects.filter(source_ref=f"alarm:{alarm_id}").count() == 1


def test_retention_deletes_old_messages_only(make_device: Any, send: Any) -> None:
    device = make_device("gas")
    for days, lel in ((40, 1), (2, 2)):
        when = T0 - dt.timedelta(days=days)
        assert send(item(device, "telemetry", {"lel": lel}, ts=when), now=when).stored == 1
    send({"serial": device.serial, "kind": "telemetry", "body": b"?"},
         now=T0 - dt.timedelta(days=100))  # fmt: skip
    outcome = jobs.purge_old_messages(now=T0)
    assert outcome["messages"] >= 1 and outcome["dead_letters"] >= 1
    assert list(Message.objects.filter(device=device).values_list("payload", flat=True)) == [
        {"lel": 2}
    ]
    assert not DeadLetter.objects.filter(serial=device.serial).exists()


def test_heartbeats_are_kept_a_week_other_messages_thirty_days(make_device: Any, send: Any) -> None:
    # given heartbeats and telemetry ten days and one day old
    device = make_device("gas")
    for days in (10, 1):
        when = T0 - dt.timedelta(days=days)
        send(item(device, "heartbeat", {"battery": 80}, ts=when),
             item(device, "telemetry", {"lel": float(days)}, ts=when), now=when)  # fmt: skip
    # when retention runs
    outcome = jobs.purge_old_messages(now=T0)
    # then only the heartbeat older than the broker's session life is gone
    kept = Message.objects.filter(device=device)
    assert sorted(kept.values_list("kind", "device_ts__day")) == sorted(
        [("heartbeat", (T0 - dt.timedelta(days=1)).day),
         ("telemetry", (T0 - dt.timedelta(days=1)).day),
         ("telemetry", (T0 - dt.timedelta(days=10)).day)]
    )  # fmt: skip
    assert outcome["heartbeats"] >= 1


def test_person_model_is_what_the_welfare_query_reads() -> None:
    """Guard: the welfare check joins these relations by name."""
    assert Residence._meta.get_field("person").related_model is Person
    assert PersonTag._meta.get_field("person").related_model is Person


# --- defect 12: many devices of one area silent together are one area alarm -----------------
def test_a_building_falling_silent_together_is_one_area_alarm(
    make_device: Any, send: Any, building: Any, other_grid: Any
) -> None:
    # given a building whose every device was last heard at T0 (a dozen at least), and a
    # lone detector in another grid last heard at T0 too
    while Device.objects.filter(area_path__startswith=building.path).count() < 12:
        make_device("smoke")
    in_building = Device.objects.filter(area_path__startswith=building.path)
    in_building.update(last_seen_at=T0, status=DeviceStatus.ONLINE)
    devices = list(in_building.order_by("pk"))
    lone = make_device("smoke", area=other_grid)
    send(item(lone, "heartbeat", {"battery": 80}), now=T0)
    restart()

    # when the offline job runs 31 minutes later (the building's gateway lost power)
    outcome = jobs.detect_offline(now=T0 + dt.timedelta(minutes=31))

    # then one area alarm stands for the building's devices, none of its own per device
    area_alarm = Alarm.objects.get(rule__code="area_offline")
    path = area_alarm.detail["area_path"]
    assert building.path.startswith(path)
    assert area_alarm.area_path == path and area_alarm.count == len(devices)
    assert area_alarm.detail["devices"] == len(devices)
    assert "同时离线" in area_alarm.title
    assert not Alarm.objects.filter(device__in=devices, rule__code="offline").exists()
    assert all(d.status == DeviceStatus.OFFLINE for d in in_building.all())
    assert outcome["offline"] == len(devices) + 1 and outcome["grouped"] == len(devices)
    # while the lone silent detector gets its own alarm, as before
    assert Alarm.objects.filter(device=lone, rule__code="offline").count() == 1

    # when a device of the building that was late to fall silent goes quiet under the
    # open area alarm, it is counted on it
    late = make_device("gas")
    send(item(late, "heartbeat", {"battery": 80}), now=T0 + dt.timedelta(minutes=10))
    jobs.detect_offline(now=T0 + dt.timedelta(minutes=41))
    area_alarm.refresh_from_db()
    assert area_alarm.count == len(devices) + 1
    assert not Alarm.objects.filter(device=late, rule__code="offline").exists()

    # when power is back and every device but one talks again
    back = T0 + dt.timedelta(minutes=50)
    send(*[item(d, "heartbeat", {"battery": 70}) for d in [*devices[1:], late]], now=back)
    outcome = jobs.detect_offline(now=back + dt.timedelta(minutes=1))

    # then the area alarm clears, and the one still silent gets its own alarm
    area_alarm.refresh_from_db()
    assert area_alarm.status == AlarmStatus.CLEARED and outcome["areas_cleared"] == 1
    still = Alarm.objects.filter(rule__code="offline", device__in=[*devices, late])
    assert list(still.values_list("device_id", flat=True)) == [devices[0].pk]


def test_a_few_silent_devices_in_an_area_still_alarm_one_by_one(
    make_device: Any, send: Any, building: Any
) -> None:
    # given three detectors of a building last heard at T0 (the rest of it is fine)
    three = [make_device("smoke") for _ in range(3)]
    send(*[item(d, "heartbeat", {"battery": 80}) for d in three], now=T0)
    # when the offline job runs 31 minutes later
    jobs.detect_offline(now=T0 + dt.timedelta(minutes=31))
    # then each has its own offline alarm and there is no area alarm
    assert Alarm.objects.filter(device__in=three, rule__code="offline").count() == 3
    assert not Alarm.objects.filter(rule__code="area_offline").exists()
