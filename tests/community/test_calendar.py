"""The community's calendar: activities and room bookings by month and week, in the user's
scope, filtered by community and position."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from jiayuan.community import calendar as cal
from jiayuan.community import rooms
from jiayuan.community.models import Activity

from .test_rooms import Places, at, make_places, next_weekday


@pytest.fixture
def places(db: Any) -> Places:
    return make_places()


def client_of(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def activity(area: Any, day: dt.date, title: str, **more: Any) -> Activity:
    return Activity.objects.create(
        title=title,
        kind="class",
        area=area,
        starts_at=at(day, "09:00"),
        ends_at=at(day, "11:00"),
        **more,
    )


def test_the_month_holds_activities_and_bookings_of_the_scope(places: Places) -> None:
    tuesday = next_weekday(2)
    rooms.book(
        places.room.pk,
        rooms.BookingRequest("书法课", at(tuesday, "14:00"), at(tuesday, "16:00")),
        actor=places.staff,
    )
    activity(places.community, tuesday, "健康义诊进社区", position=places.centre)
    activity(places.next_community, tuesday, "外社区活动")
    activity(places.community, tuesday, "已取消的活动", status="cancelled")
    month = cal.build(places.staff, "month", tuesday)
    assert month.first == tuesday.replace(day=1)
    mine = {"健康义诊进社区", "书法课", "外社区活动", "已取消的活动"}
    titles = [e.title for week in month.weeks for d in week for e in d.entries if e.title in mine]
    assert titles == ["健康义诊进社区", "书法课"]
    day = next(d for week in month.weeks for d in week if d.date == tuesday)
    assert [(e.kind, e.place) for e in day.entries if e.title in mine] == [
        ("activity", places.centre.name),
        ("booking", f"{places.centre.name} · 多功能活动室"),
    ]
    assert all(len(week) == 7 for week in month.weeks)
    assert month.weeks[0][0].date.weekday() == 0


def test_a_booking_made_for_an_activity_shows_once(places: Places) -> None:
    tuesday = next_weekday(2)
    booking = rooms.book(
        places.room.pk,
        rooms.BookingRequest("课堂", at(tuesday, "09:00"), at(tuesday, "11:00")),
        actor=places.staff,
    )
    activity(places.community, tuesday, "公益课堂", booking=booking, position=places.centre)
    found, cut = cal.entries(places.staff, tuesday, tuesday, position_id=places.centre.pk)
    assert [e.title for e in found] == ["公益课堂"] and not cut


def test_filters_by_community_and_position(places: Places) -> None:
    tuesday = next_weekday(2)
    admin = get_user_model().objects.get(username="admin")
    activity(places.community, tuesday, "本社区")
    activity(places.next_community, tuesday, "外社区", position=places.other_station)
    found, _ = cal.entries(admin, tuesday, tuesday, area_path=places.next_community.path)
    assert "外社区" in [e.title for e in found] and "本社区" not in [e.title for e in found]
    found, _ = cal.entries(admin, tuesday, tuesday, position_id=places.other_station.pk)
    assert [e.title for e in found] == ["外社区"]
    page = (
        client_of("admin")
        .get(f"/community/calendar/?date={tuesday:%Y-%m-%d}&community={places.next_community.pk}")
        .content.decode()
    )
    assert "外社区" in page and "本社区" not in page
    # a community outside the scope filters to nothing rather than to everything
    staff = (
        client_of("community")
        .get(f"/community/calendar/?date={tuesday:%Y-%m-%d}&community={places.next_community.pk}")
        .content.decode()
    )
    assert "外社区" not in staff and "本社区" not in staff


def test_the_week_view_and_hostile_parameters(places: Places) -> None:
    tuesday = next_weekday(2)
    activity(places.community, tuesday, "<b>邻里调解</b>")
    client = client_of("community")
    week = client.get(f"/community/calendar/?view=week&date={tuesday:%Y-%m-%d}")
    html = week.content.decode()
    assert week.status_code == 200 and "&lt;b&gt;邻里调解&lt;/b&gt;" in html
    assert html.count('data-day="') == 7
    for query in (
        "date=99999-01-01",
        "date=garbage",
        "view=year",
        "position=1e9",
        "community=" + "9" * 40,
        "position=" + "9" * 40,
    ):
        assert client.get(f"/community/calendar/?{query}").status_code == 200


def test_an_activity_over_two_days_shows_on_both(places: Places) -> None:
    tuesday = next_weekday(2)
    Activity.objects.create(
        title="两日营",
        kind="culture",
        area=places.community,
        starts_at=at(tuesday, "09:00"),
        ends_at=at(tuesday + dt.timedelta(days=1), "17:00"),
    )
    week = cal.build(places.staff, "week", tuesday)
    counts = [len([e for e in d.entries if e.title == "两日营"]) for d in week.weeks[0]]
    assert counts == [0, 1, 1, 0, 0, 0, 0]
