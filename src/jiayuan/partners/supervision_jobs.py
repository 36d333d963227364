"""Periodic jobs of the partners app's supervision part (imported by partners.tasks)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from . import supervision


@db_periodic_task(crontab(minute="40", hour="*/6"))
@lock_task("partners-penalise-missed-rectifications")
def penalise_missed_rectifications() -> int:
    """Four times a day: deduct the partner's credit for each finding past its
    rectification deadline and not rectified. Each finding costs once (``penalised``
    and the ledger's one entry per evidence), so running more often never deducts more."""
    return supervision.penalise_overdue()
