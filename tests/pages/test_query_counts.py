"""Query-count guards: pages cost a fixed number of queries, whatever the data size."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import Resolver404, resolve

from jiayuan.org.models import Area
from jiayuan.people.models import Person

from .conftest import Places

ClientFor = Callable[[str | None], Client]


def test_grid_page(as_user: ClientFor, places: Places, django_assert_max_num_queries: Any) -> None:
    client = as_user("grid")
    client.get("/")  # warm the session

    # 25 residents with their tags, addresses and households, every building, unit and
    # dwelling, positions, central households and forces: a fixed number of queries.
    with django_assert_max_num_queries(30):
        response = client.get(f"/areas/{places.grid.pk}/")
    assert response.status_code == 200


def test_person_page(
    as_user: ClientFor, places: Places, django_assert_max_num_queries: Any
) -> None:
    client = as_user("community")

    with django_assert_max_num_queries(20):
        response = client.get(f"/persons/{places.person.pk}/")
    assert response.status_code == 200


def test_community_page_and_home(
    as_user: ClientFor, places: Places, django_assert_max_num_queries: Any
) -> None:
    client = as_user("community")

    with django_assert_max_num_queries(22):
        assert client.get(f"/areas/{places.community.pk}/").status_code == 200
    # the desk: its work sections (one query each) above the same counts
    with django_assert_max_num_queries(DESK_LIMITS["community"]):
        assert client.get("/").status_code == 200


# --- every page of the menu, before and after the data grows ---------------------------
# NetBox's query-count guard: a page's query count is a property of its code, not of the
# rows it shows. Each page of each role's menu (and the first detail page of each kind it
# links to) is counted once every list those pages show has at least one row of its own
# in the ``grid`` user's grid (an empty list skips its prefetch queries), then again
# after those lists have grown by GROWTH rows; the two counts must be equal.

GROWTH = 30
_CLONES = itertools.count()
HREF = re.compile(r"""<a\b[^>]*\bhref="(/[^"#]*)\"""", re.IGNORECASE)
# Links that are actions, audited reveals or downloads, not pages to browse.
NOT_PAGES = ("act", "reveal", "visit", "read", "open", "photo", "export")


def clone_rows(rows: QuerySet[Any], n: int, **overrides: Callable[[int], Any] | Any) -> list[Any]:
    """``n`` copies of ``rows`` (cycling through them), written with ``bulk_create``.

    Unique character fields get a suffix, unique nullable fields are left empty; an
    override is a value or a function of the copy's index (a new person for a cloned
    match, so "one open match per person" still holds).
    """
    model = rows.model
    sources = list(rows[:n])
    assert sources, f"nothing to clone: no {model.__name__} rows"
    unique = {f.attname for f in model._meta.concrete_fields if f.unique and not f.primary_key}
    copies = []
    for i in range(n):
        copy = model._default_manager.get(pk=sources[i % len(sources)].pk)
        copy.pk = None
        copy._state.adding = True
        for f in model._meta.concrete_fields:
            value = getattr(copy, f.attname)
            if f.attname not in unique or value is None:
                continue
            if f.null:
                setattr(copy, f.attname, None)
            else:
                suffix = f"q{next(_CLONES):05d}"
                setattr(copy, f.attname, f"{str(value)[: f.max_length - len(suffix)]}{suffix}")
        for name, value in overrides.items():
            setattr(copy, name, value(i) if callable(value) else value)
        copies.append(copy)
    return model._default_manager.bulk_create(copies)


def grow_grid(grid: Area, n: int = GROWTH, username: str = "grid") -> None:
    """``n`` more residents (with their tags), cases, devices, open alarms, open policy
    matches and notifications in ``grid``: every list a page shows grows."""
    from django.contrib.auth import get_user_model

    from jiayuan.cases.models import Case
    from jiayuan.core.models import Notification
    from jiayuan.iot.models import Alarm, Device
    from jiayuan.people.models import PersonTag
    from jiayuan.policies.models import Match

    under = {"area_path__startswith": grid.path}
    persons = clone_rows(Person.objects.filter(**under, death_date__isnull=True).order_by("pk"), n)
    clone_rows(
        PersonTag.objects.filter(person__area_path__startswith=grid.path).order_by("pk"),
        n,
        person=lambda i: persons[i],
    )
    clone_rows(Case.objects.filter(**under).order_by("-pk"), n)
    devices = clone_rows(Device.objects.filter(**under).order_by("pk"), n)
    alarms = Alarm.objects.filter(**under) if Alarm.objects.filter(**under).exists() else None
    clone_rows(
        (alarms or Alarm.objects.all()).order_by("pk"),
        n,
        device_id=lambda i: devices[i].pk,
        area_path=lambda i: devices[i].area_path,
    )
    clone_rows(
        Match.objects.order_by("pk"),
        n,
        person_id=lambda i: persons[i].pk,
        area_path=lambda i: persons[i].area_path,
    )
    user = get_user_model().objects.get(username=username)
    notes = Notification.objects.filter(user=user)
    clone_rows(notes if notes.exists() else Notification.objects.all(), n, user=user)


