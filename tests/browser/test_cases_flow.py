"""Acceptance 8 in Chromium against a real ``jiayuan serve``: a resident reports with a
photo and a point on the map, the community hands the case down to the grid (转), the
grid worker accepts and handles it with a result photo, the community approves, and the
resident says 满意 through the tracking link — closed, with all six steps on the case's
timeline."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from .conftest import DESKTOP, Site, login

pytestmark = pytest.mark.browser

TOKEN = re.compile(r"/track/([A-Za-z0-9_-]{16,})/$")
PHONE = re.compile(r"1[3-9]\d{9}")


def make_photo(path: Path, color: tuple[int, int, int], fmt: str = "JPEG") -> Path:
    """A small photo written by the test itself (with a fake GPS-free EXIF-less body)."""
    image = Image.new("RGB", (640, 480), color)
    for x in range(0, 640, 40):  # some structure, so it is not one flat colour
        image.paste((255, 255, 255), (x, 200, x + 20, 280))
    buf = io.BytesIO()
    image.save(buf, fmt)
    path.write_bytes(buf.getvalue())
    return path


@pytest.fixture
def community(browser: Any) -> Iterator[Any]:
    """A second desktop browser for the community staff (its own session)."""
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    yield context.new_page()
    context.close()


def open_action(page: Any, action: str) -> Any:
    """Click an action button and wait for its form in the dialog."""
    page.locator(f'[data-testid=actions] [data-action="{action}"]').click()
    form = page.locator(f'#action-dialog [data-testid=action-form][data-action="{action}"]')
    form.wait_for(state="visible")
    return form


def submit_action(page: Any, form: Any, case_url: str) -> None:
    with page.expect_navigation(url=case_url):
        form.locator("[data-testid=action-submit]").click()


def status_of(page: Any) -> str:
    return page.get_by_test_id("case-status").get_attribute("data-status")


def test_resident_report_to_closed_case(
    site: Site, phone: Any, desktop: Any, community: Any, screenshots: Path, tmp_path: Path
) -> None:
    grid_id, _path, grid_name = site.grid_of("grid")
    lat, lng = site.query("SELECT centroid_lat, centroid_lng FROM org_area WHERE id = ?", grid_id)[
        0
    ]
    resident, grid = phone, desktop

    # --- 问: the resident reports from the phone page, with a photo and a tap on the map
    resident.goto(site.url + "/report/")
    resident.get_by_label("问题类别").select_option(label="路灯损坏")
    resident.get_by_label("问题描述").fill("小区3号楼东侧路灯不亮一周了，晚上出行不便")
    resident.set_input_files("#id_photos", str(make_photo(tmp_path / "lamp.jpg", (30, 30, 60))))
    resident.locator(".jy-photo-previews img").wait_for()
    picker = resident.locator(".jy-pick-map")
    picker.scroll_into_view_if_needed()
    point = resident.evaluate(
        "([lat, lng]) => { const m = document.querySelector('.jy-pick-map').jyMap;"
        " const p = m.latLngToContainerPoint([lat, lng]); return {x: p.x, y: p.y}; }",
        [lat, lng],
    )
    picker.click(position=point)
    assert grid_name in resident.locator("#pick-status").inner_text()
    assert resident.input_value("#id_lat") and resident.input_value("#id_lng")
    resident.get_by_label("姓名").fill("赵女士")
    resident.get_by_label("手机号").fill("13700001111")
    resident.screenshot(path=str(screenshots / "cases-report-phone.png"), full_page=True)
    resident.get_by_test_id("report-submit").click()
    resident.wait_for_url(TOKEN)
    track_url = resident.url
    number = resident.locator("[data-testid=track-summary] .jy-mono").inner_text().strip()
    assert number.startswith("WS")
    assert resident.get_by_test_id("track-status").get_attribute("data-status") == "dispatched"
    assert not PHONE.search(resident.content())

    (case_id,) = site.query("SELECT id FROM cases_case WHERE number = ?", number)[0]
    case_url = f"{site.url}/cases/{case_id}/"
    level, handler = site.query(
        "SELECT c.level, u.username FROM cases_case c JOIN auth_user u ON u.id = c.handler_user_id"
        " WHERE c.id = ?",
        case_id,
    )[0]
    assert (level, handler) == ("community", "community")  # 路灯 is a community matter

    # --- 转: the community hands it down to the grid worker, with a reason
    login(community, site, "community")
    community.goto(site.url + "/cases/")
    community.locator(f'[data-case="{number}"]').click()
    community.wait_for_url(case_url)
    assert community.locator(".jy-photo[data-kind=report] img").evaluate("i => i.naturalWidth") > 0
    form = open_action(community, "transfer")
    form.get_by_label("转至层级").select_option("grid")
    form.get_by_label("转办原因").fill("由网格员就近联系供电所维修")
    submit_action(community, form, case_url)
    assert status_of(community) == "dispatched"

    # --- 派 → 办: the grid worker finds it in 待接单, accepts, and handles it with a photo
    login(grid, site, "grid")
    assert int(grid.get_by_test_id("unread-count").inner_text()) >= 1
    grid.goto(site.url + "/cases/")
    assert grid.locator(".jy-tabs .nav-link.active").get_attribute("data-tab") == "accept"
    grid.locator(f'[data-case="{number}"]').click()
    grid.wait_for_url(case_url)
    assert (
        grid.locator('[data-testid=steps] [data-step="transfer"]').get_attribute("data-state")
        == "current"
    )
    submit_action(grid, open_action(grid, "accept"), case_url)
    assert status_of(grid) == "accepted"
    form = open_action(grid, "handle")
    form.locator("[data-testid=action-submit]").click()  # nothing filled in: told in Chinese
    grid.locator('#action-dialog [data-field-error="result"]', has_text="请填写办理结果").wait_for()
    form = grid.locator('#action-dialog [data-testid=action-form][data-action="handle"]')
    form.get_by_label("办理结果").fill("已联系供电所更换灯泡，路灯恢复照明")
    form.locator("input[type=file]").set_input_files(
        str(make_photo(tmp_path / "fixed.png", (250, 220, 120), "PNG"))
    )
    grid.screenshot(path=str(screenshots / "cases-handle-dialog.png"))
    submit_action(grid, form, case_url)
    assert status_of(grid) == "handled"
    assert grid.locator(".jy-photo[data-kind=result] img").evaluate("i => i.naturalWidth") > 0

    # --- 审: the community approves; the reply goes to the resident
    community.goto(case_url)
    submit_action(community, open_action(community, "approve"), case_url)
    assert status_of(community) == "replied"

    # --- 回: the resident opens the tracking link and says 满意
    resident.goto(track_url)
    result = resident.get_by_test_id("track-result")
    assert "已联系供电所更换灯泡" in result.inner_text()
    assert result.locator("img").evaluate("i => i.naturalWidth") > 0
    resident.locator("label.form-selectgroup-item", has_text=re.compile(r"^满意$")).click()
    resident.screenshot(path=str(screenshots / "cases-track-phone.png"), full_page=True)
    resident.get_by_test_id("visit-submit").click()
    resident.get_by_test_id("visit-done").wait_for()
    assert resident.get_by_test_id("track-status").get_attribute("data-status") == "closed"
    page_text = resident.content()
    assert not PHONE.search(page_text) and "由网格员就近" not in page_text

    # --- then the case is closed and its timeline went through all six steps
    community.goto(case_url)
    assert status_of(community) == "closed"
    states = {
        el.get_attribute("data-step"): el.get_attribute("data-state")
        for el in community.locator("[data-testid=steps] .jy-step").all()
    }
    assert list(states) == ["ask", "dispatch", "transfer", "handle", "review", "reply"]
    assert set(states.values()) == {"done"}
    labels = community.locator("[data-testid=steps] .jy-step-dot").all_inner_texts()
    assert labels == ["问", "派", "转", "办", "审", "回"]
    events = [
        e.get_attribute("data-event")
        for e in community.locator("[data-testid=timeline] .jy-event").all()
    ]
    assert events == [
        "receive", "dispatch", "transfer", "accept", "handle", "approve", "reply", "visit"
    ]  # fmt: skip
    assert not community.locator("[data-testid=actions]").count()
    community.screenshot(path=str(screenshots / "cases-detail-closed.png"), full_page=True)
    (satisfaction, closed_level) = site.query(
        "SELECT satisfaction, closed_level FROM cases_case WHERE id = ?", case_id
    )[0]
    assert (satisfaction, closed_level) == ("satisfied", "grid")


def test_case_pages_on_a_phone(site: Site, phone: Any, screenshots: Path) -> None:
    """The grid worker's inbox, case map and a case page fit a phone screen."""
    page = phone
    login(page, site, "grid")
    for path, name in [("/cases/", "inbox"), ("/cases/map/", "map"), ("/cases/new/", "new")]:
        page.goto(site.url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} scrolls sideways ({width}px)"
        page.screenshot(path=str(screenshots / f"cases-{name}-phone.png"), full_page=True)
    assert page.locator(".jy-map .leaflet-pane").count() > 0
    page.goto(site.url + "/cases/indicators/")
    page.locator("#chart-monthly svg").wait_for()
    page.screenshot(path=str(screenshots / "cases-indicators-phone.png"), full_page=True)
