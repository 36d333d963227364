"""Jobs of the device side: the periodic ones (see :mod:`jiayuan.iot.jobs` for what each
does) and the follow-up of a new alarm (its case), enqueued after the ingest commit."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from . import jobs, lifecycle

# A case that cannot be opened yet (the request loop's database away, a category
# missing) is tried again every FOLLOW_UP_RETRY_S for about an hour; past that the escalation job
# keeps trying every minute while the alarm is open.
FOLLOW_UP_RETRIES = 120
FOLLOW_UP_RETRY_S = 30


@db_periodic_task(crontab(minute="*"))
@lock_task("iot-detect-offline")
def detect_offline() -> dict[str, int]:
    """Every minute: devices silent past their offline rule go offline with an alarm."""
    return jobs.detect_offline(now=timezone.now())


@db_periodic_task(crontab(minute="*/10"))
@lock_task("iot-welfare-check")
def welfare_check() -> dict[str, int]:
    """Every ten minutes: homes of people living alone with no activity for 24 hours."""
    return jobs.welfare_check(now=timezone.now())


@db_periodic_task(crontab(minute="*"))
@lock_task("iot-escalate")
def escalate_unacknowledged() -> dict[str, int]:
    """Every minute: unacknowledged alarms past their limit go up a level."""
    return jobs.escalate_unacknowledged(now=timezone.now())


@db_periodic_task(crontab(minute="17", hour="3"))
@lock_task("iot-retention")
def purge_old_messages() -> dict[str, Any]:
    """Nightly: telemetry retention (30 days, heartbeats 7) and old dead letters (90 days)."""
    return jobs.purge_old_messages(now=timezone.now())


@db_task(retries=FOLLOW_UP_RETRIES, retry_delay=FOLLOW_UP_RETRY_S)
def follow_up_alarm(alarm_id: int) -> str:
    """After the ingest batch that raised an alarm commits: open its case and tell the
    grid (:func:`lifecycle.follow_up`, idempotent); raises to be retried until the case
    is open."""
    return lifecycle.follow_up(alarm_id)