def menu_pages(client: Client) -> list[str]:
    """The home page, every page of its navigation menu (an index that redirects counts
    as the page it lands on) and the first detail page of each kind they link to, two
    levels deep (an area page links to its residents)."""
    home = client.get("/").content.decode()
    header = home.partition("<header")[2].partition("</header>")[0]
    level = ["/"] + [
        h
        for h in dict.fromkeys(HREF.findall(header))
        if h != "/" and not h.startswith(("/logout", "/i18n/", "/static/", "/admin/"))
    ]
    level.append("/search/?q=" + "张")  # the search page, searched (names travel by link)
    pages: list[str] = []
    kinds: set[str] = set()
    for _depth in range(3):
        found = []
        for url in level:
            response = client.get(url)
            if response.status_code == 302:
                url = response["Location"]
                response = client.get(url)
            if response.status_code != 200 or url in pages:
                continue
            pages.append(url)
            for href in HREF.findall(response.content.decode().partition("</header>")[2]):
                href = href.replace("&amp;", "&")
                try:
                    match = resolve(href.split("?")[0])
                except Resolver404:
                    continue
                if not match.kwargs or match.view_name in kinds:
                    continue
                if any(word in match.view_name for word in NOT_PAGES):
                    continue
                kinds.add(match.view_name)
                found.append(href)
        level = found
    return pages


def query_counts(client: Client, urls: list[str]) -> dict[str, int]:
    counts = {}
    for url in urls:
        client.get(url)  # caches (calendar, catalogue) warm up once per process
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200, url
        counts[url] = len(ctx.captured_queries)
    return counts


@pytest.mark.parametrize("username", ["grid", "community", "admin"])
def test_menu_pages_cost_the_same_after_the_data_grows(
    as_user: ClientFor, places: Places, username: str
) -> None:
    # given every page of the user's menu and one detail page of each kind
    client = as_user(username)
    grow_grid(places.grid, 1)
    pages = menu_pages(client)
    assert {"/", "/cases/", "/iot/alarms/", "/iot/devices/", "/policies/visits/"} <= set(pages)
    assert any(url.startswith("/persons/") for url in pages), pages
    assert len(pages) >= 15, pages
    before = query_counts(client, pages)

    # when every list those pages show has grown in the grid
    grow_grid(places.grid)

    # then no page runs one more query
    after = query_counts(client, pages)
    grown = {url: (before[url], after[url]) for url in pages if after[url] != before[url]}
    assert not grown, f"query counts grew with the rows (before, after): {grown}"


def test_grow_grid_grows_what_the_pages_list(as_user: ClientFor, places: Places) -> None:
    # The guard above is only as good as its growth: the grid's lists really are longer.
    from jiayuan.cases.models import Case
    from jiayuan.iot.models import Alarm, Device
    from jiayuan.policies.models import Match

    under = {"area_path__startswith": places.grid.path}
    models = (Person, Case, Device, Alarm, Match)
    before = {m: m.objects.filter(**under).count() for m in models}
    grow_grid(places.grid)
    for model in models:
        assert model.objects.filter(**under).count() >= before[model] + GROWTH, model


@pytest.mark.parametrize("username", ["community", "admin"])
def test_policy_rule_count_costs_the_same_after_the_data_grows(
    as_user: ClientFor, places: Places, username: str
) -> None:
    # The rule editor's count (loaded by htmx after the page): one COUNT in the user's
    # scope, whatever the number of persons it counts.
    from django.urls import reverse

    from jiayuan.policies.models import Policy

    code = Policy.objects.filter(enabled=True).order_by("code").values_list("code", flat=True)[0]
    client = as_user(username)
    url = reverse("policies:rule_count", args=[code])
    grow_grid(places.grid, 1)
    before = query_counts(client, [url])[url]
    grow_grid(places.grid)
    assert query_counts(client, [url])[url] == before


@pytest.mark.parametrize("username", ["grid", "admin"])
def test_review_pages_cost_the_same_after_the_pairs_grow(
    as_user: ClientFor, places: Places, username: str
) -> None:
    # The data hub's review queue and one pair (待核对记录): pairs held for review in the
    # grid, one and then GROWTH more; the pages count the same queries.
    from jiayuan.datahub.models import ImportRun, ReviewPair, Source, Stream

    source = Source.objects.create(code="qc-huji", name="户籍", agency="公安", kind="csv")
    run = ImportRun.objects.create(stream=Stream.objects.create(source=source, name="p"))
    residents = list(Person.objects.filter(area_path__startswith=places.grid.path)[: GROWTH + 1])

    def hold(persons: list[Person]) -> list[ReviewPair]:
        return ReviewPair.objects.bulk_create(
            ReviewPair(
                run=run,
                line=i + 2,
                incoming={"name": p.name},
                person=p,
                area_path=p.area_path,
                score=0.8,
                details={},
            )
            for i, p in enumerate(persons)
        )

    first = hold(residents[:1])[0]
    client = as_user(username)
    urls = ["/hub/reviews/", f"/hub/reviews/{first.pk}/"]
    before = query_counts(client, urls)
    hold(residents[1:])
    assert query_counts(client, urls) == before


