"""Query-count guards on API lists (NetBox ``utilities/testing/query_counts.py``): the
number of queries must not grow with the page size."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.test.utils import CaptureQueriesContext

from jiayuan.api import api as ninja_api
from jiayuan.people.models import Tag

from ..pages.test_query_counts import clone_rows, grow_grid
from .conftest import Api, World

# Session + user + memberships + items + one prefetch + count, with room for one more.
LISTS = {
    "/persons": 7,
    "/areas": 6,
    "/dwellings": 6,
    "/households": 6,
    "/positions": 6,
    "/forces": 6,
    "/tags": 6,
}


@pytest.mark.parametrize(("path", "budget"), LISTS.items())
def test_list_queries_do_not_grow_with_the_page(
    api_as: Any, django_assert_max_num_queries: Any, path: str, budget: int
) -> None:
    admin = api_as("admin")
    for limit in (5, 500):
        with django_assert_max_num_queries(budget):
            response = admin.get(path, limit=limit)
        assert response.status_code == 200
        assert len(response.json()["items"]) == min(limit, response.json()["count"])


def test_person_list_with_filters_stays_within_budget(
    api_as: Any, django_assert_max_num_queries: Any
) -> None:
    community = api_as("community")
    with django_assert_max_num_queries(7):
        response = community.get("/persons", age_min=60, political_status="party_member")
    assert response.status_code == 200


# --- every GET route of the API, before and after its rows grow ------------------------
# The routes come from the OpenAPI document, so a new route is guarded the day it lands
# (or fails ``test_every_get_route_is_guarded`` until it is declared below).

SCHEMA = ninja_api.get_openapi_schema()["paths"]
ROUTES = sorted(
    path.removeprefix("/api/v1") for path, operations in SCHEMA.items() if "get" in operations
)
# GET routes that return no rows of their own, and why they are not counted here.
NOT_GUARDED = {
    "/overview": "the area overview's figures: aggregates, no rows (tests/api/test_overview)",
    "/areas/locate": "the one area under a point",
    "/cases/{case_id}/photos/{photo_id}": "a photo's bytes",
    "/public/cases/{token}/photos/{photo_id}": "a photo's bytes, by tracking token",
    # the data hub's import side grows its own rows (sources, runs, rejected rows) in
    # tests/datahub/test_hub_api.py::test_the_hub_lists_cost_the_same_for_few_rows_and_many
    "/hub/sources": "guarded in tests/datahub/test_hub_api.py",
    "/hub/runs": "guarded in tests/datahub/test_hub_api.py",
    "/hub/runs/{run_id}": "guarded in tests/datahub/test_hub_api.py",
    "/hub/runs/{run_id}/rejects": "guarded in tests/datahub/test_hub_api.py",
    "/hub/runs/{run_id}/rejects.xlsx": "a download; guarded in tests/datahub/test_hub_api.py",
    "/reports/templates": "the standard forms and the user's own templates, whole: "
    "tests/datahub/test_reports_api.py counts it with many templates",
    "/reports/templates/{code}/export.xlsx": "an XLSX file of one report",
    "/hub/reviews": "the review queue: no pairs in the seed; tests/datahub/test_review.py "
    "counts it with one pair and with 31",
    "/hub/reviews/{pair_id}": "one review pair: tests/datahub/test_review.py counts it with one "
    "pair and with 31 in the queue",
    # compound deliberation: the seed may hold no topic; counted with few and many topics,
    # proposals, meetings, roster members and votes in tests/community/test_deliberation_api.py
    "/topics": "guarded in tests/community/test_deliberation_api.py",
    "/topics/{topic_id}": "guarded in tests/community/test_deliberation_api.py",
    "/topics/{topic_id}/census": "guarded in tests/community/test_deliberation_api.py",
    "/matter-types": "the ten matter types of migration 0003, whole (a catalogue read as data)",
    # the volunteers' lists and details grow their own rows (teams, volunteers, ledger
    # lines, activities with sign-ups) in tests/community/test_volunteers_api.py
    "/volunteer-teams": "guarded in tests/community/test_volunteers_api.py",
    "/volunteer-teams/{team_id}": "guarded in tests/community/test_volunteers_api.py",
    "/volunteers": "guarded in tests/community/test_volunteers_api.py",
    "/volunteers/{volunteer_id}": "guarded in tests/community/test_volunteers_api.py",
    "/volunteers/{volunteer_id}/hours": "guarded in tests/community/test_volunteers_api.py",
    "/activities": "guarded in tests/community/test_volunteers_api.py",
    "/activities/{activity_id}": "guarded in tests/community/test_volunteers_api.py",
    # the wishes' list, detail and a compound's demand list grow their own rows (wishes,
    # timeline events, photos, escalated cases) in tests/community/test_wishes_api.py
    "/wishes": "guarded in tests/community/test_wishes_api.py",
    "/wishes/{wish_id}": "guarded in tests/community/test_wishes_api.py",
    "/wishes/{wish_id}/photos/{photo_id}": "a photo's bytes",
    "/compounds/{area_id}/demands": "guarded in tests/community/test_wishes_api.py",
    # community places and markets: their rows do not grow with grow_everything; each
    # route is counted with few rows and many in tests/community/test_positions.py
    "/service-positions": "guarded in tests/community/test_positions.py",
    "/service-positions/{position_id}": "guarded in tests/community/test_positions.py",
    "/facilities": "guarded in tests/community/test_positions.py",
    "/rooms": "guarded in tests/community/test_positions.py",
    "/rooms/{room_id}/bookings": "guarded in tests/community/test_positions.py",
    "/room-usage": "guarded in tests/community/test_positions.py",
    "/markets": "guarded in tests/community/test_markets.py",
    "/markets/{market_id}": "guarded in tests/community/test_markets.py",
    "/markets/{market_id}/stalls": "guarded in tests/community/test_markets.py",
    "/market-catalogue": "the fixed catalogue (8 modules, 24 items): two queries",
    "/cobuilding-units": "guarded in tests/community/test_markets.py",
    # the partner registry (合伙人库): the seed holds no partner; each route is counted
    # with few partners (contacts, qualifications, documents, ledger lines, proposals)
    # and many in tests/partners/test_registry_api.py
    "/partners": "guarded in tests/partners/test_registry_api.py",
    "/partners/dismissals": "guarded in tests/partners/test_registry_api.py",
    "/partners/{partner_id}": "guarded in tests/partners/test_registry_api.py",
    "/partners/{partner_id}/credit": "guarded in tests/partners/test_registry_api.py",
    "/partners/{partner_id}/documents/{document_id}": "a document's bytes",
    # mobilisation (一键调度): the seed holds none; counted with few and many
    "/mobilisations": "guarded in tests/command/test_api.py",
    "/mobilisations/{mobilisation_id}": "guarded in tests/command/test_api.py",
    # red partners' projects (立项, 发包, 协议): the seed holds none; every GET route is
    # counted with few rows and many in tests/partners/test_projects_api.py
    "/partner-projects": "guarded in tests/partners/test_projects_api.py",
    "/partner-projects/{project_id}": "guarded in tests/partners/test_projects_api.py",
    "/partner-projects/{project_id}/documents/{document_id}": "a document's bytes",
    "/partner-funds": "guarded in tests/partners/test_projects_api.py",
    "/partner-calls/{call_id}": "guarded in tests/partners/test_projects_api.py",
    "/partner-agreements/{agreement_id}": "guarded in tests/partners/test_projects_api.py",
    # red partners' supervision (监管, 居民评价, 评估): the seed holds none; each list and
    # detail is counted with few rows and many in tests/partners/test_supervision_api.py
    "/supervision-groups": "guarded in tests/partners/test_supervision_api.py",
    "/supervision-groups/{group_id}": "guarded in tests/partners/test_supervision_api.py",
    "/inspections": "guarded in tests/partners/test_supervision_api.py",
    "/inspections/{inspection_id}": "guarded in tests/partners/test_supervision_api.py",
    "/findings": "guarded in tests/partners/test_supervision_api.py",
    "/findings/{finding_id}/photo": "a photo's bytes",
    "/partner-feedback": "guarded in tests/partners/test_supervision_api.py",
    "/partner-feedback/mine": "guarded in tests/partners/test_supervision_api.py",
    "/evaluations": "guarded in tests/partners/test_supervision_api.py",
    "/evaluations/{evaluation_id}": "guarded in tests/partners/test_supervision_api.py",
    "/evaluation-trends/{project_id}": "guarded in tests/partners/test_supervision_api.py",
    # the assistant's question log and knowledge base: counted with few rows and many in
    # tests/assistant/test_ask_api.py (an entry is one row with its policy)
    "/assistant/asks": "guarded in tests/assistant/test_ask_api.py",
    "/assistant/entries": "guarded in tests/assistant/test_ask_api.py",
    "/assistant/entries/{key}": "one entry with its policy (tests/assistant/test_ask_api.py)",
    # the assistant's broadcasts and group robots: the seed may hold none; each route is
    # counted with few broadcasts, deliveries and robots and many in
    # tests/assistant/test_broadcasts.py
    "/assistant/broadcasts": "guarded in tests/assistant/test_broadcasts.py",
    "/assistant/broadcasts/{broadcast_id}": "guarded in tests/assistant/test_broadcasts.py",
    "/assistant/robots": "guarded in tests/assistant/test_broadcasts.py",
    # the one screen's map layers need an area and a kind; each kind is counted before and
    # after the rows grow in tests/command/test_live.py
    "/screen/layers": "guarded in tests/command/test_live.py",
    # the one screen: aggregates of a county, street or community, no rows of its own
    "/screen": "guarded in tests/command/test_screen.py (the same count after the data grows)",
}
LIST_ROUTES = [r for r in ROUTES if not r.endswith("}") and r not in NOT_GUARDED]
DETAIL_ROUTES = [r for r in ROUTES if r.endswith("}") and r not in NOT_GUARDED]
# The model behind each detail route: its rows' children (timeline events, tags,
# members …) are what a detail must not read one query at a time.
DETAIL_MODELS = {
    "/areas/{area_id}": "org.Area",
    "/dwellings/{dwelling_id}": "org.Dwelling",
    "/persons/{person_id}": "people.Person",
    "/persons/{person_id}/tags/{code}": "people.Tag",
    "/households/{household_id}": "people.Household",
    "/positions/{position_id}": "people.Position",
    "/forces/{force_id}": "people.Force",
    "/tags/{code}": "people.Tag",
    "/cases/{case_id}": "cases.Case",
    "/policies/{code}": "policies.Policy",
    "/matches/{match_id}": "policies.Match",
    "/devices/{device_id}": "iot.Device",
    "/alarms/{alarm_id}": "iot.Alarm",
    "/alarm-rules/{rule_id}": "iot.AlarmRule",
    "/reports/templates/{code}": "datahub.ReportTemplate",
}
# Details that show no rows of other tables (nothing to grow under them).
LEAVES = {
    "/alarm-rules/{rule_id}": "the rule's own fields",
    "/areas/{area_id}": "the area's own fields",
    "/forces/{force_id}": "the force's own fields and its person",
    "/positions/{position_id}": "the position's own fields and its person",
    "/reports/templates/{code}": "the template's own fields",
}
GROWTH = 30


def grow_children(obj: Model) -> list[str]:
    """GROWTH more rows of every kind of child ``obj`` already has (its timeline events,
    its members …), each kind cloned from its existing rows; kinds whose copies would
    break a constraint of theirs (one open tag per person and tag …) are left as they
    are. Returns the kinds grown."""
    grown = []
    for relation in obj._meta.related_objects:
        child = relation.related_model
        if not relation.one_to_many or isinstance(child, str):
            continue
        manager = child._default_manager
        children = manager.filter(**{relation.field.name: obj})
        if not children.exists():  # borrow another parent's children
            children = manager.exclude(**{relation.field.name: obj}).exclude(
                **{f"{relation.field.name}__isnull": True}
            )
        if not children.exists():
            continue
        try:
            with transaction.atomic():
                clone_rows(children.order_by("pk"), GROWTH, **{relation.field.attname: obj.pk})
        except IntegrityError:
            continue
        grown.append(child.__name__)
    return grown


def grow_holders(tag: Any) -> list[str]:
    """GROWTH more residents holding ``tag`` (a tag's detail lists its holders): one open
    holding per person and tag, so each holder is a new resident."""
    from jiayuan.people.models import Person, PersonTag

    persons = clone_rows(Person.objects.filter(death_date__isnull=True).order_by("pk"), GROWTH)
    source = PersonTag.objects.filter(tag__scope=tag.scope).order_by("pk")
    clone_rows(source, GROWTH, person=lambda i: persons[i], tag=tag)
    return ["PersonTag"]


def params_of(route: str) -> list[str]:
    parameters = SCHEMA[f"/api/v1{route}"]["get"].get("parameters", [])
    return [p["name"] for p in parameters if p["in"] == "query"]


def first_row(admin: Api, path: str) -> dict[str, Any]:
    body = admin.get(path).json()
    items = body["items"] if isinstance(body, dict) else body
    assert items, f"{path} lists no rows"
    return items[0]  # type: ignore[no-any-return]


def fill(admin: Api, route: str) -> tuple[str, dict[str, Any] | None]:
    """The route with its path parameters filled from the list one level up
    (``/persons/{person_id}/tags`` → ``/persons/12/tags``), and the last row read."""
    done: list[str] = []
    row = None
    for part in route.split("/"):
        if part.startswith("{"):
            name = part[1:-1]
            row = first_row(admin, "/".join(done))
            done.append(str(key_of(row, name)))
        else:
            done.append(part)
    return "/".join(done), row


def key_of(row: dict[str, Any], name: str) -> Any:
    """The value of path parameter ``name`` in a list row (a person's tag names its tag
    by ``tag``)."""
    if name.endswith("_id"):
        return row["id"]
    return row[name] if name in row else row["tag"]


def count(admin: Api, path: str, **params: Any) -> tuple[int, Any]:
    admin.get(path, **params)  # per-process caches warm up once
    with CaptureQueriesContext(connection) as ctx:
        response = admin.get(path, **params)
    assert response.status_code == 200, (path, response.content)
    return len(ctx.captured_queries), response.json()


def rows_of(body: Any) -> list[Any]:
    return body["items"] if isinstance(body, dict) and "items" in body else body  # type: ignore[no-any-return]


def grow_everything(world: World, username: str, person_id: int, n: int) -> None:
    """``n`` more rows behind every list route the admin reads: the grid's residents,
    cases, devices, alarms, matches and the admin's notifications, the catalogues
    (categories, departments, policies, tags, alarm rules, match runs), and tags of the
    person whose tag list is read."""
    from django.apps import apps

    from jiayuan.people.models import PersonTag, Tag

    grow_grid(world.grid, n, username=username)
    for label in (
        "cases.Category", "cases.Department", "policies.Policy", "policies.MatchRun",
        "iot.AlarmRule",
    ):  # fmt: skip
        clone_rows(apps.get_model(label).objects.order_by("pk"), n)
    tags = clone_rows(Tag.objects.filter(scope="person").order_by("pk"), n)
    source = PersonTag.objects.filter(tag__scope="person").order_by("pk")
    clone_rows(source, n, person_id=person_id, tag=lambda i: tags[i])


def world_person(world: World) -> int:
    from jiayuan.people.models import Person

    return Person.objects.filter(area_path__startswith=world.grid.path).order_by("pk")[0].pk


def test_every_get_route_is_guarded() -> None:
    # A new GET route must be a list (guarded below), a detail with its model declared,
    # or say why it is not guarded.
    assert LIST_ROUTES and DETAIL_ROUTES
    assert set(DETAIL_ROUTES) <= set(DETAIL_MODELS), set(DETAIL_ROUTES) - set(DETAIL_MODELS)
    for route in LIST_ROUTES:
        assert route.rsplit("/", 1)[-1] not in NOT_GUARDED, route


@pytest.mark.parametrize("route", LIST_ROUTES)
def test_list_costs_the_same_for_one_row_and_for_many(
    api_as: Any, world: World, route: str
) -> None:
    # given the list with a few rows of each kind, read one row a page (or whole, unpaged)
    admin = api_as("admin")
    path, _row = fill(admin, route)
    person = int(path.split("/")[2]) if route.startswith("/persons/{") else world_person(world)
    grow_everything(world, "admin", person, 2)
    paged = "limit" in params_of(route)
    before, body = count(admin, path, **({"limit": 1} if paged else {}))
    shown = len(rows_of(body))
    assert shown, f"{route} is empty: a count without rows proves nothing"
    assert not paged or body["count"] > 1, f"{route}: one row fills no page"

    # when every list has GROWTH more rows and the page holds GROWTH of them (both pages
    # full: a short page spares the paginator its count query)
    grow_everything(world, "admin", person, GROWTH)
    after, body = count(admin, path, **({"limit": GROWTH} if paged else {}))

    # then the response has many more rows and the same number of queries
    assert len(rows_of(body)) >= shown + 10, f"{route} did not grow: {len(rows_of(body))} rows"
    assert after == before, f"{route}: {before} queries for {shown} rows, {after} for many"


@pytest.mark.parametrize("route", DETAIL_ROUTES)
def test_detail_costs_the_same_whatever_its_children(api_as: Any, world: World, route: str) -> None:
    from django.apps import apps

    # given a detail read as the administrator (the first resident with a few tags)
    admin = api_as("admin")
    grow_everything(world, "admin", first_row(admin, "/persons")["id"], 2)
    path, row = fill(admin, route)
    model = apps.get_model(DETAIL_MODELS[route])
    assert row is not None
    name = route.rsplit("{", 1)[1].rstrip("}")
    lookup = "pk" if name.endswith("_id") else name
    obj = model.objects.get(**{lookup: key_of(row, name)})
    before, _body = count(admin, path)

    # when each kind of its children has GROWTH more rows
    grown = grow_holders(obj) if isinstance(obj, Tag) else grow_children(obj)

    # then it costs the same
    after, _body = count(admin, path)
    assert grown or route in LEAVES, f"{route}: no children grew, declare it a leaf"
    assert after == before, f"{route}: {before} queries, {after} after {grown} grew"


def test_household_list_counts_the_members_of_its_page_only(api_as: Any) -> None:
    # A join with GROUP BY counted the members of every household in scope before the
    # page was cut: 1.2 s for the county's households, for a page of 50.
    from jiayuan.people.models import Person

    admin = api_as("admin")
    with CaptureQueriesContext(connection) as ctx:
        response = admin.get("/households", limit=5)
    assert response.status_code == 200
    grouped = 'GROUP BY "people_household"."id"'
    assert not [q["sql"] for q in ctx.captured_queries if grouped in q["sql"]]
    for item in response.json()["items"]:
        assert item["member_count"] == Person.objects.filter(household_id=item["id"]).count()
