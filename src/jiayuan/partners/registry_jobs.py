"""Periodic jobs of the partners app's registry part (imported by partners.tasks, so
Huey's consumer registers them)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from . import registry


@db_periodic_task(crontab(minute="40", hour="7"))
@lock_task("partners-remind-qualifications")
def remind_qualifications() -> int:
    """Every morning: qualifications expiring within PARTNERS_REMIND_DAYS are reminded to
    the community staff, each once (``reminded_on``)."""
    return registry.remind_qualifications()


@db_periodic_task(crontab(minute="45", hour="7"))
@lock_task("partners-remind-renewals")
def remind_renewals() -> int:
    """Every morning: agreements in force ending within PARTNERS_REMIND_DAYS are reminded
    to the community staff, each once (``renewal_reminded_on``)."""
    return registry.remind_renewals()
