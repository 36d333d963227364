"""The site in Chromium: a grid worker's day (acceptance 9), the phone layout, the
audited reveal through htmx, and the area map."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import Site, login

pytestmark = pytest.mark.browser

MASKED_ID = re.compile(r"^\d{6}\*{8}\d{3}[\dX]$")
CLEAR_ID = re.compile(r"(?<![\d*])\d{17}[\dX](?![\d*])")


def other_grid(site: Site, own_path: str) -> tuple[int, str]:
    """A grid that is not the ``grid`` user's, in the same community if there is one."""
    community = own_path.rsplit("/", 3)[0]
    rows = site.query(
        "SELECT id, path FROM org_area WHERE kind = 'grid' AND path != ?"
        " ORDER BY path LIKE ? DESC, path",
        own_path,
        community + "/%",
    )
    return rows[0]


def test_grid_worker_sees_masked_residents_and_404_outside(
    desktop: Any, site: Site, screenshots: Path
) -> None:
    page = desktop
    _, grid_path, grid_name = site.grid_of("grid")

    # given a grid worker who logs in
    login(page, site, "grid")

    # when they open their grid from the navigation
    page.get_by_role("link", name="区域").first.click()
    page.wait_for_url(re.compile(r"/areas/"))

    # then they see their grid's residents with masked ID numbers
    assert page.locator("h2.page-title").inner_text().strip() == grid_name
    cells = page.locator("#residents table [data-field=id-number]")
    assert cells.count() > 0
    texts = [t.strip() for t in cells.all_inner_texts()]
    assert all(MASKED_ID.match(t) for t in texts), texts
    assert any(t.startswith("370830") for t in texts)
    assert not CLEAR_ID.search(page.content())
    page.screenshot(path=str(screenshots / "grid-page.png"), full_page=True)

    # and another grid's page answers 404 with the Chinese error page
    other_id, _ = other_grid(site, grid_path)
    response = page.goto(f"{site.url}/areas/{other_id}/")
    assert response is not None and response.status == 404
    assert page.get_by_test_id("not-found").is_visible()
    assert "页面不存在" in page.inner_text("body")
    assert page.get_by_role("link", name="居民搜索").first.count() == 1  # base layout
    page.screenshot(path=str(screenshots / "grid-other-404.png"))


def test_grid_page_on_a_phone(phone: Any, site: Site, screenshots: Path) -> None:
    page = phone
    grid_id, _, _ = site.grid_of("grid")
    login(page, site, "grid")

    page.goto(f"{site.url}/areas/{grid_id}/")
    page.screenshot(path=str(screenshots / "grid-page-phone.png"))

    # The navigation collapses behind the toggler …
    toggler = page.locator(".navbar-toggler")
    assert toggler.is_visible()
    search_link = page.locator("#navbar-menu").get_by_role("link", name="居民搜索")
    assert not search_link.is_visible()
    toggler.click()
    search_link.wait_for(state="visible")
    toggler.click()
    # … residents are cards rather than a wide table …
    assert not page.locator("#residents table").is_visible()
    cards = page.locator("#residents .list-group [data-field=id-number]")
    assert cards.first.is_visible()
    assert all(MASKED_ID.match(t.strip()) for t in cards.all_inner_texts())
    # … and nothing scrolls sideways.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1
    # … and the residents come before the map, so a grid worker reaches them first.
    residents_top = page.locator("#residents").bounding_box()["y"]
    map_top = page.locator(".jy-map").bounding_box()["y"]
    assert residents_top < map_top


def test_residents_page_through_htmx(desktop: Any, site: Site) -> None:
    page = desktop
    grid_id, _, _ = site.grid_of("grid")
    login(page, site, "grid")
    page.goto(f"{site.url}/areas/{grid_id}/")
    first = page.locator("#residents table tbody tr").first.inner_text()

    page.locator("#residents").get_by_role("link", name="下一页").click()

    page.wait_for_url(re.compile(r"\?page=2$"))
    page.locator("#residents .page-item.active", has_text="2 /").wait_for()
    assert page.locator("#residents table tbody tr").first.inner_text() != first
    assert page.locator("h2.page-title").count() == 1  # swapped in place, not reloaded twice


def test_reveal_through_htmx_is_shown_to_staff_only(
    desktop: Any, browser: Any, site: Site, screenshots: Path
) -> None:
    _, grid_path, _ = site.grid_of("grid")
    person_id = site.query(
        "SELECT id FROM people_person WHERE area_path LIKE ? AND id_number_enc != ''"
        " ORDER BY id LIMIT 1",
        grid_path + "%",
    )[0][0]

    # A grid worker has no reveal button.
    login(desktop, site, "grid")
    desktop.goto(f"{site.url}/persons/{person_id}/")
    assert MASKED_ID.match(desktop.inner_text("[data-field=id-number]").strip())
    assert desktop.get_by_test_id("reveal").count() == 0

    # Community staff reveal, confirm, and see the clear number swapped in.
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    try:
        login(page, site, "community")
        page.goto(f"{site.url}/persons/{person_id}/")
        assert MASKED_ID.match(page.inner_text("[data-field=id-number]").strip())
        page.on("dialog", lambda dialog: dialog.accept())
        page.get_by_test_id("reveal").click()
        page.locator(".jy-revealed[data-field=id-number]").wait_for()
        assert re.fullmatch(r"\d{17}[\dX]", page.inner_text("[data-field=id-number]").strip())
        assert "已记入操作日志" in page.inner_text("#pii")
        page.screenshot(path=str(screenshots / "person-revealed.png"))

        # The reveal is on the person's audit timeline after a reload, masked again.
        page.reload()
        assert "查看敏感信息" in page.get_by_test_id("audit").inner_text()
        assert MASKED_ID.match(page.inner_text("[data-field=id-number]").strip())
    finally:
        context.close()


def test_area_map_opens_a_child(desktop: Any, site: Site, screenshots: Path) -> None:
    page = desktop
    login(page, site, "community")
    page.goto(f"{site.url}/areas/")

    shapes = page.locator(".jy-map path.leaflet-interactive")
    shapes.first.wait_for()
    assert shapes.count() >= 2  # the community's zones, drawn without a tile server
    page.screenshot(path=str(screenshots / "community-map.png"))

    shapes.first.click(force=True)

    page.wait_for_url(re.compile(r"/areas/\d+/$"))
    assert page.locator(".breadcrumb").count() == 1
