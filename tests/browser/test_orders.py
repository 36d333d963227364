"""Issue 13's order queue in Chromium against a real ``jiayuan serve`` on the seeded tiny
county: the ``community`` staff file a hotline case in the ``grid`` worker's grid (the
request loop dispatches it to them); the grid worker, on a phone-size screen, sees the
count on the duty page, opens 我的工单, takes the order with one tap and sees it move to
办理中; then sets a skill and an availability window on the duty page. Screenshots go to
var/screenshots/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import DESKTOP, Site, login

pytestmark = pytest.mark.browser

TITLE = "3号楼楼道堆放杂物"


@pytest.fixture
def staff(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    yield context.new_page()
    context.close()


def file_case(staff: Any, site: Site, grid_id: int) -> dict[str, Any]:
    """The community staff file a hotline case through the API with their session."""
    login(staff, site, "community")
    token = next(c["value"] for c in staff.context.cookies() if c["name"] == "csrftoken")
    response = staff.request.post(
        site.url + "/api/v1/cases",
        data=json.dumps(
            {
                "category": "0201",
                "title": TITLE,
                "description": "居民来电：3号楼二单元楼道堆放纸箱，影响通行。",
                "grid": grid_id,
            },
            ensure_ascii=False,
        ),
        headers={"Content-Type": "application/json", "X-CSRFToken": token},
    )
    assert response.status == 201, response.text()
    return dict(response.json())


def test_the_grid_worker_takes_an_order_with_one_tap(
    site: Site, staff: Any, phone: Any, screenshots: Path
) -> None:
    grid_id, _path, _name = site.grid_of("grid")
    case = file_case(staff, site, grid_id)
    assert case["status"] == "dispatched"
    number = case["number"]

    # --- the duty page counts the order and links the queue
    login(phone, site, "grid")
    phone.goto(site.url + "/m/duty/")
    assert int(phone.get_by_test_id("orders-waiting").inner_text()) >= 1
    phone.get_by_test_id("orders-link").click()
    phone.wait_for_url(site.url + "/m/orders/")

    # --- it waits under 待接单 with its deadline and light in words
    waiting = phone.get_by_test_id("waiting").locator(f'[data-case="{number}"]')
    assert TITLE in waiting.inner_text()
    due = waiting.get_by_test_id("due").inner_text()
    assert due.startswith("接单时限") and any(w in due for w in ("正常", "预警", "超时"))
    phone.screenshot(path=str(screenshots / "orders-waiting.png"), full_page=True)

    # --- one tap
    with phone.expect_navigation():
        waiting.get_by_test_id("accept").click()

    # --- it has moved to 办理中
    assert phone.get_by_role("status").first.inner_text() == f"已接单 {number}"
    assert phone.get_by_test_id("waiting").locator(f'[data-case="{number}"]').count() == 0
    doing = phone.get_by_test_id("doing").locator(f'[data-case="{number}"]')
    assert "已接单" in doing.inner_text()
    status = site.query("SELECT status FROM cases_case WHERE number = ?", number)
    assert status == [("accepted",)]
    phone.screenshot(path=str(screenshots / "orders-accepted.png"), full_page=True)

    # --- the case's page opens from the queue
    doing.click()
    phone.wait_for_url(f"{site.url}/cases/{case['id']}/")
    assert phone.get_by_test_id("case-status").inner_text() == "已接单"


def test_the_force_sets_skills_and_a_window_on_the_duty_page(
    site: Site, phone: Any, screenshots: Path
) -> None:
    login(phone, site, "grid")
    phone.goto(site.url + "/m/duty/")
    card = phone.locator("[data-force]").first
    card.get_by_test_id("profile").locator("summary").click()
    card.get_by_text("应急救护", exact=True).click()  # the pill's label ticks the box
    card.get_by_test_id("other-skills").fill("无人机")
    with phone.expect_navigation():
        card.get_by_test_id("save-skills").click()
    summary = phone.locator("[data-force]").first.get_by_test_id("profile-summary")
    assert "应急救护" in summary.inner_text() and "无人机" in summary.inner_text()

    card = phone.locator("[data-force]").first
    card.get_by_test_id("profile").locator("summary").click()
    row = card.get_by_test_id("window-row").first
    row.locator("select").select_option("0")
    row.locator("input[name=start]").fill("08:00")
    row.locator("input[name=end]").fill("06:00")  # wrong way round: refused
    with phone.expect_navigation():
        card.get_by_test_id("save-windows").click()
    error = phone.get_by_test_id("profile-error")
    assert "结束时间须晚于开始时间" in error.inner_text()
    assert "end must be after the start" in error.inner_text()
    phone.screenshot(path=str(screenshots / "duty-window-refused.png"), full_page=True)

    row = phone.locator("[data-force]").first.get_by_test_id("window-row").first
    row.locator("input[name=end]").fill("18:00")
    with phone.expect_navigation():
        phone.locator("[data-force]").first.get_by_test_id("save-windows").click()
    summary = phone.locator("[data-force]").first.get_by_test_id("profile-summary")
    assert "周一 08:00–18:00" in summary.inner_text()
    card = phone.locator("[data-force]").first
    card.get_by_test_id("profile").locator("summary").click()
    saved = card.get_by_test_id("window-row").first
    assert saved.locator("input[name=end]").input_value() == "18:00"
    phone.screenshot(path=str(screenshots / "duty-profile.png"), full_page=True)
    card.get_by_test_id("windows-form").screenshot(path=str(screenshots / "duty-windows.png"))
