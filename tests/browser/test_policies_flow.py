"""Acceptance 6 of 政策找人 in Chromium against a real ``jiayuan serve`` on the seeded
tiny county: ``community`` opens 高龄津贴, sees the match count, opens one match's
explanation (the trace is there); ``grid`` records the door visit as 已办结 from the
phone; the match closes. Screenshots of the visit list (desktop and phone), the
explanation, the rule editor and the dashboard go to var/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import DESKTOP, Site, login

pytestmark = pytest.mark.browser

CODE = "gaoling-jintie"
CLEAR_ID = re.compile(r"(?<![\d*])\d{17}[\dX](?![\d*])")


@pytest.fixture
def community(browser: Any) -> Iterator[Any]:
    """A second desktop browser for the community staff (its own session)."""
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    yield context.new_page()
    context.close()


def grid_task(site: Site) -> tuple[int, str]:
    """A pending 高龄津贴 match in the ``grid`` user's grid (the demo seed's matching
    run leaves some): ``(id, person name)``."""
    _, grid_path, _ = site.grid_of("grid")
    rows = site.query(
        "SELECT m.id, p.name FROM policies_match m"
        " JOIN policies_policy po ON po.id = m.policy_id"
        " JOIN people_person p ON p.id = m.person_id"
        " WHERE po.code = ? AND m.status = 'pending' AND m.area_path LIKE ?"
        " ORDER BY m.due_on, m.id",
        CODE,
        grid_path + "%",
    )
    assert rows, f"the demo seed left no pending {CODE} match in grid's grid {grid_path}"
    return rows[0]


def test_policy_finds_a_person_and_the_grid_worker_grants_it(
    site: Site, community: Any, phone: Any, desktop: Any, screenshots: Path
) -> None:
    match_id, person_name = grid_task(site)
    match_url = f"{site.url}/policies/matches/{match_id}/"

    # --- community opens 高龄津贴 from the navigation and sees the match count
    login(community, site, "community")
    community.get_by_test_id("nav-policies").locator(".dropdown-toggle").click()
    community.get_by_role("link", name="政策目录").click()
    community.wait_for_url(site.url + "/policies/")
    community.locator('[data-policy="gaoling-jintie"] a', has_text="高龄津贴").click()
    community.wait_for_url(f"{site.url}/policies/{CODE}/")
    assert community.locator("h2.page-title").inner_text().strip().startswith("高龄津贴")
    count = int(community.get_by_test_id("match-count").inner_text())
    (expected,) = site.query(
        "SELECT COUNT(*) FROM policies_match m JOIN policies_policy po ON po.id = m.policy_id"
        " WHERE po.code = ? AND m.status != 'upcoming' AND m.area_path LIKE"
        " (SELECT a.path FROM org_membership mb JOIN auth_user u ON u.id = mb.user_id"
        "  JOIN org_area a ON a.id = mb.area_id"
        "  WHERE u.username = 'community' AND mb.role = 'community_staff') || '%'",
        CODE,
    )[0]
    assert count == expected >= 1
    assert "未知" in community.get_by_test_id("parameters").inner_text()
    community.screenshot(path=str(screenshots / "policies-detail.png"), full_page=True)

    # --- … opens the list of its open matches, then one match's explanation
    community.get_by_test_id("open-matches").click()
    community.wait_for_url(re.compile(r"/policies/visits/\?policy=gaoling-jintie"))
    row = community.locator(f'[data-testid=visit-list] [data-match="{match_id}"]')
    row.locator(".jy-visit-name").click()
    community.wait_for_url(re.compile(rf"/policies/matches/{match_id}/"))
    trace = community.get_by_test_id("trace")
    lines = trace.locator(".jy-trace-line").all_inner_texts()
    assert len(lines) >= 3 and all(line.strip().startswith("✓") for line in lines), lines
    assert any("≥ 80" in line for line in lines) and any("以 37 开头" in line for line in lines)
    assert community.get_by_test_id("match-status").get_attribute("data-status") == "pending"
    assert not CLEAR_ID.search(community.content())
    community.screenshot(path=str(screenshots / "policies-match-explanation.png"), full_page=True)

    # --- grid, on the phone: the door-visit list, the task, the form, 已办结
    login(phone, site, "grid")
    phone.goto(site.url + "/policies/visits/")
    task = phone.locator(f'[data-testid=visit-list] [data-match="{match_id}"]')
    task.wait_for()
    assert person_name in task.inner_text()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the visit list scrolls sideways ({width}px)"
    phone.screenshot(path=str(screenshots / "policies-visits-phone.png"), full_page=True)
    task.get_by_test_id("visit-open").click()
    form = phone.locator(f'#visit-dialog [data-testid=visit-form][data-match="{match_id}"]')
    form.wait_for(state="visible")
    since = form.locator("input[name=since]")
    assert not since.is_visible()  # the date shows only for 已办结
    form.locator("label.form-selectgroup-item", has_text="已办结").click()
    since.wait_for(state="visible")
    since.fill("2026-11-01")
    form.locator("textarea[name=note]").fill("已协助老人办理，次月起发放")
    phone.screenshot(path=str(screenshots / "policies-visit-dialog-phone.png"))
    with phone.expect_navigation(url=re.compile(r"/policies/visits/")):
        form.get_by_test_id("visit-submit").click()
    assert phone.locator(f'[data-testid=visit-list] [data-match="{match_id}"]').count() == 0
    assert "已办结" in phone.locator(".alert-success").inner_text()

    # --- the match is closed: 已办结 on its page, the benefit recorded
    community.goto(match_url)
    status = community.get_by_test_id("match-status")
    assert status.get_attribute("data-status") == "granted"
    assert status.inner_text().strip() == "已办结"
    assert "已协助老人办理" in community.get_by_test_id("timeline").inner_text()
    assert not community.get_by_test_id("visit-form").count()
    (since_db, source) = site.query(
        "SELECT b.since, b.source FROM policies_receivedbenefit b WHERE b.match_id = ?", match_id
    )[0]
    assert (since_db, source) == ("2026-11-01", "visit")
    community.screenshot(path=str(screenshots / "policies-match-granted.png"), full_page=True)

    # --- the desktop visit list and the dashboard, for the record
    login(desktop, site, "grid")
    desktop.goto(site.url + "/policies/visits/?status=all")
    desktop.get_by_test_id("visit-list").wait_for()
    desktop.screenshot(path=str(screenshots / "policies-visits-desktop.png"), full_page=True)
    community.goto(site.url + "/policies/dashboard/")
    community.locator("#chart-policies svg").wait_for()
    community.locator("#chart-areas svg").wait_for()
    community.screenshot(path=str(screenshots / "policies-dashboard.png"), full_page=True)


def test_rule_editor_checks_as_you_type(site: Site, desktop: Any, screenshots: Path) -> None:
    """The county administrator's rule editor: an error with its place, then the number
    of residents the corrected rule matches now (nothing saved)."""
    page = desktop
    login(page, site, "admin")
    page.goto(f"{site.url}/policies/{CODE}/edit/")
    check = page.get_by_test_id("rule-check")
    assert check.locator("[data-state=ok]").count() == 1
    editor = page.locator("textarea[name=rule]")
    editor.fill("")
    editor.type('not deceased and age >= >= 80 and hukou.startswith("37")', delay=5)
    check.locator("[data-state=error]").wait_for()
    assert "第1行第25列" in check.inner_text()
    assert check.locator("mark.jy-rule-at").inner_text() == ">="
    page.screenshot(path=str(screenshots / "policies-rule-error.png"), full_page=True)
    editor.fill('not deceased and age >= 80 and hukou.startswith("37")')
    editor.press("End")
    editor.type(" ", delay=5)
    check.locator("[data-state=ok]").wait_for()
    assert int(check.get_by_test_id("rule-count").inner_text()) >= 1
    page.screenshot(path=str(screenshots / "policies-rule-ok.png"), full_page=True)
