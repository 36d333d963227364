"""Devices, their messages, alarm rules with durable state, and alarms (智能设备与告警).

Device traffic is large (10,000+ devices), so the message tables are plain models
reached through their device; devices and alarms are scoped rows carrying the path of
the area they sit in, so a grid worker sees exactly their grid's devices and alarms.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, Protocol

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jiayuan.core.models import ScopedModel, ScopedQuerySet
from jiayuan.org.models import Area, Dwelling

from .choices import (
    AlarmEventKind,
    AlarmStatus,
    DeviceStatus,
    EscalationLevel,
    IngestSource,
    MessageKind,
    RuleKind,
    Severity,
)


class Placed(Protocol):
    """What rule selection reads of a device (a :class:`Device` or an ingest view)."""

    device_type_id: int
    area_path: str


class DeviceType(models.Model):
    """A kind of device (设备类型) — smoke detector, gas detector, face gate … — with the
    schema its messages must follow. Rows come from ``devicetypes.py``; the schema is
    stored so that a vendor-specific type can be added without a release.

    ``updated_at`` is what running ingest processes watch (``refs.TYPES``): a type saved
    with a new schema reaches them within seconds. Change types with ``save()``, not
    ``QuerySet.update()``, which leaves ``updated_at`` as it was."""

    code = models.CharField(_("编码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=50)
    category = models.CharField(_("类别"), max_length=32, blank=True)
    schema = models.JSONField(_("报文格式"), default=dict, blank=True)
    activity = models.BooleanField(
        _("反映居家活动"), default=False, help_text=_("门磁、水表：用于独居老人关怀")
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("设备类型")
        verbose_name_plural = _("设备类型")

    def __str__(self) -> str:
        return self.name


class Device(ScopedModel):
    """One installed device (物联设备): where it is, whether it talks, how it logs in.

    The HTTP token and MQTT password are stored hashed only; the raw values are shown
    once when issued.
    """

    serial = models.CharField(_("设备编号"), max_length=64, unique=True)
    name = models.CharField(_("名称"), max_length=100, blank=True)
    device_type = models.ForeignKey(
        DeviceType, on_delete=models.PROTECT, related_name="devices", verbose_name=_("类型")
    )
    vendor = models.CharField(_("厂商"), max_length=64, blank=True)
    area = models.ForeignKey(
        Area, on_delete=models.PROTECT, related_name="devices", verbose_name=_("所在区域")
    )
    dwelling = models.ForeignKey(
        Dwelling, null=True, blank=True, on_delete=models.SET_NULL, related_name="devices"
    )
    lat = models.FloatField(_("纬度"), null=True, blank=True)
    lng = models.FloatField(_("经度"), null=True, blank=True)
    status = models.CharField(
        _("状态"), max_length=16, choices=DeviceStatus.choices, default=DeviceStatus.ONLINE,
        db_index=True,
    )  # fmt: skip
    last_seen_at = models.DateTimeField(_("最后通信"), null=True, blank=True, db_index=True)
    # The latest device-side timestamp seen: out-of-order messages never move it back.
    last_device_ts = models.DateTimeField(null=True, blank=True)
    battery = models.PositiveSmallIntegerField(_("电量(%)"), null=True, blank=True)
    token_digest = models.CharField(max_length=64, unique=True, null=True, blank=True)
    mqtt_username = models.CharField(
        _("MQTT用户名"), max_length=64, unique=True, null=True, blank=True
    )
    mqtt_password_hash = models.CharField(max_length=128, blank=True)
    installed_on = models.DateField(_("安装日期"), null=True, blank=True)

    class Meta:
        ordering = ["serial"]
        indexes = [models.Index(fields=["status", "last_seen_at"])]
        verbose_name = _("设备")
        verbose_name_plural = _("设备")

    def __str__(self) -> str:
        return self.name or self.serial

    def derive_area_path(self) -> str:
        return self.area.path

    @staticmethod
    def hash_token(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    def issue_token(self) -> str:
        """A new HTTP token for this device; returns the raw value (shown once)."""
        raw = secrets.token_urlsafe(32)
        self.token_digest = self.hash_token(raw)
        return raw

    def set_mqtt_password(self, raw: str) -> None:
        self.mqtt_password_hash = make_password(raw)

    def check_mqtt_password(self, raw: str) -> bool:
        return bool(self.mqtt_password_hash) and check_password(raw, self.mqtt_password_hash)


class Message(models.Model):
    """One stored device message (遥测/事件/心跳). ``(device, message_id)`` is unique, which
    is what makes a redelivered message change nothing."""

    id = models.BigAutoField(primary_key=True)
    # The busiest table (every message is a row): no index of its own on ``device`` (the
    # unique ``(device, message_id)`` and the chart index both start with it) and no
    # database constraint (a per-row check at commit that also locks the device row);
    # devices are decommissioned, not deleted, and deleting one through Django still
    # deletes its messages (docs/decisions.md).
    device = models.ForeignKey(
        Device, on_delete=models.CASCADE, related_name="messages", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    message_id = models.CharField(_("消息编号"), max_length=64)
    kind = models.CharField(_("类型"), max_length=12, choices=MessageKind.choices)
    device_ts = models.DateTimeField(_("设备时间"))
    received_at = models.DateTimeField(_("接收时间"), default=timezone.now)
    payload = models.JSONField(_("内容"), default=dict)

    class Meta:
        ordering = ["-device_ts"]
        constraints = [
            models.UniqueConstraint(fields=["device", "message_id"], name="iot_message_once")
        ]
        indexes = [
            models.Index(fields=["received_at"], name="iot_message_retention"),
            models.Index(fields=["device", "kind", "device_ts"], name="iot_message_chart"),
        ]
        verbose_name = _("设备消息")
        verbose_name_plural = _("设备消息")

    def __str__(self) -> str:
        return f"{self.device_id}:{self.message_id}"


class DeadLetter(models.Model):
    """A message that could not be accepted (死信), kept raw with the reason, so that a
    vendor's bad firmware is visible instead of silently dropped.

    Kept once: ``fingerprint`` is a hash of what arrived (device serial, topic, raw
    payload), so the broker redelivering an unacknowledged message, or a device
    resending the same bytes, raises ``count`` and ``last_received_at`` on the one row
    instead of adding another (see :meth:`fingerprint_of`)."""

    received_at = models.DateTimeField(_("接收时间"), default=timezone.now, db_index=True)
    source = models.CharField(_("来源"), max_length=8, choices=IngestSource.choices)
    topic = models.CharField(_("主题"), max_length=200, blank=True)
    serial = models.CharField(_("设备编号"), max_length=64, blank=True, db_index=True)
    payload = models.TextField(_("原始内容"), blank=True)
    reason = models.CharField(_("原因"), max_length=300)
    # Blank when the device is unknown: such rows are visible to county-wide users only.
    area_path = models.CharField(max_length=64, blank=True, db_index=True)
    # Null only for rows written around ingest (fixtures, imports): never a conflict.
    fingerprint = models.CharField(max_length=64, unique=True, null=True, editable=False)
    count = models.PositiveIntegerField(_("收到次数"), default=1)
    last_received_at = models.DateTimeField(_("最近接收"), default=timezone.now)

    scope_field = "area_path"
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("死信")
        verbose_name_plural = _("死信")

    def __str__(self) -> str:
        return f"{self.serial or '?'}: {self.reason}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.fingerprint:
            self.fingerprint = self.fingerprint_of(self.serial, self.topic, self.payload)
        super().save(*args, **kwargs)

    @staticmethod
    def fingerprint_of(serial: str, topic: str, payload: str) -> str:
        """The identity of a dead letter, from the columns as stored (so existing rows
        can be fingerprinted the same way)."""
        raw = "\x1f".join((serial, topic, payload))
        return hashlib.sha256(raw.encode("utf-8", errors="replace")).hexdigest()


class AlarmRule(models.Model):
    """A declarative alarm rule (告警规则) for a device type and/or an area.

    ``condition`` and ``clear_condition`` are rule-language expressions over the message
    payload (see ``iot.registry``), checked when the rule is saved. ``kind`` says how the
    condition turns into an alarm: at once (event), when it holds for ``duration_s``
    (threshold), when it happens ``count`` times within ``window_s`` (repeat), when the
    device is silent for ``duration_s`` (offline), or when a dwelling of a resident living
    alone shows no activity for ``duration_s`` (welfare).
    """

    code = models.CharField(_("编码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    device_type = models.ForeignKey(
        DeviceType, null=True, blank=True, on_delete=models.CASCADE, related_name="rules",
        verbose_name=_("设备类型"),
    )  # fmt: skip
    # Blank: everywhere; otherwise the rule applies to devices under this path.
    area_path = models.CharField(_("适用区域"), max_length=64, blank=True, db_index=True)
    kind = models.CharField(_("规则类型"), max_length=12, choices=RuleKind.choices)
    message_kind = models.CharField(
        _("消息类型"), max_length=12, choices=MessageKind.choices, blank=True,
        help_text=_("留空表示任意消息"),
    )  # fmt: skip
    condition = models.TextField(_("触发条件"), blank=True)
    clear_condition = models.TextField(_("解除条件"), blank=True)
    duration_s = models.PositiveIntegerField(_("持续时间(秒)"), default=0)
    count = models.PositiveIntegerField(_("次数"), default=1)
    window_s = models.PositiveIntegerField(_("时间窗(秒)"), default=0)
    window_start = models.TimeField(_("时段开始"), null=True, blank=True)
    window_end = models.TimeField(_("时段结束"), null=True, blank=True)
    severity = models.CharField(_("级别"), max_length=10, choices=Severity.choices)
    opens_case = models.BooleanField(_("生成工单"), default=False)
    case_category_code = models.CharField(_("工单类别编码"), max_length=20, blank=True)
    escalate_after_min = models.PositiveIntegerField(_("未确认升级(分钟)"), null=True, blank=True)
    enabled = models.BooleanField(_("启用"), default=True)
    description = models.CharField(_("说明"), max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("告警规则")
        verbose_name_plural = _("告警规则")

    def __str__(self) -> str:
        return self.name

    def applies_to(self, device: Placed) -> bool:
        """Whether the rule watches ``device`` (its type, and its place under the rule's
        area)."""
        if self.device_type_id is not None and self.device_type_id != device.device_type_id:
            return False
        return device.area_path.startswith(self.area_path)


class RuleState(models.Model):
    """What a rule remembers about one device between messages (规则状态): since when a
    threshold has held, the timestamps inside a repeat window, the last activity. Written
    in the same transaction as the batch that changed it, so a restart keeps the window."""

    rule = models.ForeignKey(AlarmRule, on_delete=models.CASCADE, related_name="states")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="rule_states")
    state = models.JSONField(default=dict)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "device"], name="iot_rulestate_once")
        ]

    def __str__(self) -> str:
        return f"{self.rule_id}/{self.device_id}"


class Alarm(ScopedModel):
    """An alarm (告警) of one rule on one device: raised, repeated, acknowledged, cleared,
    closed. While it is open (active or acknowledged) there is only one per device and
    rule; repeats raise ``count`` and ``last_at``."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="alarms")
    rule = models.ForeignKey(AlarmRule, on_delete=models.PROTECT, related_name="alarms")
    severity = models.CharField(_("级别"), max_length=10, choices=Severity.choices)
    status = models.CharField(
        _("状态"), max_length=16, choices=AlarmStatus.choices, default=AlarmStatus.ACTIVE,
        db_index=True,
    )  # fmt: skip
    title = models.CharField(_("标题"), max_length=200)
    detail = models.JSONField(_("触发数据"), default=dict, blank=True)
    false_alarm = models.BooleanField(_("误报"), default=False)
    false_reason = models.CharField(_("误报原因"), max_length=200, blank=True)
    count = models.PositiveIntegerField(_("次数"), default=1)
    first_at = models.DateTimeField(_("首次时间"), default=timezone.now)
    last_at = models.DateTimeField(_("最近时间"), default=timezone.now, db_index=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    acknowledged_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    cleared_at = models.DateTimeField(_("解除时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    escalation_level = models.PositiveSmallIntegerField(
        _("升级层级"), choices=EscalationLevel.choices, default=EscalationLevel.GRID
    )
    escalated_at = models.DateTimeField(null=True, blank=True)
    case_ref = models.CharField(_("关联工单"), max_length=40, blank=True, db_index=True)

    class Meta:
        ordering = ["-last_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["device", "rule"],
                condition=Q(status__in=["active", "acknowledged"]),
                name="iot_alarm_one_open",
            )
        ]
        indexes = [models.Index(fields=["status", "severity"])]
        verbose_name = _("告警")
        verbose_name_plural = _("告警")

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def derive_area_path(self) -> str:
        # An area-level alarm (many devices of one area silent together) belongs to that
        # area, not to the device it hangs on; only such alarms carry ``area_path``.
        if isinstance(self.detail, dict) and self.detail.get("area_path"):
            if self.rule.kind == RuleKind.AREA_OFFLINE:
                return str(self.detail["area_path"])
        return self.device.area_path

    @property
    def key(self) -> str:
        """The reference a case carries back to this alarm (``source_ref``)."""
        return f"alarm:{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in (AlarmStatus.ACTIVE, AlarmStatus.ACKNOWLEDGED)


class AlarmEventQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("alarm events are append-only")


class AlarmEvent(models.Model):
    """One line of an alarm's append-only timeline (告警记录)."""

    alarm = models.ForeignKey(Alarm, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(_("时间"), default=timezone.now)
    kind = models.CharField(_("事件"), max_length=16, choices=AlarmEventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    note = models.CharField(_("说明"), max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)

    objects = AlarmEventQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("告警记录")
        verbose_name_plural = _("告警记录")

    def __str__(self) -> str:
        return f"{self.alarm_id} {self.kind}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("alarm events are append-only")
        super().save(*args, **kwargs)
