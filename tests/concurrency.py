"""Shared pieces of the PostgreSQL race tests: two requests (or calls) released at the
same moment from their own threads and database connections.

Those tests need committed data that both connections see, so they run with
``transaction=True``, which flushes every table when each test ends — the session's tiny
county and the catalogues its migrations installed go with it. A race-test module
therefore marks itself :data:`postgres_only`, starts each test with
:func:`ensure_world`, and imports :func:`world_back_afterwards` (a module fixture, torn
down after the function-scoped flush) so that every test collected after it still finds
the county. pytest-django runs transactional tests after all others anyway.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection, connections
from django.test import Client

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks (SELECT … FOR UPDATE) and unique indexes meet concurrent writers on "
    "PostgreSQL; SQLite serialises every writer anyway — run with "
    "JIAYUAN_DATABASE_URL=postgresql://…",
)


def ensure_world() -> None:
    """Seed the tiny county, and the catalogues migrations install, when a flush removed
    them (a no-op while the county is there)."""
    from jiayuan.org.models import Area

    if Area.objects.exists():
        return
    from jiayuan.cases import catalogue as case_categories
    from jiayuan.community import markets
    from jiayuan.community.deliberation import matters
    from jiayuan.demo.seed import seed_demo
    from jiayuan.iot import defaults, devicetypes
    from jiayuan.people import catalogue as tags
    from jiayuan.policies import catalogue as policies

    # what the data migrations installed, in their order: without the policies the
    # re-seeded county would hold no matches, without the device types no devices
    tags.install()
    case_categories.install()
    policies.install()
    devicetypes.ensure_device_types()
    defaults.ensure_default_rules()
    matters.install()
    markets.install_catalogue()
    seed_demo(scale="tiny", seed=7, progress=False)


@pytest.fixture(scope="module", autouse=True)
def world_back_afterwards(django_db_blocker: Any) -> Iterator[None]:
    yield
    with django_db_blocker.unblock():
        ensure_world()


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run ``calls`` at once, each in its own thread and connection, released by a
    barrier; their results, or the exceptions they raised (a loser's Conflict is a
    result here)."""
    results: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i: int) -> None:
        try:
            start.wait(timeout=10)
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def post_at_once(requests: list[tuple[Any, str, dict[str, Any]]]) -> list[Any]:
    """POST each ``(user, path, JSON body)`` from its own thread and logged-in client at
    the same moment; the responses, in order. Any other failure fails the test."""
    clients = []
    for user, _path, _body in requests:
        client = Client()
        client.force_login(user)
        clients.append(client)

    def post(i: int) -> Callable[[], Any]:
        _user, path, body = requests[i]
        return lambda: clients[i].post(
            path, json.dumps(body, ensure_ascii=False), content_type="application/json"
        )

    responses = race(*(post(i) for i in range(len(requests))))
    errors = [r for r in responses if isinstance(r, BaseException)]
    assert not errors, errors
    return responses
