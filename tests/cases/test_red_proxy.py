"""红色代办 (defect 1) and the 三长 / 党员中心户 filing for their residents (defect 2):
through the API and the staff intake page the case carries the flag, the proxy and the
resident; 三长 and 党员中心户 reach exactly the residents they look after; indicators
count red-proxy cases per compound party branch."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from jiayuan.cases import indicators, proxies, services
from jiayuan.cases.models import Case, Category
from jiayuan.org.models import Area
from jiayuan.people.models import CentralHousehold, Person

pytestmark = pytest.mark.django_db

User = get_user_model()


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_case(client: Client, **body: Any) -> Any:
    data = {"category": "0201", "description": "楼道堆满杂物，老人出行不便", **body}
    return client.post(
        "/api/v1/cases", json.dumps(data, ensure_ascii=False), content_type="application/json"
    )


@pytest.fixture
def building(users: dict[str, Any]) -> Area:
    """The building the demo 'head' account (楼栋长) looks after."""
    return users["head"].memberships.get().area


@pytest.fixture
def neighbour(building: Area) -> Person:
    """A resident of the head's building with a home there."""
    person = (
        Person.objects.filter(area_path__startswith=building.path, dwelling__isnull=False)
        .exclude(user__username="head")
        .order_by("pk")
        .first()
    )
    assert person is not None
    return person


@pytest.fixture
def stranger(building: Area) -> Person:
    """A resident of another building of the same grid."""
    grid_path = building.path.rsplit("/", 2)[0] + "/"
    person = (
        Person.objects.filter(area_path__startswith=grid_path, dwelling__isnull=False)
        .exclude(area_path__startswith=building.path)
        .order_by("pk")
        .first()
    )
    assert person is not None
    return person


@pytest.fixture
def central(db: Any) -> tuple[Any, CentralHousehold]:
    """A 党员中心户 with an account (and no staff role) and the households they serve."""
    row = (
        CentralHousehold.objects.filter(households__isnull=False, person__user__isnull=True)
        .order_by("pk")
        .first()
    )
    assert row is not None
    user = User.objects.create_user(username="central")
    Person.objects.filter(pk=row.person_id).update(user=user)
    return user, row


# --- defect 1: the API records 红色代办 ----------------------------------------------------
def test_api_records_the_red_proxy_the_proxy_and_the_resident(
    users: dict[str, Any], own_grid: Area
) -> None:
    # given a community worker (a party member) filing for a resident of their scope
    resident = Person.objects.filter(area_path__startswith=own_grid.path).order_by("pk").first()
    assert resident is not None
    response = post_case(
        client_for(users["community"]),
        red_proxy=True,
        reporter=resident.pk,
        proxy_name="李书记",
        lat=own_grid.centroid_lat,
        lng=own_grid.centroid_lng,
    )
    # then the case keeps the flag, the proxy (account and name) and the resident
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["red_proxy"], body["proxy_name"]) == (True, "李书记")
    case = Case.objects.get(pk=body["id"])
    assert (case.red_proxy, case.proxy_user, case.proxy_name) == (
        True,
        users["community"],
        "李书记",
    )
    assert case.reporter == resident
    assert body["reporter"] == resident.name


def test_api_red_proxy_defaults_the_proxy_to_the_caller(
    users: dict[str, Any], own_grid: Area
) -> None:
    response = post_case(
        client_for(users["grid"]), red_proxy=True, reporter_name="张大爷", grid=own_grid.pk
    )
    assert response.status_code == 201, response.content
    case = Case.objects.get(pk=response.json()["id"])
    assert case.red_proxy and case.proxy_user == users["grid"]
    assert case.proxy_name == (users["grid"].get_full_name() or "grid")
    assert case.reporter_name == "张大爷"


# --- defect 2: 三长 and 党员中心户 file for their residents ------------------------------
def test_building_head_files_for_a_resident_of_their_building(
    users: dict[str, Any], neighbour: Person
) -> None:
    head = users["head"]
    # when the 楼栋长 files for a neighbour, without naming a place
    response = post_case(client_for(head), red_proxy=True, reporter=neighbour.pk)
    # then the case is taken in, located at the resident's home, as 红色代办 by the head
    assert response.status_code == 201, response.content
    case = Case.objects.get(pk=response.json()["id"])
    assert (case.red_proxy, case.proxy_user, case.reporter) == (True, head, neighbour)
    assert case.dwelling_id == neighbour.dwelling_id
    assert case.grid.path == neighbour.area_path[: len(case.grid.path)]
    # and the head follows it (read-only) in the list and the detail
    listed = client_for(head).get("/api/v1/cases", {"limit": 500}).json()["items"]
    assert case.pk in {item["id"] for item in listed}
    detail = client_for(head).get(f"/api/v1/cases/{case.pk}").json()
    assert detail["actions"] == []


def test_building_head_may_not_file_for_a_resident_elsewhere(
    users: dict[str, Any], stranger: Person, neighbour: Person
) -> None:
    head = client_for(users["head"])
    before = Case.objects.count()
    # a resident of another building is out of reach: 404, as any row outside scope
    response = post_case(head, red_proxy=True, reporter=stranger.pk)
    assert response.status_code == 404, response.content
    # and so is any place outside the building when not filing for their resident
    grid = next(
        g for g in Area.objects.filter(kind="grid") if stranger.area_path.startswith(g.path)
    )
    outside = post_case(head, lat=grid.centroid_lat, lng=grid.centroid_lng)
    assert outside.status_code == 404, outside.content
    assert Case.objects.count() == before
    # while the service refuses it too, whatever the caller
    with pytest.raises(Exception) as refused:
        services.intake(
            actor=users["head"],
            category=Category.objects.get(code="0201"),
            description="代办",
            dwelling=stranger.dwelling,
            reporter=stranger,
            red_proxy=True,
        )
    assert getattr(refused.value, "status", None) == 404
    assert proxies.may_file_for(users["head"], neighbour)
    assert not proxies.may_file_for(users["head"], stranger)


