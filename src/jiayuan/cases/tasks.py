"""Background jobs of the request loop."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from . import escalation


@db_periodic_task(crontab(minute="*/5"))
@lock_task("cases-escalate-overdue")
def escalate_overdue() -> dict[str, int]:
    """Every five minutes: chase cases that overran their stage (超时督办), tier by tier.

    The lock keeps a slow run and the next one from overlapping; each tier is idempotent
    anyway (see :mod:`jiayuan.cases.escalation`)."""
    return escalation.run()
