"""Overdue door visits remind the grid worker once a day, through the inbox."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model

from jiayuan.core.models import Notification
from jiayuan.policies.choices import MatchStatus
from jiayuan.policies.models import Match
from jiayuan.policies.reminders import remind_overdue

pytestmark = pytest.mark.django_db


def test_overdue_tasks_remind_their_grid_worker_once_a_day() -> None:
    grid = get_user_model().objects.get(username="grid")
    path = grid.memberships.get().area_path
    mine = Match.objects.filter(area_path__startswith=path, status=MatchStatus.PENDING)
    assert mine.exists()
    due = max(m.due_on for m in mine)
    later = due + dt.timedelta(days=1)
    before = Notification.objects.filter(user=grid).count()
    assert remind_overdue(later) >= 1
    note = Notification.objects.filter(user=grid).latest("created_at")
    assert note.link.startswith("/policies/visits/")
    assert f"{mine.count()} 项政策上门任务已逾期" == note.title
    # a second pass the same day sends nothing more
    remind_overdue(later)
    assert Notification.objects.filter(user=grid).count() == before + 1


def test_nothing_is_overdue_before_the_due_date() -> None:
    earliest = Match.objects.filter(status=MatchStatus.PENDING).order_by("due_on").first()
    assert earliest is not None
    assert remind_overdue(earliest.due_on) == 0