def test_central_household_files_for_the_households_they_serve(
    central: tuple[Any, CentralHousehold],
) -> None:
    user, row = central
    served = Person.objects.filter(household__in=row.households.all(), dwelling__isnull=False)
    member = served.order_by("pk").first()
    assert member is not None
    other = (
        Person.objects.filter(area_path__startswith=row.area_path, dwelling__isnull=False)
        .exclude(household__in=row.households.all())
        .order_by("pk")
        .first()
    )
    assert other is not None
    client = client_for(user)
    # a member of a served household: taken in as 红色代办
    response = post_case(client, red_proxy=True, reporter=member.pk)
    assert response.status_code == 201, response.content
    case = Case.objects.get(pk=response.json()["id"])
    assert (case.red_proxy, case.proxy_user, case.reporter) == (True, user, member)
    # a neighbour they do not serve: not found
    assert post_case(client, red_proxy=True, reporter=other.pk).status_code == 404
    # and without 红色代办 the account files only its own report, as any resident
    assert post_case(client, reporter=member.pk).status_code == 422


# --- the staff intake page -------------------------------------------------------------------
def test_head_files_through_the_intake_page(
    users: dict[str, Any], neighbour: Person, stranger: Person
) -> None:
    client = client_for(users["head"])
    # the page opens for the 楼栋长 (no grid of their own) with their residents to choose
    page = client.get("/cases/new/")
    assert page.status_code == 200
    choices = {str(value) for value, _label in page.context["form"].fields["resident"].choices}
    assert str(neighbour.pk) in choices and str(stranger.pk) not in choices
    category = Category.objects.get(code="0201")
    form = {
        "channel": "door",
        "category": category.pk,
        "priority": "normal",
        "description": "楼道灯坏了，老人夜里看不见",
        "resident": neighbour.pk,
    }
    # a resident of another building is refused on the form
    refused = client.post("/cases/new/", {**form, "resident": stranger.pk})
    assert refused.status_code == 422
    assert not Case.objects.filter(description=form["description"]).exists()
    # the neighbour's case is taken in as 红色代办, at their home
    response = client.post("/cases/new/", form)
    assert response.status_code == 302, response.content
    case = Case.objects.get(description=form["description"])
    assert (case.red_proxy, case.proxy_user, case.reporter) == (True, users["head"], neighbour)
    assert case.dwelling_id == neighbour.dwelling_id
    assert response["Location"] == f"/cases/{case.pk}/"
    detail = client.get(response["Location"])
    assert 'data-testid="proxy"' in detail.content.decode()


def test_staff_mark_red_proxy_on_the_intake_page(users: dict[str, Any], own_grid: Area) -> None:
    client = client_for(users["grid"])
    form = {
        "channel": "door",
        "category": Category.objects.get(code="0201").pk,
        "priority": "normal",
        "description": "代独居老人反映：水管漏水",
        "grid": own_grid.pk,
        "red_proxy": "on",
        "reporter_name": "王奶奶",
        "proxy_name": "赵党员",
    }
    response = client.post("/cases/new/", form)
    assert response.status_code == 302, response.content
    case = Case.objects.get(description=form["description"])
    assert (case.red_proxy, case.proxy_name, case.reporter_name) == (True, "赵党员", "王奶奶")
    # a red proxy for nobody is refused on the form
    nobody = client.post("/cases/new/", {**form, "reporter_name": "", "description": "空"})
    assert nobody.status_code == 422


# --- indicators ---------------------------------------------------------------------------------
def test_red_proxy_cases_counted_per_compound_party_branch(
    users: dict[str, Any], neighbour: Person, own_grid: Area
) -> None:
    admin = users["admin"]
    zone_path = own_grid.path.rsplit("/", 2)[0] + "/"
    before = {row.key: row for row in indicators.red_proxy_by_branch(admin)}
    assert zone_path in before  # every branch has a row, with or without such cases
    # when the head files two cases for their neighbour and staff one ordinary case
    for text in ("楼道杂物", "单元门坏了"):
        response = post_case(
            client_for(users["head"]), red_proxy=True, reporter=neighbour.pk, description=text
        )
        assert response.status_code == 201, response.content
    services.intake(
        actor=users["grid"],
        category=Category.objects.get(code="0201"),
        description="普通巡查",
        grid=own_grid,
    )
    # then the branch of that zone counts two more red-proxy cases, three more received
    after = {row.key: row for row in indicators.red_proxy_by_branch(admin)}
    assert after[zone_path].red_proxy - before[zone_path].red_proxy == 2
    assert after[zone_path].received - before[zone_path].received == 3
    assert after[zone_path].label.endswith("党支部")
    others = set(after) - {zone_path}
    assert all(after[k].red_proxy == before[k].red_proxy for k in others)
    # and the grid worker sees only their own zone's branch
    assert {row.key for row in indicators.red_proxy_by_branch(users["grid"])} <= {zone_path}


def test_dashboard_lists_red_proxy_cases_per_branch(
    users: dict[str, Any], neighbour: Person
) -> None:
    response = post_case(client_for(users["head"]), red_proxy=True, reporter=neighbour.pk)
    assert response.status_code == 201, response.content
    page = client_for(users["community"]).get("/cases/indicators/")
    assert page.status_code == 200
    rows = page.context["branches"]
    assert sum(row["red_proxy"] for row in rows) >= 1
    assert 'data-testid="red-proxy-branches"' in page.content.decode()
