"""The rooms' API: ``POST /api/v1/rooms/{id}/bookings`` answers 201 with the booking or
409 naming the conflicting one; reading, cancelling, usage; hostile input gets a 4xx with
a Chinese and an English message, never a 5xx; out of scope is 404."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from jiayuan.community.models import Booking

from .test_rooms import Places, at, make_places, next_weekday

BASE = "/api/v1"


@pytest.fixture
def places(db: Any) -> Places:
    return make_places()


def client_of(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def post(client: Client, path: str, body: Any) -> Any:
    data = body if isinstance(body, str | bytes) else json.dumps(body, ensure_ascii=False)
    return client.post(BASE + path, data, content_type="application/json")


def body_for(day: dt.date, start: str, end: str, title: str = "书法课", **more: Any) -> dict:
    return {
        "title": title,
        "starts_at": at(day, start).isoformat(),
        "ends_at": at(day, end).isoformat(),
        **more,
    }


def assert_bilingual_4xx(response: Any) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    message = response.json()["message"]
    assert " / " in message, message


def test_201_with_the_booking_then_409_with_the_conflicting_one(places: Places) -> None:
    staff = client_of("community")
    tuesday = next_weekday(2)
    made = post(staff, f"/rooms/{places.room.pk}/bookings", body_for(tuesday, "14:00", "16:00"))
    assert made.status_code == 201, made.content
    booking = made.json()
    assert booking["title"] == "书法课"
    assert booking["room"] == places.room.pk
    assert booking["status"] == "confirmed"
    assert booking["occurrences"] == 1
    assert booking["starts_at"].startswith(f"{tuesday:%Y-%m-%d}T14:00:00+08:00")

    refused = post(staff, f"/rooms/{places.room.pk}/bookings", body_for(tuesday, "15:00", "17:00"))
    assert refused.status_code == 409
    answer = refused.json()
    assert answer["code"] == "conflict"
    assert "书法课" in answer["message"] and " / " in answer["message"]
    conflict = answer["detail"]["conflict"]
    assert conflict["id"] == booking["id"]
    assert conflict["title"] == "书法课"
    assert conflict["starts_at"].startswith(f"{tuesday:%Y-%m-%d}T14:00:00")
    assert conflict["ends_at"].startswith(f"{tuesday:%Y-%m-%d}T16:00:00")

    touching = post(staff, f"/rooms/{places.room.pk}/bookings", body_for(tuesday, "16:00", "18:00"))
    assert touching.status_code == 201


def test_a_recurring_booking_and_its_refusal(places: Places) -> None:
    staff = client_of("community")
    tuesday = next_weekday(2)
    series = post(
        staff,
        f"/rooms/{places.room.pk}/bookings",
        body_for(tuesday, "14:00", "16:00", rule="FREQ=WEEKLY;BYDAY=TU;COUNT=8"),
    )
    assert series.status_code == 201, series.content
    assert series.json()["occurrences"] == 8
    assert series.json()["series"] is not None
    fifth = tuesday + dt.timedelta(weeks=4)
    clash = post(
        staff,
        f"/rooms/{places.room.pk}/bookings",
        body_for(fifth - dt.timedelta(weeks=1), "15:00", "16:00", rule="FREQ=WEEKLY;COUNT=3"),
    )
    assert clash.status_code == 409
    detail = clash.json()["detail"]
    assert detail["occurrence"]["starts_at"].startswith(f"{fifth - dt.timedelta(weeks=1):%Y-%m-%d}")
    assert detail["conflict"]["title"] == "书法课"


def test_reading_a_rooms_bookings_by_window(places: Places) -> None:
    staff = client_of("community")
    tuesday = next_weekday(2)
    post(staff, f"/rooms/{places.room.pk}/bookings", body_for(tuesday, "14:00", "16:00"))
    later = tuesday + dt.timedelta(weeks=3)
    post(staff, f"/rooms/{places.room.pk}/bookings", body_for(later, "09:00", "10:00", "会议"))
    path = f"{BASE}/rooms/{places.room.pk}/bookings"
    week = staff.get(path, {"from": f"{tuesday:%Y-%m-%d}", "to": f"{tuesday:%Y-%m-%d}"}).json()
    assert [b["title"] for b in week] == ["书法课"]
    both = staff.get(path, {"from": f"{tuesday:%Y-%m-%d}", "to": f"{later:%Y-%m-%d}"}).json()
    assert [b["title"] for b in both] == ["书法课", "会议"]
    for params in (
        {"from": "2027-02-01", "to": "2027-01-01"},
        {"from": "2020-01-01", "to": "2027-01-01"},
        {"from": "99999-01-01"},
        {"from": "9999-12-31"},
        {"from": "garbage"},
    ):
        assert_bilingual_4xx(staff.get(path, params))


def test_cancel_frees_the_slot_over_the_api(places: Places) -> None:
    staff = client_of("community")
    tuesday = next_weekday(2)
    made = post(staff, f"/rooms/{places.room.pk}/bookings", body_for(tuesday, "14:00", "16:00"))
    gone = staff.delete(f"{BASE}/bookings/{made.json()['id']}")
    assert gone.status_code == 200
    assert gone.json() == {"cancelled": [made.json()["id"]]}
    again = post(staff, f"/rooms/{places.room.pk}/bookings", body_for(tuesday, "14:00", "16:00"))
    assert again.status_code == 201
    assert staff.delete(f"{BASE}/bookings/{made.json()['id']}").status_code == 409
    series = post(
        staff,
        f"/rooms/{places.room.pk}/bookings",
        body_for(tuesday + dt.timedelta(days=1), "14:00", "16:00", rule="FREQ=WEEKLY;COUNT=4"),
    )
    whole = staff.delete(f"{BASE}/bookings/{series.json()['id']}?series=true")
    assert len(whole.json()["cancelled"]) == 4


@pytest.mark.parametrize(
    "change",
    [
        {"ends_at": "BEFORE"},
        {"starts_at": "99999-01-01T10:00:00+08:00"},
        {"starts_at": "0001-01-01T10:00:00"},
        {"title": "x" * 101},
        {"title": ""},
        {"title": "课\u0000堂"},
        {"title": "\ud800"},
        {"attendees": -1},
        {"attendees": 10**12},
        {"rule": "garbage"},
        {"rule": "FREQ=WEEKLY;COUNT=100000"},
        {"rule": "FREQ=MINUTELY;COUNT=3"},
        {"rule": "FREQ=WEEKLY"},
        {"rule": "R" * 500},
        {"starts_at": "not a date"},
        {"starts_at": None},
    ],
)
def test_hostile_bodies_get_a_bilingual_4xx(places: Places, change: dict) -> None:
    staff = client_of("community")
    tuesday = next_weekday(2)
    body = body_for(tuesday, "14:00", "16:00") | change
    if body.get("ends_at") == "BEFORE":
        body["ends_at"] = at(tuesday, "13:00").isoformat()
    if body["title"] == "\ud800":  # a lone surrogate, as a JSON escape
        raw = json.dumps(body).replace("\\\\ud800", "\\ud800")
        response = post(staff, f"/rooms/{places.room.pk}/bookings", raw)
    else:
        response = post(staff, f"/rooms/{places.room.pk}/bookings", body)
    assert_bilingual_4xx(response)
    assert not Booking.objects.filter(room=places.room).exists()


def test_ten_megabyte_titles_and_broken_json_get_a_4xx(places: Places) -> None:
    staff = client_of("community")
    body = body_for(next_weekday(2), "14:00", "16:00", title="课" * (10 * 1024 * 1024 // 3))
    huge = post(staff, f"/rooms/{places.room.pk}/bookings", body)
    assert 400 <= huge.status_code < 500
    broken = post(staff, f"/rooms/{places.room.pk}/bookings", '{"title": ')
    assert_bilingual_4xx(broken)
    deep = post(staff, f"/rooms/{places.room.pk}/bookings", "[" * 100_000 + "]" * 100_000)
    assert 400 <= deep.status_code < 500


def test_scope_matrix(places: Places) -> None:
    tuesday = next_weekday(2)
    # the next community's room is 404 for the community user, for reads and writes
    staff = client_of("community")
    other = places.other_room.pk
    assert staff.get(f"{BASE}/rooms/{other}/bookings").status_code == 404
    response = post(staff, f"/rooms/{other}/bookings", body_for(tuesday, "14:00", "16:00"))
    assert response.status_code == 404
    # the admin books it; the community user cannot cancel it
    admin = client_of("admin")
    made = post(admin, f"/rooms/{other}/bookings", body_for(tuesday, "14:00", "16:00"))
    assert made.status_code == 201
    assert staff.delete(f"{BASE}/bookings/{made.json()['id']}").status_code == 404
    # the lists show only the scope
    rooms = staff.get(f"{BASE}/rooms").json()["items"]
    assert {r["id"] for r in rooms} >= {places.room.pk} and other not in {r["id"] for r in rooms}
    assert {r["id"] for r in admin.get(f"{BASE}/rooms").json()["items"]} >= {places.room.pk, other}
    # the resident sees no room and books none
    resident = client_of("resident")
    assert resident.get(f"{BASE}/rooms").json()["count"] == 0
    assert resident.get(f"{BASE}/rooms/{places.room.pk}/bookings").status_code == 404
    response = post(
        resident, f"/rooms/{places.room.pk}/bookings", body_for(tuesday, "9:00", "10:00")
    )
    assert response.status_code in (404, 422)
    # anonymous: 401
    assert Client().get(f"{BASE}/rooms").status_code == 401


def test_positions_facilities_and_usage(places: Places) -> None:
    staff = client_of("community")
    listed = staff.get(f"{BASE}/service-positions").json()
    mine = {p["id"]: p for p in listed["items"]}
    assert places.centre.pk in mine and places.other_station.pk not in mine
    centre = mine[places.centre.pk]
    assert (centre["kind"], centre["kind_label"]) == ("centre", "党群服务中心")
    assert (centre["rooms"], centre["facilities"], centre["area"]) == (1, 1, places.community.pk)
    only_stations = staff.get(f"{BASE}/service-positions", {"kind": "station"}).json()["items"]
    assert places.centre.pk not in {p["id"] for p in only_stations}
    detail = staff.get(f"{BASE}/service-positions/{places.centre.pk}").json()
    assert [f["name"] for f in detail["facility_list"]] == ["图书角"]
    assert [r["name"] for r in detail["room_list"]] == ["多功能活动室"]
    assert detail["room_list"][0]["opening_hours"]["1"] == [["08:30", "12:00"], ["14:00", "18:00"]]
    assert staff.get(f"{BASE}/service-positions/{places.other_station.pk}").status_code == 404
    facilities = staff.get(f"{BASE}/facilities", {"position": places.centre.pk}).json()
    assert facilities["count"] == 1

    monday = next_weekday(1)
    post(staff, f"/rooms/{places.room.pk}/bookings", body_for(monday, "08:30", "12:00"))
    usage = staff.get(
        f"{BASE}/room-usage",
        {"period": "week", "date": f"{monday:%Y-%m-%d}", "position": places.centre.pk},
    ).json()
    assert usage == [
        {
            "room": places.room.pk,
            "room_name": "多功能活动室",
            "position_name": places.centre.name,
            "first": f"{monday:%Y-%m-%d}",
            "last": f"{monday + dt.timedelta(days=6):%Y-%m-%d}",
            "bookings": 1,
            "booked_hours": 3.5,
            "open_hours": 45.5,
            "occupancy": 7.7,
        }
    ]
    assert_bilingual_4xx(staff.get(f"{BASE}/room-usage", {"period": "year"}))
