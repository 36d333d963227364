"""The community services' counts on the overview (``GET /api/v1/overview``, the home
page): registered by community through people.overview.register, scoped like the rest."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from jiayuan.community.models import Activity, Market, ServicePosition, Team, Volunteer
from jiayuan.org.models import Membership
from jiayuan.people import overview

pytestmark = pytest.mark.django_db
KEYS = ("volunteers", "volunteer_teams", "activities", "markets", "deliberation_spots",
        "service_centres", "stations")  # fmt: skip


def expected(path: str) -> dict[str, int]:
    def under(model: Any) -> Any:
        return model.objects.filter(area_path__startswith=path)

    return {
        "volunteers": under(Volunteer).filter(active=True).count(),
        "volunteer_teams": under(Team).count(),
        "activities": under(Activity).exclude(status="cancelled").count(),
        "markets": under(Market).exclude(status="cancelled").count(),
        "deliberation_spots": under(ServicePosition)
        .filter(kind__in=["corridor", "pavilion"])
        .count(),
        "service_centres": under(ServicePosition).filter(kind="centre").count(),
        "stations": under(ServicePosition).filter(kind="station").count(),
    }


def get(username: str) -> dict[str, int]:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    response = client.get("/api/v1/overview")
    assert response.status_code == 200, response.content
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("username", ["admin", "street", "community", "branch", "grid"])
def test_the_community_keys_are_scoped(username: str) -> None:
    area = Membership.objects.get(user__username=username).area
    got = get(username)
    assert {k: got[k] for k in KEYS} == expected(area.path)


def test_the_county_sees_the_demo_and_the_resident_nothing() -> None:
    admin = get("admin")
    assert all(admin[k] > 0 for k in KEYS)
    community = get("community")
    assert all(admin[k] >= community[k] for k in KEYS)
    assert admin["activities"] > community["activities"]
    assert {k: get("resident")[k] for k in KEYS} == dict.fromkeys(KEYS, 0)


def test_the_home_page_shows_them_as_cards(users: dict[str, Any], page_as: Any) -> None:
    html = page_as("community").get("/").content.decode()
    for key in KEYS:
        assert f'data-stat="{key}"' in html
    assert "党群服务中心" in html and "红帆驿站" in html


def test_the_registry_refuses_peoples_keys_and_replaces_a_function() -> None:
    with pytest.raises(ValueError, match="residents"):
        overview.register({"residents": "居民"}, lambda user, under: {})
    before = overview.all_labels()

    def counts(user: Any, under: str) -> dict[str, int]:
        return {"x_test": 1}

    try:
        overview.register({"x_test": "测试"}, counts)
        overview.register({"x_test": "测试"}, counts)
        assert list(overview.all_labels()).count("x_test") == 1
        assert overview.counts(get_user_model().objects.get(username="admin"))["x_test"] == 1
    finally:
        overview._EXTRA[:] = [(lab, f) for lab, f in overview._EXTRA if f is not counts]
    assert overview.all_labels() == before


def test_the_overview_stays_a_handful_of_queries(django_assert_max_num_queries: Any) -> None:
    client = Client()
    client.force_login(get_user_model().objects.get(username="admin"))
    with django_assert_max_num_queries(12):
        assert client.get("/api/v1/overview").status_code == 200
