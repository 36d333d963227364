"""Fixtures of the page tests: Django test clients logged in as the demo accounts, and
the places of the tiny demo county the scope matrix is about."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from jiayuan.core.roles import Role
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area, Membership
from jiayuan.people.models import Person


@pytest.fixture(autouse=True)
def _db(db: Any) -> None:
    """Every page test reads the seeded world (rolled back after each test)."""


@pytest.fixture
def as_user() -> Callable[[str | None], Client]:
    """``as_user("grid")``: a test client logged in as a demo account; ``None`` is
    anonymous."""

    def make(username: str | None) -> Client:
        client = Client()
        if username is not None:
            client.force_login(get_user_model().objects.get(username=username))
        return client

    return make


@dataclass(frozen=True)
class Places:
    grid: Area  # the ``grid`` user's grid
    other_grid: Area  # another grid of the same community
    community: Area  # the ``community`` user's community (holds ``grid``)
    next_community: Area  # the other community
    next_grid: Area  # a grid of the other community
    person: Person  # someone living in ``grid``, with an ID number and a phone
    other_person: Person  # someone living in ``other_grid``
    next_person: Person  # someone living in ``next_community``


def membership_area(username: str, role: str) -> Area:
    return Membership.objects.select_related("area").get(user__username=username, role=role).area


def resident_of(area: Area) -> Person:
    return (
        Person.objects.filter(area_path__startswith=area.path, death_date__isnull=True)
        .exclude(id_number_enc="")
        .exclude(phone_enc="")
        .order_by("pk")
        .first()
    )  # type: ignore[return-value]


@pytest.fixture
def places() -> Places:
    grid = membership_area("grid", Role.GRID_WORKER)
    community = membership_area("community", Role.COMMUNITY_STAFF)
    assert grid.path.startswith(community.path)
    other_grid = (
        Area.objects.filter(kind=AreaKind.GRID, path__startswith=community.path)
        .exclude(pk=grid.pk)
        .order_by("path")
        .first()
    )
    next_community = (
        Area.objects.filter(kind=AreaKind.COMMUNITY)
        .exclude(pk=community.pk)
        .order_by("path")
        .first()
    )
    assert other_grid is not None and next_community is not None
    next_grid = Area.objects.filter(
        kind=AreaKind.GRID, path__startswith=next_community.path
    ).first()
    assert next_grid is not None
    return Places(
        grid=grid,
        other_grid=other_grid,
        community=community,
        next_community=next_community,
        next_grid=next_grid,
        person=resident_of(grid),
        other_person=resident_of(other_grid),
        next_person=resident_of(next_community),
    )
