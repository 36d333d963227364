"""One "cases this user can see" and one filter for the API and the pages
(``cases.queries``): the same cases for the same user and filters over every demo role;
overdue honours suspension; a phone finds cases only for those who may see personal
data; a grid worker follows, read-only, the case they raised to the community."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from jiayuan.cases import services
from jiayuan.cases.choices import Status
from jiayuan.cases.models import Case
from jiayuan.cases.queries import CaseFilter, filter_cases, visible_cases
from jiayuan.core.roles import Role
from jiayuan.demo.records import DEMO_USERNAMES
from jiayuan.org.models import Area, Membership

pytestmark = pytest.mark.django_db

User = get_user_model()

# (API query, the same filter as the 全部 tab's form sends it)
FILTERS: list[tuple[dict[str, Any], dict[str, str]]] = [
    ({}, {}),
    ({"status": "dispatched"}, {"status": "dispatched"}),
    ({"status": "closed"}, {"status": "closed"}),
    ({"category": "01"}, {"category": "01"}),
    ({"channel": "hotline"}, {"channel": "hotline"}),
    ({"level": "community"}, {"level": "community"}),
    ({"overdue": "true"}, {"overdue": "on"}),
    ({"q": "物业"}, {"q": "物业"}),
    ({"q": "13812345678"}, {"q": "13812345678"}),
    ({"q": "幸福路"}, {"q": "幸福路"}),
]


def client_for(username: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


def api_ids(client: Client, params: dict[str, Any]) -> set[int]:
    found: set[int] = set()
    offset = 0
    while True:
        response = client.get("/api/v1/cases", {**params, "limit": 500, "offset": offset})
        assert response.status_code == 200, response.content
        body = response.json()
        found |= {item["id"] for item in body["items"]}
        offset += 500
        if offset >= body["count"]:
            return found


def page_ids(client: Client, params: dict[str, str]) -> set[int] | None:
    """The cases of the 全部 tab behind every page of it (None: no list page)."""
    response = client.get("/cases/", {"tab": "all", **params})
    if response.status_code != 200:
        return None
    paginator = response.context["cases"].paginator
    return set(paginator.object_list.values_list("pk", flat=True))


@pytest.fixture
def marked(make_case: Any, users: dict[str, Any], own_grid: Area) -> list[Case]:
    """A few cases the seeded year does not hold: a phone, an address, an escalation."""
    phone = make_case(reporter_phone="13812345678", address="幸福路 8 号")
    raised = make_case(channel="patrol", description="井盖缺失")
    services.perform(
        raised.pk, "escalate", actor=users["grid"], reason="需社区协调", level="community"
    )
    return [phone, raised]


@pytest.mark.parametrize("username", DEMO_USERNAMES)
def test_api_and_pages_list_the_same_cases(username: str, marked: list[Case]) -> None:
    # given a demo role, logged in once for the API and the pages
    client = client_for(username)
    user = User.objects.get(username=username)
    for api_params, page_params in FILTERS:
        # when both list the cases with the same filter
        from_api = api_ids(client, api_params)
        from_pages = page_ids(client, page_params)
        # then they are the same cases, and those of queries.visible_cases
        if from_pages is None:  # the resident has no staff pages, and no staff list
            assert username == "resident"
            assert from_api == set()
            continue
        assert from_api == from_pages, (username, api_params)
    assert api_ids(client, {}) == set(visible_cases(user).values_list("pk", flat=True))


def test_overdue_honours_suspension(
    make_case: Any, users: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    # given three cases in progress whose handle stage fell due an hour ago
    now = timezone.now()
    due = now - dt.timedelta(hours=1)
    late, paused_in_time, paused_late = make_case(), make_case(), make_case()
    for case in (late, paused_in_time, paused_late):
        services.perform(case.pk, "accept", actor=users["grid"])
        services.perform(case.pk, "start", actor=users["grid"])
    Case.objects.filter(pk__in=[late.pk, paused_in_time.pk, paused_late.pk]).update(
        stage_due_at=due
    )
    # one was suspended before it fell due (its clock stopped in time), one after
    Case.objects.filter(pk=paused_in_time.pk).update(
        status=Status.SUSPENDED, suspended_at=due - dt.timedelta(hours=2)
    )
    Case.objects.filter(pk=paused_late.pk).update(
        status=Status.SUSPENDED, suspended_at=due + dt.timedelta(minutes=10)
    )
    mine = {late.pk, paused_in_time.pk, paused_late.pk}
    # then only the running late case and the one paused after its due time are overdue,
    # in the query module, the API and the page alike
    expected = {late.pk, paused_late.pk}
    qs = filter_cases(Case.objects.all(), CaseFilter(overdue=True))
    assert set(qs.values_list("pk", flat=True)) & mine == expected
    community = client_for("community")
    assert api_ids(community, {"overdue": "true"}) & mine == expected
    assert (page_ids(community, {"overdue": "on"}) or set()) & mine == expected


def test_category_by_code_or_parent(make_case: Any) -> None:
    noise = make_case(category="0401", description="深夜噪音")
    rubbish = make_case(category="0201")
    mine = {noise.pk, rubbish.pk}
    for code, expected in (("04", {noise.pk}), ("0401", {noise.pk}), ("02", {rubbish.pk})):
        qs = filter_cases(Case.objects.all(), CaseFilter(category=code))
        assert set(qs.values_list("pk", flat=True)) & mine == expected, code
        page = page_ids(client_for("community"), {"category": code}) or set()
        assert page & mine == expected, code


def test_phone_search_only_for_those_who_may_see_personal_data(
    make_case: Any, users: dict[str, Any]
) -> None:
    # given a case of the grid worker's grid with a reporter's phone
    case = make_case(reporter_phone="13912340000")
    # then the community (may reveal PII) finds it by the phone, on the page and the API
    assert case.pk in api_ids(client_for("community"), {"q": "13912340000"})
    assert case.pk in (page_ids(client_for("community"), {"q": "13912340000"}) or set())
    # while the grid worker, who sees the case but not personal data, cannot look up a
    # resident's phone through it
    assert case.pk in api_ids(client_for("grid"), {})
    assert case.pk not in api_ids(client_for("grid"), {"q": "13912340000"})
    assert case.pk not in (page_ids(client_for("grid"), {"q": "13912340000"}) or set())


def test_grid_worker_follows_the_case_they_raised_read_only(
    make_case: Any, users: dict[str, Any], other_grid: Area
) -> None:
    # given a patrol case the grid worker raised (提级帮办) to the community
    case = make_case(channel="patrol")
    services.perform(case.pk, "accept", actor=users["grid"])
    services.perform(
        case.pk, "escalate", actor=users["grid"], reason="需社区协调", level="community"
    )
    case.refresh_from_db()
    assert case.level == "community" and case.handler_user != users["grid"]
    assert not Case.objects.visible_to(users["grid"]).filter(pk=case.pk).exists()
    grid = client_for("grid")
    # then the worker still finds it in the list and opens it, in the API and the pages …
    assert case.pk in api_ids(grid, {})
    assert case.pk in (page_ids(grid, {}) or set())
    detail = grid.get(f"/api/v1/cases/{case.pk}")
    assert detail.status_code == 200 and detail.json()["actions"] == []
    page = grid.get(f"/cases/{case.pk}/")
    assert page.status_code == 200 and page.context["actions"] == []
    # … read-only: no action is offered or taken
    assert grid.get(f"/cases/{case.pk}/act/handle/").status_code == 403
    refused = grid.post(
        f"/api/v1/cases/{case.pk}/actions/handle", {"result": "已办"}, "application/json"
    )
    assert refused.status_code in (403, 404)
    case.refresh_from_db()
    assert case.status == Status.DISPATCHED
    # and another grid's worker, who never touched it, sees nothing
    stranger = User.objects.create_user(username="grid_b")
    Membership.objects.create(user=stranger, area=other_grid, role=Role.GRID_WORKER)
    assert not visible_cases(stranger).filter(pk=case.pk).exists()
    assert client_for("grid_b").get(f"/api/v1/cases/{case.pk}").status_code == 404
    assert client_for("grid_b").get(f"/cases/{case.pk}/").status_code == 404
