"""Periodic jobs of the WeCom part (broadcasts due, deliveries paced)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from . import broadcasts


@db_periodic_task(crontab(minute="*"))
@lock_task("assistant-wecom-broadcasts")
def send_broadcasts() -> dict[str, int]:
    """Every minute: start the broadcasts whose time has come, send their deliveries at
    each robot's pace (retrying failures with backoff) and close the finished ones."""
    return broadcasts.send_due()
