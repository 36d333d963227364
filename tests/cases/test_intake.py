"""One intake for every path (issue 9): the category's attributes are checked in
``services.intake`` (required and typed), the default channel is decided there, and a
红色代办 case records its flag, its proxy and the resident (defect 1)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from jiayuan.cases import services
from jiayuan.cases.choices import Channel
from jiayuan.cases.models import Case, Category
from jiayuan.core.errors import ValidationFailed
from jiayuan.core.roles import Role
from jiayuan.org.models import Area, Membership
from jiayuan.people.models import Person

pytestmark = pytest.mark.django_db
User = get_user_model()


def file(grid: Area, category: str = "0201", **kw: Any) -> Case:
    return services.intake(
        actor=kw.pop("actor", None),
        category=Category.objects.get(code=category),
        description=kw.pop("description", "楼下垃圾三天没人清运"),
        lat=grid.centroid_lat,
        lng=grid.centroid_lng,
        **kw,
    )


# --- attributes ------------------------------------------------------------------------
def test_a_required_attribute_is_required_on_every_path_that_asks(own_grid: Area) -> None:
    # the lift category asks for the building; intake itself refuses it missing or blank
    # from any path that collects attributes (API, pages, Open311)
    for attributes in ({}, {"building": "  "}, {"other": "x"}):
        with pytest.raises(ValidationFailed) as caught:
            file(own_grid, "0102", channel=Channel.HOTLINE, attributes=attributes)
        assert caught.value.field == "attributes.building"
    case = file(own_grid, "0102", channel=Channel.HOTLINE, attributes={"building": " 3号楼 "})
    assert case.attributes == {"building": "3号楼"}
    # a path that collects no attributes (a 12345 order transcript) is not asked for them
    assert file(own_grid, "0102", channel=Channel.HOTLINE).attributes == {}


def test_attributes_are_typed(own_grid: Area) -> None:
    # given a category with a number, a date-time and a list
    category = Category.objects.get(code="0202")
    category.attributes = [
        {"code": "bags", "datatype": "number", "required": True, "description": "袋数"},
        {"code": "seen", "datatype": "datetime", "description": "发现时间"},
        {"code": "kind", "datatype": "singlevaluelist", "values": [{"key": "wet"}, "dry"]},
        {"code": "note", "datatype": "string", "variable": False},
    ]
    category.save()
    # then values of the wrong type are refused, each naming its field
    for attributes, field in [
        ({"bags": "许多"}, "attributes.bags"),
        ({"bags": True}, "attributes.bags"),
        ({"bags": 3, "seen": "昨天"}, "attributes.seen"),
        ({"bags": 3, "kind": "plastic"}, "attributes.kind"),
        ({"bags": 3, "kind": ["wet", "dry"]}, "attributes.kind"),
    ]:
        with pytest.raises(ValidationFailed) as caught:
            file(own_grid, "0202", attributes=attributes)
        assert caught.value.field == field, attributes
    # and right ones are kept, with keys the category does not declare
    good = {"bags": "3", "seen": "2026-11-28T09:30:00+08:00", "kind": "dry", "media": "x"}
    assert file(own_grid, "0202", attributes=good).attributes == good


# --- channel -----------------------------------------------------------------------------
def test_the_default_channel_is_decided_in_intake(users: dict[str, Any], own_grid: Area) -> None:
    assert file(own_grid).channel == Channel.SNAPSHOT  # a resident's own report
    assert file(own_grid, actor=users["grid"]).channel == Channel.PATROL
    assert file(own_grid, actor=users["community"]).channel == Channel.HOTLINE
    # a channel named by the caller wins
    assert file(own_grid, actor=users["grid"], channel=Channel.DOOR).channel == Channel.DOOR


# --- 红色代办 (defect 1) ----------------------------------------------------------------
@pytest.fixture
def three_head(own_grid: Area) -> Any:
    user = User.objects.create_user(username="louzhang", first_name="建国", last_name="李")
    Membership.objects.create(user=user, area=own_grid, role=Role.THREE_HEAD)
    return user


def test_a_red_proxy_case_records_the_flag_the_proxy_and_the_resident(
    own_grid: Area, three_head: Any
) -> None:
    # given a resident of the grid, and the building head who files for her
    resident = Person.objects.filter(area_path__startswith=own_grid.path).first()
    assert resident is not None
    # when the building head files on her behalf (红色代办)
    case = file(own_grid, actor=three_head, red_proxy=True, reporter=resident, channel=Channel.DOOR)
    # then the case carries the flag, the proxy (account and name) and the resident
    case = Case.objects.get(pk=case.pk)
    assert case.red_proxy is True
    assert case.proxy_user == three_head
    assert case.proxy_name == three_head.get_full_name()
    assert case.reporter == resident


def test_a_red_proxy_case_may_name_its_proxy_and_must_name_the_resident(
    users: dict[str, Any], own_grid: Area, three_head: Any
) -> None:
    # a grid worker enters a case a party member took at the door, naming both
    case = file(
        own_grid,
        actor=users["grid"],
        red_proxy=True,
        proxy=three_head,
        proxy_name="李建国（党员中心户）",
        reporter_name="王大妈",
    )
    assert (case.proxy_user, case.proxy_name, case.reporter_name) == (
        three_head,
        "李建国（党员中心户）",
        "王大妈",
    )
    # without a resident (or anonymously) it is refused
    for kw in ({}, {"reporter_name": "王大妈", "anonymous": True}):
        with pytest.raises(ValidationFailed) as caught:
            file(own_grid, actor=three_head, red_proxy=True, **kw)
        assert caught.value.field == "reporter"
    # an ordinary case keeps no proxy, whoever files it
    plain = file(own_grid, actor=three_head, reporter_name="王大妈")
    assert (plain.red_proxy, plain.proxy_user, plain.proxy_name) == (False, None, "")
