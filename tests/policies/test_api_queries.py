"""The API and the pages of 政策找人 read through one module (policies.queries): for the
same user and the same filter they list the same matches, for every role of the tiny
demo county."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from jiayuan.policies.models import Match
from tests.api.conftest import Api

ROLES = ("admin", "street", "community", "grid", "branch", "head")
GAOLING = "gaoling-jintie"

# (the door-visit page's query, the same filter in the API's terms)
FILTERS = [
    ({"status": "all"}, {}),
    ({"status": "open"}, {"status": ["pending", "visited", "accepted"]}),
    ({"status": "upcoming"}, {"status": ["upcoming"]}),
    ({"status": "all", "policy": GAOLING}, {"policy": GAOLING}),
    ({"status": "pending", "policy": GAOLING}, {"policy": GAOLING, "status": ["pending"]}),
]


def client_of(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def api_ids(client: Client, params: dict[str, Any]) -> list[int]:
    ids: list[int] = []
    offset = 0
    while True:
        body = Api(client).get("/matches", limit=500, offset=offset, **params).json()
        ids += [item["id"] for item in body["items"]]
        offset += 500
        if offset >= body["count"]:
            return ids


def page_ids(client: Client, params: dict[str, str]) -> list[int]:
    response = client.get(reverse("policies:visits"), params)
    assert response.status_code == 200
    return [m.pk for m in response.context["matches"].paginator.object_list]


@pytest.mark.django_db
@pytest.mark.parametrize("username", ROLES)
def test_api_and_pages_list_the_same_matches(username: str) -> None:
    client = client_of(username)
    seen_any = False
    for page_query, api_query in FILTERS:
        from_api = api_ids(client, api_query)
        from_page = page_ids(client, page_query)
        assert from_api == from_page, (page_query, api_query)  # same rows, same order
        seen_any = seen_any or bool(from_api)
    assert (
        seen_any
        == Match.objects.visible_to(get_user_model().objects.get(username=username)).exists()
    )


@pytest.mark.django_db
def test_a_resident_gets_neither() -> None:
    client = client_of("resident")
    assert api_ids(client, {}) == []
    assert client.get(reverse("policies:visits")).status_code == 403
