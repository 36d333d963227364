"""Service positions' pages and API: the list with its map (names as text), a position
with its facilities, rooms and week, a room's week and its booking form, the usage page;
the scope matrix; and query counts that do not grow with the rows."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from jiayuan.community import rooms
from jiayuan.community.choices import PositionKind
from jiayuan.community.models import Booking, Facility, Room, ServicePosition

from .test_rooms import Places, at, make_places, next_weekday

HOSTILE = '<script>alert("x")</script>&<b>'


@pytest.fixture
def places(db: Any) -> Places:
    return make_places()


def client_of(username: str | None) -> Client:
    client = Client()
    if username:
        client.force_login(get_user_model().objects.get(username=username))
    return client


def test_the_list_shows_the_scope_and_a_map_with_names_as_data(places: Places) -> None:
    places.centre.name = HOSTILE
    places.centre.save()
    response = client_of("community").get("/community/places/")
    assert response.status_code == 200
    html = response.content.decode()
    assert HOSTILE not in html  # escaped wherever it is shown
    assert "&lt;script&gt;" in html
    assert places.other_station.name not in html
    points = re.search(
        r'<script id="places-points" type="application/json">(.*?)</script>', html, re.S
    )
    assert points is not None
    data = json.loads(points.group(1))
    mine = [p for p in data if p["name"] == HOSTILE]
    assert len(mine) == 1 and mine[0]["url"] == f"/community/places/{places.centre.pk}/"
    assert "innerHTML" not in html and "textContent" in html
    # the kind filter
    stations = client_of("community").get("/community/places/?kind=station").content.decode()
    assert "&lt;script&gt;" not in stations.partition("place-list")[2]


def test_a_position_page_shows_facilities_rooms_and_the_weeks_bookings(places: Places) -> None:
    tuesday = next_weekday(2)
    req = rooms.BookingRequest("书法课", at(tuesday, "14:00"), at(tuesday, "16:00"))
    rooms.book(places.room.pk, req, actor=places.staff)
    client = client_of("community")
    response = client.get(f"/community/places/{places.centre.pk}/?week={tuesday:%Y-%m-%d}")
    html = response.content.decode()
    assert response.status_code == 200
    assert "图书角" in html and "多功能活动室" in html and "书法课" in html
    assert "08:30–12:00, 14:00–18:00" in html
    other_week = client.get(f"/community/places/{places.centre.pk}/?week=2001-01-01")
    assert "书法课" not in other_week.content.decode()
    assert client.get(f"/community/places/{places.centre.pk}/?week=garbage").status_code == 200


def test_booking_and_cancelling_on_the_room_page(places: Places) -> None:
    client = client_of("community")
    tuesday = next_weekday(2)
    url = f"/community/rooms/{places.room.pk}/"
    week = client.get(f"{url}?week={tuesday:%Y-%m-%d}")
    assert week.status_code == 200 and 'data-testid="booking-form"' in week.content.decode()
    form = {
        "title": "书法课",
        "day": f"{tuesday:%Y-%m-%d}",
        "start": "14:00",
        "end": "16:00",
        "attendees": "12",
        "repeat": "WEEKLY",
        "until": f"{tuesday + dt.timedelta(weeks=3):%Y-%m-%d}",
    }
    made = client.post(f"{url}book/", form)
    assert made.status_code == 302, made.content.decode()[:2000]
    assert Booking.objects.filter(room=places.room, status="confirmed").count() == 4
    shown = client.get(made["Location"]).content.decode()
    assert "书法课" in shown and "共 4 次" in shown
    # the same slot again: 409 with the conflicting booking named on the form
    again = client.post(f"{url}book/", form | {"repeat": "", "title": "舞蹈"})
    assert again.status_code == 409
    assert "书法课" in again.content.decode() and "booking-error" in again.content.decode()
    # outside the hours: 422 on the form
    late = client.post(f"{url}book/", form | {"repeat": "", "start": "19:00", "end": "20:00"})
    assert late.status_code == 422 and "开放时间" in late.content.decode()
    # a bad custom rule
    bad = client.post(f"{url}book/", form | {"repeat": "RULE", "rule": "FREQ=WEEKLY;COUNT=100000"})
    assert bad.status_code == 422 and "COUNT" in bad.content.decode()
    # cancel the whole series from one of its bookings
    first = Booking.objects.filter(room=places.room).order_by("starts_at")[0]
    gone = client.post(f"/community/bookings/{first.pk}/cancel/", {"series": "1"})
    assert gone.status_code == 302
    assert not Booking.objects.filter(room=places.room, status="confirmed").exists()


def test_the_usage_page_shows_hours_and_occupancy(places: Places) -> None:
    monday = next_weekday(1)
    req = rooms.BookingRequest("会议", at(monday, "08:30"), at(monday, "12:00"))
    rooms.book(places.room.pk, req, actor=places.staff)
    html = (
        client_of("community")
        .get(f"/community/rooms/usage/?date={monday:%Y-%m-%d}")
        .content.decode()
    )
    assert "多功能活动室" in html and "3.5" in html and "7.7%" in html and "45.5" in html
    month = client_of("community").get(
        f"/community/rooms/usage/?period=month&date={monday:%Y-%m-%d}"
    )
    assert month.status_code == 200


@pytest.mark.parametrize(
    ("username", "centre", "other"),
    [
        ("community", 200, 404),
        ("admin", 200, 200),
        ("street", 200, 404),  # the street holds the first community only
        ("grid", 404, 404),  # the grid worker's scope is the grid, not the community
        ("resident", 404, 404),
    ],
)
def test_scope_matrix_of_the_pages(places: Places, username: str, centre: int, other: int) -> None:
    from jiayuan.core.scoping import path_allowed

    user = get_user_model().objects.get(username=username)
    if username == "street" and path_allowed(user, places.next_community.path):
        other = 200  # the tiny county's street holds both communities
    client = client_of(username)
    assert client.get(f"/community/places/{places.centre.pk}/").status_code == centre
    assert client.get(f"/community/rooms/{places.room.pk}/").status_code == centre
    assert client.get(f"/community/places/{places.other_station.pk}/").status_code == other
    assert client.get(f"/community/rooms/{places.other_room.pk}/").status_code == other
    for url in ("/community/places/", "/community/rooms/usage/", "/community/calendar/"):
        assert client.get(url).status_code == 200
    tuesday = next_weekday(2)
    post = client.post(
        f"/community/rooms/{places.other_room.pk}/book/",
        {
            "title": "x",
            "day": f"{tuesday:%Y-%m-%d}",
            "start": "10:00",
            "end": "11:00",
            "attendees": "0",
        },
    )
    assert post.status_code in ((302,) if other == 200 else (404,))


def test_anonymous_is_sent_to_login() -> None:
    response = Client().get("/community/places/")
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_menu_links_the_places_pages_for_staff(places: Places) -> None:
    html = client_of("community").get("/").content.decode()
    for url in ("/community/places/", "/community/rooms/usage/", "/community/calendar/"):
        assert f'href="{url}"' in html
    resident = client_of("resident").get("/").content.decode()
    assert 'href="/community/places/"' not in resident


# --- query counts -------------------------------------------------------------------------
GROWTH = 25


def grow(places: Places, n: int) -> None:
    """``n`` more positions with a facility and a room each, ``n`` more bookings of the
    centre's room and ``n`` more activities at the centre, all in the community."""
    from jiayuan.community.models import Activity

    tuesday = next_weekday(2)
    for i in range(n):
        position = ServicePosition.objects.create(
            kind=PositionKind.STATION,
            name=f"红帆驿站{i}-{n}",
            area=places.community,
            lat=35.7 + i / 1000,
            lng=116.5,
            opening_hours={"1": [["08:00", "18:00"]]},
        )
        Facility.objects.create(position=position, name=f"设施{i}")
        Room.objects.create(position=position, name=f"活动室{i}")
        Facility.objects.create(position=places.centre, name=f"设施{i}-{n}")
        Room.objects.create(position=places.centre, name=f"议事室{i}-{n}")
        start = at(tuesday + dt.timedelta(days=i // 3 * 7), "08:00") + dt.timedelta(
            minutes=i % 3 * 60 + n * 181
        )
        Activity.objects.create(
            title=f"活动{i}-{n}",
            kind="class",
            area=places.community,
            position=places.centre,
            starts_at=start,
            ends_at=start + dt.timedelta(hours=1),
        )
        Booking.objects.create(
            room=places.room,
            title=f"课{i}",
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=30),
        )


