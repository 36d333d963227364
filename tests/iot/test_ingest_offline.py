"""Whether a device was offline is decided as its batch commits, not when the batch was
read and validated: ``jiayuan ingest`` may prepare a batch before the offline job marks
the device, or after an earlier batch brought it back."""

from __future__ import annotations

import datetime as dt
from typing import Any

from jiayuan.iot import ingest, jobs
from jiayuan.iot.choices import AlarmStatus, DeviceStatus
from jiayuan.iot.models import Alarm

from .conftest import item

T0 = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)


def _heartbeat(device: Any, at: dt.datetime) -> dict[str, Any]:
    return item(device, "heartbeat", {"battery": 70}, ts=at)


def test_marked_offline_after_its_batch_was_prepared_the_device_still_comes_back(
    make_device: Any, send: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # given a detector last heard at T0, and its next heartbeat read and validated
    device = make_device("smoke")
    send(_heartbeat(device, T0), now=T0)
    later = T0 + dt.timedelta(minutes=31)
    prepared = ingest.prepare([_heartbeat(device, later)], source="mqtt", now=later)
    assert prepared.valid[0].device.status == DeviceStatus.ONLINE
    # when the offline job marks it offline before that batch commits
    jobs.detect_offline(now=later)
    alarm = Alarm.objects.get(device=device, rule__code="offline")
    with django_capture_on_commit_callbacks(execute=True):
        result = ingest.commit(prepared)
    # then the commit sees it was offline: back online, its offline alarm cleared
    device.refresh_from_db()
    alarm.refresh_from_db()
    assert result.stored == 1 and alarm.pk in result.alarms_cleared
    assert device.status == DeviceStatus.ONLINE and alarm.status == AlarmStatus.CLEARED


def test_back_online_before_its_batch_commits_the_device_is_not_cleared_twice(
    make_device: Any, send: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # given an offline detector whose next two batches are both read while it is offline
    device = make_device("smoke")
    send(_heartbeat(device, T0), now=T0)
    later = T0 + dt.timedelta(minutes=31)
    jobs.detect_offline(now=later)
    alarm = Alarm.objects.get(device=device, rule__code="offline")
    first = ingest.prepare([_heartbeat(device, later)], source="mqtt", now=later)
    second = ingest.prepare([_heartbeat(device, later + dt.timedelta(seconds=1))],
                            source="mqtt", now=later)  # fmt: skip
    assert second.valid[0].device.status == DeviceStatus.OFFLINE
    # when both commit, one after the other
    with django_capture_on_commit_callbacks(execute=True):
        cleared = ingest.commit(first).alarms_cleared
        again = ingest.commit(second).alarms_cleared
    # then only the first brought it back; the second found it online
    assert cleared == [alarm.pk] and again == []
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.CLEARED
    assert alarm.events.filter(note="设备恢复通信").count() == 1
