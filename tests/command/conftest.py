"""Fixtures of the command app's tests: demo accounts, API/page clients and helpers to
put forces on duty at chosen points."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from jiayuan.command import duty
from jiayuan.people.models import Force

BASE = "/api/v1"
User = get_user_model()
NOW = dt.datetime(2026, 3, 4, 10, 0, tzinfo=dt.UTC)  # a Wednesday, 18:00 in Beijing


class Api:
    def __init__(self, client: Client) -> None:
        self.client = client

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(BASE + path, params)

    def post(self, path: str, data: Any = None) -> Any:
        body = data if isinstance(data, str | bytes) else json.dumps(data or {}, ensure_ascii=False)
        return self.client.post(BASE + path, body, content_type="application/json")


@pytest.fixture
def users(db: Any) -> dict[str, Any]:
    return {u.username: u for u in User.objects.all()}


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def api_as(users: dict[str, Any]) -> Any:
    def make(who: Any) -> Api:
        return Api(login(users[who] if isinstance(who, str) else who))

    return make


@pytest.fixture
def page_as(users: dict[str, Any]) -> Any:
    def make(who: Any) -> Client:
        return login(users[who] if isinstance(who, str) else who)

    return make


def on_duty(force: Force, lat: float, lng: float, now: dt.datetime = NOW) -> Force:
    duty.go_on_duty(force, actor=None, lat=lat, lng=lng, now=now)
    return force


def living_forces(path: str) -> Any:
    return (
        Force.objects.filter(area_path__startswith=path, person__death_date__isnull=True)
        .select_related("person", "area")
        .order_by("pk")
    )


COMMUNITY = "370830/001/001/"  # the ``community`` account's community
OTHER_COMMUNITY = "370830/001/002/"
GRID = "370830/001/001/01/01/"  # the ``grid`` account's grid
POINT = (35.7475, 116.46539)  # the centre of the first compound (in COMMUNITY)


def at(dlat: float) -> tuple[float, float]:
    """A point ``dlat`` degrees north of :data:`POINT` (0.001° ≈ 111 m)."""
    return (POINT[0] + dlat, POINT[1])
