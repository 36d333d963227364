"""Case intake through the API costs a bounded number of queries (issue 10: at most 12),
whatever the county's size: a point located through the per-process geo index, or a
dwelling; each numbered, checked for duplicates, written with its audit entry and
timeline, dispatched to the handler of its level with a notice, and answered with the
case in hand. The working-day calendar, the geo index and the handler map are read from
per-process caches."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jiayuan.cases import routing
from jiayuan.cases.models import Case, CaseEvent, Category
from jiayuan.core.calendar import forget_declared_days
from jiayuan.core.models import ApiToken, AuditEntry, Notification
from jiayuan.core.roles import Role
from jiayuan.org import geo
from jiayuan.org.models import Area, Dwelling, Membership

pytestmark = pytest.mark.django_db

MAX_QUERIES = 12


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    """Each test starts from empty per-process caches (an earlier test's rolled-back
    writes leave them paused) and leaves them empty."""
    forget_declared_days()
    geo.forget_index()
    routing.forget_handlers()
    yield
    forget_declared_days()
    geo.forget_index()
    routing.forget_handlers()


def post_case(client: Client, data: dict[str, Any], **headers: Any) -> tuple[Any, list[str]]:
    """POST /api/v1/cases and the SQL of every statement it sent."""
    body = json.dumps(data, ensure_ascii=False)
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/api/v1/cases", body, content_type="application/json", **headers)
    return response, [q["sql"] for q in captured.captured_queries]


def counted(queries: list[str]) -> list[str]:
    """The queries an intake costs: every statement but the intake's own transaction
    control. The test runs inside a transaction, so that transaction (BEGIN … COMMIT on
    PostgreSQL, which bench/case_intake.py lists beside the queries) shows as one
    SAVEPOINT … RELEASE pair here: that pair alone is left out; any other savepoint
    counts."""
    out = list(queries)
    first = next((i for i, sql in enumerate(out) if sql.startswith("SAVEPOINT")), None)
    if first is not None:
        name = out[first].split()[1]
        out.pop(first)
        release = f"RELEASE SAVEPOINT {name}"
        out = [sql for sql in out if sql != release]
    return out


def listed(queries: list[str]) -> str:
    return f"{len(counted(queries))} queries counted, {len(queries)} sent:\n" + "\n".join(
        f"{i}. {sql[:240]}" for i, sql in enumerate(queries, 1)
    )


def test_point_case_by_token_within_budget(users: dict[str, Any], own_grid: Area) -> None:
    # given the county administrator calling with a bearer token, as the bench does
    raw, _token = ApiToken.issue(users["admin"], lifetime_days=1)
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    data = {
        "category": "0201",
        "description": "楼下垃圾三天没人清运",
        "lat": own_grid.centroid_lat,
        "lng": own_grid.centroid_lng,
        "reporter_name": "王女士",
        "reporter_phone": "13812345678",
    }
    first, _warming = post_case(client, data, **auth)  # fills the per-process caches
    # when a second hotline order at the same point is filed
    response, queries = post_case(client, data, **auth)
    # then it is located, numbered, flagged as a duplicate, dispatched with a notice …
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "dispatched" and body["grid"] == own_grid.pk
    assert body["handler_user"] == users["grid"].pk
    assert [d["number"] for d in body["duplicates"]] == [first.json()["number"]]
    assert [e["action"] for e in body["events"]] == ["receive", "dispatch"]
    case = Case.objects.get(pk=body["id"])
    assert case.duplicate_of_hint == [first.json()["number"]]
    assert Notification.objects.filter(ref=case.number, user=users["grid"]).count() == 1
    assert AuditEntry.objects.for_object(case).filter(action="create").count() == 1
    # … within the budget
    assert len(counted(queries)) <= MAX_QUERIES, listed(queries)
    # and no query reads the calendar, the boundaries or their version, or the handlers
    for sql in queries:
        assert "core_calendarday" not in sql, listed(queries)
        assert '"org_area"' not in sql, listed(queries)
        assert '"org_membership"."user_id", "org_membership"."area_id"' not in sql


def test_dwelling_case_by_grid_worker_within_budget(users: dict[str, Any], own_grid: Area) -> None:
    dwelling = Dwelling.objects.filter(area_path__startswith=own_grid.path).first()
    assert dwelling is not None
    client = Client()
    client.force_login(users["grid"])
    data = {"category": "0402", "description": "楼上漏水", "dwelling": dwelling.pk}
    post_case(client, data)
    response, queries = post_case(client, data)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["channel"], body["status"]) == ("patrol", "dispatched")
    assert body["grid"] == own_grid.pk and body["dwelling"] == dwelling.pk
    assert len(counted(queries)) <= MAX_QUERIES, listed(queries)


def test_answer_is_what_a_read_gives(users: dict[str, Any], own_grid: Area) -> None:
    # given a case filed through the API (answered from the case in hand)
    client = Client()
    client.force_login(users["admin"])
    data = {"category": "0201", "description": "路灯不亮", "lat": own_grid.centroid_lat,
            "lng": own_grid.centroid_lng, "reporter_name": "张先生"}  # fmt: skip
    filed = client.post("/api/v1/cases", json.dumps(data), content_type="application/json")
    assert filed.status_code == 201, filed.content
    # then reading it back gives the same answer, field by field
    read = client.get(f"/api/v1/cases/{filed.json()['id']}").json()
    answer = filed.json()
    assert answer.pop("tracking_url")
    read.pop("tracking_url", None)
    assert answer == read


# --- the per-process caches --------------------------------------------------------------
def test_geo_index_checks_its_version_only_after_its_ttl(
    own_grid: Area, monkeypatch: pytest.MonkeyPatch, django_assert_num_queries: Any
) -> None:
    zone = own_grid.parent
    assert geo.locate(own_grid.centroid_lat, own_grid.centroid_lng, kind="grid") == own_grid
    with django_assert_num_queries(0):  # the index and its areas are the process's
        found = geo.locate(own_grid.centroid_lat, own_grid.centroid_lng, kind="grid")
        assert found == own_grid and found.path == own_grid.path
        assert zone is not None and geo.area_at(zone.path) == zone
    # a change this process's signals never see (saved by another process) …
    Area.objects.filter(pk=own_grid.pk).update(name="改名网格", updated_at=timezone.now())
    assert geo.locate(own_grid.centroid_lat, own_grid.centroid_lng).name == own_grid.name
    # … is seen once the time-limited version check runs again
    monkeypatch.setattr(geo._index, "ttl", 0.0)
    assert geo.locate(own_grid.centroid_lat, own_grid.centroid_lng).name == "改名网格"


def test_geo_index_drops_an_area_saved_in_this_process(own_grid: Area) -> None:
    geo.locate(own_grid.centroid_lat, own_grid.centroid_lng)
    own_grid.name = "新名字"
    own_grid.save()
    assert geo.locate(own_grid.centroid_lat, own_grid.centroid_lng).name == "新名字"


def test_locate_gives_a_copy(own_grid: Area) -> None:
    found = geo.locate(own_grid.centroid_lat, own_grid.centroid_lng)
    assert found is not None
    found.name = "只改这一份"
    assert geo.locate(own_grid.centroid_lat, own_grid.centroid_lng).name == own_grid.name


def test_a_new_grid_worker_takes_cases_at_once(
    users: dict[str, Any], other_grid: Area, django_assert_num_queries: Any
) -> None:
    # given the handler map is cached, and the other grid has nobody to take cases
    assert routing.handler_for(other_grid, "grid") is None
    with django_assert_num_queries(0):
        assert routing.handler_for(other_grid, "grid") is None
    # when a grid worker joins it in this process
    from django.contrib.auth import get_user_model

    worker = get_user_model().objects.create_user(username="new_worker")
    Membership.objects.create(user=worker, area=other_grid, role=Role.GRID_WORKER)
    # then the next case there goes to them
    handler = routing.handler_for(other_grid, "grid")
    assert handler is not None and handler.pk == worker.pk


def test_numbers_follow_each_other(make_case: Any) -> None:
    first, second = make_case(), make_case()
    day, n = first.number.rsplit("-", 1)
    assert second.number == f"{day}-{int(n) + 1:04d}"
    assert Category.objects.exists() and CaseEvent.objects.filter(case=second).count() == 2
