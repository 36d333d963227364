"""The digital assistant in the browser: a resident asks on the phone (/m/ask/), reads
the answer with its citation and opens the cited entry; asks a question out of the
knowledge base's scope, which abstains, and hands it off; the grid worker finds the case
in their list and opens it. Screenshots go to var/screenshots/assistant-*.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import Site, login

pytestmark = pytest.mark.browser

ANSWERABLE = "高龄津贴谁能领"
OUT_OF_SCOPE = "附近哪家火锅店好吃"


def ask(page: Any, question: str) -> Any:
    page.fill("#question", question)
    page.get_by_test_id("ask-submit").click()
    page.wait_for_load_state("networkidle")
    return page.get_by_test_id("ask").filter(has_text=question).last


def test_a_resident_asks_hands_off_and_the_grid_worker_gets_the_case(
    site: Site, phone: Any, desktop: Any, screenshots: Path
) -> None:
    # --- the resident asks on the phone and reads the cited entry
    login(phone, site, "resident")
    phone.goto(site.url + "/m/ask/")
    answered = ask(phone, ANSWERABLE)
    citation = answered.get_by_test_id("citation").first
    assert "高龄津贴" in citation.inner_text()
    assert "80周岁" in answered.get_by_test_id("ask-answer").inner_text()
    phone.screenshot(path=str(screenshots / "assistant-answer.png"), full_page=True)
    citation.click()
    phone.wait_for_url("**/m/ask/entries/**")
    assert phone.get_by_test_id("entry-source").inner_text().strip()
    phone.go_back()

    # --- an out-of-scope question abstains and offers the hand-off; the resident takes it
    unanswered = ask(phone, OUT_OF_SCOPE)
    assert "不能准确回答" in unanswered.get_by_test_id("ask-answer").inner_text()
    assert not unanswered.get_by_test_id("citation").count()
    unanswered.get_by_test_id("handoff").click()
    phone.wait_for_load_state("networkidle")
    status = phone.get_by_test_id("ask").filter(has_text=OUT_OF_SCOPE).last
    assert "网格员将在" in status.get_by_test_id("handoff-status").inner_text()
    phone.screenshot(path=str(screenshots / "assistant-handoff.png"), full_page=True)
    number, case_id = site.query(
        "SELECT a.case_number, c.id FROM assistant_ask a JOIN cases_case c"
        " ON c.number = a.case_number WHERE a.question = ? ORDER BY a.id DESC",
        OUT_OF_SCOPE,
    )[0]

    # --- the grid worker sees the case in their list and opens it
    login(desktop, site, "grid")
    desktop.goto(site.url + "/cases/?q=" + number)
    assert desktop.get_by_text(number).first.is_visible()
    desktop.goto(f"{site.url}/cases/{case_id}/")
    body = desktop.content()
    assert OUT_OF_SCOPE in body and "数字助理" in body
    desktop.screenshot(path=str(screenshots / "assistant-case.png"), full_page=True)
