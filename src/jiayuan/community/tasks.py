"""Background jobs of the community services (Huey, found by djhuey's autodiscovery)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from . import wishes


@db_periodic_task(crontab(minute="15", hour="*/6"))
@lock_task("community-remind-stalled-wishes")
def remind_stalled_wishes() -> int:
    """Four times a day: remind the claimers of wishes left unfulfilled (and the
    compound's branch secretary and community staff). A wish is reminded once per
    period (``reminded_at``), so running more often never sends more."""
    return wishes.remind_stalled()
