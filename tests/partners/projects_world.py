"""The projects part's test world: the ``community`` account's community with a service
position and a room, the year's fund, three partners in good standing and one
dismissed, a second community with its own staff member, and helpers that walk a
project through its stages (the fixture ``world`` builds it; test modules import
:func:`world_fixture`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from jiayuan.community.models import Room, ServicePosition
from jiayuan.org.models import Area, Membership
from jiayuan.partners import agreements, calls, projects, stages
from jiayuan.partners.choices import DocumentKind, PartnerStatus, Stage
from jiayuan.partners.models import Call, Fund, Inspection, Partner, Project

COMMUNITY = "370830/001/001/"
OTHER_COMMUNITY = "370830/001/002/"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
CRITERIA = [
    {"key": "plan", "label": "服务方案", "weight": 40},
    {"key": "price", "label": "价格", "weight": 30},
    {"key": "record", "label": "服务口碑", "weight": 30},
]


@dataclass
class World:
    community: Area
    other: Area
    position: ServicePosition
    room: Room
    other_position: ServicePosition
    fund: Fund
    partners: list[Partner]  # three in good standing
    dismissed: Partner
    staff: Any  # the ``community`` account (SUPERVISE and SERVE in the community)
    reviewers: list[Any]  # the staff and two more community staff (the panel)
    outsider: Any  # community staff of the other community


def staff_user(username: str, area: Area, role: str = "community_staff") -> Any:
    user = get_user_model().objects.create_user(username=username, password="x")
    Membership.objects.create(user=user, area=area, role=role)
    return user


def build(users: dict[str, Any]) -> World:
    community = Area.objects.get(path=COMMUNITY)
    other = Area.objects.get(path=OTHER_COMMUNITY)
    position = ServicePosition.objects.create(
        kind="centre", name="永续党群服务中心", area=community
    )
    room = Room.objects.create(position=position, name="长者食堂")
    other_position = ServicePosition.objects.create(kind="station", name="邻里驿站", area=other)
    fund = Fund(area=community, year=2026, name="社区公益金", amount=Decimal("100000.00"))
    fund.area_path = community.path
    fund.save()
    partners = [
        Partner.objects.create(area=community, name=name, kind="social_org")
        for name in ("红帆社工服务中心", "邻里助餐合作社", "银龄志愿服务队")
    ]
    dismissed = Partner.objects.create(
        area=community, name="已清退商户", kind="merchant", status=PartnerStatus.DISMISSED
    )
    reviewers = [
        users["community"],
        staff_user("reviewer_a", community),
        staff_user("reviewer_b", community),
    ]
    return World(
        community=community, other=other, position=position, room=room,
        other_position=other_position, fund=fund, partners=partners, dismissed=dismissed,
        staff=users["community"], reviewers=reviewers,
        outsider=staff_user("outsider", other),
    )  # fmt: skip


def proposal(world: World, **overrides: Any) -> projects.ProjectInput:
    data = {
        "name": "长者食堂", "content": "为辖区老人提供午餐和晚餐", "area_id": world.community.pk,
        "room_id": world.room.pk, "hours": {"1": [["11:00", "13:00"]]},
        "price_class": "low_cost", "price_cap": "15.00", "target_groups": ["高龄", "独居"],
        "budget": "30000", "fund_id": world.fund.pk,
    }  # fmt: skip
    data.update(overrides)
    return projects.ProjectInput(**data)


def file(user: Any, project: Project, kind: str, title: str = "") -> Any:
    return projects.add_document(user, project.pk, PDF, kind=kind, title=title or kind)


def approve(world: World, project: Project, stage: str) -> None:
    stages.decide(project, stage, "approved", "", world.staff)


def to_call_stage(world: World, **overrides: Any) -> Project:
    project = projects.propose(world.staff, proposal(world, **overrides))
    file(world.staff, project, DocumentKind.PROPOSAL, "长者食堂项目申报书")
    approve(world, project, Stage.PROPOSAL)
    return project


def open_call(world: World, project: Project, *, closes_in: dt.timedelta | None = None) -> Call:
    return calls.open_call(
        world.staff, project.pk, title="长者食堂公开招募", text="欢迎报名", criteria=CRITERIA,
        closes_at=timezone.now() + (closes_in or dt.timedelta(days=7)),
        panel=[r.pk for r in world.reviewers],
    )  # fmt: skip


def apply_all(world: World, call: Call, prices: tuple[str, ...] = ("12", "10", "14")) -> list[Any]:
    return [
        calls.apply(
            world.staff, call.pk, partner_id=p.pk, plan=f"{p.name}的方案", offered_price=price
        )
        for p, price in zip(world.partners, prices, strict=False)
    ]


def score_all(world: World, call: Call, table: dict[int, list[dict[str, Any]]]) -> None:
    """``table[application_id]`` holds one score map per reviewer, in reviewer order."""
    for app_id, rows in table.items():
        for reviewer, row in zip(world.reviewers, rows, strict=True):
            calls.score(reviewer, app_id, row)


def to_agreement_stage(world: World) -> tuple[Project, Call]:
    project = to_call_stage(world)
    call = open_call(world, project)
    apps = apply_all(world, call)
    calls.close(world.staff, call.pk)
    high = {"plan": 90, "price": 80, "record": 85}
    low = {"plan": 60, "price": 70, "record": 65}
    score_all(world, call, {apps[0].pk: [high] * 3, apps[1].pk: [low] * 3, apps[2].pk: [low] * 3})
    calls.select(world.staff, call.pk)
    calls.publish(world.staff, call.pk, PDF)
    file(world.staff, project, DocumentKind.CALL, "招募公告")
    approve(world, project, Stage.CALL)
    project.refresh_from_db()
    return project, call


def terms(**overrides: Any) -> agreements.Terms:
    today = timezone.localdate()
    data = {
        "starts_on": today, "ends_on": today + dt.timedelta(days=365),
        "obligations": "社区提供场地，合伙人提供低偿助餐", "price_cap": "12.00",
        "exit_conditions": "信用分降至清退线或连续两季度评估为差",
    }  # fmt: skip
    data.update(overrides)
    return agreements.Terms(**data)


def to_supervision_stage(world: World) -> Project:
    project, _call = to_agreement_stage(world)
    agreement = agreements.draft(world.staff, project.pk, terms())
    file(world.staff, project, DocumentKind.AGREEMENT, "合作协议（签字版）")
    agreements.sign(world.staff, agreement.pk)
    approve(world, project, Stage.AGREEMENT)
    project.refresh_from_db()
    return project


def inspect(world: World, project: Project) -> Inspection:
    row = Inspection(project=project, inspected_at=timezone.now(), summary="后厨整洁")
    row.area_path = project.area_path
    row.save()
    return row


@pytest.fixture(name="world")
def world_fixture(users: dict[str, Any], media: Any) -> World:
    """The projects' test world (see :func:`build`); files go to a private media root."""
    return build(users)
