"""The desk (工作台) of every demo role in Chromium against a real ``jiayuan serve`` on the
seeded tiny county: after logging in, the first thing on the page is the work (the counts
of the scope, for staff, come after it), a known item of that role's work is shown with
its light in words, and its link opens the page where the work is done. The items are
made through the apps' own actions in the site's database (``jiayuan shell``) before the
role logs in. Screenshots (desktop; the resident's at phone size) go to
var/screenshots/desk-*.png."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import Site, login

pytestmark = pytest.mark.browser

JIAYUAN = str(Path(sys.executable).with_name("jiayuan"))
ROOT = Path(__file__).resolve().parents[2]


def in_site(site: Site, code: str) -> str:
    """Run ``code`` in the site's own database through ``jiayuan shell`` (the apps'
    actions, as a management command would) and return what it printed."""
    env = {
        **os.environ,
        "JIAYUAN_DATABASE_URL": f"sqlite:///{site.db}",
        "JIAYUAN_VAR_DIR": str(site.db.parent),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    done = subprocess.run(
        [JIAYUAN, "shell", "-c", code],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def dispatched_case(site: Site) -> str:
    """A case received in the ``grid`` worker's grid and dispatched to them; its number."""
    return in_site(
        site,
        "from django.contrib.auth import get_user_model\n"
        "from jiayuan.cases import services\n"
        "from jiayuan.cases.models import Category\n"
        "grid = get_user_model().objects.get(username='grid').memberships.get().area\n"
        "case = services.intake(actor=None, channel='snapshot',"
        " category=Category.objects.get(code='0201'), title='楼道堆放杂物',"
        " description='三楼楼道堆放杂物，影响通行', lat=grid.centroid_lat,"
        " lng=grid.centroid_lng, reporter_name='王女士', reporter_phone='13812345678')\n"
        "assert case.handler_user.username == 'grid', case.handler_user\n"
        "print(case.number)",
    )


def compound_wish(site: Site, title: str) -> str:
    """A wish collected (敲门行动) in the ``branch`` secretary's compound; its id."""
    return in_site(
        site,
        "from django.contrib.auth import get_user_model\n"
        "from jiayuan.community import wishes\n"
        "branch = get_user_model().objects.get(username='branch')\n"
        "wish = wishes.collect(actor=branch, channel='door', title=" + repr(title) + ","
        " category='care', area=branch.memberships.get().area)\n"
        "print(wish.pk)",
    )


def escalated_alarm(site: Site) -> str:
    """An unacknowledged alarm in the ``grid`` worker's grid, escalated to the street."""
    return in_site(
        site,
        "from django.contrib.auth import get_user_model\n"
        "from django.utils import timezone\n"
        "from jiayuan.iot import lifecycle\n"
        "from jiayuan.iot.models import Alarm, AlarmRule, Device\n"
        "grid = get_user_model().objects.get(username='grid').memberships.get().area\n"
        # not a smoke detector: the console's and the screen's tests wait for their own
        # alarm on the grid's first and last smoke detectors
        "device = Device.objects.filter(area_path__startswith=grid.path)"
        ".exclude(device_type__code='smoke').order_by('serial').first()\n"
        "rule = AlarmRule.objects.get(code='tamper')\n"
        "Alarm.objects.filter(device=device, rule=rule).delete()\n"
        "alarm, _ = lifecycle.raise_alarm(device, rule, at=timezone.now(),"
        " detail={'event': 'tamper'})\n"
        "lifecycle.escalate(alarm, now=timezone.now())\n"
        "lifecycle.escalate(alarm, now=timezone.now())\n"
        "print(alarm.pk)",
    )


def work_comes_first(page: Any, staff: bool) -> None:
    """The first ``data-desk`` block of the page is the work; the counts follow it, in the
    DOM and on the screen."""
    order = page.eval_on_selector_all("[data-desk]", "els => els.map(e => e.dataset.desk)")
    assert order[0] == "work", order
    if staff:
        assert order == ["work", "counts"], order
        work = page.locator('[data-desk="work"]').bounding_box()
        counts = page.locator('[data-desk="counts"]').bounding_box()
        assert work["y"] + work["height"] <= counts["y"]
    else:
        assert "counts" not in order


def item(page: Any, section: str, text: str) -> Any:
    found = page.locator(f'[data-section="{section}"] [data-testid="desk-item"]', has_text=text)
    assert found.count() >= 1, f"{text!r} not in the {section} section"
    return found.first


