"""The chat pages: the resident's phone chat (answers with their citations linked to the
entry's public view, the hand-off button for a resident, the hand-off status under
"我的提问"), an anonymous asker's chat kept in their session, escaping of user text, the
staff desk (general answers only) and the question log (scoped, abstentions first)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from jiayuan.assistant.models import Ask
from jiayuan.cases.models import Case

from ..community.conftest import Compounds
from .helpers_chat import (
    ANSWERABLE,
    ANSWERABLE_ENTRY,
    OUT_OF_SCOPE,
    abstain_on,
    fresh_pace,
    resident_account,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _setup(monkeypatch: Any) -> None:
    fresh_pace()
    abstain_on(monkeypatch, OUT_OF_SCOPE)


def test_a_resident_asks_and_sees_the_answer_with_its_citation(page_as: Any) -> None:
    client = page_as("resident")
    response = client.post("/m/ask/", {"question": ANSWERABLE})
    assert response.status_code == 302
    page = client.get("/m/ask/").content.decode()
    assert ANSWERABLE in page and "我的提问" in page
    assert f'href="/m/ask/entries/{ANSWERABLE_ENTRY}/"' in page
    assert 'data-testid="tab-ask"' in page and 'data-testid="tab-wishes"' in page
    entry = client.get(f"/m/ask/entries/{ANSWERABLE_ENTRY}/")
    assert entry.status_code == 200 and "依据" in entry.content.decode()


def test_a_resident_hands_off_from_the_chat_and_sees_the_status(
    page_as: Any, users: dict[str, Any]
) -> None:
    client = page_as("resident")
    client.post("/m/ask/", {"question": OUT_OF_SCOPE})
    row = Ask.objects.filter(user=users["resident"]).latest("id")
    page = client.get("/m/ask/").content.decode()
    assert f'action="/m/ask/{row.pk}/handoff/"' in page
    response = client.post(f"/m/ask/{row.pk}/handoff/", follow=True)
    body = response.content.decode()
    row.refresh_from_db()
    assert row.case_number and "网格员将在" in body and row.case_number in body
    assert 'data-testid="handoff-status"' in body
    assert Case.objects.get(number=row.case_number).handler_user == users["grid"]
    # once only: the button is gone and a second post changes nothing
    assert f'action="/m/ask/{row.pk}/handoff/"' not in body
    client.post(f"/m/ask/{row.pk}/handoff/")
    assert Case.objects.filter(source_ref=f"ask:{row.pk}").count() == 1


def test_another_resident_cannot_hand_off_my_question(
    page_as: Any, users: dict[str, Any], compounds: Compounds
) -> None:
    page_as("resident").post("/m/ask/", {"question": OUT_OF_SCOPE})
    row = Ask.objects.filter(user=users["resident"]).latest("id")
    other = page_as(resident_account(compounds.neighbour))
    assert other.post(f"/m/ask/{row.pk}/handoff/").status_code == 404
    assert other.post("/m/ask/abc/handoff/").status_code == 404
    row.refresh_from_db()
    assert not row.case_number


def test_an_anonymous_asker_keeps_their_chat_and_is_told_to_log_in() -> None:
    client = Client()
    client.post("/m/ask/", {"question": OUT_OF_SCOPE})
    page = client.get("/m/ask/").content.decode()
    assert OUT_OF_SCOPE in page and "登录后可转交网格员" in page
    assert 'data-testid="handoff"' not in page
    assert 'data-testid="tab-wishes"' not in page  # the resident tabs need an account
    assert OUT_OF_SCOPE not in Client().get("/m/ask/").content.decode()  # not another's


def test_user_text_is_escaped(page_as: Any) -> None:
    client = page_as("resident")
    client.post("/m/ask/", {"question": "<script>alert(1)</script>低保"})
    page = client.get("/m/ask/").content.decode()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


@pytest.mark.parametrize("question", ["", "问" * 201, "低保\x00"])
def test_a_bad_question_is_shown_its_error(page_as: Any, question: str) -> None:
    response = page_as("resident").post("/m/ask/", {"question": question})
    assert response.status_code == 422
    assert 'data-testid="ask-error"' in response.content.decode()


def test_an_unknown_or_disabled_entry_is_not_found() -> None:
    assert Client().get("/m/ask/entries/no-such-entry/").status_code == 404


def test_the_desk_answers_generally_and_the_log_is_scoped(
    page_as: Any, users: dict[str, Any], compounds: Compounds
) -> None:
    desk = page_as("grid")
    assert desk.post("/assistant/", {"question": "我能领高龄津贴吗"}).status_code == 302
    row = Ask.objects.filter(user=users["grid"]).latest("id")
    assert row.channel == "desk" and (not row.personal or row.person_id is not None)
    page_as("resident").post("/m/ask/", {"question": OUT_OF_SCOPE})
    page_as(resident_account(compounds.stranger)).post("/m/ask/", {"question": "低保的问题外"})
    log = desk.get("/assistant/asks/").content.decode()
    assert OUT_OF_SCOPE in log and "低保的问题外" not in log
    assert log.index(OUT_OF_SCOPE) < log.index("我能领高龄津贴吗")  # abstentions first
    only = desk.get("/assistant/asks/", {"abstained": "0"}).content.decode()
    assert OUT_OF_SCOPE not in only
    assert page_as("resident").get("/assistant/asks/").status_code == 403
    assert page_as("resident").get("/assistant/").status_code == 403


def test_the_log_costs_the_same_for_few_asks_and_many(
    page_as: Any, django_assert_max_num_queries: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    admin = page_as("admin")
    admin.post("/m/ask/", {"question": ANSWERABLE})
    counts = []
    for _ in range(2):
        admin.get("/assistant/asks/")
        with CaptureQueriesContext(connection) as ctx:
            assert admin.get("/assistant/asks/").status_code == 200
        counts.append(len(ctx.captured_queries))
        Ask.objects.bulk_create([Ask(channel="web", question=f"问题{i}") for i in range(30)])
    assert counts[0] == counts[1], counts
