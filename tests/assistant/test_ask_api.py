"""``POST /api/v1/assistant/ask``, the question log and the knowledge base's read API:
answers with citations, abstentions offering the hand-off, masking of ID and phone
numbers, the anonymous pace, hostile input → 4xx with a bilingual message, the log's
scope and query counts that do not grow."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from jiayuan.assistant import asking
from jiayuan.assistant.models import Ask, Entry

from ..community.conftest import Api, Compounds
from .helpers_chat import (
    ANSWERABLE,
    ANSWERABLE_ENTRY,
    OUT_OF_SCOPE,
    assert_error,
    fresh_pace,
    resident_account,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def anon() -> Api:
    fresh_pace()
    return Api(Client())


def test_an_anonymous_question_is_answered_with_its_citation(anon: Api) -> None:
    response = anon.post("/assistant/ask", {"question": ANSWERABLE})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["abstained"] is False and body["reason"] == ""
    assert body["citations"][0]["entry"] == ANSWERABLE_ENTRY
    assert body["citations"][0]["source"] and body["citations"][0]["title"]
    assert body["handoff_offered"] is False and body["case"] is None
    row = Ask.objects.get(pk=body["ask"])
    assert row.user is None and row.channel == "api" and not row.abstained
    assert row.citations[0]["entry"] == ANSWERABLE_ENTRY
    assert row.area_path == ""


def test_an_out_of_scope_question_abstains_and_offers_the_hand_off(anon: Api) -> None:
    body = anon.post("/assistant/ask", {"question": OUT_OF_SCOPE}).json()
    assert body["abstained"] is True and body["reason"] == "low_score"
    assert body["citations"] == [] and body["handoff_offered"] is True
    assert Ask.objects.get(pk=body["ask"]).abstained


def test_id_and_phone_numbers_are_masked_in_the_log(anon: Api, caplog: Any) -> None:
    question = "我电话13812345678，身份证370830195001011234，低保怎么申请"
    with caplog.at_level("INFO"):
        body = anon.post("/assistant/ask", {"question": question}).json()
    stored = Ask.objects.get(pk=body["ask"]).question
    assert "13812345678" not in stored and "138****5678" in stored
    assert "370830195001011234" not in stored and "370830********1234" in stored
    assert "13812345678" not in caplog.text and "370830195001011234" not in caplog.text


def test_anonymous_askers_are_paced_per_address(anon: Api, settings: Any) -> None:
    settings.ASSISTANT_ANON_PER_MINUTE = 2
    for _ in range(2):
        assert anon.post("/assistant/ask", {"question": ANSWERABLE}).status_code == 200
    body = assert_error(anon.post("/assistant/ask", {"question": ANSWERABLE}), 429)
    assert "频繁" in body["message"]
    # another address is not paced by the first one's questions
    other = Client(REMOTE_ADDR="10.0.0.9")
    response = other.post(
        "/api/v1/assistant/ask", {"question": ANSWERABLE}, content_type="application/json"
    )
    assert response.status_code == 200


def test_logged_in_askers_are_not_paced(api_as: Any, settings: Any) -> None:
    settings.ASSISTANT_ANON_PER_MINUTE = 1
    fresh_pace()
    resident = api_as("resident")
    for _ in range(3):
        assert resident.post("/assistant/ask", {"question": ANSWERABLE}).status_code == 200


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps({"question": "问" * 201}, ensure_ascii=False),
        json.dumps({"question": "低保\u0000怎么申请"}),
        '{"question": "\\ud800低保"}',
        json.dumps({"question": ""}),
        json.dumps({"question": 12345}),
        json.dumps({"question": ["低保"]}),
        json.dumps({}),
        "[" * 5000 + "]" * 5000,
        "not json",
    ],
)
def test_hostile_questions_are_refused_with_a_4xx(anon: Api, raw: str) -> None:
    before = Ask.objects.count()
    response = anon.post("/assistant/ask", raw)
    assert 400 <= response.status_code < 500, response.content
    assert " / " in response.json()["message"]
    assert Ask.objects.count() == before


def test_a_question_of_200_characters_is_accepted(anon: Api) -> None:
    assert anon.post("/assistant/ask", {"question": "低" * 200}).status_code == 200


def test_an_anonymous_asker_cannot_hand_off(anon: Api) -> None:
    body = assert_error(
        anon.post("/assistant/ask", {"question": OUT_OF_SCOPE, "handoff": True}), 403
    )
    assert "登录" in body["message"]
    assert not Ask.objects.filter(question=OUT_OF_SCOPE).exists()


def test_a_session_without_csrf_token_is_refused(users: dict[str, Any]) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["resident"])
    response = client.post(
        "/api/v1/assistant/ask", {"question": ANSWERABLE}, content_type="application/json"
    )
    assert response.status_code == 403


# --- the log ---------------------------------------------------------------------------
def test_a_resident_reads_their_own_questions_only(
    api_as: Any, users: dict[str, Any], compounds: Compounds
) -> None:
    mine = api_as("resident").post("/assistant/ask", {"question": ANSWERABLE}).json()["ask"]
    other = resident_account(compounds.stranger)
    theirs = api_as(other).post("/assistant/ask", {"question": OUT_OF_SCOPE}).json()["ask"]
    ids = [r["id"] for r in api_as("resident").get("/assistant/asks").json()["items"]]
    assert mine in ids and theirs not in ids


def test_staff_read_the_asks_of_their_scope_abstentions_first(
    api_as: Any, users: dict[str, Any], compounds: Compounds
) -> None:
    # given a question of the grid's resident and one of a resident of another compound
    answered = api_as("resident").post("/assistant/ask", {"question": ANSWERABLE}).json()["ask"]
    unanswered = api_as("resident").post("/assistant/ask", {"question": OUT_OF_SCOPE}).json()
    far = (
        api_as(resident_account(compounds.stranger))
        .post("/assistant/ask", {"question": ANSWERABLE})
        .json()["ask"]
    )
    assert Ask.objects.get(pk=answered).area_path.startswith(compounds.grid.path)
    # when the grid worker reads the log
    items = api_as("grid").get("/assistant/asks").json()["items"]
    ids = [r["id"] for r in items]
    # then their grid's asks, the abstention first, and not the other compound's
    assert ids.index(unanswered["ask"]) < ids.index(answered)
    assert far not in ids
    assert far in [r["id"] for r in api_as("admin").get("/assistant/asks").json()["items"]]
    only = api_as("grid").get("/assistant/asks", abstained="true").json()["items"]
    assert [r["id"] for r in only] == [unanswered["ask"]]


def test_the_log_costs_the_same_for_few_asks_and_many(api_as: Any) -> None:
    admin = api_as("admin")
    asking.ask(ANSWERABLE, channel="web")
    counts = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as ctx:
            assert admin.get("/assistant/asks", limit=100).status_code == 200
        counts.append(len(ctx.captured_queries))
        Ask.objects.bulk_create([Ask(channel="web", question=f"问题{i}") for i in range(30)])
    assert counts[0] == counts[1], counts


# --- the knowledge base ------------------------------------------------------------------
def test_entries_are_listed_and_read_by_key(api_as: Any) -> None:
    resident = api_as("resident")
    page = resident.get("/assistant/entries", q="高龄津贴").json()
    assert ANSWERABLE_ENTRY in [e["key"] for e in page["items"]]
    entry = resident.get(f"/assistant/entries/{ANSWERABLE_ENTRY}").json()
    assert entry["policy"] == "gaoling-jintie" and entry["source"]
    assert any(f["value"] is None for f in entry["local_figures"])  # unknown, never guessed
    assert_error(resident.get("/assistant/entries/no-such-entry"), 404)
    assert_error(resident.get("/assistant/entries/x%00y"), 404)


def test_a_disabled_entry_is_read_by_staff_only(api_as: Any) -> None:
    Entry.objects.filter(key=ANSWERABLE_ENTRY).update(enabled=False)
    assert_error(api_as("resident").get(f"/assistant/entries/{ANSWERABLE_ENTRY}"), 404)
    assert api_as("community").get(f"/assistant/entries/{ANSWERABLE_ENTRY}").status_code == 200


def test_the_entry_list_costs_the_same_for_few_entries_and_many(api_as: Any) -> None:
    admin = api_as("admin")
    counts = []
    for n in range(2):
        with CaptureQueriesContext(connection) as ctx:
            assert admin.get("/assistant/entries", limit=500).status_code == 200
        counts.append(len(ctx.captured_queries))
        Entry.objects.bulk_create(
            [
                Entry(key=f"extra-{n}-{i}", title="额外条目", answer="答复", source="依据")
                for i in range(30)
            ]
        )
    assert counts[0] == counts[1], counts
