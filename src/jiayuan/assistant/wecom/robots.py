"""Registering the group robots (群机器人) of the residents' group chats: staff holding
CHANGE at a community or compound add the robot WeCom gave the group (its webhook key,
kept as a secret: shown masked, audited masked) and switch it off or on."""

from __future__ import annotations

from typing import Any

from jiayuan.core import actions
from jiayuan.core.errors import Conflict, ValidationFailed
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area

from ..models import Robot
from .broadcasts import clean_text, ensure_may
from .robot import parse_key

ROBOT_AREA_KINDS = (AreaKind.COMMUNITY, AreaKind.ZONE, AreaKind.GRID)


def add_robot(user: Any, area: Area, name: str, chat_name: str, key: str) -> Robot:
    """Register a group's robot at ``area`` (a community, compound or grid)."""
    ensure_may(user, area.path)
    if area.kind not in ROBOT_AREA_KINDS:
        raise ValidationFailed(
            "群机器人须登记在社区、小区或网格", "a robot belongs to a community, compound or grid",
            field="area",
        )  # fmt: skip
    webhook_key = parse_key(key)
    if not webhook_key:
        raise ValidationFailed(
            "Webhook 密钥格式不正确：请粘贴机器人的 Webhook 地址或其中 key= 之后的部分",
            "the webhook key is malformed: paste the webhook address or its key",
            field="webhook_key",
        )
    if Robot.objects.filter(webhook_key=webhook_key).exists():
        raise Conflict("该群机器人已登记", "this robot is registered", field="webhook_key")
    return actions.create(
        Robot, actor=user, note="登记群机器人", area=area,
        name=clean_text(name, 60, "name", "名称", required=True),
        chat_name=clean_text(chat_name, 60, "chat_name", "群名称"), webhook_key=webhook_key,
    )  # fmt: skip


def set_enabled(user: Any, robot: Robot, enabled: bool) -> Robot:
    """Switch a robot on or off (a robot switched off receives no broadcast)."""
    ensure_may(user, robot.area_path)
    note = "启用群机器人" if enabled else "停用群机器人"
    return actions.update(robot, actor=user, note=note, enabled=enabled)
