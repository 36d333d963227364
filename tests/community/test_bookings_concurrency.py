"""Acceptance: on PostgreSQL, two requests booking the same slot of a room at the same
moment give exactly one booking — one 201 and one 409 naming the winner's booking.

The requests must overlap on committed data, from two threads with their own database
connections, so the test runs with ``transaction=True``: the tables are flushed when it
ends (see tests/cases/test_concurrency.py for the pattern). :func:`ensure_world` seeds
the tiny county again when a flush removed it, and installs the catalogues migrations
had installed (the cases' categories, the markets' service items); the module fixture
does it once more after the last test, for the tests collected after this module.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from jiayuan.community import rooms
from jiayuan.community.models import Booking
from tests.concurrency import (
    ensure_world,
    post_at_once,
    postgres_only,
    world_back_afterwards,  # noqa: F401 - a module fixture
)

from .test_rooms import at, make_places, next_weekday

pytestmark = postgres_only

HOLD_LOCK_SECONDS = 0.5


def hold_the_lock(monkeypatch: Any) -> None:
    """The winner keeps the room locked a while after it took the lock, so the requests
    surely overlap: without the lock the loser would find no booking and book too."""
    clean = rooms._clean

    def slow_clean(*args: Any, **kwargs: Any) -> Any:
        time.sleep(HOLD_LOCK_SECONDS)
        return clean(*args, **kwargs)

    monkeypatch.setattr(rooms, "_clean", slow_clean)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_bookings_of_one_slot_give_exactly_one(monkeypatch: Any) -> None:
    # given a room (committed, so both connections see it)
    ensure_world()
    places = make_places()
    staff = get_user_model().objects.get(username="community")
    hold_the_lock(monkeypatch)
    tuesday = next_weekday(2)
    bodies = [
        {
            "title": title,
            "starts_at": at(tuesday, start).isoformat(),
            "ends_at": at(tuesday, end).isoformat(),
        }
        for title, start, end in (("书法课", "14:00", "16:00"), ("舞蹈队排练", "15:00", "17:00"))
    ]
    # when two staff devices book overlapping times at the same moment
    started = time.monotonic()
    responses = post_at_once(
        [(staff, f"/api/v1/rooms/{places.room.pk}/bookings", b) for b in bodies]
    )
    elapsed = time.monotonic() - started
    # then one wins and the other is told which booking holds the time
    by_status = {r.status_code: r for r in responses}
    assert sorted(by_status) == [201, 409], [r.content for r in responses]
    winner = by_status[201].json()
    loser = by_status[409].json()
    assert loser["code"] == "conflict"
    assert loser["detail"]["conflict"]["id"] == winner["id"]
    assert loser["detail"]["conflict"]["title"] == winner["title"]
    # the loser waited for the winner's lock instead of reading before its commit
    assert elapsed >= HOLD_LOCK_SECONDS
    assert Booking.objects.filter(room=places.room, status="confirmed").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_single_booking_and_series_give_one_of_them(monkeypatch: Any) -> None:
    ensure_world()
    places = make_places()
    staff = get_user_model().objects.get(username="community")
    hold_the_lock(monkeypatch)
    tuesday = next_weekday(2)
    later = next_weekday(2, weeks_ahead=3)
    bodies = [
        {
            "title": "老年合唱",
            "starts_at": at(later, "14:00").isoformat(),
            "ends_at": at(later, "15:00").isoformat(),
        },
        {
            "title": "书法课",
            "starts_at": at(tuesday, "14:00").isoformat(),
            "ends_at": at(tuesday, "16:00").isoformat(),
            "rule": "FREQ=WEEKLY;COUNT=4",
        },
    ]
    responses = post_at_once(
        [(staff, f"/api/v1/rooms/{places.room.pk}/bookings", b) for b in bodies]
    )
    assert sorted(r.status_code for r in responses) == [201, 409], [r.content for r in responses]
    confirmed = Booking.objects.filter(room=places.room, status="confirmed")
    assert confirmed.count() in (1, 4)
    # no two confirmed bookings of the room overlap
    spans = sorted(confirmed.values_list("starts_at", "ends_at"))
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
