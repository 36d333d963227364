"""On PostgreSQL, two residents signing up at the same moment for an activity's last
place: exactly one gets it, the other is told it is full (409); and two closings of one
activity credit the hours once.

The requests must really overlap on committed data, from two threads with their own
connections, so these tests run with ``transaction=True`` and re-seed the tiny county the
flush removes (as tests/cases/test_concurrency.py does)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.utils import timezone

from jiayuan.community import volunteering as vol
from jiayuan.community.models import Activity, HoursEntry, SignUp
from jiayuan.core.errors import Conflict
from jiayuan.org.models import Area
from jiayuan.people.models import Person

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks (SELECT … FOR UPDATE) are PostgreSQL's; SQLite serialises every "
    "writer anyway — run with JIAYUAN_DATABASE_URL=postgresql://…",
)

User = get_user_model()
HOLD_LOCK_SECONDS = 0.5


def ensure_world() -> None:
    """Seed the tiny county when a flush removed it."""
    if Area.objects.exists():
        return
    from jiayuan.cases import catalogue
    from jiayuan.demo.seed import seed_demo

    catalogue.install()
    seed_demo(scale="tiny", seed=7, progress=False)


@pytest.fixture(scope="module", autouse=True)
def world_back_afterwards(django_db_blocker: Any) -> Iterator[None]:
    yield
    with django_db_blocker.unblock():
        ensure_world()


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


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run ``calls`` at once, each in its own thread and connection; their results or
    the exceptions they raised."""
    results: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = calls[i]()
        except Exception as exc:  # the loser's Conflict is a result here
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


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
