"""The services dashboard (/community/dashboard/): its figures equal direct counts, it
stays inside the user's scope, and it costs the same number of queries for a few rows
and for many."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Q, Sum
from django.utils import timezone

from jiayuan.community import dashboard
from jiayuan.community.models import Activity, HoursEntry, Market, Topic, Wish
from jiayuan.org.models import Area

pytestmark = pytest.mark.django_db


def direct(path: str, now: dt.datetime) -> dict[str, Any]:
    """The dashboard's figures under ``path``, counted without ``visible_to``."""
    start = dt.datetime.combine(
        dashboard.month_starts(timezone.localdate(now))[0], dt.time(),
        tzinfo=timezone.get_current_timezone(),
    )  # fmt: skip
    under = Q(area_path__startswith=path)
    window = {"gte": start, "lte": now}

    def within(stamp: str) -> Q:
        return Q(**{f"{stamp}__{k}": v for k, v in window.items()})

    done = Activity.objects.filter(under, within("starts_at"), status="done")
    markets = Market.objects.filter(under, within("starts_at"), status="done")
    hours = HoursEntry.objects.filter(under, within("created_at")).aggregate(h=Sum("hours"))["h"]
    return {
        "wishes": Wish.objects.filter(under, within("created_at")).count(),
        "fulfilled": Wish.objects.filter(
            under, within("fulfilled_at"), status__in=["fulfilled", "thanked"]
        ).count(),
        "activities": done.count(),
        "participations": done.aggregate(n=Sum("participations"))["n"] or 0,
        "hours": Decimal(hours or 0).quantize(Decimal("0.1")),
        "markets": markets.count(),
        "visits": markets.aggregate(n=Sum("visitors"))["n"] or 0,
        "topics_passed": Topic.objects.filter(
            under, resolution__passed=True, resolution__decided_at__gte=start
        ).count(),
    }


@pytest.mark.parametrize("username", ["admin", "community"])
def test_figures_equal_direct_counts(users: dict[str, Any], username: str) -> None:
    now = timezone.now()
    user = users[username]
    for community in dashboard.communities_for(user):
        cards = {key: value for key, _label, value in dashboard.figures(user, community.path,
                                                                       now).cards}  # fmt: skip
        expected = direct(community.path, now)
        assert {k: cards[k] for k in expected} == expected
        assert expected["activities"] > 0 and expected["wishes"] > 0


def test_the_whole_scope_is_the_sum_of_its_communities(users: dict[str, Any]) -> None:
    now = timezone.now()
    admin = users["admin"]
    whole = {k: v for k, _l, v in dashboard.figures(admin, "", now).cards}
    parts = [
        {k: v for k, _l, v in dashboard.figures(admin, c.path, now).cards}
        for c in dashboard.communities_for(admin)
    ]
    for key in ("wishes", "activities", "participations", "visits", "markets", "volunteers"):
        assert whole[key] == sum(p[key] for p in parts), key


def test_the_page_shows_cards_a_chart_and_a_picker(page_as: Any, users: dict[str, Any]) -> None:
    response = page_as("admin").get("/community/dashboard/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="dashboard-picker"' in html
    for label in (
        "收集心愿",
        "实现心愿",
        "服务活动",
        "参与人次",
        "志愿时长",
        "公益集市",
        "议题表决通过",
    ):
        assert label in html
    data = json.loads(html.split('id="services-trend-data" type="application/json">')[1]
                      .split("</script>")[0])  # fmt: skip
    assert len(data["months"]) == 12
    assert {s["key"] for s in data["series"]} == set(dashboard.TREND_LABELS)
    # the trend's participations add up to the card
    cards = {k: v for k, _l, v in dashboard.figures(users["admin"], "").cards}
    series = {s["key"]: s["data"] for s in data["series"]}
    assert sum(series["participations"]) == cards["participations"]


def test_picking_a_community_narrows_the_figures(page_as: Any, users: dict[str, Any]) -> None:
    community = dashboard.communities_for(users["admin"])[1]
    response = page_as("admin").get("/community/dashboard/", {"area": community.pk})
    assert response.status_code == 200
    assert response.context["picked"] == community
    cards = {k: v for k, _l, v in response.context["figures"].cards}
    assert cards["activities"] == direct(community.path, timezone.now())["activities"]


@pytest.mark.parametrize("raw", ["999999999", "abc", "1" * 400, "１２", "-1"])
def test_an_area_outside_the_scope_or_odd_falls_back_to_the_whole_scope(
    page_as: Any, users: dict[str, Any], raw: str
) -> None:
    # the community user may not pick the other community
    other = Area.objects.filter(kind="community").exclude(
        pk__in=[c.pk for c in dashboard.communities_for(users["community"])]
    ).first()  # fmt: skip
    assert other is not None
    for value in (raw, str(other.pk)):
        response = page_as("community").get("/community/dashboard/", {"area": value})
        assert response.status_code == 200
        assert response.context["picked"] in dashboard.communities_for(users["community"])


def test_a_grid_worker_sees_only_their_grid(users: dict[str, Any]) -> None:
    grid = users["grid"]
    cards = {k: v for k, _l, v in dashboard.figures(grid, "").cards}
    path = grid.memberships.get().area.path
    assert cards["wishes"] == direct(path, timezone.now())["wishes"]


def test_the_resident_sees_nothing(page_as: Any) -> None:
    response = page_as("resident").get("/community/dashboard/")
    assert response.status_code == 200
    assert all(v in (0, "0%", Decimal("0.0")) for _k, _l, v in response.context["figures"].cards)


def test_room_occupancy_counts_booked_hours_against_open_hours(users: dict[str, Any]) -> None:
    value = dashboard.room_occupancy(users["admin"])
    assert 0 <= value <= 1
    assert dashboard._weekly_hours({"1": [["08:30", "12:00"], ["14:00", "21:00"]]}) == {1: 10.5}
    assert dashboard._weekly_hours({"x": [["8", "9"]], "2": [["bad"]], "3": 5}) == {}


def test_the_dashboard_costs_the_same_queries_for_any_area(
    page_as: Any, django_assert_max_num_queries: Any
) -> None:
    admin = page_as("admin")
    admin.get("/community/dashboard/")  # warm the session
    with django_assert_max_num_queries(18):
        assert admin.get("/community/dashboard/").status_code == 200
    community = page_as("community")
    community.get("/community/dashboard/")
    with django_assert_max_num_queries(18):
        assert community.get("/community/dashboard/").status_code == 200


def test_the_nav_names_the_dashboard_first(page_as: Any) -> None:
    html = page_as("community").get("/").content.decode()
    menu = html.split('data-testid="nav-community"')[1]
    assert menu.index("服务概览") < menu.index("</div>")
    first_item = menu.split('class="dropdown-item')[1]
    assert "服务概览" in first_item
