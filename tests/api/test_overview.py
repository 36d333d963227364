"""``GET /api/v1/overview``: counts under the user's scope, recomputed from the ORM."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Q
from django.utils import timezone

from jiayuan.core.roles import Role
from jiayuan.org.models import Area, Dwelling, PartyOrganization
from jiayuan.people.models import CentralHousehold, Force, Household, Person, Position

from .conftest import membership_area
from .mixins import assert_error

THREE_HEADS = ("zone_head", "building_head", "unit_head")
ZERO = dict.fromkeys(
    (
        "streets",
        "communities",
        "party_branches",
        "grids",
        "central_households",
        "three_heads",
        "forces",
        "residents",
        "households",
        "dwellings",
        "party_members",
    ),
    0,
)


def expected_counts(path: str) -> dict[str, int]:
    """The overview of everything under ``path``, counted without ``visible_to``."""
    today = timezone.localdate()
    under = Q(area_path__startswith=path)
    living = Person.objects.filter(under, death_date__isnull=True)
    held = (Q(start__isnull=True) | Q(start__lte=today)) & (Q(end__isnull=True) | Q(end__gte=today))
    return {
        "streets": Area.objects.filter(kind="street", path__startswith=path).count(),
        "communities": Area.objects.filter(kind="community", path__startswith=path).count(),
        "party_branches": PartyOrganization.objects.filter(under, kind="branch").count(),
        "grids": Area.objects.filter(kind="grid", path__startswith=path).count(),
        "central_households": CentralHousehold.objects.filter(under).count(),
        "three_heads": Position.objects.filter(under, held, role__in=THREE_HEADS).count(),
        "forces": Force.objects.filter(under).count(),
        "residents": living.count(),
        "households": Household.objects.filter(under).count(),
        "dwellings": Dwelling.objects.filter(under).count(),
        "party_members": living.filter(
            political_status__in=["party_member", "probationary"]
        ).count(),
    }


@pytest.mark.parametrize(
    ("username", "role"),
    [
        ("admin", Role.COUNTY_ADMIN),
        ("street", Role.STREET_LEADER),
        ("community", Role.COMMUNITY_STAFF),
        ("branch", Role.BRANCH_SECRETARY),
        ("grid", Role.GRID_WORKER),
    ],
)
def test_overview_counts_what_lies_under_the_users_node(
    api_as: Any, username: str, role: str
) -> None:
    area = membership_area(username, role)
    response = api_as(username).get("/overview")
    assert response.status_code == 200, response.content
    # people's own keys here; the keys apps register are in tests/community/test_overview
    assert {k: response.json()[k] for k in ZERO} == expected_counts(area.path)


def test_tiny_county_figures_and_the_nesting_of_scopes(api_as: Any) -> None:
    admin = api_as("admin").get("/overview").json()
    community = api_as("community").get("/overview").json()
    grid = api_as("grid").get("/overview").json()
    assert (admin["streets"], admin["communities"]) == (1, 2)
    assert admin["residents"] == Person.objects.filter(death_date__isnull=True).count() > 0
    assert (community["streets"], community["communities"]) == (0, 1)
    assert (grid["communities"], grid["grids"]) == (0, 1)
    for key in ZERO:
        assert admin[key] >= community[key] >= grid[key], key
    assert community["residents"] > grid["residents"] > 0


def test_resident_and_anonymous(api_as: Any) -> None:
    resident = api_as("resident").get("/overview").json()
    assert resident == dict.fromkeys(resident, 0)
    assert set(ZERO) <= set(resident)
    assert_error(api_as(None).get("/overview"), 401, "unauthorized")


def test_overview_is_a_handful_of_queries(api_as: Any, django_assert_max_num_queries: Any) -> None:
    admin = api_as("admin")
    with django_assert_max_num_queries(12):
        assert admin.get("/overview").status_code == 200
