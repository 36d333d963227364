"""Resident search on pages: inside the user's scope only, numbers by POST only."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.test import Client

from jiayuan.people.models import Person

from .conftest import Places

ClientFor = Callable[[str | None], Client]


def found(response: object) -> set[int]:
    page = response.content.decode()  # type: ignore[attr-defined]
    if 'data-testid="results"' not in page:
        return set()
    results = page.split('data-testid="results"')[1]
    return {int(pk) for pk in re.findall(r'href="/persons/(\d+)/"', results)}


def shared_surname(places: Places) -> str:
    """A surname held both inside the grid and in another grid."""
    inside = {
        n[0]
        for n in Person.objects.filter(area_path__startswith=places.grid.path).values_list(
            "name", flat=True
        )
    }
    for name in Person.objects.exclude(area_path__startswith=places.grid.path).values_list(
        "name", flat=True
    ):
        if name[0] in inside:
            return name[0]
    raise AssertionError("no surname shared between grids in the demo county")


def test_grid_worker_never_finds_other_grids(as_user: ClientFor, places: Places) -> None:
    surname = shared_surname(places)
    everyone = Person.objects.filter(name__contains=surname)
    inside = set(
        everyone.filter(area_path__startswith=places.grid.path).values_list("pk", flat=True)
    )
    assert everyone.exclude(pk__in=inside).exists()

    response = as_user("grid").post("/search/", {"q": surname})

    assert response.status_code == 200
    assert found(response) == inside


def test_exact_id_search_inside_and_outside_scope(as_user: ClientFor, places: Places) -> None:
    client = as_user("grid")

    own = client.post("/search/", {"q": places.person.reveal_id_number()})
    other = client.post("/search/", {"q": places.other_person.reveal_id_number()})

    assert found(own) == {places.person.pk}
    assert found(other) == set()
    assert places.other_person.id_number_masked not in other.content.decode()


def test_exact_phone_search_shows_masked_values(as_user: ClientFor, places: Places) -> None:
    person = places.person

    response = as_user("grid").post("/search/", {"q": person.reveal_phone()})

    assert person.pk in found(response)
    page = response.content.decode()
    assert person.id_number_masked in page
    assert person.reveal_id_number() not in page
    # The query itself is echoed in the search box only, never anywhere else.
    assert page.count(person.reveal_phone()) == 1


def test_community_search_covers_the_community_only(as_user: ClientFor, places: Places) -> None:
    client = as_user("community")

    assert found(client.post("/search/", {"q": places.other_person.reveal_id_number()})) == {
        places.other_person.pk
    }
    assert found(client.post("/search/", {"q": places.next_person.reveal_id_number()})) == set()


def test_search_forms_post_so_numbers_stay_out_of_urls(as_user: ClientFor) -> None:
    page = as_user("grid").get("/search/").content.decode()

    forms = re.findall(r'<form[^>]*action="/search/"[^>]*>', page)
    assert len(forms) == 2  # the navigation box and the page's form
    assert all('method="post"' in f for f in forms)


def test_numbers_in_a_url_are_not_searched(as_user: ClientFor, places: Places) -> None:
    number = places.person.reveal_id_number()

    response = as_user("grid").get("/search/", {"q": number})

    assert found(response) == set()
    assert "请在搜索框中输入" in response.content.decode()
    assert number not in response.content.decode()


def test_a_name_link_still_searches(as_user: ClientFor, places: Places) -> None:
    response = as_user("grid").get("/search/", {"q": places.person.name})

    assert places.person.pk in found(response)
