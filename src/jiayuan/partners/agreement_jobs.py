"""Periodic jobs of the partners app's agreement part (imported by partners.tasks, so
Huey's consumer registers them)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from . import agreements


@db_periodic_task(crontab(minute="20", hour="0"))
@lock_task("partners-expire-agreements")
def expire_agreements() -> int:
    """Every night: agreements in force whose end date has passed read 已到期, so the
    project can draft its renewal. Running it twice changes nothing more."""
    return agreements.expire_due()
