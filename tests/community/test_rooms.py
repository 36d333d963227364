"""Rooms and bookings (活动室预约): conflicts (single, recurring, touching ends), opening
hours, cancellation, recurrence bounds and the usage figures, on constructed bookings.

The helpers at the top build the places these tests (and the other places/markets test
modules) use: a party-mass service centre in the ``community`` user's community with one
room, and a station in the next community, outside that user's scope.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from jiayuan.community import rooms
from jiayuan.community.choices import BookingStatus, PositionKind
from jiayuan.community.models import Booking, BookingSeries, Facility, Room, ServicePosition
from jiayuan.core.errors import Conflict, NotFound, ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Role
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area, Membership

User = get_user_model()
WEEKDAY_HOURS = [["08:30", "12:00"], ["14:00", "18:00"]]
HOURS = {str(d): WEEKDAY_HOURS for d in range(1, 6)} | {"6": [["09:00", "17:00"]]}


@dataclass
class Places:
    community: Area
    next_community: Area
    centre: ServicePosition
    room: Room
    other_station: ServicePosition
    other_room: Room
    staff: Any  # the ``community`` user


def make_places() -> Places:
    """A centre with hours (weekdays 08:30–12:00 and 14:00–18:00, Saturdays 09:00–17:00,
    closed on Sundays) and a room of 30 in the ``community`` user's community; a station
    with a room in the next community."""
    staff = User.objects.get(username="community")
    community = Membership.objects.get(user=staff, role=Role.COMMUNITY_STAFF).area
    next_community = (
        Area.objects.filter(kind=AreaKind.COMMUNITY).exclude(pk=community.pk).order_by("path")[0]
    )
    centre = ServicePosition.objects.create(
        kind=PositionKind.CENTRE,
        name=f"{community.name}党群服务中心",
        area=community,
        address="幸福路 1 号",
        lat=35.72,
        lng=116.49,
        opening_hours=HOURS,
    )
    Facility.objects.create(position=centre, name="图书角", category="文化", quantity=2)
    room = Room.objects.create(
        position=centre, name="多功能活动室", capacity=30, purposes=["会议", "课堂"]
    )
    other = ServicePosition.objects.create(
        kind=PositionKind.STATION, name="红帆驿站(外社区)", area=next_community
    )
    other_room = Room.objects.create(position=other, name="驿站活动室")
    return Places(community, next_community, centre, room, other, other_room, staff)


def next_weekday(iso: int, weeks_ahead: int = 1) -> dt.date:
    """The date of ISO weekday ``iso`` in a week ``weeks_ahead`` weeks from now."""
    today = timezone.localdate()
    monday = today - dt.timedelta(days=today.weekday()) + dt.timedelta(weeks=weeks_ahead)
    return monday + dt.timedelta(days=iso - 1)


def at(day: dt.date, hhmm: str) -> dt.datetime:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def request(day: dt.date, start: str, end: str, title: str = "书法课", rule: str = "") -> Any:
    return rooms.BookingRequest(
        title=title, starts_at=at(day, start), ends_at=at(day, end), rule=rule
    )


@pytest.fixture
def places(db: Any) -> Places:
    return make_places()


# --- single bookings ----------------------------------------------------------------------
def test_a_booking_is_made_and_audited(places: Places) -> None:
    tuesday = next_weekday(2)
    booking = rooms.book(places.room.pk, request(tuesday, "14:00", "16:00"), actor=places.staff)
    assert booking.status == BookingStatus.CONFIRMED
    assert booking.area_path == places.community.path
    assert booking.booked_by == places.staff
    assert AuditEntry.objects.for_object(booking).filter(action="create").exists()


def test_an_overlapping_booking_is_refused_naming_the_one_it_meets(places: Places) -> None:
    tuesday = next_weekday(2)
    first = rooms.book(places.room.pk, request(tuesday, "14:00", "16:00"), actor=places.staff)
    for start, end in (
        ("15:00", "17:00"),
        ("14:30", "15:30"),
        ("14:00", "16:00"),
        ("14:00", "18:00"),
    ):
        with pytest.raises(Conflict) as refused:
            rooms.book(places.room.pk, request(tuesday, start, end, "舞蹈"), actor=places.staff)
        assert refused.value.detail["conflict"]["id"] == first.pk
        assert refused.value.detail["conflict"]["title"] == "书法课"
        assert "书法课" in refused.value.zh
    assert Booking.objects.filter(room=places.room).count() == 1


def test_touching_ends_are_allowed(places: Places) -> None:
    tuesday = next_weekday(2)
    rooms.book(places.room.pk, request(tuesday, "14:00", "16:00"), actor=places.staff)
    rooms.book(places.room.pk, request(tuesday, "16:00", "18:00", "舞蹈"), actor=places.staff)
    rooms.book(places.room.pk, request(tuesday, "11:00", "12:00", "会议"), actor=places.staff)
    assert Booking.objects.filter(room=places.room, status="confirmed").count() == 3


def test_another_room_is_not_a_conflict(places: Places) -> None:
    tuesday = next_weekday(2)
    rooms.book(places.room.pk, request(tuesday, "14:00", "16:00"), actor=places.staff)
    second = Room.objects.create(position=places.centre, name="议事室")
    rooms.book(second.pk, request(tuesday, "14:00", "16:00"), actor=places.staff)


# --- opening hours ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("iso", "start", "end"),
    [
        (2, "12:30", "13:30"),  # the lunch break
        (2, "11:00", "15:00"),  # across the lunch break
        (2, "17:00", "19:00"),  # past closing
        (2, "07:00", "09:00"),  # before opening
        (7, "10:00", "11:00"),  # Sunday: closed
        (6, "16:00", "17:30"),  # Saturday past 17:00
    ],
)
def test_bookings_outside_the_opening_hours_are_refused(
    places: Places, iso: int, start: str, end: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        rooms.book(places.room.pk, request(next_weekday(iso), start, end), actor=places.staff)
    assert "开放时间" in refused.value.zh


def test_the_rooms_own_hours_override_the_positions(places: Places) -> None:
    places.room.opening_hours = {"7": [["19:00", "21:00"]]}
    places.room.save()
    sunday, tuesday = next_weekday(7), next_weekday(2)
    rooms.book(places.room.pk, request(sunday, "19:00", "21:00"), actor=places.staff)
    with pytest.raises(ValidationFailed):
        rooms.book(places.room.pk, request(tuesday, "14:00", "16:00"), actor=places.staff)


def test_no_hours_declared_means_open_at_any_time(places: Places) -> None:
    # the other station has no hours: a Sunday evening is fine (its staff book it)
    admin = User.objects.get(username="admin")
    rooms.book(places.other_room.pk, request(next_weekday(7), "20:00", "23:00"), actor=admin)


@pytest.mark.parametrize(
    "hours",
    [
        {"8": [["08:00", "12:00"]]},
        {"1": [["12:00", "08:00"]]},
        {"1": [["8:00", "12:00"]]},
        {"1": [["08:00", "25:00"]]},
        {"1": "08:00-12:00"},
        ["1"],
    ],
)
def test_malformed_hours_are_refused(hours: Any) -> None:
    with pytest.raises(ValidationFailed):
        rooms.parse_hours(hours)


# --- cancellation -------------------------------------------------------------------------
def test_cancelling_frees_the_slot(places: Places) -> None:
    tuesday = next_weekday(2)
    first = rooms.book(places.room.pk, request(tuesday, "14:00", "16:00"), actor=places.staff)
    rooms.cancel(first.pk, actor=places.staff)
    first.refresh_from_db()
    assert first.status == BookingStatus.CANCELLED
    again = rooms.book(
        places.room.pk, request(tuesday, "14:00", "16:00", "舞蹈"), actor=places.staff
    )
    assert again.pk != first.pk
    with pytest.raises(Conflict):  # cancelling twice
        rooms.cancel(first.pk, actor=places.staff)
    assert AuditEntry.objects.for_object(first).filter(action="update").count() == 1


def test_cancelling_a_series_frees_every_occurrence(places: Places) -> None:
    tuesday = next_weekday(2)
    rule = "FREQ=WEEKLY;BYDAY=TU;COUNT=4"
    made = rooms.book_series(
        places.room.pk, request(tuesday, "14:00", "16:00", rule=rule), actor=places.staff
    )
    assert len(made) == 4
    cancelled = rooms.cancel(made[1].pk, actor=places.staff, whole_series=True)
    assert len(cancelled) == 4
    assert not Booking.objects.filter(room=places.room, status="confirmed").exists()
    rooms.book_series(
        places.room.pk, request(tuesday, "14:00", "16:00", "舞蹈", rule), actor=places.staff
    )


def test_cancelling_one_occurrence_keeps_the_rest(places: Places) -> None:
    rule = "FREQ=WEEKLY;COUNT=3"
    made = rooms.book_series(
        places.room.pk, request(next_weekday(2), "14:00", "16:00", rule=rule), actor=places.staff
    )
    rooms.cancel(made[1].pk, actor=places.staff)
    assert Booking.objects.filter(series=made[0].series, status="confirmed").count() == 2


# --- recurrence ---------------------------------------------------------------------------
def test_a_weekly_series_until_a_date(places: Places) -> None:
    tuesday = next_weekday(2)
    until = tuesday + dt.timedelta(weeks=5)
    rule = f"RRULE:FREQ=WEEKLY;BYDAY=TU;UNTIL={until:%Y%m%d}T235959"
    made = rooms.book_series(
        places.room.pk, request(tuesday, "14:00", "16:00", rule=rule), actor=places.staff
    )
    assert [timezone.localtime(b.starts_at).date() for b in made] == [
        tuesday + dt.timedelta(weeks=i) for i in range(6)
    ]
    assert all(timezone.localtime(b.starts_at).time() == dt.time(14) for b in made)
    series = BookingSeries.objects.get()
    assert series.rule == f"FREQ=WEEKLY;BYDAY=TU;UNTIL={until:%Y%m%d}T235959"
    assert {b.series_id for b in made} == {series.pk}
    assert AuditEntry.objects.filter(object_type="community.booking").count() == 6


def test_a_series_meeting_one_booking_is_refused_whole_naming_the_occurrence(
    places: Places,
) -> None:
    tuesday = next_weekday(2)
    third = tuesday + dt.timedelta(weeks=2)
    taken = rooms.book(
        places.room.pk, request(third, "15:00", "17:00", "老年合唱"), actor=places.staff
    )
    with pytest.raises(Conflict) as refused:
        rooms.book_series(
            places.room.pk,
            request(tuesday, "14:00", "16:00", rule="FREQ=WEEKLY;COUNT=5"),
            actor=places.staff,
        )
    detail = refused.value.detail
    assert detail["conflict"]["id"] == taken.pk
    assert detail["occurrence"]["starts_at"].startswith(f"{third:%Y-%m-%d}T14:00")
    assert f"{third:%Y-%m-%d}" in refused.value.zh
    assert Booking.objects.filter(room=places.room).count() == 1
    assert not BookingSeries.objects.exists()


def test_a_series_with_one_occurrence_outside_the_hours_is_refused_whole(places: Places) -> None:
    # daily from Friday: Saturday's 14:00–16:00 fits, Sunday is closed
    friday = next_weekday(5)
    with pytest.raises(ValidationFailed) as refused:
        rooms.book_series(
            places.room.pk,
            request(friday, "14:00", "16:00", rule="FREQ=DAILY;COUNT=3"),
            actor=places.staff,
        )
    assert f"{friday + dt.timedelta(days=2):%Y-%m-%d}" in refused.value.zh
    assert not Booking.objects.filter(room=places.room).exists()


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("garbage", "无法识别"),
        ("FREQ=WEEKLY", "COUNT"),  # unbounded
        ("FREQ=WEEKLY;COUNT=100000", "COUNT"),
        ("FREQ=WEEKLY;COUNT=201", "COUNT"),
        ("FREQ=HOURLY;COUNT=3", "频率"),
        ("FREQ=SECONDLY;COUNT=3", "频率"),
        ("FREQ=WEEKLY;BYDAY=XX;COUNT=3", "格式错误"),
        ("FREQ=WEEKLY;UNTIL=99999999", "格式错误"),
        ("FREQ=WEEKLY;INTERVAL=0;COUNT=3", "INTERVAL"),
        ("FREQ=WEEKLY;COUNT=3;COUNT=4", "无法识别"),
        ("DTSTART:20200101T000000\nRRULE:FREQ=DAILY;COUNT=2", "无法识别"),
        ("EXRULE:FREQ=DAILY;COUNT=2", "无法识别"),
        ("FREQ=DAILY;UNTIL=20991231", "200"),
        ("FREQ=WEEKLY;UNTIL=20991231", "一年"),
        ("FREQ=WEEKLY;COUNT=3;X-NAME=\u202e", "无法识别"),
    ],
)
def test_bad_or_unbounded_rules_are_refused(places: Places, rule: str, words: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        rooms.book_series(
            places.room.pk,
            request(next_weekday(2), "09:00", "10:00", rule=rule),
            actor=places.staff,
        )
    assert refused.value.field == "rule"
    assert words in refused.value.zh or words in refused.value.en, refused.value.message
    assert not Booking.objects.filter(room=places.room).exists()


def test_a_series_running_past_a_year_is_refused(
    places: Places,
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        rooms.book_series(
            places.room.pk,
            request(next_weekday(2), "09:00", "10:00", rule="FREQ=WEEKLY;COUNT=60"),
            actor=places.staff,
        )
    assert "一年" in refused.value.zh


def test_long_daily_occurrences_in_a_room_without_hours(places: Places) -> None:
    places.room.opening_hours = {}
    places.centre.opening_hours = {}
    places.room.save()
    places.centre.save()
    tuesday = next_weekday(2)
    start = at(tuesday, "08:00")
    req = rooms.BookingRequest(
        "值守", start, start + dt.timedelta(hours=24), rule="FREQ=DAILY;COUNT=3"
    )
    made = rooms.book_series(places.room.pk, req, actor=places.staff)
    assert len(made) == 3  # each ends as the next begins
    assert made[0].ends_at == made[1].starts_at


# --- hostile spans ------------------------------------------------------------------------
def test_hostile_spans_are_refused(places: Places) -> None:
    tuesday = next_weekday(2)
    cases = [
        (at(tuesday, "16:00"), at(tuesday, "14:00")),  # ends before it starts
        (at(tuesday, "14:00"), at(tuesday, "14:00")),  # empty
        (at(tuesday, "14:00"), at(tuesday, "14:00") + dt.timedelta(days=2)),  # too long
        (at(dt.date(1999, 1, 5), "14:00"), at(dt.date(1999, 1, 5), "15:00")),
        (
            at(tuesday.replace(year=tuesday.year + 5), "14:00"),
            at(tuesday.replace(year=tuesday.year + 5), "15:00"),
        ),
    ]
    for start, end in cases:
        with pytest.raises(ValidationFailed):
            rooms.book(places.room.pk, rooms.BookingRequest("课", start, end), actor=places.staff)
    for title in ("", "   ", "x" * 101, "课\x00堂", "课\ud800"):
        with pytest.raises(ValidationFailed):
            rooms.book(
                places.room.pk, request(tuesday, "14:00", "15:00", title), actor=places.staff
            )
    too_many = rooms.BookingRequest("课", at(tuesday, "14:00"), at(tuesday, "15:00"), attendees=31)
    with pytest.raises(ValidationFailed):
        rooms.book(places.room.pk, too_many, actor=places.staff)
    assert not Booking.objects.filter(room=places.room).exists()


def test_a_room_outside_the_scope_is_not_found(places: Places) -> None:
    with pytest.raises(NotFound):
        rooms.book(
            places.other_room.pk, request(next_weekday(2), "14:00", "15:00"), actor=places.staff
        )
    branch = User.objects.get(username="branch")  # a compound's secretary: not the centre
    with pytest.raises(NotFound):
        rooms.book(places.room.pk, request(next_weekday(2), "14:00", "15:00"), actor=branch)


def test_an_unbookable_room_is_refused(places: Places) -> None:
    places.room.bookable = False
    places.room.save()
    with pytest.raises(ValidationFailed):
        rooms.book(places.room.pk, request(next_weekday(2), "14:00", "15:00"), actor=places.staff)


# --- usage figures ------------------------------------------------------------------------
def test_usage_counts_hours_and_occupancy_of_a_week_and_a_month(places: Places) -> None:
    # given, in one week: Tuesday 14:00–16:00, Wednesday 08:30–12:00 and Saturday
    # 09:00–17:00 (13.5 h) and a cancelled Thursday booking that counts nothing
    monday = next_weekday(1)
    for iso, start, end in ((2, "14:00", "16:00"), (3, "08:30", "12:00"), (6, "09:00", "17:00")):
        rooms.book(
            places.room.pk,
            request(monday + dt.timedelta(days=iso - 1), start, end),
            actor=places.staff,
        )
    gone = rooms.book(
        places.room.pk, request(monday + dt.timedelta(days=3), "08:30", "12:00"), actor=places.staff
    )
    rooms.cancel(gone.pk, actor=places.staff)
    # when the week's use is read
    first, last = rooms.period("week", monday + dt.timedelta(days=4))
    assert (first, last) == (monday, monday + dt.timedelta(days=6))
    (room_use,) = rooms.usage([places.room], first, last)
    # then 13.5 h of the 45.5 open hours (5 × 7.5 + 8) are booked: 29.7 %
    assert room_use.bookings == 3
    assert room_use.booked_hours == 13.5
    assert room_use.open_hours == 45.5
    assert room_use.occupancy == 29.7
    # a room without hours has no occupancy, only hours
    (other,) = rooms.usage([places.other_room], first, last)
    assert (other.booked_hours, other.open_hours, other.occupancy) == (0, None, None)


def test_usage_clips_bookings_to_the_period(places: Places) -> None:
    places.room.opening_hours = {}
    places.centre.opening_hours = {}
    places.room.save()
    places.centre.save()
    sunday = next_weekday(7)
    rooms.book(
        places.room.pk,
        rooms.BookingRequest(
            "跨周", at(sunday, "22:00"), at(sunday, "22:00") + dt.timedelta(hours=4)
        ),
        actor=places.staff,
    )
    (week1,) = rooms.usage([places.room], *rooms.period("week", sunday))
    (week2,) = rooms.usage([places.room], *rooms.period("week", sunday + dt.timedelta(days=1)))
    assert (week1.booked_hours, week2.booked_hours) == (2.0, 2.0)


def test_month_period() -> None:
    assert rooms.period("month", dt.date(2027, 2, 14)) == (
        dt.date(2027, 2, 1),
        dt.date(2027, 2, 28),
    )
    assert rooms.period("month", dt.date(2027, 12, 31)) == (
        dt.date(2027, 12, 1),
        dt.date(2027, 12, 31),
    )


def test_week_view_places_bookings_on_their_days(places: Places) -> None:
    monday = next_weekday(1)
    rooms.book(
        places.room.pk, request(monday + dt.timedelta(days=1), "14:00", "16:00"), actor=places.staff
    )
    days = rooms.week(places.room, monday)
    assert [len(d.bookings) for d in days] == [0, 1, 0, 0, 0, 0, 0]
    assert days[0].hours == "08:30–12:00, 14:00–18:00"
    assert days[6].hours == "闭馆"
