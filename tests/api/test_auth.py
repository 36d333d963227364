"""Authentication (session or bearer token), the error format, and the OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from jiayuan.core.models import ApiToken

from .conftest import Api
from .mixins import assert_error

ENDPOINTS = [
    ("get", "/overview"),
    ("get", "/areas"),
    ("get", "/areas/1"),
    ("get", "/areas/locate?lat=35.7&lng=116.5"),
    ("post", "/areas"),
    ("get", "/persons"),
    ("post", "/persons"),
    ("get", "/persons/1"),
    ("patch", "/persons/1"),
    ("post", "/persons/1/reveal"),
    ("get", "/persons/1/tags"),
    ("post", "/persons/1/tags"),
    ("delete", "/persons/1/tags/elderly"),
    ("get", "/dwellings"),
    ("get", "/households"),
    ("get", "/positions"),
    ("delete", "/positions/1"),
    ("get", "/forces"),
    ("get", "/tags"),
    ("post", "/tags"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_anonymous_requests_get_401(method: str, path: str) -> None:
    client = Client()
    url = "/api/v1" + path
    if method in ("post", "patch"):
        response = getattr(client, method)(url, "{}", content_type="application/json")
    else:
        response = getattr(client, method)(url)
    assert_error(response, 401, "unauthorized")


def test_bearer_token_flow() -> None:
    client = Client()
    response = client.post(
        "/api/v1/auth/token",
        {"username": "community", "password": settings.DEMO_PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    token = response.json()["token"]
    assert response.json()["token_type"] == "Bearer"
    assert ApiToken.objects.filter(digest=ApiToken.hash(token)).exists()  # only the hash

    api = Api(Client(), {"Authorization": f"Bearer {token}"})
    overview = api.get("/overview")
    assert overview.status_code == 200
    assert overview.json()["communities"] == 1
    created = api.post("/tags", {"code": "t_bearer", "name": "x", "category": "x"})
    assert_error(created, 403, "permission_denied")  # authenticated, but not county level

    wrong = Api(Client(), {"Authorization": "Bearer not-a-token"})
    assert_error(wrong.get("/overview"), 401, "unauthorized")


@pytest.mark.parametrize("password", ["wrong", ""])
def test_wrong_password_is_401(password: str) -> None:
    response = Client().post(
        "/api/v1/auth/token",
        {"username": "admin", "password": password},
        content_type="application/json",
    )
    body = assert_error(response, 401, "unauthorized")
    assert "token" not in body


def test_expired_token_is_refused() -> None:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    raw, row = ApiToken.issue(get_user_model().objects.get(username="admin"))
    ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now())
    api = Api(Client(), {"Authorization": f"Bearer {raw}"})
    assert_error(api.get("/overview"), 401, "unauthorized")


def test_token_use_is_recorded_to_the_minute_without_a_write_per_call() -> None:
    import datetime as dt

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    raw, row = ApiToken.issue(get_user_model().objects.get(username="admin"))
    api = Api(Client(), {"Authorization": f"Bearer {raw}"})
    # given a token never used
    assert api.get("/overview").status_code == 200
    first = ApiToken.objects.get(pk=row.pk).last_used_at
    assert first is not None
    # when it is used again within the minute, nothing is written
    with CaptureQueriesContext(connection) as queries:
        assert api.get("/overview").status_code == 200
    assert not [q for q in queries if q["sql"].startswith("UPDATE") and "apitoken" in q["sql"]]
    assert ApiToken.objects.get(pk=row.pk).last_used_at == first
    # then a call a minute later moves it on
    stale = timezone.now() - dt.timedelta(minutes=2)
    ApiToken.objects.filter(pk=row.pk).update(last_used_at=stale)
    assert api.get("/overview").status_code == 200
    assert ApiToken.objects.get(pk=row.pk).last_used_at > stale


def test_malformed_json_is_a_4xx_in_the_error_format(api_as: Any) -> None:
    client = api_as("admin").client
    response = client.post("/api/v1/persons", "{not json", content_type="application/json")
    assert 400 <= response.status_code < 500
    assert set(response.json()) == {"code", "message", "detail"}


def test_openapi_lists_the_paths_and_docs_render() -> None:
    client = Client()
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/auth/token",
        "/api/v1/overview",
        "/api/v1/areas",
        "/api/v1/areas/locate",
        "/api/v1/areas/{area_id}",
        "/api/v1/persons",
        "/api/v1/persons/{person_id}",
        "/api/v1/persons/{person_id}/reveal",
        "/api/v1/persons/{person_id}/tags",
        "/api/v1/persons/{person_id}/tags/{code}",
        "/api/v1/dwellings",
        "/api/v1/households",
        "/api/v1/positions",
        "/api/v1/forces",
        "/api/v1/tags",
    ):
        assert path in paths, path
    assert set(paths["/api/v1/persons/{person_id}"]) == {"get", "patch"}
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    assert b"openapi.json" in docs.content
    assert b"cdn.jsdelivr.net" not in docs.content  # the UI is served locally, offline too
    assert client.get("/api/docs").url == "/api/v1/docs"
    assert client.get("/api/openapi.json", follow=True).json()["paths"] == paths
