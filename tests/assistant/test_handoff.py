"""The hand-off: an unanswered question becomes a case of category 09 on the 数字助理
channel for the asker's grid worker (through the incident bridge), the asker is told
when to expect a reply from the case's due time, once and by the asker only."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from jiayuan.assistant import asking, handoff
from jiayuan.assistant.models import Ask
from jiayuan.cases.models import Case
from jiayuan.core.errors import PermissionDenied
from jiayuan.core.incidents import incident_status

from ..community.conftest import Compounds
from .helpers_chat import (
    ANSWERABLE,
    OUT_OF_SCOPE,
    abstain_on,
    assert_error,
    fresh_pace,
    resident_account,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _abstains(monkeypatch: Any) -> None:
    abstain_on(monkeypatch, OUT_OF_SCOPE)


def unanswered(api: Any) -> int:
    body = api.post("/assistant/ask", {"question": OUT_OF_SCOPE}).json()
    assert body["abstained"] and body["handoff_offered"]
    return int(body["ask"])


def test_the_asker_hands_off_and_the_grid_worker_gets_the_case(
    api_as: Any, users: dict[str, Any], compounds: Compounds
) -> None:
    # given a resident's question the assistant could not answer
    resident = api_as("resident")
    ask_id = unanswered(resident)
    # when they hand it off
    response = resident.post(f"/assistant/asks/{ask_id}/handoff")
    # then a case is opened for their grid's worker, and they are told when to expect a call
    assert response.status_code == 200, response.content
    body = response.json()
    case = Case.objects.get(number=body["case"])
    assert case.source_ref == f"ask:{ask_id}" and case.channel == "assistant"
    assert case.category.code == "09" and case.level == "grid"
    assert case.grid == compounds.grid and case.reporter == compounds.resident
    assert case.handler_user == users["grid"]
    assert OUT_OF_SCOPE in case.description
    assert Case.objects.visible_to(users["grid"]).filter(pk=case.pk).exists()
    due = timezone.localtime(case.due_at)
    assert body["message"] == f"网格员将在 {due:%Y年%m月%d日 %H:%M} 前联系您。"
    assert body["open"] is True and body["status"]
    row = Ask.objects.get(pk=ask_id)
    assert row.case_number == case.number and row.handed_off_at is not None


def test_a_question_is_handed_off_once(api_as: Any) -> None:
    resident = api_as("resident")
    ask_id = unanswered(resident)
    assert resident.post(f"/assistant/asks/{ask_id}/handoff").status_code == 200
    assert_error(resident.post(f"/assistant/asks/{ask_id}/handoff"), 409)
    assert Case.objects.filter(source_ref=f"ask:{ask_id}").count() == 1


def test_only_the_asker_hands_off_their_question(api_as: Any, compounds: Compounds) -> None:
    ask_id = unanswered(api_as("resident"))
    other = api_as(resident_account(compounds.neighbour))
    assert_error(other.post(f"/assistant/asks/{ask_id}/handoff"), 404)
    assert_error(api_as("grid").post(f"/assistant/asks/{ask_id}/handoff"), 404)
    for bad in ("0", "abc", str(2**70)):
        assert_error(other.post(f"/assistant/asks/{bad}/handoff"), 404)
    assert not Ask.objects.get(pk=ask_id).case_number


def test_an_answered_question_is_not_handed_off(api_as: Any) -> None:
    resident = api_as("resident")
    ask_id = resident.post("/assistant/ask", {"question": ANSWERABLE}).json()["ask"]
    assert_error(resident.post(f"/assistant/asks/{ask_id}/handoff"), 409)


def test_handoff_in_the_ask_body_opens_the_case_at_once(api_as: Any) -> None:
    body = (
        api_as("resident")
        .post("/assistant/ask", {"question": OUT_OF_SCOPE, "handoff": True})
        .json()
    )
    assert body["case"] and body["handoff_offered"] is False
    assert body["handoff"]["message"].startswith("网格员将在")
    status = incident_status(None, f"ask:{body['ask']}")
    assert status is not None and status["number"] == body["case"] and status["open"]


def test_an_account_without_a_resident_record_cannot_hand_off() -> None:
    fresh_pace()
    user = get_user_model().objects.create_user(username="no-person", password="x-Passw0rd!")
    before = Ask.objects.count()
    with pytest.raises(PermissionDenied) as info:
        asking.ask(OUT_OF_SCOPE, user=user, channel="desk", handoff=True)
    assert "社区" in info.value.zh and Ask.objects.count() == before


def test_statuses_of_many_asks_take_one_bridge_query(
    api_as: Any, django_assert_max_num_queries: Any
) -> None:
    resident = api_as("resident")
    ids = [unanswered(resident) for _ in range(3)]
    for ask_id in ids:
        resident.post(f"/assistant/asks/{ask_id}/handoff")
    rows = list(Ask.objects.filter(pk__in=ids))
    with django_assert_max_num_queries(1):
        found = handoff.statuses_of(rows)
    assert sorted(found) == sorted(ids)
    assert len({s["case"] for s in found.values()}) == 3


def test_the_demo_week_of_questions_hands_some_off_through_the_bridge() -> None:
    from jiayuan.assistant.demo.asks import seed_asks

    before = Ask.objects.count()
    made = seed_asks(7, "tiny")
    assert made["asks"] == 40 and Ask.objects.count() == before + 40
    assert made["abstained"] >= 1 and 1 <= made["handed_off"] <= made["abstained"]
    handed = Ask.objects.exclude(case_number="").order_by("-id")[: made["handed_off"]]
    for row in handed:
        case = Case.objects.get(number=row.case_number)
        assert case.source_ref == f"ask:{row.pk}" and case.channel == "assistant"
        assert case.grid.path == row.area_path
    assert not Ask.objects.filter(question__regex=r"1[3-9][0-9]{9}").exists()
