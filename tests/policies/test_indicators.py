"""Indicators of 政策找人 (policies/indicators.py): matched, visited, granted and the
median days from eligibility to benefit, per policy and per area, scoped to the user.

Matches come from a real matching run over the seeded tiny county; visits are recorded
through ``services.record_visit``, as a grid worker would."""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from jiayuan.core.roles import Role
from jiayuan.org.models import Area, Membership
from jiayuan.policies import indicators as ind
from jiayuan.policies import matching, services
from jiayuan.policies.choices import MatchStatus
from jiayuan.policies.models import Match, ReceivedBenefit

pytestmark = pytest.mark.django_db


def user(name: str) -> Any:
    return get_user_model().objects.get(username=name)


def area_of(username: str, role: str) -> Area:
    return Membership.objects.select_related("area").get(user__username=username, role=role).area


@pytest.fixture
def tasks(db: Any) -> list[Match]:
    """Pending tasks in the ``grid`` user's grid after a matching run."""
    if not Match.objects.exists():
        matching.run_matching()
    grid = area_of("grid", Role.GRID_WORKER)
    found = list(
        Match.objects.filter(area_path__startswith=grid.path, status=MatchStatus.PENDING)
        .select_related("policy")
        .order_by("pk")
    )
    assert len(found) >= 4, "the tiny county has too few tasks in grid's grid"
    return found


def test_visits_move_the_counts(tasks: list[Match]) -> None:
    # given the grid's figures before any visit of this test
    grid_user = user("grid")
    today = timezone.localdate()
    before = ind.summary(grid_user, today=today)
    # when the worker records four visits with four different results
    a, b, c, d = tasks[:4]
    services.record_visit(a, grid_user, MatchStatus.VISITED)
    services.record_visit(b, grid_user, MatchStatus.GRANTED, since=today)
    services.record_visit(c, grid_user, MatchStatus.REJECTED, failed_item=c.check_items[0]
                          if c.check_items else "登记信息与实际不符")  # fmt: skip
    services.record_visit(d, grid_user, MatchStatus.DECLINED)
    after = ind.summary(grid_user, today=today)
    # then
    assert after.matched == before.matched
    assert after.visited == before.visited + 4
    assert after.granted == before.granted + 1
    assert after.rejected == before.rejected + 1
    assert after.declined == before.declined + 1
    assert after.open == before.open - 3  # 已上门 is still a task
    assert after.visit_rate is not None and after.visit_rate > (before.visit_rate or 0)


def test_per_policy_rows_add_up_to_the_summary(tasks: list[Match]) -> None:
    grid_user = user("grid")
    services.record_visit(tasks[0], grid_user, MatchStatus.GRANTED, since=timezone.localdate())
    rows = ind.by_policy(grid_user)
    total = ind.summary(grid_user)
    assert len(rows) == 20  # every policy, found someone or not
    for name in ind.COUNT_NAMES:
        assert sum(getattr(r, name) for r in rows) == getattr(total, name), name
    row = next(r for r in rows if r.key == tasks[0].policy.code)
    assert row.granted >= 1


def test_overdue_counts_open_tasks_past_their_due_date(tasks: list[Match]) -> None:
    grid_user = user("grid")
    today = timezone.localdate()
    two = Match.objects.filter(pk__in=[t.pk for t in tasks[:2]])
    two.update(due_on=today + dt.timedelta(days=1))
    before = ind.summary(grid_user, today=today).overdue
    two.update(due_on=today - dt.timedelta(days=1))
    assert ind.summary(grid_user, today=today).overdue == before + 2
    # a settled task is never overdue, whatever its due date
    tasks[1].refresh_from_db()
    services.record_visit(tasks[1], grid_user, MatchStatus.DECLINED)
    assert ind.summary(grid_user, today=today).overdue == before + 1


def test_median_days_from_eligibility_to_benefit(tasks: list[Match]) -> None:
    # given three matches found on known days, granted with known start dates
    grid_user = user("grid")
    day = timezone.localdate() - dt.timedelta(days=40)
    chosen = tasks[:3]
    Match.objects.filter(pk__in=[m.pk for m in chosen]).update(eligible_on=day)
    for m, wait in zip(chosen, (3, 10, 30), strict=True):
        m.refresh_from_db()
        services.record_visit(m, grid_user, MatchStatus.GRANTED, since=day + dt.timedelta(wait))
    # then the days are read from the benefits the visits recorded
    mine = Match.objects.filter(pk__in=[m.pk for m in chosen])
    assert sorted(days for _, _, days in ind.days_to_benefit(mine)) == [3, 10, 30]
    # and the scope's median is the median over every granted match it sees
    expected = []
    for m in Match.objects.visible_to(grid_user).filter(status=MatchStatus.GRANTED):
        benefit = ReceivedBenefit.objects.filter(match=m).order_by("pk").first()
        end = benefit.since if benefit and benefit.since else timezone.localdate(m.closed_at)
        expected.append(max(0, (end - m.eligible_on).days))
    assert ind.summary(grid_user).median_days == statistics.median(expected)


def test_a_benefit_without_a_start_counts_to_the_closing_day(tasks: list[Match]) -> None:
    grid_user = user("grid")
    m = tasks[0]
    Match.objects.filter(pk=m.pk).update(eligible_on=timezone.localdate() - dt.timedelta(days=6))
    m.refresh_from_db()
    services.record_visit(m, grid_user, MatchStatus.GRANTED, since=timezone.localdate())
    ReceivedBenefit.objects.filter(match=m).update(since=None)
    assert [d for _, _, d in ind.days_to_benefit(Match.objects.filter(pk=m.pk))] == [6]


def test_figures_are_scoped(tasks: list[Match]) -> None:
    grid = area_of("grid", Role.GRID_WORKER)
    community = area_of("community", Role.COMMUNITY_STAFF)
    in_grid = Match.objects.filter(area_path__startswith=grid.path).exclude(
        status=MatchStatus.UPCOMING
    )
    in_community = Match.objects.filter(area_path__startswith=community.path).exclude(
        status=MatchStatus.UPCOMING
    )
    assert ind.summary(user("grid")).matched == in_grid.count()
    assert ind.summary(user("community")).matched == in_community.count()
    assert in_grid.count() < in_community.count() < ind.summary(user("admin")).matched


@pytest.mark.parametrize("name", ["grid", "community", "street", "admin"])
def test_area_rows_cover_the_scope(tasks: list[Match], name: str) -> None:
    account = user(name)
    rows = ind.by_area(account)
    total = ind.summary(account)
    assert rows
    for field in ("matched", "visited", "granted", "open", "upcoming"):
        assert sum(getattr(r, field) for r in rows) == getattr(total, field), field
    top = ind.top_area(account)
    assert top is not None
    if name == "grid":
        assert [r.key for r in rows] == [top.path]
    else:
        assert {r.key for r in rows} == set(
            Area.objects.filter(parent=top).values_list("path", flat=True)
        )


def test_area_rows_of_one_policy(tasks: list[Match]) -> None:
    policy = tasks[0].policy
    rows = ind.by_area(user("community"), policy)
    assert sum(r.matched for r in rows) == ind.summary(user("community"), policy).matched > 0
