"""Query-count guards on API lists (NetBox ``utilities/testing/query_counts.py``): the
number of queries must not grow with the page size."""

from __future__ import annotations

from typing import Any

import pytest

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
