"""The dashboard's three tables read in one pass (``queries.dashboard_indicators``) are the
rows ``indicators.summary``, ``by_policy`` and ``by_area`` give, for every role, with and
without a chosen policy, after visits with each result (so every count and the median days
to benefit have something to count)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from jiayuan.core.roles import Role
from jiayuan.org.models import Membership
from jiayuan.policies import indicators as ind
from jiayuan.policies import matching, queries, services
from jiayuan.policies.choices import MatchStatus
from jiayuan.policies.models import Match, Policy

pytestmark = pytest.mark.django_db


def user(name: str) -> Any:
    return get_user_model().objects.get(username=name)


def as_dicts(rows: list[ind.Row]) -> list[dict[str, Any]]:
    return [{**r.as_dict(), "days": sorted(r.days)} for r in rows]


@pytest.fixture
def visited(db: Any) -> None:
    """A matching run, then visits in the grid worker's grid with every result."""
    if not Match.objects.exists():
        matching.run_matching()
    grid = Membership.objects.get(user__username="grid", role=Role.GRID_WORKER).area
    tasks = list(
        Match.objects.filter(area_path__startswith=grid.path, status=MatchStatus.PENDING)
        .select_related("policy")
        .order_by("pk")[:5]
    )
    assert len(tasks) == 5
    worker, today = user("grid"), timezone.localdate()
    services.record_visit(tasks[0], worker, MatchStatus.VISITED)
    services.record_visit(tasks[1], worker, MatchStatus.GRANTED, since=today)
    services.record_visit(tasks[2], worker, MatchStatus.GRANTED, since=today + dt.timedelta(3))
    services.record_visit(tasks[3], worker, MatchStatus.DECLINED)
    Match.objects.filter(pk=tasks[4].pk).update(due_on=today - dt.timedelta(days=2))


@pytest.mark.parametrize("name", ["admin", "street", "community", "grid"])
def test_one_pass_gives_the_three_tables(visited: None, name: str) -> None:
    who, today = user(name), timezone.localdate()
    granted = Match.objects.filter(status=MatchStatus.GRANTED).values_list("policy", flat=True)
    choices = [None, Policy.objects.get(pk=granted[0]), Policy.objects.order_by("code").last()]
    for policy in choices:
        total, per_policy, per_area = queries.dashboard_indicators(who, policy, today)
        assert as_dicts([total]) == as_dicts([ind.summary(who, policy, today)]), policy
        assert as_dicts(per_policy) == as_dicts(ind.by_policy(who, today)), policy
        assert as_dicts(per_area) == as_dicts(ind.by_area(who, policy, today)), policy
    assert total.matched >= 0
    assert any(r.granted for r in ind.by_policy(who, today))


def test_a_resident_gets_empty_tables(visited: None) -> None:
    total, per_policy, per_area = queries.dashboard_indicators(user("resident"))
    assert total.matched == 0 and per_area == []
    assert all(r.matched == 0 for r in per_policy)
