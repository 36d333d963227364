"""Issue 13's mobilisation acceptance in Chromium against a real ``jiayuan serve`` on the
seeded tiny county: the ``grid`` worker (a 专职网格员 force in the seed) goes on duty on
the phone with a position; the ``community`` staff start a mobilisation at the grid's
centre; the grid worker sees the call, acknowledges and checks in on site from the phone
while the staff's detail page, polling, shows the counts change. Screenshots go to
var/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import DESKTOP, Site, login

pytestmark = pytest.mark.browser

MESSAGE = "防汛紧急集结：请携带雨具到网格中心"


@pytest.fixture
def staff(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    yield context.new_page()
    context.close()


def count(page: Any, step: str) -> Any:
    return page.locator(f'[data-testid="step-counts"] [data-step="{step}"]')


def test_a_grid_worker_acknowledges_and_checks_in_from_the_phone(
    site: Site, staff: Any, phone: Any, screenshots: Path
) -> None:
    grid_id, _path, _name = site.grid_of("grid")
    lat, lng = site.query("SELECT centroid_lat, centroid_lng FROM org_area WHERE id = ?", grid_id)[
        0
    ]
    forces = site.query(
        "SELECT f.id FROM people_force f JOIN people_person p ON p.id = f.person_id"
        " JOIN auth_user u ON u.id = p.user_id WHERE u.username = 'grid'"
    )
    assert forces, "the seed gives the grid worker a force"

    # --- the grid worker goes on duty from the phone, with a position typed in
    login(phone, site, "grid")
    phone.goto(site.url + "/m/duty/")
    card = phone.locator(f'[data-force="{forces[0][0]}"]')
    card.get_by_test_id("duty-lat").fill(f"{lat + 0.0004:.6f}")
    card.get_by_test_id("duty-lng").fill(f"{lng:.6f}")
    card.get_by_test_id("duty-on").click()
    phone.wait_for_url(site.url + "/m/duty/")
    assert card.get_by_test_id("duty-status").inner_text() == "在岗"

    # --- the community staff start a mobilisation at the grid's centre
    login(staff, site, "community")
    staff.get_by_test_id("nav-command-menu").click()
    staff.get_by_test_id("nav-command").click()
    staff.wait_for_url(site.url + "/command/mobilisations/")
    staff.get_by_test_id("mobilisation-new").click()
    form = staff.get_by_test_id("mobilisation-form")
    # the map: a click sets the gathering point; drawing three vertices writes a polygon
    the_map = staff.get_by_test_id("mobilise-map")
    the_map.click(position={"x": 180, "y": 180})
    assert form.get_by_label("集结点纬度").input_value() != ""
    staff.get_by_role("button", name="绘制范围").click()
    for x, y in ((100, 100), (260, 100), (180, 260)):
        the_map.click(position={"x": x, "y": y})
    assert '"Polygon"' in form.get_by_label("范围（GeoJSON 多边形，可选）").input_value()
    assert form.get_by_label("集结点纬度").input_value() == ""
    staff.get_by_role("button", name="清除").click()
    # then the exact point of the grid's centre, typed in
    form.get_by_label("集结点纬度").fill(f"{lat:.6f}")
    form.get_by_label("集结点经度").fill(f"{lng:.6f}")
    form.get_by_label("专职网格员").check()
    form.get_by_label("所需人数").fill("1")
    form.get_by_label("调度指令").fill(MESSAGE)
    form.get_by_test_id("mobilise").click()
    staff.wait_for_url(re.compile(r".*/command/mobilisations/\d+/$"))
    assert staff.get_by_test_id("mobilisation-message").inner_text() == MESSAGE
    assert count(staff, "delivered").inner_text() == "1"  # the in-app notice arrived
    assert count(staff, "acknowledged").inner_text() == "0"
    staff.screenshot(path=str(screenshots / "mobilisation-started.png"), full_page=True)

    # --- the phone shows the call: acknowledge
    phone.reload()
    phone.get_by_test_id("call").first.click()
    phone.wait_for_url(re.compile(r".*/m/mobilisations/\d+/$"))
    assert phone.get_by_test_id("call-message").inner_text() == MESSAGE
    phone.get_by_test_id("step-acknowledged").click()
    assert phone.get_by_test_id("my-step").inner_text() == "已确认"
    # the staff page updates by itself (htmx polling), no reload
    staff.wait_for_function(
        "document.querySelector('[data-testid=step-counts] [data-step=acknowledged]')"
        ".textContent.trim() === '1'",
        timeout=10_000,
    )
    assert count(staff, "delivered").inner_text() == "0"

    # --- check in on site with the position
    phone.get_by_test_id("checkin-lat").fill(f"{lat:.6f}")
    phone.get_by_test_id("checkin-lng").fill(f"{lng:.6f}")
    phone.get_by_test_id("step-checked_in").click()
    assert phone.get_by_test_id("my-step").inner_text() == "已到场"
    phone.screenshot(path=str(screenshots / "mobilisation-phone-checked-in.png"), full_page=True)
    staff.wait_for_function(
        "document.querySelector('[data-testid=step-counts] [data-step=checked_in]')"
        ".textContent.trim() === '1'",
        timeout=10_000,
    )
    report = staff.get_by_test_id("report").inner_text()
    assert "到场满员用时" in report and "—" not in report.split("已到场")[1].split("未到场")[0]
    staff.screenshot(path=str(screenshots / "mobilisation-assembled.png"), full_page=True)
