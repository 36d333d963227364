"""The overview's census (one grouped read of the living residents per request) gives the
same totals, age bands and per-child counts as counting each of them on its own, and is
never reused outside the request that read it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jiayuan.core.context import acting
from jiayuan.core.rules.age import years_before
from jiayuan.org.models import Area, Membership
from jiayuan.people import overview
from jiayuan.people.area_views import child_counts
from jiayuan.people.choices import PARTY
from jiayuan.people.models import Person


def by_band(persons: Any, today: dt.date) -> list[dict[str, Any]]:
    """The age structure as it was counted before the census: a filtered count per band."""
    aggregates = {}
    for i, (_, low, high) in enumerate(overview.AGE_BANDS):
        cond = Q(birth_date__lte=years_before(today, low))
        if high is not None:
            cond &= Q(birth_date__gt=years_before(today, high + 1))
        aggregates[f"b{i}"] = Count("pk", filter=cond)
    row = persons.aggregate(**aggregates)
    return [
        {"label": label, "count": row[f"b{i}"]} for i, (label, *_) in enumerate(overview.AGE_BANDS)
    ]


def user(name: str) -> Any:
    return get_user_model().objects.get(username=name)


def odd_residents() -> None:
    """Rows at the edges of the bands: no birth date, born today, turning 18 and 80 today
    and tomorrow, born in the future (a typo), and a dead party member."""
    grid = Area.objects.filter(kind="grid").order_by("path").first()
    assert grid is not None
    today = timezone.localdate()
    births = [
        None,
        today,
        today + dt.timedelta(days=3),
        years_before(today, 18),
        years_before(today, 18) + dt.timedelta(days=1),
        years_before(today, 80),
        years_before(today, 80) + dt.timedelta(days=1),
    ]
    for i, born in enumerate(births):
        Person.objects.create(
            name=f"边界{i}", area=grid, birth_date=born, political_status="party_member"
        )
    Person.objects.create(
        name="已故", area=grid, birth_date=dt.date(1950, 1, 1), death_date=today,
        political_status="party_member",
    )  # fmt: skip


@pytest.mark.parametrize("name", ["admin", "street", "community", "grid", "resident"])
def test_census_equals_counting_each_part(db: Any, name: str) -> None:
    # given residents at the edges of every band, and a user of each level
    odd_residents()
    who = user(name)
    today = timezone.localdate()
    living = Person.objects.visible_to(who).filter(death_date__isnull=True)
    areas = Area.objects.visible_to(who).filter(kind__in=["street", "community", "grid"])
    unders = ["", *areas.order_by("path").values_list("path", flat=True)[:4]]

    for under in unders:
        # when the overview counts under an area of the scope
        values = overview.counts(who, under)
        ages = overview.age_structure(who, under, today)

        # then each figure is what a query of its own counts
        persons = living.filter(area_path__startswith=under)
        assert values["residents"] == persons.count(), under
        assert values["party_members"] == persons.filter(political_status__in=PARTY).count()
        assert ages == by_band(persons, today), under


@pytest.mark.parametrize("kind", ["county", "street", "community", "grid"])
def test_children_counts_from_the_census_equal_their_own_counts(db: Any, kind: str) -> None:
    odd_residents()
    admin = user("admin")
    area = Area.objects.filter(kind=kind).order_by("path").first()
    assert area is not None
    children = list(Area.objects.filter(parent=area).order_by("code"))
    assert children
    with acting("web"):  # inside a request, reusing the census of the whole scope
        overview.age_structure(admin)
        counted = child_counts(admin, children, ["residents", "party_members"], under=area.path)
    for child in children:
        living = Person.objects.filter(area_path__startswith=child.path, death_date=None)
        assert counted[child.pk] == {
            "residents": living.count(),
            "party_members": living.filter(political_status__in=PARTY).count(),
        }, child


def person_reads(queries: list[dict[str, Any]]) -> list[str]:
    """The queries counting living residents."""
    return [
        q["sql"]
        for q in queries
        if 'FROM "people_person"' in q["sql"]
        and "COUNT(" in q["sql"]
        and '"people_person"."death_date" IS NULL' in q["sql"]
    ]


def test_a_request_groups_the_scope_once(db: Any) -> None:
    # given the county's children table, as the home page of a county with several
    # streets shows it (the tiny county has one street: its home descends to it)
    admin = user("admin")
    county = Area.objects.get(kind="county")
    streets = list(Area.objects.filter(parent=county))
    with acting("web"), CaptureQueriesContext(connection) as ctx:
        # when the page reads the children's counts, the totals and the age structure
        child_counts(admin, streets, ["residents", "grids"], under=county.path)
        overview.counts(admin)
        overview.age_structure(admin)
    # then the residents are read once, grouped
    reads = person_reads(ctx.captured_queries)
    assert len(reads) == 1
    assert "GROUP BY" in reads[0]


def test_an_area_page_groups_the_residents_once(client: Any, db: Any) -> None:
    client.force_login(user("admin"))
    street = Area.objects.filter(kind="street").order_by("path").first()
    assert street is not None
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(f"/areas/{street.pk}/")
    assert response.status_code == 200
    reads = person_reads(ctx.captured_queries)
    assert len(reads) <= 2
    assert sum("GROUP BY" in sql for sql in reads) == 1


def test_outside_a_request_every_count_is_fresh(db: Any) -> None:
    admin = user("admin")
    grid = Area.objects.filter(kind="grid").order_by("path").first()
    assert grid is not None
    before = overview.counts(admin)["residents"]
    Person.objects.create(name="新居民", area=grid, birth_date=dt.date(1990, 5, 1))
    assert overview.counts(admin)["residents"] == before + 1
    living = Person.objects.filter(death_date=None)
    assert overview.age_structure(admin) == by_band(living, timezone.localdate())


def test_a_census_is_not_kept_from_one_request_to_the_next(client: Any, db: Any) -> None:
    # given the overview read once by the API
    client.force_login(user("admin"))
    first = client.get("/api/v1/overview").json()["residents"]
    grid = Area.objects.filter(kind="grid").order_by("path").first()
    assert grid is not None
    Person.objects.create(name="新居民", area=grid, birth_date=dt.date(1990, 5, 1))
    # when it is read again, even with the same request id
    again = client.get("/api/v1/overview", headers={"X-Request-ID": "same"}).json()
    third = client.get("/api/v1/overview", headers={"X-Request-ID": "same"}).json()
    # then the new resident is counted
    assert again["residents"] == first + 1 == third["residents"]


def test_a_census_is_not_shared_between_users(db: Any) -> None:
    # within one request, a grid worker's census is not the county administrator's
    admin, grid_worker = user("admin"), user("grid")
    path = Membership.objects.filter(user=grid_worker, active=True).values_list(
        "area_path", flat=True
    )[0]
    with acting("web"):
        overview.age_structure(admin)  # the county's census, kept for the request
        everyone = overview.counts(admin)["residents"]
        overview.age_structure(grid_worker)
        theirs = overview.counts(grid_worker)["residents"]
    assert theirs == Person.objects.filter(area_path__startswith=path, death_date=None).count()
    assert theirs < everyone
