"""Personal answers: a verified resident asking about themselves is answered from their
own record through the policy engine (eligible, candidate with what to verify, not
eligible with the failing condition in plain words), with the policy's entry cited;
never for someone else, never for staff asking on another's behalf."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from jiayuan.assistant import asking, personal
from jiayuan.people.models import Person

from ..community.conftest import Compounds
from .helpers_chat import ANSWERABLE_ENTRY

pytestmark = pytest.mark.django_db

MINE = "我能领高龄津贴吗"


def aged(person: Person, years: int, hukou: str = "370830") -> None:
    today = timezone.localdate()
    person.birth_date = dt.date(today.year - years, 1, 1) - dt.timedelta(days=1)
    person.hukou_code = hukou
    person.save(update_fields=["birth_date", "hukou_code"])


@pytest.mark.parametrize(
    ("question", "mine"),
    [
        ("我能领高龄津贴吗", True),
        ("俺够不够条件领高龄津贴", True),
        ("我家老人符合低保吗", True),
        ("咱能不能办残疾人证", True),
        ("高龄津贴谁能领", False),
        ("高龄津贴一个月多少钱", False),
    ],
)
def test_questions_about_the_asker(question: str, mine: bool) -> None:
    assert personal.is_about_self(question) is mine


def test_an_eligible_resident_is_told_so_with_the_policy_cited(
    api_as: Any, compounds: Compounds
) -> None:
    aged(compounds.resident, 85)
    body = api_as("resident").post("/assistant/ask", {"question": MINE}).json()
    assert body["personal"] is True and body["abstained"] is False
    assert "您符合「高龄津贴」的条件" in body["answer"]
    assert body["citations"][0]["entry"] == ANSWERABLE_ENTRY


def test_a_resident_who_does_not_qualify_is_told_why(api_as: Any, compounds: Compounds) -> None:
    aged(compounds.resident, 52)
    body = api_as("resident").post("/assistant/ask", {"question": MINE}).json()
    assert body["personal"] is True
    assert "您暂不符合「高龄津贴」的条件" in body["answer"]
    assert "年龄 = 52 ≥ 80" in body["answer"]  # the failing condition, by its label
    assert "户籍" not in body["answer"].split("条件：")[1].split("。")[0]  # only what fails


def test_a_resident_of_another_province_is_told_the_hukou_condition(
    api_as: Any, compounds: Compounds
) -> None:
    aged(compounds.resident, 85, hukou="110105")
    body = api_as("resident").post("/assistant/ask", {"question": MINE}).json()
    assert "暂不符合" in body["answer"] and "户籍地 110105 以 37 开头" in body["answer"]


def test_staff_asking_for_a_resident_get_the_general_answer(
    users: dict[str, Any], compounds: Compounds
) -> None:
    aged(compounds.resident, 85)
    answer, row = asking.ask(MINE, user=users["grid"], person=compounds.resident, channel="desk")
    assert answer.personal is False and "您符合" not in answer.text
    assert row.person == compounds.resident and not row.personal


def test_a_resident_never_gets_a_personal_answer_about_someone_else(
    users: dict[str, Any], compounds: Compounds
) -> None:
    aged(compounds.resident, 52)
    aged(compounds.neighbour, 90)
    answer, _ = asking.ask(
        MINE, user=users["resident"], person=compounds.neighbour, channel="phone"
    )
    assert answer.personal is False


def test_a_general_question_from_a_resident_stays_general(
    api_as: Any, compounds: Compounds
) -> None:
    aged(compounds.resident, 85)
    body = api_as("resident").post("/assistant/ask", {"question": "高龄津贴谁能领"}).json()
    assert body["personal"] is False and not body["abstained"]


def test_failing_conditions_of_an_or_are_one_line() -> None:
    trace = {
        "kind": "and", "src": "", "type": "bool", "value": False,
        "children": [
            {"kind": "compare", "src": "age >= 60", "type": "bool", "value": True, "op": ">=",
             "children": [
                 {"kind": "field", "src": "age", "label": "年龄", "type": "int", "value": 70},
                 {"kind": "const", "src": "60", "type": "int", "value": 60}]},
            {"kind": "or", "src": "", "type": "bool", "value": False, "children": [
                {"kind": "call", "src": 'has_tag("低保")', "label": "持有标签 低保",
                 "type": "bool", "value": False},
                {"kind": "call", "src": 'has_tag("特困")', "label": "持有标签 特困",
                 "type": "bool", "value": False}]},
        ],
    }  # fmt: skip
    assert personal.failing_conditions(trace) == ["持有标签 低保 或 持有标签 特困"]  # type: ignore[arg-type]
