"""Fixtures of the API tests: clients logged in as the demo accounts, and the places of
the tiny demo county the scope matrix is about (the ``grid`` user's grid, another grid of
the same community, that community, and the next community)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from jiayuan.core.roles import Role
from jiayuan.org.models import Area, Membership

BASE = "/api/v1"


class Api:
    """A thin JSON client for ``/api/v1``."""

    def __init__(self, client: Client, headers: dict[str, str] | None = None) -> None:
        self.client = client
        self.headers = headers or {}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(BASE + path, params, headers=self.headers)

    def post(self, path: str, data: Any = None) -> Any:
        return self._send("post", path, data)

    def patch(self, path: str, data: Any = None) -> Any:
        return self._send("patch", path, data)

    def delete(self, path: str) -> Any:
        return self.client.delete(BASE + path, headers=self.headers)

    def _send(self, method: str, path: str, data: Any) -> Any:
        send = getattr(self.client, method)
        body = json.dumps(data if data is not None else {}, ensure_ascii=False)
        return send(BASE + path, body, content_type="application/json", headers=self.headers)


@pytest.fixture(autouse=True)
def _db(db: Any) -> None:
    """Every API test reads the seeded world."""


@pytest.fixture
def api_as() -> Callable[[str | None], Api]:
    """``api_as("grid")``: a client logged in (session) as a demo account; ``None`` is
    anonymous."""

    def make(username: str | None) -> Api:
        client = Client()
        if username is not None:
            client.force_login(get_user_model().objects.get(username=username))
        return Api(client)

    return make


@dataclass(frozen=True)
class World:
    grid: Area  # the ``grid`` user's grid
    other_grid: Area  # another grid of the same community
    community: Area  # the ``community`` user's community (holds ``grid``)
    next_community: Area  # another community
    county: Area


def membership_area(username: str, role: str) -> Area:
    return Membership.objects.select_related("area").get(user__username=username, role=role).area


@pytest.fixture
def world() -> World:
    grid = membership_area("grid", Role.GRID_WORKER)
    community = membership_area("community", Role.COMMUNITY_STAFF)
    assert grid.path.startswith(community.path)
    other_grid = (
        Area.objects.filter(kind="grid", path__startswith=community.path)
        .exclude(pk=grid.pk)
        .order_by("path")
        .first()
    )
    assert other_grid is not None, "the tiny county has two grids in the first community"
    next_community = (
        Area.objects.filter(kind="community").exclude(pk=community.pk).order_by("path").first()
    )
    assert next_community is not None
    county = Area.objects.get(kind="county")
    return World(grid, other_grid, community, next_community, county)
