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

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from jiayuan.cases import catalogue, services
from jiayuan.cases.choices import Status
from jiayuan.cases.models import Case, CaseEvent, Category
from jiayuan.org.models import Area

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks (SELECT … FOR UPDATE) are PostgreSQL's; SQLite serialises every "
    "writer anyway — run with JIAYUAN_DATABASE_URL=postgresql://…",
)

User = get_user_model()
HOLD_LOCK_SECONDS = 0.5


def ensure_world() -> None:
    """Seed the tiny county and the category catalogue when a flush removed them."""
    if Area.objects.exists():
        return
    from jiayuan.demo.seed import seed_demo

    catalogue.install()
    seed_demo(scale="tiny", seed=7, progress=False)


@pytest.fixture(scope="module", autouse=True)
def world_back_afterwards(django_db_blocker: Any) -> Iterator[None]:
    yield
    with django_db_blocker.unblock():
        ensure_world()


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


def accept_at_once(case: Case, user: Any, bodies: list[dict[str, Any]]) -> list[Any]:
    """POST accept from one thread per body, released together by a barrier."""
    clients = []
    for _ in bodies:
        client = Client()
        client.force_login(user)  # two devices of the same handler
        clients.append(client)
    barrier = threading.Barrier(len(bodies))
    responses: list[Any] = [None] * len(bodies)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            responses[i] = clients[i].post(
                f"/api/v1/cases/{case.pk}/actions/accept",
                json.dumps(bodies[i]),
                content_type="application/json",
            )
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return responses


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_accepts_one_200_one_409(monkeypatch: Any) -> None:
    # given a dispatched case (committed, so both connections see it)
    ensure_world()
    case, grid_user = filed_case()
    hold_the_lock(monkeypatch)
    # when the handler taps 接单 on two devices at the same moment
    started = time.monotonic()
    responses = accept_at_once(case, grid_user, [{}, {}])
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
    responses = accept_at_once(case, grid_user, [version, version])
    # then the second finds the row changed under it
    by_status = {r.status_code: r for r in responses}
    assert sorted(by_status) == [200, 409], [r.content for r in responses]
    assert by_status[409].json()["code"] == "conflict"
    case.refresh_from_db()
    assert (case.status, case.version) == (Status.ACCEPTED, 1)
    assert CaseEvent.objects.filter(case=case, action="accept").count() == 1
