"""The scope matrix of the pages: a grid worker sees their grid and nothing beside it; a
community worker their whole community and nothing of the next. Outside is 404."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.test import Client

from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area
from jiayuan.people.models import Person

from .conftest import Places

ClientFor = Callable[[str | None], Client]


def person_links(page: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'href="/persons/(\d+)/"', page)}


def area_links(page: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'href="/areas/(\d+)/"', page)}


# (user, place attribute, expected status)
MATRIX = [
    ("grid", "grid", 200),
    ("grid", "other_grid", 404),
    ("grid", "community", 404),
    ("grid", "next_community", 404),
    ("grid", "next_grid", 404),
    ("community", "community", 200),
    ("community", "grid", 200),
    ("community", "other_grid", 200),
    ("community", "next_community", 404),
    ("community", "next_grid", 404),
    ("street", "next_community", 200),
    ("admin", "next_grid", 200),
]


@pytest.mark.parametrize(("username", "place", "status"), MATRIX)
def test_area_pages(
    as_user: ClientFor, places: Places, username: str, place: str, status: int
) -> None:
    area: Area = getattr(places, place)

    response = as_user(username).get(f"/areas/{area.pk}/")

    assert response.status_code == status


PERSON_MATRIX = [
    ("grid", "person", 200),
    ("grid", "other_person", 404),
    ("grid", "next_person", 404),
    ("community", "person", 200),
    ("community", "other_person", 200),
    ("community", "next_person", 404),
    ("branch", "next_person", 404),
    ("head", "other_person", 404),
]


@pytest.mark.parametrize(("username", "who", "status"), PERSON_MATRIX)
def test_person_pages(
    as_user: ClientFor, places: Places, username: str, who: str, status: int
) -> None:
    person: Person = getattr(places, who)

    response = as_user(username).get(f"/persons/{person.pk}/")

    assert response.status_code == status
    if status == 404:
        assert person.name not in response.content.decode()


def test_building_of_another_grid_is_404(as_user: ClientFor, places: Places) -> None:
    building = Area.objects.filter(parent=places.other_grid, kind=AreaKind.BUILDING).first()
    assert building is not None

    assert as_user("grid").get(f"/areas/{building.pk}/").status_code == 404


def test_grid_page_links_stay_inside_the_grid(as_user: ClientFor, places: Places) -> None:
    client = as_user("grid")
    inside = set(
        Person.objects.filter(area_path__startswith=places.grid.path).values_list("pk", flat=True)
    )
    seen: set[int] = set()
    page_no = 1
    while True:
        page = client.get(f"/areas/{places.grid.pk}/?page={page_no}").content.decode()
        seen |= person_links(page)
        if "下一页</a>" not in page:
            break
        page_no += 1

    assert seen and seen <= inside
    living = Person.objects.filter(
        area_path__startswith=places.grid.path, death_date__isnull=True
    ).values_list("pk", flat=True)
    assert set(living) <= seen  # every living resident is listed on some page


def test_home_and_area_links_stay_in_scope(as_user: ClientFor, places: Places) -> None:
    client = as_user("community")
    allowed = set(
        Area.objects.filter(path__startswith=places.community.path).values_list("pk", flat=True)
    )

    for url in ("/", "/areas/", f"/areas/{places.community.pk}/"):
        links = area_links(client.get(url, follow=True).content.decode())
        assert links and links <= allowed, url


def test_community_counts_exclude_the_next_community(as_user: ClientFor, places: Places) -> None:
    page = as_user("community").get("/").content.decode()
    card = re.search(r'data-stat="residents".*?jy-stat-value">(\d+)<', page, re.S)
    assert card is not None

    expected = Person.objects.filter(
        area_path__startswith=places.community.path, death_date__isnull=True
    ).count()
    assert int(card.group(1)) == expected
