"""Shared fixtures of the community services' tests: the demo accounts as users and as
logged-in API clients, the compounds of the tiny demo county the scope matrix is about,
and a private media root for photos. Other parts add their fixtures below."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from PIL import Image

from jiayuan.org.models import Area, Membership
from jiayuan.people.models import Person

BASE = "/api/v1"
User = get_user_model()


class Api:
    """A thin JSON client for ``/api/v1`` logged in as one user."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(BASE + path, params)

    def post(self, path: str, data: Any = None) -> Any:
        body = data if isinstance(data, str | bytes) else json.dumps(data or {}, ensure_ascii=False)
        return self.client.post(BASE + path, body, content_type="application/json")

    def upload(self, path: str, files: dict[str, Any], **fields: Any) -> Any:
        return self.client.post(BASE + path, {**files, **fields})


@pytest.fixture
def users(db: Any) -> dict[str, Any]:
    """The demo accounts by username (admin, street, community, grid, branch, head,
    resident)."""
    return {u.username: u for u in User.objects.all()}


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def api_as(users: dict[str, Any]) -> Any:
    """``api_as("grid")`` or ``api_as(user)``: an API client logged in as that user."""

    def make(who: Any) -> Api:
        return Api(login(users[who] if isinstance(who, str) else who))

    return make


@pytest.fixture
def page_as(users: dict[str, Any]) -> Any:
    """``page_as("grid")`` or ``page_as(user)``: a page client logged in as that user."""

    def make(who: Any) -> Client:
        return login(users[who] if isinstance(who, str) else who)

    return make


@dataclass(frozen=True)
class Compounds:
    home: Area  # the first compound: the ``branch`` user's, the ``resident``'s home
    grid: Area  # the ``grid`` user's grid, inside ``home``
    other_grid: Area | None  # another grid of ``home``
    sibling: Area  # another compound of the same community
    far: Area  # a compound of another community
    resident: Person  # the ``resident`` account's person (lives in ``grid``)
    neighbour: Person  # another living resident of ``grid``
    stranger: Person  # a living resident of ``sibling``


def living_in(area: Area, *exclude: int) -> Person:
    return (
        Person.objects.filter(area_path__startswith=area.path, death_date__isnull=True)
        .exclude(pk__in=exclude)
        .exclude(user__isnull=False)
        .order_by("pk")
        .first()
    )  # type: ignore[return-value]


@pytest.fixture
def compounds(users: dict[str, Any]) -> Compounds:
    home = Membership.objects.get(user=users["branch"], role="branch_secretary").area
    grid = Membership.objects.get(user=users["grid"], role="grid_worker").area
    community_path = home.path.rsplit("/", 2)[0] + "/"
    zones = Area.objects.filter(kind="zone").exclude(pk=home.pk).order_by("path")
    sibling = zones.filter(path__startswith=community_path).first()
    far = zones.exclude(path__startswith=community_path).first()
    assert sibling is not None and far is not None
    resident = Person.objects.get(user=users["resident"])
    return Compounds(
        home=home,
        grid=grid,
        other_grid=Area.objects.filter(kind="grid", path__startswith=home.path)
        .exclude(pk=grid.pk)
        .first(),
        sibling=sibling,
        far=far,
        resident=resident,
        neighbour=living_in(grid, resident.pk),
        stranger=living_in(sibling),
    )


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    """Each test stores its files in its own private media root."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


def jpeg(size: tuple[int, int] = (48, 32), gps: bool = False) -> bytes:
    """A small JPEG; with ``gps`` it carries a GPS position in its EXIF."""
    image = Image.new("RGB", size, (30, 120, 200))
    out = io.BytesIO()
    if gps:
        exif = Image.Exif()
        exif[0x8825] = {1: "N", 2: (35.0, 44.0, 12.5), 3: "E", 4: (116.0, 28.0, 30.0)}
        image.save(out, "JPEG", exif=exif)
    else:
        image.save(out, "JPEG")
    return out.getvalue()
