"""The one screen (一屏管理): its panels counted independently on the tiny county, who may
open which screen, hostile ids, the API's schema and its query budget."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jiayuan.cases.models import Case
from jiayuan.command import duty
from jiayuan.command.models import DutyShift
from jiayuan.command.screen import panels as screen_panels
from jiayuan.community.models import Wish
from jiayuan.core.validity import valid_on
from jiayuan.iot.models import Alarm
from jiayuan.org.choices import AreaKind, PartyOrgKind
from jiayuan.org.models import Area, PartyOrganization
from jiayuan.people.models import Force, HouseholdTag, Person, PersonTag
from jiayuan.policies.models import Match

from .conftest import COMMUNITY, OTHER_COMMUNITY, living_forces, on_duty

pytestmark = pytest.mark.django_db

COUNTY = "370830/"
STREET = "370830/001/"


def area(path: str) -> Area:
    return Area.objects.get(path=path)


def page_data(response: Any) -> dict[str, Any]:
    """The panels the page carries in its json_script (what screen.js draws first)."""
    html = response.content.decode()
    found = re.search(r'<script id="screen-data" type="application/json">(.*?)</script>', html)
    assert found, "the page carries no screen-data"
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def figures(items: list[dict[str, Any]]) -> dict[str, int]:
    return {item["key"]: item["value"] for item in items}


def other_street() -> Area:
    """A second street of the county (the tiny county has one), with one community."""
    county = area(COUNTY)
    street = Area.objects.create(kind=AreaKind.STREET, code="002", name="南站街道", parent=county)
    Area.objects.create(kind=AreaKind.COMMUNITY, code="001", name="南站社区", parent=street)
    return street


# --- the numbers, against counts made without the panels' code ---------------------------
@pytest.mark.parametrize(("username", "path"), [("admin", COUNTY), ("street", STREET)])
def test_panels_match_independent_counts(api_as: Any, username: str, path: str) -> None:
    # given a force on duty with a position and another on duty without one
    forces = list(living_forces(path)[:2])
    on_duty(forces[0], 35.75, 116.46, now=timezone.now())
    duty.go_on_duty(forces[1], actor=None)
    now = timezone.now()
    today = timezone.localdate()
    under = Q(area_path__startswith=path)

    # when the screen's JSON is read
    response = api_as(username).get("/screen", area=area(path).pk)

    # then every panel agrees with a direct count of the rows under the area
    assert response.status_code == 200, response.content
    data = response.json()
    living = Person.objects.filter(under, death_date__isnull=True)
    assert figures(data["kpis"])["residents"] == living.count()
    population = figures(data["population"]["counts"])
    assert population["residents"] == living.count()
    assert (
        population["party_members"]
        == living.filter(political_status__in=["party_member", "probationary"]).count()
    )
    groups = figures(data["population"]["groups"])
    for code in ("独居老人", "高龄老人", "残疾人"):
        expected = (
            PersonTag.objects.filter(under, valid_on(today), tag__code=code)
            .filter(person__death_date__isnull=True)
            .count()
        )
        assert groups[code] == expected, code
    assert groups["高龄老人"] > 0  # the check above compares something
    assert (
        groups["低保"]
        == HouseholdTag.objects.filter(under, valid_on(today), tag__code="低保").count()
    )

    zones = Area.objects.filter(under, kind=AreaKind.ZONE)
    branches = PartyOrganization.objects.filter(kind=PartyOrgKind.BRANCH, area__in=zones).count()
    party = data["party"]
    assert (party["zones"], party["branches"]) == (zones.count(), branches)
    assert party["grids"] == Area.objects.filter(under, kind=AreaKind.GRID).count()
    assert party["zone_coverage"] == pytest.approx(branches / zones.count(), abs=1e-4)

    open_shifts = DutyShift.objects.filter(under, ended_at__isnull=True)
    assert data["forces"]["on_duty"] == open_shifts.count() >= 2
    assert data["forces"]["located"] == open_shifts.filter(lat__isnull=False).count()
    assert data["forces"]["total"] == Force.objects.filter(under).count()
    kind = forces[0].kind
    by_kind = {r["key"]: r for r in data["forces"]["by_kind"]}
    assert by_kind[kind]["on_duty"] == open_shifts.filter(force__kind=kind).count()

    open_cases = [c for c in Case.objects.filter(under, grid__path__startswith=path) if c.is_open]
    assert data["cases"]["open"] == len(open_cases) > 0
    lights = figures(data["cases"]["by_light"])
    for light in ("green", "yellow", "red"):
        assert lights[light] == sum(1 for c in open_cases if c.light(now) == light), light
    statuses = figures(data["cases"]["by_status"])
    for status in {c.status for c in open_cases}:
        assert statuses[status] == sum(1 for c in open_cases if c.status == status)
    assert sum(figures(data["cases"]["by_step"]).values()) == len(open_cases)

    alarms = Alarm.objects.filter(under, status__in=["active", "acknowledged"])
    assert data["alarms"]["open"] == alarms.count() > 0
    assert data["alarms"]["active"] == alarms.filter(status="active").count()
    levels = {r["key"]: r for r in data["alarms"]["by_level"]}
    for severity in set(alarms.values_list("severity", flat=True)):
        assert (
            levels[severity]["active"] == alarms.filter(severity=severity, status="active").count()
        )

    matches = Match.objects.filter(under)
    assert (
        data["policies"]["pending"]
        == matches.filter(status__in=["pending", "visited", "accepted"]).count()
    )
    assert data["policies"]["delivered"] == matches.filter(status="granted").count()

    months = data["trends"]["months"]
    assert len(months) == 12 and months[-1] == today.strftime("%Y-%m")
    series = {s["key"]: s["data"] for s in data["trends"]["series"]}
    first = dt.date.fromisoformat(months[0] + "-01")
    start = dt.datetime.combine(first, dt.time(), tzinfo=timezone.get_current_timezone())
    received = Case.objects.filter(under, grid__path__startswith=path, received_at__gte=start)
    assert sum(series["cases_received"]) == received.filter(received_at__lte=now).count() > 0
    raised = Alarm.objects.filter(under, first_at__gte=start, first_at__lte=now).count()
    assert sum(series["alarms_raised"]) == raised


def test_services_count_the_last_seven_days(api_as: Any) -> None:
    # given the community's wishes all collected ten days ago but one, collected yesterday
    now = timezone.now()
    wishes = Wish.objects.filter(area_path__startswith=COMMUNITY)
    first = wishes.order_by("pk").first()
    assert first is not None and wishes.count() >= 2
    wishes.update(created_at=now - dt.timedelta(days=10))
    wishes.filter(pk=first.pk).update(created_at=now - dt.timedelta(days=1))

    # when the community's screen is read
    data = api_as("community").get("/screen", area=area(COMMUNITY).pk).json()

    # then only yesterday's wish counts as collected this week
    assert figures(data["services"]["items"])["wishes_collected"] == 1
    since = dt.datetime.fromisoformat(data["services"]["since"])
    assert abs(since - (now - dt.timedelta(days=7))) < dt.timedelta(minutes=1)


def test_page_and_api_show_the_same_numbers(page_as: Any, api_as: Any) -> None:
    street = area(STREET)
    page = page_as("street").get(f"/command/screen/{street.pk}/")
    assert page.status_code == 200
    drawn = page_data(page)
    served = api_as("street").get("/screen", area=street.pk).json()
    for data in (drawn, served):  # the moment it was counted differs, not the numbers
        data.pop("generated_at")
        data["services"].pop("since")
    assert drawn == served
    html = page.content.decode()
    # the contract with the live part: the root element, the map and the feed partials
    assert f'<main id="screen" class="scr" data-area="{street.pk}"' in html
    assert f'data-panels-url="/api/v1/screen?area={street.pk}"' in html
    assert 'data-layers-url="/api/v1/screen/layers"' in html
    assert "command/screen.js" in html and "vendor/echarts/echarts.min.js" in html
    # the numbers are on the page as text, not only in the charts
    open_cases = str(served["cases"]["open"])
    assert f'data-field="cases.open">{open_cases}<' in html
    # the switcher leads to the street's communities, and back to the desk
    for child in served["children"]:
        assert f'href="/command/screen/{child["id"]}/"' in html
    assert {c["name"] for c in served["children"]} == set(
        Area.objects.filter(parent=street, kind=AreaKind.COMMUNITY).values_list("name", flat=True)
    )
    assert 'data-testid="screen-desk"' in html


def test_user_text_is_escaped(page_as: Any) -> None:
    # given a community whose name is markup
    community = area(COMMUNITY)
    Area.objects.filter(pk=community.pk).update(name='<img src=x onerror="alert(1)">')

    page = page_as("street").get(f"/command/screen/{area(STREET).pk}/").content.decode()

    assert '<img src=x onerror="alert(1)">' not in page
    assert "&lt;img src=x" in page
    assert "\\u003Cimg src=x" in page  # inside the json_script


# --- who opens which screen --------------------------------------------------------------
@pytest.mark.parametrize(
    ("username", "path"), [("admin", COUNTY), ("street", STREET), ("community", COMMUNITY)]
)
def test_the_root_opens_the_users_top_scope(page_as: Any, username: str, path: str) -> None:
    response = page_as(username).get("/command/screen/")
    assert response.status_code == 302
    assert response["Location"] == f"/command/screen/{area(path).pk}/"


@pytest.mark.parametrize("username", ["grid", "branch", "head", "resident"])
def test_users_below_any_screen_get_404(page_as: Any, api_as: Any, username: str) -> None:
    client = page_as(username)
    assert client.get("/command/screen/").status_code == 404
    for path in (COUNTY, STREET, COMMUNITY):
        assert client.get(f"/command/screen/{area(path).pk}/").status_code == 404
        assert api_as(username).get("/screen", area=area(path).pk).status_code == 404
    assert b'data-testid="nav-screen"' not in client.get("/").content


def test_a_street_leader_cannot_open_another_street(page_as: Any, api_as: Any) -> None:
    # given a second street of the county
    street = other_street()
    community = Area.objects.get(parent=street)

    # then the street leader of the first street sees neither it nor its community
    client = page_as("street")
    for target in (street, community, area(COUNTY)):
        assert client.get(f"/command/screen/{target.pk}/").status_code == 404
        response = api_as("street").get("/screen", area=target.pk)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    # and the county's screen does not offer it to them as a child; the admin's does
    own = api_as("street").get("/screen", area=area(STREET).pk).json()
    assert street.pk not in {c["id"] for c in own["children"]}
    county = api_as("admin").get("/screen", area=area(COUNTY).pk).json()
    assert street.pk in {c["id"] for c in county["children"]}


def test_community_staff_see_their_community_only(page_as: Any, api_as: Any) -> None:
    client = page_as("community")
    assert client.get(f"/command/screen/{area(COMMUNITY).pk}/").status_code == 200
    for path in (OTHER_COMMUNITY, STREET, COUNTY):
        assert client.get(f"/command/screen/{area(path).pk}/").status_code == 404
        assert api_as("community").get("/screen", area=area(path).pk).status_code == 404
    assert b'data-testid="nav-screen"' in client.get("/").content


def test_a_street_screen_counts_only_the_users_scope(api_as: Any) -> None:
    # The community staff's numbers are their community's, the street's are more.
    mine = api_as("community").get("/screen", area=area(COMMUNITY).pk).json()
    whole = api_as("street").get("/screen", area=area(STREET).pk).json()
    residents = Person.objects.filter(area_path__startswith=COMMUNITY, death_date__isnull=True)
    assert figures(mine["kpis"])["residents"] == residents.count()
    assert figures(whole["kpis"])["residents"] > figures(mine["kpis"])["residents"]


# --- hostile input -----------------------------------------------------------------------
@pytest.mark.parametrize("raw", ["0", str(2**63), str(2**64 + 1), "9" * 40, "987654321"])
def test_hostile_area_ids_are_404(page_as: Any, api_as: Any, raw: str) -> None:
    assert page_as("admin").get(f"/command/screen/{raw}/").status_code == 404
    response = api_as("admin").get("/screen", area=raw)
    assert response.status_code in (404, 422), response.content
    assert "message" in response.json()


@pytest.mark.parametrize("kind", [AreaKind.ZONE, AreaKind.GRID, AreaKind.BUILDING])
def test_areas_below_a_community_have_no_screen(page_as: Any, api_as: Any, kind: str) -> None:
    target = Area.objects.filter(kind=kind).order_by("path").first()
    assert target is not None
    assert page_as("admin").get(f"/command/screen/{target.pk}/").status_code == 404
    assert api_as("admin").get("/screen", area=target.pk).status_code == 404


@pytest.mark.parametrize("query", [{}, {"area": "abc"}, {"area": "-3"}, {"area": "1e3"}])
def test_bad_api_parameters_are_422_in_both_languages(api_as: Any, query: dict[str, str]) -> None:
    response = api_as("admin").get("/screen", **query)
    assert response.status_code == 422
    assert response.json()["message"] == "请求数据无效 / invalid request data"


def test_anonymous_is_sent_to_log_in(client: Any) -> None:
    assert client.get("/command/screen/").status_code == 302
    assert client.get("/api/v1/screen?area=1").status_code == 401


# --- schema and query budget -------------------------------------------------------------
def test_openapi_documents_the_screen(api_as: Any) -> None:
    schema = api_as("admin").get("/openapi.json").json()
    operation = schema["paths"]["/api/v1/screen"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["area", "part"]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    name = ok.rsplit("/", 1)[-1]
    properties = schema["components"]["schemas"][name]["properties"]
    assert {
        "area", "children", "kpis", "population", "party", "forces", "cases", "alarms",
        "policies", "services", "trends",
    } <= set(properties)  # fmt: skip
    assert {"404", "422"} <= set(operation["responses"])


@pytest.mark.parametrize(("username", "path"), [("admin", COUNTY), ("community", COMMUNITY)])
def test_the_screen_costs_the_same_queries_after_the_data_grows(
    page_as: Any, username: str, path: str
) -> None:
    from tests.pages.test_query_counts import grow_grid

    from .conftest import GRID

    grid = area(GRID)
    client = page_as(username)
    urls = [f"/command/screen/{area(path).pk}/", f"/api/v1/screen?area={area(path).pk}"]

    def count() -> list[int]:
        out = []
        for url in urls:
            client.get(url)
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(url).status_code == 200
            out.append(len(ctx.captured_queries))
        return out

    grow_grid(grid, 1)
    for force in living_forces(GRID)[:1]:
        on_duty(force, 35.75, 116.46, now=timezone.now())
    before = count()
    grow_grid(grid)
    for force in living_forces(GRID)[1:6]:
        on_duty(force, 35.75, 116.46, now=timezone.now())
    assert count() == before
    assert max(before) <= 40, before


def test_open_steps_follow_the_case_machine() -> None:
    # Every open status waits in one of the steps the panel shows, in the six-step order.
    from jiayuan.cases.choices import OPEN_STATUSES, Step

    assert {screen_panels.step_of(s) for s in OPEN_STATUSES} == set(screen_panels.OPEN_STEPS)
    order = list(Step)
    assert screen_panels.OPEN_STEPS == sorted(screen_panels.OPEN_STEPS, key=order.index)


def test_the_live_part_carries_only_what_events_change(api_as: Any) -> None:
    # The page re-reads part=live on each live event: the same live panels as the whole
    # screen, the slower ones left out (null), and no residents' number.
    street = area(STREET).pk
    whole = api_as("street").get("/screen", area=street).json()
    live = api_as("street").get("/screen", area=street, part="live").json()
    for key in screen_panels.LIVE_PANELS:
        assert live[key] == whole[key], key
    for key in ("population", "party", "services", "trends"):
        assert whole[key] is not None and live[key] is None, key
    assert [k for k in figures(whole["kpis"]) if k != "residents"] == list(figures(live["kpis"]))
    assert api_as("street").get("/screen", area=street, part="most").status_code == 422
