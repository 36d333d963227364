"""Periodic jobs: the nightly matching run and reminders of overdue door visits."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from .matching import run_matching
from .reminders import remind_overdue


@db_periodic_task(crontab(hour="1", minute="30"))
@lock_task("policies-match")
def nightly_matching() -> dict[str, Any]:
    """Every policy on today's date: incremental where the policy's last run allows it
    (only the residents who changed or whose dates cross are read), full otherwise."""
    return run_matching().summary


@db_periodic_task(crontab(hour="8", minute="0"))
@lock_task("policies-remind")
def overdue_reminders(today: dt.date | None = None) -> int:
    return remind_overdue(today)


@db_task()
@lock_task("policies-match")
def match_on_demand(
    ref_date: str | None, codes: list[str] | None, user_id: int | None
) -> dict[str, Any]:
    """A run started from the API (``POST /policies/match-runs``) too large to finish
    within the request; it shares the nightly run's lock so that two never overlap."""
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    day = dt.date.fromisoformat(ref_date) if ref_date else None
    return run_matching(day, codes=codes, user=user).summary