def open_item(page: Any, site: Site, row: Any, url: str) -> None:
    word = row.locator(".jy-desk-light").inner_text().strip()
    assert word, "the light is shown with a word"
    row.locator("a").first.click()
    page.wait_for_url(re.compile(re.escape(site.url) + url))


def test_the_grid_workers_desk_leads_with_the_case_to_accept(
    site: Site, desktop: Any, screenshots: Path
) -> None:
    number = dispatched_case(site)
    login(desktop, site, "grid")
    work_comes_first(desktop, staff=True)
    assert desktop.locator("[data-section]").first.get_attribute("data-section") == "accept"
    row = item(desktop, "accept", number)
    desktop.screenshot(path=str(screenshots / "desk-grid.png"), full_page=True)
    open_item(desktop, site, row, r"/cases/\d+/$")
    assert number in desktop.content()
    assert desktop.locator('[data-testid=actions] [data-action="accept"]').count() == 1


def test_the_community_staffs_desk_leads_with_cases_to_dispatch(
    site: Site, desktop: Any, screenshots: Path
) -> None:
    login(desktop, site, "community")
    work_comes_first(desktop, staff=True)
    assert desktop.locator("[data-section]").first.get_attribute("data-section") == "dispatch"
    matches = desktop.locator('[data-section="matches"] [data-testid="desk-item"]')
    assert matches.count() >= 1  # the seed's open door tasks
    desktop.screenshot(path=str(screenshots / "desk-community.png"), full_page=True)
    open_item(desktop, site, matches.first, r"/policies/matches/\d+/$")


@pytest.mark.parametrize("username", ["street", "admin"])
def test_the_leaders_desk_shows_the_escalated_alarm_and_the_one_screen(
    site: Site, desktop: Any, screenshots: Path, username: str
) -> None:
    alarm_id = escalated_alarm(site)
    login(desktop, site, username)
    work_comes_first(desktop, staff=True)
    assert desktop.get_by_test_id("desk-screen").get_attribute("href") == "/command/screen/"
    row = desktop.locator(
        f'[data-section="alarms"] [data-testid="desk-item"]:has(a[href="/iot/alarms/{alarm_id}/"])'
    )
    assert row.count() == 1
    desktop.screenshot(path=str(screenshots / f"desk-{username}.png"), full_page=True)
    open_item(desktop, site, row, rf"/iot/alarms/{alarm_id}/$")


def test_the_branch_secretarys_desk_leads_with_the_compounds_wishes(
    site: Site, desktop: Any, screenshots: Path
) -> None:
    title = "独居老人想要一把带扶手的椅子"
    wish_id = compound_wish(site, title)
    login(desktop, site, "branch")
    work_comes_first(desktop, staff=True)
    row = item(desktop, "wishes", title)
    desktop.screenshot(path=str(screenshots / "desk-branch.png"), full_page=True)
    open_item(desktop, site, row, rf"/community/wishes/{wish_id}/$")
    assert (
        desktop.get_by_role("button", name="认领").count()
        + desktop.get_by_role("link", name="认领").count()
        >= 1
    )


def test_the_three_heads_desk_shows_the_compounds_wish_to_claim(
    site: Site, desktop: Any, screenshots: Path
) -> None:
    title = "楼道灯坏了想请人修"
    wish_id = compound_wish(site, title)
    login(desktop, site, "head")
    work_comes_first(desktop, staff=True)
    row = item(desktop, "wishes", title)
    desktop.screenshot(path=str(screenshots / "desk-head.png"), full_page=True)
    open_item(desktop, site, row, rf"/community/wishes/{wish_id}/$")


def test_the_residents_phone_desk_shows_their_request_and_its_tracking_link(
    site: Site, phone: Any, screenshots: Path
) -> None:
    token, number = site.query(
        "SELECT c.tracking_token, c.number FROM cases_case c JOIN people_person p"
        " ON p.id = c.reporter_id JOIN auth_user u ON u.id = p.user_id"
        " WHERE u.username = 'resident' ORDER BY c.id LIMIT 1"
    )[0]
    login(phone, site, "resident")
    work_comes_first(phone, staff=False)
    assert phone.locator("[data-section]").first.get_attribute("data-section") == "my_requests"
    row = item(phone, "my_requests", number)
    assert phone.get_by_text("目前没有等您表决的议题").count() == 1  # empty says so
    phone.screenshot(path=str(screenshots / "desk-resident-phone.png"), full_page=True)
    open_item(phone, site, row, rf"/track/{re.escape(token)}/$")
