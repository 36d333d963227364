"""The JSON API of policy broadcasts (政策宣讲) and the group robots: handlers parse, call
one action of :mod:`jiayuan.assistant.wecom.broadcasts`, and answer. Robots' webhook
keys are answered masked, always."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from jiayuan.core.api import acting_user, paginate, responses
from jiayuan.core.errors import MAX_ROW_ID as MAX_ID
from jiayuan.core.errors import NotFound
from jiayuan.core.errors import row_id as check_id
from jiayuan.core.roles import Perm
from jiayuan.core.schemas import Page, PageParams
from jiayuan.core.scoping import path_allowed
from jiayuan.org.models import Area
from jiayuan.policies.models import Policy

from ..choices import BroadcastKind, BroadcastStatus
from ..models import Broadcast, Delivery, Robot
from ..wecom import broadcasts

router = Router(tags=["数字助理 · 政策宣讲 / broadcasts"])


class BroadcastOut(Schema):
    id: int
    title: str
    kind: str
    kind_label: str
    area_id: int
    area_name: str
    area_path: str
    policy: str | None = Field(description="政策代码 / the policy's code")
    status: str
    status_label: str
    scheduled_at: dt.datetime | None
    sent_at: dt.datetime | None
    created_at: dt.datetime
    deliveries: int
    delivered: int
    failed: int


class DeliveryOut(Schema):
    id: int
    robot_id: int
    robot_name: str
    chat_name: str
    area_name: str
    status: str
    status_label: str
    attempts: int
    sent_at: dt.datetime | None
    next_at: dt.datetime | None
    error: str


class BroadcastDetail(BroadcastOut):
    content: str
    card: dict[str, Any]
    may_cancel: bool
    delivery_list: list[DeliveryOut]


class CardIn(Schema):
    title: str = Field("", max_length=26)
    desc: str = Field("", max_length=30)
    text: str = Field("", max_length=112)
    fields: list[list[str]] = Field(default_factory=list, max_length=6)
    url: str = Field("", max_length=300)


class BroadcastIn(Schema):
    area_id: int = Field(ge=1, le=MAX_ID)
    policy: str = Field(
        "", max_length=40, description="政策代码：标题、内容留空时按政策生成 / compose from"
    )
    kind: BroadcastKind = BroadcastKind.TEXT
    title: str = Field("", max_length=100)
    content: str = Field("", max_length=4096)
    card: CardIn | None = None
    scheduled_at: dt.datetime | None = Field(
        None, description="发送时间；不填为草稿 / send time; none keeps a draft"
    )


class BroadcastFilters(Schema):
    status: BroadcastStatus | None = Field(None, description="状态 / status")


class RobotOut(Schema):
    id: int
    name: str
    chat_name: str
    area_id: int
    area_name: str
    area_path: str
    key_masked: str = Field(description="Webhook 密钥（仅首尾四位） / the key, masked")
    enabled: bool


def broadcast_row(b: Broadcast) -> dict[str, Any]:
    return {
        "id": b.pk, "title": b.title, "kind": b.kind, "kind_label": b.get_kind_display(),
        "area_id": b.area_id, "area_name": b.area.name, "area_path": b.area_path,
        "policy": b.policy.code if b.policy else None, "status": b.status,
        "status_label": b.get_status_display(), "scheduled_at": b.scheduled_at,
        "sent_at": b.sent_at, "created_at": b.created_at,
        "deliveries": getattr(b, "delivery_count", 0), "delivered": getattr(b, "sent_count", 0),
        "failed": getattr(b, "failed_count", 0),
    }  # fmt: skip


def delivery_row(d: Delivery) -> dict[str, Any]:
    return {
        "id": d.pk, "robot_id": d.robot_id, "robot_name": d.robot.name,
        "chat_name": d.robot.chat_name, "area_name": d.robot.area.name, "status": d.status,
        "status_label": d.get_status_display(), "attempts": d.attempts, "sent_at": d.sent_at,
        "next_at": d.next_at, "error": d.error,
    }  # fmt: skip


def detail(user: Any, pk: int) -> dict[str, Any]:
    b = broadcasts.with_counts(broadcasts.visible_broadcasts(user)).filter(pk=pk).first()
    if b is None:
        raise NotFound("宣讲不存在", "broadcast not found")
    deliveries = b.deliveries.select_related("robot", "robot__area").order_by("pk")
    return {
        **broadcast_row(b),
        "content": b.content,
        "card": b.card,
        "may_cancel": b.status in (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED)
        and path_allowed(user, b.area_path, Perm.CHANGE),
        "delivery_list": [delivery_row(d) for d in deliveries],
    }


@router.get("/assistant/broadcasts", response=responses(Page[BroadcastOut]))
def list_broadcasts(
    request: HttpRequest, filters: Query[BroadcastFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """政策宣讲列表（新建的在前，附送达统计）。/ Broadcasts in the user's scope, newest
    first, with their deliveries counted."""
    qs = broadcasts.with_counts(broadcasts.visible_broadcasts(acting_user(request)))
    if filters.status:
        qs = qs.filter(status=filters.status)
    result = paginate(qs.order_by("-created_at", "-pk"), page)
    result["items"] = [broadcast_row(b) for b in result["items"]]
    return result


@router.post("/assistant/broadcasts", response=responses(BroadcastDetail, 201))
def create_broadcast(request: HttpRequest, body: BroadcastIn) -> Status[dict[str, Any]]:
    """新建宣讲（区域内有编辑权限的工作人员）：可按政策生成标题和内容；有发送时间即排期，
    否则为草稿。/ Write a broadcast (CHANGE at the area), composed from a policy when its
    title or content is left empty; scheduled when it has a send time, else a draft."""
    user = acting_user(request)
    area = Area.objects.filter(pk=body.area_id).first()
    if area is None:
        raise NotFound("区域不存在", "no such area", field="area_id")
    policy = None
    if body.policy:
        policy = Policy.objects.filter(code=body.policy).first()
        if policy is None:
            raise NotFound("政策不存在", "no such policy", field="policy")
    card = body.card.dict() if body.card is not None else {}
    created = broadcasts.create(
        user,
        broadcasts.BroadcastFields(
            area=area, title=body.title, kind=body.kind, content=body.content, card=card,
            scheduled_at=body.scheduled_at, policy=policy,
        ),
    )  # fmt: skip
    return Status(201, detail(user, created.pk))


@router.get("/assistant/broadcasts/{broadcast_id}", response=responses(BroadcastDetail))
def get_broadcast(request: HttpRequest, broadcast_id: int) -> dict[str, Any]:
    """一条宣讲及其每个群的送达情况。/ One broadcast with each group's delivery."""
    return detail(acting_user(request), check_id(broadcast_id))


@router.post("/assistant/broadcasts/{broadcast_id}/cancel", response=responses(BroadcastDetail))
def cancel_broadcast(request: HttpRequest, broadcast_id: int) -> dict[str, Any]:
    """取消宣讲（开始发送后不能取消，409）。/ Cancel a draft or scheduled broadcast (409
    once its sending has begun)."""
    user = acting_user(request)
    broadcasts.cancel(user, broadcasts.get_broadcast(user, check_id(broadcast_id)))
    return detail(user, broadcast_id)


@router.get("/assistant/robots", response=responses(Page[RobotOut]))
def list_robots(request: HttpRequest, page: Query[PageParams]) -> dict[str, Any]:
    """居民群的群机器人（密钥只显示首尾四位）。/ The group robots in the user's scope, keys
    masked."""
    result = paginate(broadcasts.visible_robots(acting_user(request)), page)
    result["items"] = [robot_row(r) for r in result["items"]]
    return result


def robot_row(r: Robot) -> dict[str, Any]:
    return {
        "id": r.pk, "name": r.name, "chat_name": r.chat_name, "area_id": r.area_id,
        "area_name": r.area.name, "area_path": r.area_path, "key_masked": r.key_masked,
        "enabled": r.enabled,
    }  # fmt: skip
