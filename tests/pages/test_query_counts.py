"""Query-count guards: pages cost a fixed number of queries, whatever the data size."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.test import Client

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
    with django_assert_max_num_queries(22):
        assert client.get("/").status_code == 200
