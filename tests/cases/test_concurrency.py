"""Acceptance 4: on PostgreSQL, two handlers accepting the same case at the same moment —
exactly one wins (200), the other gets 409.

The requests must really overlap on committed data, from two threads with their own
database connections, so these tests run with ``transaction=True``. That flushes every
table when each test ends, taking the session's tiny county (and the category catalogue
its migration installed) with it. So:

* each test starts with :func:`ensure_world`, which seeds the county again when it is
  missing (a no-op on the first such test);
* the module fixture :func:`world_back_afterwards` seeds it again once the module's last
  test is flushed — module fixtures are torn down after the function-scoped flush — so
  that every test collected after this module still finds the county. (pytest-django
  runs transactional tests after all others anyway.)
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from jiayuan.cases import services
from jiayuan.cases.choices import Status
from jiayuan.cases.models import Case, CaseEvent, Category
from tests.concurrency import (
    ensure_world,
    post_at_once,
    postgres_only,
    world_back_afterwards,  # noqa: F401 - a module fixture
)

pytestmark = postgres_only

User = get_user_model()
HOLD_LOCK_SECONDS = 0.5


def filed_case() -> tuple[Case, Any]:
    """A fresh 垃圾清运 case dispatched to the ``grid`` worker, committed."""
    grid_user = User.objects.get(username="grid")
    grid = grid_user.memberships.get().area
    case = services.intake(
        actor=None,
        channel="snapshot",
        category=Category.objects.get(code="0201"),
        description="楼下垃圾三天没人清运",
        lat=grid.centroid_lat,
        lng=grid.centroid_lng,
    )
    assert (case.status, case.handler_user) == (Status.DISPATCHED, grid_user)
    return case, grid_user


def hold_the_lock(monkeypatch: Any) -> None:
    """Make the winner keep the row locked a while, so that the two requests surely
    overlap: without the lock the loser would also read ``dispatched`` and succeed."""
    accept = services._HANDLERS["accept"]

    def slow_accept(*args: Any, **kwargs: Any) -> Any:
        time.sleep(HOLD_LOCK_SECONDS)
        return accept(*args, **kwargs)

    monkeypatch.setitem(services._HANDLERS, "accept", slow_accept)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_accepts_one_200_one_409(monkeypatch: Any) -> None:
    # given a dispatched case (committed, so both connections see it)
    ensure_world()
    case, grid_user = filed_case()
    hold_the_lock(monkeypatch)
    # when the handler taps 接单 on two devices at the same moment
    started = time.monotonic()
    responses = post_at_once([(grid_user, f"/api/v1/cases/{case.pk}/actions/accept", {})] * 2)
    elapsed = time.monotonic() - started
    # then exactly one wins and the other is told the case was taken meanwhile
    by_status = {r.status_code: r for r in responses}
    assert sorted(by_status) == [200, 409], [r.content for r in responses]
    assert by_status[200].json()["status"] == "accepted"
    loser = by_status[409].json()
    assert loser["code"] == "transition_not_allowed"
    assert "已接单" in loser["message"]
    # the loser waited for the winner's lock instead of reading a stale row
    assert elapsed >= HOLD_LOCK_SECONDS
    case.refresh_from_db()
    assert (case.status, case.version) == (Status.ACCEPTED, 1)
    assert CaseEvent.objects.filter(case=case, action="accept").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_accepts_with_expected_version_one_409_conflict(monkeypatch: Any) -> None:
    # given both devices show version 0 of the same dispatched case
    ensure_world()
    case, grid_user = filed_case()
    hold_the_lock(monkeypatch)
    # when both accept it at once, each naming the version it saw
    version = {"expected_version": case.version}
    responses = post_at_once([(grid_user, f"/api/v1/cases/{case.pk}/actions/accept", version)] * 2)
    # then the second finds the row changed under it
    by_status = {r.status_code: r for r in responses}
    assert sorted(by_status) == [200, 409], [r.content for r in responses]
    assert by_status[409].json()["code"] == "conflict"
    case.refresh_from_db()
    assert (case.status, case.version) == (Status.ACCEPTED, 1)
    assert CaseEvent.objects.filter(case=case, action="accept").count() == 1
