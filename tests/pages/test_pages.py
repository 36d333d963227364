"""Every page renders for the right user, in Chinese, through the base layout."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area
from jiayuan.people.overview import counts

from .conftest import Places

DEMO_USERS = ["admin", "street", "community", "grid", "branch", "head"]
ClientFor = Callable[[str | None], Client]


def html(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined]


def features(page: str) -> dict:
    match = re.search(r'<script id="map-features" type="application/json">(.*?)</script>', page)
    assert match, "the page carries no map data"
    return json.loads(match.group(1))


# --- login and the shell -------------------------------------------------------------------
@pytest.mark.parametrize(
    "url", ["/", "/areas/", "/search/", "/areas/1/", "/persons/1/", "/persons/1/reveal/"]
)
def test_pages_require_login(as_user: ClientFor, url: str) -> None:
    response = as_user(None).get(url)

    if url.endswith("/reveal/"):
        assert response.status_code == 405  # POST only, before anything else
    else:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_login_page_is_chinese_and_logs_in(as_user: ClientFor) -> None:
    client = as_user(None)

    page = html(client.get("/login/"))
    assert '<html lang="zh-Hans">' in page
    assert "用户名" in page and "密码" in page

    wrong = client.post("/login/", {"username": "grid", "password": "nope"})
    assert wrong.status_code == 200
    assert "用户名或密码错误" in html(wrong)

    right = client.post("/login/", {"username": "grid", "password": "jiayuan-demo"})
    assert right.status_code == 302 and right["Location"] == "/"


def test_logout_is_a_post(as_user: ClientFor) -> None:
    client = as_user("grid")
    page = html(client.get("/"))
    assert re.search(r'<form method="post" action="/logout/"', page)

    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302  # logged out


def test_layout_has_chinese_navigation(as_user: ClientFor) -> None:
    page = html(as_user("grid").get("/"))

    for label in ("首页", "区域", "居民搜索", "退出登录"):
        assert label in page
    assert "系统管理" not in page  # a grid worker manages no accounts
    assert "viewport" in page and "/static/vendor/tabler/" in page

    assert "系统管理" in html(as_user("admin").get("/"))


# --- home ------------------------------------------------------------------------------------
@pytest.mark.parametrize("username", DEMO_USERS)
def test_home_shows_the_scope_counts(as_user: ClientFor, username: str) -> None:
    user = get_user_model().objects.get(username=username)
    expected = counts(user)

    page = html(as_user(username).get("/"))

    for key in ("residents", "households", "dwellings"):
        card = re.search(rf'data-stat="{key}".*?<div class="jy-stat-value">(\d+)</div>', page, re.S)
        assert card, key
        assert int(card.group(1)) == expected[key]


def test_home_of_a_resident_without_area_roles(as_user: ClientFor) -> None:
    page = html(as_user("resident").get("/"))

    # their own requests, votes and wishes (the command app's desk), no area counts
    assert 'data-desk="work"' in page
    assert 'data-stat="residents"' not in page


# --- area browser ----------------------------------------------------------------------------
def test_area_index_opens_the_single_root(as_user: ClientFor, places: Places) -> None:
    response = as_user("community").get("/areas/", follow=True)

    assert response.redirect_chain == [(f"/areas/{places.community.pk}/", 302)]
    page = html(response)
    assert places.community.name in page
    assert features(page)["features"][0]["properties"]["role"] == "current"


def test_area_page_lists_children_with_counts_and_map(as_user: ClientFor, places: Places) -> None:
    community = places.community
    children = list(Area.objects.filter(parent=community).order_by("code"))

    page = html(as_user("community").get(f"/areas/{community.pk}/"))

    table = page.split('data-testid="children"')[1]
    for child in children:
        assert f'href="/areas/{child.pk}/"' in table
    data = features(page)
    roles = [f["properties"]["role"] for f in data["features"]]
    assert roles.count("current") == 1
    assert roles.count("child") == len([c for c in children if c.boundary])
    child_urls = {
        f["properties"]["url"] for f in data["features"] if f["properties"]["role"] == "child"
    }
    assert child_urls <= {f"/areas/{c.pk}/" for c in children}


def test_breadcrumbs_link_only_what_the_user_may_open(as_user: ClientFor, places: Places) -> None:
    page = html(as_user("grid").get(f"/areas/{places.grid.pk}/"))

    match = re.search(r'<ol class="breadcrumb.*?</ol>', page, re.S)
    assert match is not None
    crumbs = match.group(0)
    assert places.community.name in crumbs  # shown for orientation …
    assert f'href="/areas/{places.community.pk}/"' not in crumbs  # … but not a link


def test_building_page_lists_dwellings(as_user: ClientFor, places: Places) -> None:
    building = Area.objects.filter(parent=places.grid, kind=AreaKind.BUILDING).first()
    assert building is not None

    response = as_user("grid").get(f"/areas/{building.pk}/")

    assert response.status_code == 200
    assert "房屋" in html(response) and "jy-dwelling" in html(response)


# --- grid page -------------------------------------------------------------------------------
def test_grid_page_sections(as_user: ClientFor, places: Places) -> None:
    page = html(as_user("grid").get(f"/areas/{places.grid.pk}/"))

    for title in ("居民", "楼栋房屋", "职务", "党员中心户", "共治力量", "网格员与三长"):
        assert title in page
    assert places.person.name in page or "下一页" in page
    assert "专职网格员" in page


def test_grid_residents_paginate_with_htmx(as_user: ClientFor, places: Places) -> None:
    client = as_user("grid")
    url = f"/areas/{places.grid.pk}/?page=2"

    partial = client.get(url, headers={"HX-Request": "true", "HX-Target": "residents"})
    full = client.get(url)

    assert partial.status_code == 200
    assert html(partial).lstrip().startswith('<div id="residents"')
    assert "<html" not in html(partial)
    assert "<html" in html(full)


# --- person page -----------------------------------------------------------------------------
def test_person_page(as_user: ClientFor, places: Places) -> None:
    person = places.person

    page = html(as_user("grid").get(f"/persons/{person.pk}/"))

    assert person.name in page
    assert person.id_number_masked in page
    for title in ("基本信息", "标签", "家庭成员", "居住记录", "操作记录"):
        assert title in page
    assert "seed-demo" in page  # the audit timeline shows the seeding entry


# --- 404 -------------------------------------------------------------------------------------
@pytest.mark.parametrize("debug", [False, True])
def test_scoped_404_renders_the_chinese_page(
    as_user: ClientFor, places: Places, settings: object, debug: bool
) -> None:
    settings.DEBUG = debug  # type: ignore[attr-defined]

    response = as_user("grid").get(f"/areas/{places.other_grid.pk}/")

    assert response.status_code == 404
    page = html(response)
    assert "页面不存在" in page and 'data-testid="not-found"' in page
    assert "居民搜索" in page  # through the base layout, navigation included
    assert places.other_grid.name not in page.split("<footer")[0].split("</header>")[1]


def test_unknown_url_uses_the_404_page(as_user: ClientFor) -> None:
    response = as_user("grid").get("/no-such-page/")

    assert response.status_code == 404
    assert "页面不存在" in html(response)


def test_admins_are_warned_of_unknown_calendar_years(
    as_user: ClientFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("jiayuan.core.context_processors.unknown_years", lambda: [2027])

    admin_page = html(as_user("admin").get("/"))
    grid_page = html(as_user("grid").get("/"))

    assert "节假日安排未录入" in admin_page and "2027 年" in admin_page
    assert "节假日安排未录入" not in grid_page


def test_no_calendar_banner_when_every_year_is_known(
    as_user: ClientFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("jiayuan.core.context_processors.unknown_years", lambda: [])

    assert "节假日安排未录入" not in html(as_user("admin").get("/"))


def test_area_index_lists_several_roots(places: Places) -> None:
    from jiayuan.core.roles import Role
    from jiayuan.org.models import Membership

    user = get_user_model().objects.create_user("two-grids", password="x-long-password")
    for grid in (places.grid, places.next_grid):
        Membership.objects.create(user=user, area=grid, role=Role.GRID_WORKER)
    client = Client()
    client.force_login(user)

    response = client.get("/areas/")

    assert response.status_code == 200
    page = html(response)
    assert f'href="/areas/{places.grid.pk}/"' in page
    assert f'href="/areas/{places.next_grid.pk}/"' in page
    assert f'href="/areas/{places.other_grid.pk}/"' not in page
    assert {f["properties"]["role"] for f in features(page)["features"]} == {"child"}


def test_area_index_without_areas(as_user: ClientFor) -> None:
    page = html(as_user("resident").get("/areas/"))

    assert "暂无可查看的区域" in page
