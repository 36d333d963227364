"""Reminders of overdue door visits (上门逾期提醒): each grid worker with overdue tasks
in their grid gets one notice a day, listing how many."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from jiayuan.core.notices import notify
from jiayuan.core.roles import Role
from jiayuan.org.models import Membership

from .choices import MatchStatus
from .models import Match

DUE = (MatchStatus.PENDING, MatchStatus.VISITED)


def remind_overdue(today: dt.date | None = None) -> int:
    """Send today's reminders; returns how many notices were sent. A task is reminded
    at most once a day."""
    today = today or timezone.localdate()
    start_of_day = timezone.make_aware(dt.datetime.combine(today, dt.time.min))
    due = Match.objects.filter(status__in=DUE, due_on__lt=today).exclude(
        reminded_at__gte=start_of_day
    )
    sent = 0
    workers = Membership.objects.filter(role=Role.GRID_WORKER, active=True).select_related("user")
    link = reverse("policies:visits") + "?overdue=1"
    for membership in workers:
        mine = due.filter(area_path__startswith=membership.area_path)
        count = mine.count()
        if not count:
            continue
        sent += notify(
            [membership.user], kind="policy_visit_overdue",
            title=f"{count} 项政策上门任务已逾期",
            body="请尽快上门核实并登记结果。", link=link,
        )  # fmt: skip
        mine.update(reminded_at=max(timezone.now(), start_of_day))  # reminded for `today`
    return sent
