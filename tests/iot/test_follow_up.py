"""A new alarm's case is opened after the ingest batch commits, by a job retried until it
succeeds (issue 10): case intake never holds up device messages."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from jiayuan.cases.models import Case
from jiayuan.core.models import Notification
from jiayuan.iot import lifecycle, tasks
from jiayuan.iot.choices import AlarmStatus
from jiayuan.iot.ingest import ingest_batch
from jiayuan.iot.models import Alarm, AlarmRule

from .conftest import item


def _smoke_alarm(device: Any) -> dict[str, Any]:
    one = item(device, "event", {"event": "alarm"})
    one["body"]["ts"] = timezone.now().isoformat()
    return one


def test_the_case_is_not_opened_inside_the_batch_but_by_the_job_its_commit_enqueues(
    make_device: Any,
    django_capture_on_commit_callbacks: Any,
    users: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a smoke detector, and a queue that only records what is enqueued
    device = make_device("smoke")
    job = tasks.follow_up_alarm
    enqueued: list[int] = []
    monkeypatch.setattr(tasks, "follow_up_alarm", enqueued.append)
    # when its fire alarm is ingested
    with django_capture_on_commit_callbacks(execute=True):
        result = ingest_batch([_smoke_alarm(device)], source="mqtt")
        alarm = Alarm.objects.get(pk=result.alarms_raised[0])
        # then, inside the batch, the alarm stands alone: no case, no notice, no job yet
        assert alarm.case_ref == "" and result.cases == []
        assert not Case.objects.filter(source_ref=alarm.key).exists()
        assert not Notification.objects.filter(kind="alarm_grid").exists()
        assert enqueued == []
    # and the commit enqueues one follow-up job for it
    assert enqueued == [alarm.pk]
    assert not Case.objects.filter(source_ref=alarm.key).exists()
    # when the job runs (a worker, after the commit)
    job.call_local(alarm.pk)
    # then the case is open and its number written back to the alarm
    alarm.refresh_from_db()
    case = Case.objects.get(source_ref=alarm.key)
    assert alarm.case_ref == case.number and case.channel == "device"
    assert list(alarm.events.values_list("kind", flat=True)) == ["raised", "case_opened"]
    assert Notification.objects.filter(kind="alarm_grid", user=users["grid"]).count() == 1


def test_a_rolled_back_batch_enqueues_nothing(
    make_device: Any, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import transaction

    device = make_device("smoke")
    enqueued: list[int] = []
    monkeypatch.setattr(tasks, "follow_up_alarm", enqueued.append)
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            ingest_batch([_smoke_alarm(device)], source="mqtt")
            raise RuntimeError("the commit failed")
    assert enqueued == []
    assert not Alarm.objects.filter(device=device).exists()


def test_the_job_retries_until_the_case_opens_and_a_second_run_changes_nothing(
    make_device: Any, send: Any, users: dict[str, Any]
) -> None:
    # given an alarm whose case cannot be opened (no such category)
    AlarmRule.objects.filter(code="smoke_alarm").update(case_category_code="99")
    device = make_device("smoke")
    alarm_id = send(_smoke_alarm(device)).alarms_raised[0]
    # then the job fails, so that Huey retries it
    with pytest.raises(lifecycle.CaseNotOpened):
        tasks.follow_up_alarm.call_local(alarm_id)
    assert Alarm.objects.get(pk=alarm_id).case_ref == ""
    # when the category exists again, the next try opens the case
    AlarmRule.objects.filter(code="smoke_alarm").update(case_category_code="06")
    number = tasks.follow_up_alarm.call_local(alarm_id)
    assert number and Alarm.objects.get(pk=alarm_id).case_ref == number
    # and a job that runs again (a retry racing the first) opens nothing more
    assert tasks.follow_up_alarm.call_local(alarm_id) == number
    assert Case.objects.filter(source_ref=f"alarm:{alarm_id}").count() == 1
    assert Notification.objects.filter(kind="alarm_grid", user=users["grid"]).count() == 1
    assert tasks.follow_up_alarm.task_class.default_retries == tasks.FOLLOW_UP_RETRIES > 0


def test_closing_the_case_the_job_opened_still_closes_the_alarm(
    make_device: Any, send: Any, users: dict[str, Any]
) -> None:
    from jiayuan.core.incidents import close_incident

    device = make_device("smoke")
    alarm = Alarm.objects.get(pk=send(_smoke_alarm(device)).alarms_raised[0])
    assert alarm.case_ref
    close_incident(None, key=alarm.key, number=alarm.case_ref, outcome="closed")
    assert Alarm.objects.get(pk=alarm.pk).status == AlarmStatus.CLOSED
