"""On PostgreSQL, two residents signing up at the same moment for an activity's last
place: exactly one gets it, the other is told it is full (409); and two closings of one
activity credit the hours once.

The requests must really overlap on committed data, from two threads with their own
connections, so these tests run with ``transaction=True`` and re-seed the tiny county the
flush removes (as tests/cases/test_concurrency.py does)."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from jiayuan.community import volunteering as vol
from jiayuan.community.models import Activity, HoursEntry, SignUp
from jiayuan.core.errors import Conflict
from jiayuan.people.models import Person
from tests.concurrency import (
    ensure_world,
    postgres_only,
    race,
    world_back_afterwards,  # noqa: F401 - a module fixture
)

pytestmark = postgres_only

User = get_user_model()
HOLD_LOCK_SECONDS = 0.5


def hold_the_lock(monkeypatch: Any) -> None:
    """Whoever holds the activity's row lock keeps it a while, so that the two requests
    surely overlap: without the lock both would count the places left before either
    wrote its sign-up."""
    locked = vol._locked

    def slow(activity: Activity) -> Activity:
        row = locked(activity)
        time.sleep(HOLD_LOCK_SECONDS)
        return row

    monkeypatch.setattr(vol, "_locked", slow)


def planned(capacity: int) -> tuple[Activity, Any]:
    staff = User.objects.get(username="community")
    area = staff.memberships.get().area
    start = timezone.now() - dt.timedelta(minutes=5)
    a = vol.create_activity(
        actor=staff, area=area, title="并发报名", kind="class", starts_at=start,
        ends_at=start + dt.timedelta(hours=1), capacity=capacity, hours=Decimal("2"),
    )  # fmt: skip
    return a, staff


def residents(n: int) -> list[Person]:
    grid = User.objects.get(username="grid").memberships.get().area
    return list(Person.objects.filter(area_path__startswith=grid.path, death_date=None)[:n])


@pytest.mark.django_db(transaction=True)
def test_two_sign_ups_for_the_last_place_give_one(monkeypatch: Any) -> None:
    ensure_world()
    a, staff = planned(capacity=1)
    p1, p2 = residents(2)
    hold_the_lock(monkeypatch)

    results = race(
        lambda: vol.sign_up(a, actor=staff, person=p1),
        lambda: vol.sign_up(a, actor=staff, person=p2),
    )

    won = [r for r in results if isinstance(r, SignUp)]
    lost = [r for r in results if isinstance(r, Conflict)]
    assert len(won) == 1 and len(lost) == 1, results
    assert "名额已满" in lost[0].zh
    assert SignUp.objects.filter(activity=a, cancelled_at=None).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_closings_credit_the_hours_once(monkeypatch: Any) -> None:
    ensure_world()
    a, staff = planned(capacity=5)
    (p,) = residents(1)
    v = (
        vol.register_volunteer(actor=staff, person=p)
        if not hasattr(p, "volunteer")
        else p.volunteer
    )
    vol.sign_up(a, actor=staff, person=p)
    vol.check_in(a, actor=staff, person=p)
    before = vol.balance(v)
    hold_the_lock(monkeypatch)

    results = race(
        lambda: vol.close_activity(a, actor=staff),
        lambda: vol.close_activity(a, actor=staff),
    )

    assert sum(isinstance(r, Activity) for r in results) == 1, results
    assert sum(isinstance(r, Conflict) for r in results) == 1, results
    assert HoursEntry.objects.filter(activity=a).count() == 1
    assert vol.balance(v) == before + Decimal("2")