@pytest.mark.parametrize("username", ["street", "community"])
def test_screen_costs_the_same_after_the_data_grows(
    as_user: ClientFor, places: Places, username: str
) -> None:
    # The one screen (/command/screen/<area_id>/, the root redirects to it): its panels
    # are grouped counts, so the same queries for a grid of 25 residents and of 55.
    client = as_user(username)
    grow_grid(places.grid, 1)
    url = client.get("/command/screen/")["Location"]
    before = query_counts(client, [url])[url]
    grow_grid(places.grid)
    assert query_counts(client, [url])[url] == before


# --- the desk (工作台) at "/", per role -----------------------------------------------------------
# A desk section reads its first rows and its total in one query, so each role's "/" costs
# a fixed number: the desk's sections, then (staff only) the counts of the scope.
DESK_LIMITS = {
    "admin": 32,
    "street": 32,
    "community": 32,
    "grid": 32,
    "branch": 28,
    "head": 28,
    "resident": 12,
}


def grow_desk(places: Places, n: int = GROWTH) -> None:
    """Every list of every desk grows: the grid's rows (grow_grid), then open cases in
    each inbox and level (some overdue, some reported by the ``resident``), unacknowledged
    alarms at each escalation level and collected wishes in the ``branch``'s compound."""
    import datetime as dt

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from jiayuan.cases.models import Case
    from jiayuan.community.models import Wish
    from jiayuan.iot.models import Alarm

    grow_grid(places.grid, n)
    users = get_user_model().objects.in_bulk(["grid", "resident", "branch"], field_name="username")
    resident = Person.objects.get(user=users["resident"])
    statuses = ["dispatched", "received", "handled", "replied", "in_progress"]
    levels = ["grid", "community", "street", "department"]
    late = timezone.now() - dt.timedelta(days=2)
    clone_rows(
        Case.objects.filter(area_path__startswith=places.grid.path).order_by("pk"),
        n,
        status=lambda i: statuses[i % len(statuses)],
        level=lambda i: levels[i % len(levels)],
        handler_user_id=users["grid"].pk,
        reporter_id=lambda i: resident.pk if i % 2 else None,
        stage_due_at=lambda i: late if i % 3 == 0 else timezone.now() + dt.timedelta(days=1),
        closed_at=None,
    )
    alarms = Alarm.objects.filter(area_path__startswith=places.grid.path).order_by("-pk")[:n]
    Alarm.objects.filter(pk__in=[a.pk for a in alarms]).update(status="active")
    for level in (1, 2):
        Alarm.objects.filter(pk__in=[a.pk for a in alarms][level::3]).update(escalation_level=level)
    compound = users["branch"].memberships.get().area
    clone_rows(
        Wish.objects.order_by("pk"),
        n,
        status="collected",
        area_id=compound.pk,
        area_path=compound.path,
    )


@pytest.mark.parametrize("username", list(DESK_LIMITS))
def test_each_roles_desk_costs_the_same_after_the_data_grows(
    as_user: ClientFor, places: Places, username: str
) -> None:
    # given every desk section of the role with rows of its own
    client = as_user(username)
    grow_desk(places, 1)
    before = query_counts(client, ["/"])["/"]

    # when every one of them has grown
    grow_desk(places)

    # then "/" runs the same queries, and no more than the role's bound
    assert query_counts(client, ["/"])["/"] == before
    assert before <= DESK_LIMITS[username]


# --- the phone's order queue (接单) and the duty page that counts it -----------------------
def test_phone_orders_cost_the_same_after_the_orders_grow(
    as_user: ClientFor, places: Places
) -> None:
    # /m/orders/ lists the grid worker's waiting and in-progress cases; /m/duty/ counts the
    # waiting ones: the same queries for 3 orders and for 33.
    from django.contrib.auth import get_user_model

    from jiayuan.cases.models import Case

    worker = get_user_model().objects.get(username="grid")
    statuses = ("dispatched", "accepted", "in_progress")

    def grow(n: int) -> None:
        clone_rows(
            Case.objects.filter(area_path__startswith=places.grid.path).order_by("pk"),
            n,
            status=lambda i: statuses[i % len(statuses)],
            handler_user_id=worker.pk,
            closed_at=None,
        )

    client = as_user("grid")
    grow(3)
    urls = ["/m/orders/", "/m/duty/"]
    before = query_counts(client, urls)
    grow(GROWTH)
    assert query_counts(client, urls) == before