def count(client: Client, url: str) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.content[:300])
    return len(ctx.captured_queries)


def test_pages_and_api_cost_the_same_with_many_rows(places: Places) -> None:
    client = client_of("admin")
    tuesday = next_weekday(2)
    later = tuesday + dt.timedelta(days=60)
    urls = [
        "/community/places/",
        f"/community/places/{places.centre.pk}/?week={tuesday:%Y-%m-%d}",
        f"/community/rooms/{places.room.pk}/?week={tuesday:%Y-%m-%d}",
        f"/community/rooms/usage/?date={tuesday:%Y-%m-%d}",
        f"/community/calendar/?date={tuesday:%Y-%m-%d}",
        "/api/v1/service-positions?limit=100",
        f"/api/v1/service-positions/{places.centre.pk}",
        "/api/v1/facilities?limit=100",
        "/api/v1/rooms?limit=100",
        f"/api/v1/rooms/{places.room.pk}/bookings?from={tuesday:%Y-%m-%d}&to={later:%Y-%m-%d}",
        f"/api/v1/room-usage?date={tuesday:%Y-%m-%d}",
    ]
    grow(places, 2)
    before = {url: count(client, url) for url in urls}
    grow(places, GROWTH)
    after = {url: count(client, url) for url in urls}
    assert after == before
    # and they really show more rows
    body = client.get(f"/api/v1/service-positions/{places.centre.pk}").json()
    assert len(body["room_list"]) > GROWTH and len(body["facility_list"]) > GROWTH


