"""A compound deliberation from topic to published minutes, in Chromium against a real
``jiayuan serve`` on the seeded tiny county: the branch secretary raises a topic on the
desk, holds the meeting (sign-in against the quorum) and opens the vote; the resident
votes on the phone page; the secretary enters a paper vote for an elderly neighbour,
closes the vote and the resolution is shown; the minutes are published and the resident
reads them on the phone. Screenshots go to var/screenshots/deliberation-*.png."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import DESKTOP, Site, login

pytestmark = pytest.mark.browser

TITLE = "东门加装电动车充电桩"
MINUTES = "议事会同意在东门空地加装10个充电口，由物业负责实施，月底前完成。"


@pytest.fixture
def secretary(browser: Any) -> Iterator[Any]:
    """The branch secretary's desktop browser (its own session)."""
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # "结束表决并计票？"
    yield page
    context.close()


def test_a_deliberation_from_topic_to_published_minutes(
    site: Site, secretary: Any, phone: Any, screenshots: Path
) -> None:
    # --- the branch secretary raises a topic from the menu
    login(secretary, site, "branch")
    secretary.get_by_test_id("nav-community").click()
    secretary.get_by_test_id("nav-deliberation-new").click()
    secretary.wait_for_url(site.url + "/community/deliberation/new/")
    secretary.select_option("#matter_type", "residents_public_affairs")
    secretary.fill("#title", TITLE)
    secretary.fill("#description", "居民反映电动车充电难，楼道飞线充电有火灾隐患。")
    secretary.get_by_test_id("topic-create").click()
    secretary.wait_for_url(re.compile(r"/community/deliberation/topics/\d+/"))
    topic_url = secretary.url.split("#")[0]
    topic_id = int(topic_url.rstrip("/").rsplit("/", 1)[-1])
    assert secretary.get_by_test_id("topic-status").inner_text() == "议题征集"

    # --- a proposal and the meeting: the 1+3+N roster, sign-in until the quorum is met
    secretary.fill("#propose input[name=title]", "东门空地装10个充电口")
    secretary.fill("#propose input[name=author_name]", "居民代表")
    secretary.locator("#propose button[type=submit]").click()
    secretary.wait_for_url(re.compile(r"#propose$"))
    assert "东门空地装10个充电口" in secretary.get_by_test_id("proposals").inner_text()
    secretary.fill("#agenda", "一、方案说明\n二、讨论\n三、形成意见")
    secretary.get_by_test_id("schedule").click()
    secretary.wait_for_url(re.compile(r"#schedule$"))
    secretary.get_by_test_id("meeting-link").first.click()
    secretary.wait_for_url(re.compile(r"/community/deliberation/meetings/\d+/"))
    quorum = secretary.get_by_test_id("quorum")
    assert "未达到" in quorum.inner_text()
    needed = int(re.search(r"法定人数 (\d+)", quorum.inner_text()).group(1))  # type: ignore[union-attr]
    for _ in range(needed):
        secretary.get_by_test_id("sign-in").first.click()
        secretary.wait_for_load_state()
    assert "已达到" in secretary.get_by_test_id("quorum").inner_text()
    assert secretary.get_by_test_id("meeting-status").inner_text() == "进行中"
    secretary.screenshot(path=str(screenshots / "deliberation-meeting.png"), full_page=True)
    meeting_url = secretary.url.split("#")[0]

    # --- the vote opens: the census is the compound's households
    secretary.goto(topic_url)
    secretary.get_by_test_id("open-voting").click()
    secretary.wait_for_url(re.compile(r"#open_voting$"))
    assert secretary.get_by_test_id("topic-status").inner_text() == "表决中"
    assert "已投票 0 /" in secretary.get_by_test_id("turnout").inner_text()

    # --- the resident votes on the phone page, once
    login(phone, site, "resident")
    prompts: list[str] = []

    def confirm(dialog: Any) -> None:  # "确认投同意票？投出后不能更改。"
        prompts.append(dialog.message)
        dialog.accept()

    phone.on("dialog", confirm)
    phone.goto(site.url + "/m/topics/")
    item = phone.locator(f'[data-topic="{topic_id}"]')
    assert "待您投票" in item.inner_text()
    item.click()
    phone.wait_for_url(f"{site.url}/m/topics/{topic_id}/")
    phone.screenshot(path=str(screenshots / "deliberation-phone-vote.png"), full_page=True)
    phone.get_by_test_id("vote-yes").click()
    phone.wait_for_url(f"{site.url}/m/topics/{topic_id}/")
    assert "同意" in phone.get_by_test_id("my-vote").inner_text()
    assert prompts and "不能更改" in prompts[0]
    assert phone.get_by_test_id("vote-form").count() == 0

    # --- the secretary enters a paper vote for an elderly neighbour
    secretary.goto(topic_url)
    assert "已投票 1 /" in secretary.get_by_test_id("turnout").inner_text()
    options = secretary.get_by_test_id("paper-entry").locator("option")
    entry_value = options.nth(1).get_attribute("value")
    secretary.get_by_test_id("paper-entry").select_option(entry_value)
    secretary.locator("label[for=paper-yes]").click()
    secretary.get_by_test_id("paper-vote").click()
    secretary.wait_for_url(re.compile(r"#paper_vote$"))
    assert "已录入纸质票" in secretary.locator(".alert-success").inner_text()
    assert "已投票 2 /" in secretary.get_by_test_id("turnout").inner_text()
    (paper,) = site.query(
        "SELECT paper, entered_by_id IS NOT NULL FROM community_vote WHERE entry_id = ?",
        int(entry_value or 0),
    )
    assert paper == (1, 1)
    secretary.screenshot(path=str(screenshots / "deliberation-voting.png"), full_page=True)

    # --- voting closes into a resolution with its tally
    secretary.get_by_test_id("close-voting").click()
    secretary.wait_for_url(re.compile(r"#close$"))
    resolution = secretary.get_by_test_id("resolution")
    assert "决议" in resolution.inner_text()
    assert secretary.get_by_test_id("tally-heads").count() == 1
    # two households of the compound's 68 took part: not more than half, so no decision
    assert secretary.get_by_test_id("topic-status").inner_text() == "未通过"
    assert "参与表决未达法定比例" in secretary.get_by_test_id("resolution-text").inner_text()
    secretary.screenshot(path=str(screenshots / "deliberation-resolution.png"), full_page=True)

    # --- the minutes: hidden until published, then read on the phone
    secretary.goto(meeting_url)
    secretary.get_by_test_id("minutes-input").fill(MINUTES)
    secretary.get_by_test_id("publish-minutes").click()
    secretary.wait_for_url(re.compile(r"#minutes$"))
    assert secretary.get_by_test_id("minutes-published").count() == 1
    phone.goto(f"{site.url}/m/topics/{topic_id}/")
    assert MINUTES in phone.get_by_test_id("phone-minutes").inner_text()
    assert "未通过" in phone.get_by_test_id("phone-resolution").inner_text()
    phone.screenshot(path=str(screenshots / "deliberation-phone-minutes.png"), full_page=True)

    # --- the desk lists the topic under its status
    secretary.goto(site.url + "/community/deliberation/?status=rejected")
    assert TITLE in secretary.get_by_test_id("topics").inner_text()
    secretary.screenshot(path=str(screenshots / "deliberation-desk.png"), full_page=True)
