"""WeCom (企业微信) group robots of the communities' resident groups, the policy
broadcasts (宣讲) sent through them, and the messages the smart robot receives."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jiayuan.core.models import ScopedModel
from jiayuan.org.models import Area
from jiayuan.policies.models import Policy

from ..choices import BroadcastKind, BroadcastStatus, DeliveryStatus


class Robot(ScopedModel):
    """A group robot (群机器人) added to one resident group chat of an area. ``webhook_key``
    is the key of its webhook address (a secret: shown masked, never logged)."""

    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="assistant_robots")
    name = models.CharField(_("名称"), max_length=60)
    chat_name = models.CharField(_("群名称"), max_length=60, blank=True)
    webhook_key = models.CharField(_("Webhook 密钥"), max_length=64)
    enabled = models.BooleanField(_("启用"), default=True)
    # the pace of its sends (20 a minute): a token bucket kept on the row, so that every
    # process shares it (``jiayuan.core.pacing``)
    tokens = models.FloatField(_("令牌"), default=20.0)
    tokens_at = models.DateTimeField(_("令牌时间"), null=True, blank=True)

    # the audit log keeps the key masked, never the key itself (``jiayuan.core.audit``)
    audit_secret_fields = ("webhook_key", "tokens", "tokens_at")

    class Meta:
        ordering = ["area_path", "name"]
        verbose_name = _("群机器人")
        verbose_name_plural = _("群机器人")

    def __str__(self) -> str:
        return self.name

    @property
    def key_masked(self) -> str:
        """The webhook key as pages, answers and logs show it: its first and last four
        characters (``693a****2b1c``)."""
        from ..wecom.robot import mask_key

        return mask_key(self.webhook_key)

    def audit_extra(self) -> dict[str, str]:
        return {"webhook_key": self.key_masked}

    def derive_area_path(self) -> str:
        return self.area.path


class Broadcast(ScopedModel):
    """A policy broadcast (政策宣讲): one message scheduled to every enabled robot of the
    groups at or below ``area``. ``content`` is the text or markdown; a template card
    keeps its fields in ``card``."""

    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="assistant_broadcasts")
    policy = models.ForeignKey(
        Policy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(_("标题"), max_length=100)
    kind = models.CharField(
        _("消息类型"), max_length=16, choices=BroadcastKind.choices, default=BroadcastKind.TEXT
    )
    content = models.TextField(_("内容"), blank=True)
    card = models.JSONField(_("卡片"), default=dict, blank=True)
    scheduled_at = models.DateTimeField(_("发送时间"), null=True, blank=True, db_index=True)
    status = models.CharField(
        _("状态"), max_length=12, choices=BroadcastStatus.choices, default=BroadcastStatus.DRAFT
    )
    sent_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip

    class Meta:
        ordering = ["-scheduled_at", "-id"]
        verbose_name = _("政策宣讲")
        verbose_name_plural = _("政策宣讲")

    def __str__(self) -> str:
        return self.title

    def derive_area_path(self) -> str:
        return self.area.path


class Delivery(models.Model):
    """A broadcast's message to one robot, and every attempt's outcome."""

    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="deliveries")
    robot = models.ForeignKey(Robot, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(
        _("状态"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    sent_at = models.DateTimeField(_("送达时间"), null=True, blank=True, db_index=True)
    error = models.CharField(_("错误"), max_length=200, blank=True)
    # when a pending delivery is next tried: at once, after the robot's pace allows, or
    # after a failed attempt's backoff (also a lease while one worker sends it)
    next_at = models.DateTimeField(_("下次发送"), null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["broadcast", "robot"]
        verbose_name = _("宣讲送达")
        verbose_name_plural = _("宣讲送达")
        constraints = [
            models.UniqueConstraint(fields=["broadcast", "robot"], name="assistant_delivery_once")
        ]


class Inbound(models.Model):
    """A message the smart robot's callback received, kept by its ``msgid`` so that a
    message WeCom re-sends is answered once."""

    msgid = models.CharField(_("消息编号"), max_length=64, unique=True)
    received_at = models.DateTimeField(_("接收时间"), default=timezone.now)
    chat_id = models.CharField(_("群"), max_length=64, blank=True)
    from_user = models.CharField(_("发送者"), max_length=64, blank=True)
    content = models.CharField(_("内容"), max_length=500, blank=True)
    ask = models.ForeignKey(
        "assistant.Ask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("收到的消息")
        verbose_name_plural = _("收到的消息")
