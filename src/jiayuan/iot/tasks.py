"""Periodic jobs of the device side (see :mod:`jiayuan.iot.jobs` for what each does)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from . import jobs


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
    """Nightly: telemetry retention (30 days) and old dead letters (90 days)."""
    return jobs.purge_old_messages(now=timezone.now())