def test_hostile_page_parameters_are_ignored_or_refused(places: Places) -> None:
    client = client_of("community")
    for url in (
        "/community/places/?kind=castle&q=" + "x" * 60,
        "/community/places/?page=99999999999999999999",
        f"/community/places/{places.centre.pk}/?week=99999-01-01",
        f"/community/rooms/{places.room.pk}/?week=0000-00-00",
        "/community/rooms/usage/?period=decade&date=-1&position=" + "9" * 30,
        "/community/rooms/usage/?position=%00",
    ):
        assert client.get(url).status_code == 200, url
    book = f"/community/rooms/{places.room.pk}/book/"
    for form in (
        {"title": "x", "day": "99999-01-01", "start": "10:00", "end": "11:00", "attendees": "0"},
        {"title": "x", "day": "2027-01-05", "start": "25:00", "end": "11:00", "attendees": "0"},
        {"title": "\x00", "day": "2027-01-05", "start": "10:00", "end": "11:00", "attendees": "0"},
        {"title": "x", "day": "2027-01-05", "start": "10:00", "end": "11:00", "attendees": "-4"},
        {
            "title": "x",
            "day": "2027-01-05",
            "start": "10:00",
            "end": "11:00",
            "attendees": "0",
            "repeat": "WEEKLY",
            "until": "99999-01-01",
        },
    ):
        response = client.post(book, form)
        assert 400 <= response.status_code < 500, (form, response.status_code)
    assert client.get(f"/community/rooms/{places.room.pk}/book/").status_code == 405
