"""Issue 12's volunteers acceptance in Chromium against a real ``jiayuan serve`` on the
seeded tiny county: the ``community`` staff publish an activity; the ``resident``, on the
phone, registers as a volunteer, signs up, and is checked in by opening the link the
staff's QR code holds; the staff see the check-in and close the activity; the resident's
hours page shows the hours. Screenshots go to var/screenshots/."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from .conftest import DESKTOP, Site, login

pytestmark = pytest.mark.browser

TITLE = "健康义诊·量血压进小区"
LOCAL = ZoneInfo("Asia/Shanghai")  # settings.TIME_ZONE: what a datetime-local field means


@pytest.fixture
def staff(browser: Any) -> Iterator[Any]:
    """The community staff's desktop browser (its own session)."""
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    yield context.new_page()
    context.close()


def local_minute(delta: dt.timedelta) -> str:
    return (dt.datetime.now(LOCAL) + delta).strftime("%Y-%m-%dT%H:%M")


def test_a_resident_signs_up_on_the_phone_and_is_checked_in_by_the_qr_link(
    site: Site, staff: Any, phone: Any, screenshots: Path
) -> None:
    # --- the staff publish an activity in their community, starting now
    login(staff, site, "community")
    staff.get_by_test_id("nav-community").click()
    staff.get_by_test_id("nav-activities").click()
    staff.wait_for_url(site.url + "/community/activities/")
    staff.get_by_test_id("new-activity").click()
    form = staff.get_by_test_id("activity-form")
    form.get_by_label("活动名称").fill(TITLE)
    form.get_by_label("类型").select_option("clinic")
    form.get_by_label("所在社区/小区").select_option(label="翔宇社区")
    form.get_by_label("开始时间").fill(local_minute(dt.timedelta(minutes=-2)))
    form.get_by_label("结束时间").fill(local_minute(dt.timedelta(hours=2)))
    form.get_by_label("名额").fill("20")
    form.get_by_label("志愿时长(小时)").fill("2.5")
    form.get_by_label("服务对象").fill("高龄老人，慢性病患者")
    form.get_by_role("button", name="发布").click()
    staff.wait_for_url(re.compile(r".*/community/activities/\d+/$"))
    activity_url = staff.url
    qr = staff.get_by_test_id("checkin-qr")
    assert qr.locator("img").get_attribute("src").startswith("data:image/svg+xml")
    checkin_link = staff.get_by_test_id("checkin-link").inner_text().strip()
    assert re.fullmatch(
        rf"{re.escape(site.url)}/m/activities/\d+/checkin/[0-9a-f]{{32}}/", checkin_link
    )
    staff.screenshot(path=str(screenshots / "activity-staff-qr.png"), full_page=True)

    # --- the resident registers as a volunteer on the phone (unless the demo did)
    login(phone, site, "resident")
    phone.goto(site.url + "/m/hours/")
    balance = Decimal("0")
    if phone.get_by_test_id("register").count():
        phone.get_by_test_id("register").click()
        phone.wait_for_url(site.url + "/m/hours/")
        assert "已注册为志愿者" in phone.content()
    else:
        balance = Decimal(phone.get_by_test_id("hours-balance").inner_text())

    # --- finds the activity nearby and signs up
    phone.get_by_test_id("tab-activities").click()
    phone.wait_for_url(site.url + "/m/activities/")
    card = phone.get_by_test_id("phone-activity").filter(has_text=TITLE)
    assert "余 20 个名额" in card.inner_text()
    phone.screenshot(path=str(screenshots / "activity-phone-list.png"), full_page=True)
    card.click()
    phone.get_by_test_id("signup").click()
    assert "报名成功" in phone.content()
    assert "剩余 19 / 20" in phone.get_by_test_id("places-left").inner_text()
    phone.screenshot(path=str(screenshots / "activity-phone-signed-up.png"), full_page=True)

    # --- opens the link of the staff's QR code and is checked in (once)
    phone.goto(checkin_link)
    assert phone.get_by_test_id("checked-in").inner_text() == "签到成功"
    phone.screenshot(path=str(screenshots / "activity-phone-checked-in.png"), full_page=True)
    phone.goto(checkin_link)
    assert phone.get_by_test_id("checked-in").inner_text() == "已签到"
    wrong = phone.goto(re.sub(r"[0-9a-f]{32}/$", "0" * 32 + "/", checkin_link))
    assert wrong is not None and wrong.status == 404

    # --- the staff see the check-in and close the activity
    staff.goto(activity_url)
    assert staff.get_by_test_id("checked").inner_text() == "1"
    assert staff.get_by_test_id("checked-in").count() == 1
    staff.get_by_test_id("close-form").get_by_label("活动小结").fill("为 36 位老人量了血压")
    staff.once("dialog", lambda dialog: dialog.accept())
    staff.get_by_test_id("close").click()
    staff.wait_for_load_state()
    assert staff.get_by_test_id("status").inner_text() == "已结束"
    assert staff.get_by_test_id("participations").inner_text() == "1"
    assert "2.5 小时" in staff.get_by_test_id("credited").inner_text()
    staff.screenshot(path=str(screenshots / "activity-staff-closed.png"), full_page=True)

    # --- and the resident sees the hours
    phone.goto(site.url + "/m/hours/")
    assert Decimal(phone.get_by_test_id("hours-balance").inner_text()) == balance + Decimal("2.5")
    assert TITLE in phone.get_by_test_id("hours-lines").inner_text()
    phone.screenshot(path=str(screenshots / "activity-phone-hours.png"), full_page=True)
