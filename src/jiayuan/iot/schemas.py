"""API schemas of the device side: devices (设备), alarms (告警) with their timelines, and
alarm rules (告警规则).

Credentials never leave the server: a device's token and MQTT password are stored
hashed and are not part of any answer.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Schema
from pydantic import ConfigDict

from .choices import AlarmStatus, DeviceStatus, MessageKind, RuleKind, Severity
from .models import Alarm, AlarmEvent, AlarmRule, Device, Message


# --- devices -----------------------------------------------------------------------------
class DeviceFilters(Schema):
    type: str | None = Field(None, max_length=32, description="设备类型编码 / device type code")
    status: list[DeviceStatus] | None = Field(None, description="状态，可多选 / statuses")
    area: int | None = Field(None, description="所在区域(含下级) / in this area or below")
    q: str | None = Field(None, max_length=64, description="设备编号或名称 / serial or name")


class DeviceOut(Schema):
    """A device in a list: what it is, where it is and whether it talks."""

    id: int
    serial: str
    name: str
    type: str
    type_name: str
    vendor: str
    area: int
    area_name: str
    dwelling: int | None
    lat: float | None
    lng: float | None
    status: DeviceStatus
    status_label: str
    last_seen_at: dt.datetime | None
    battery: int | None
    installed_on: dt.date | None

    @staticmethod
    def resolve_type(obj: Device) -> str:
        return obj.device_type.code

    @staticmethod
    def resolve_type_name(obj: Device) -> str:
        return obj.device_type.name

    @staticmethod
    def resolve_area(obj: Device) -> int:
        return obj.area_id

    @staticmethod
    def resolve_area_name(obj: Device) -> str:
        return obj.area.name

    @staticmethod
    def resolve_dwelling(obj: Device) -> int | None:
        return obj.dwelling_id

    @staticmethod
    def resolve_status_label(obj: Device) -> str:
        return str(obj.get_status_display())


class MessageOut(Schema):
    """One stored message of a device."""

    message_id: str
    kind: MessageKind
    device_ts: dt.datetime
    received_at: dt.datetime
    payload: dict[str, Any]


class DeviceDetail(DeviceOut):
    """One device with its MQTT login name, its open alarms and latest messages."""

    mqtt_username: str | None
    has_token: bool = Field(description="已签发 HTTP 令牌 / an HTTP token was issued")
    open_alarms: list[AlarmOut]
    messages: list[MessageOut]

    @staticmethod
    def resolve_has_token(obj: Device) -> bool:
        return bool(obj.token_digest)

    @staticmethod
    def resolve_open_alarms(obj: Device) -> list[Alarm]:
        return list(getattr(obj, "_open_alarms", []))

    @staticmethod
    def resolve_messages(obj: Device) -> list[Message]:
        return list(getattr(obj, "_messages", []))


# --- alarms ------------------------------------------------------------------------------
class AlarmFilters(Schema):
    status: list[AlarmStatus] | None = Field(None, description="状态，可多选 / statuses")
    open: bool | None = Field(None, description="只看未处理完(未确认或已确认) / open only")
    severity: list[Severity] | None = Field(None, description="级别，可多选 / severities")
    area: int | None = Field(None, description="所在区域(含下级) / in this area or below")
    device: int | None = Field(None, description="设备 / device id")
    since: dt.datetime | None = Field(None, description="最近触发不早于 / last raised at or after")


class AlarmOut(Schema):
    """An alarm in a list (告警台)."""

    id: int
    key: str
    title: str
    severity: Severity
    severity_label: str
    status: AlarmStatus
    status_label: str
    device: int
    device_serial: str
    device_type: str
    device_type_name: str
    rule: str
    rule_name: str
    area_name: str
    count: int
    first_at: dt.datetime
    last_at: dt.datetime
    false_alarm: bool
    escalation_level: int
    escalation_label: str
    case_ref: str = Field(description="关联工单编号，未生成为空 / the linked case number")

    @staticmethod
    def resolve_severity_label(obj: Alarm) -> str:
        return str(obj.get_severity_display())

    @staticmethod
    def resolve_status_label(obj: Alarm) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_device(obj: Alarm) -> int:
        return obj.device_id

    @staticmethod
    def resolve_device_serial(obj: Alarm) -> str:
        return obj.device.serial

    @staticmethod
    def resolve_device_type(obj: Alarm) -> str:
        return obj.device.device_type.code

    @staticmethod
    def resolve_device_type_name(obj: Alarm) -> str:
        return obj.device.device_type.name

    @staticmethod
    def resolve_rule(obj: Alarm) -> str:
        return obj.rule.code

    @staticmethod
    def resolve_rule_name(obj: Alarm) -> str:
        return obj.rule.name

    @staticmethod
    def resolve_area_name(obj: Alarm) -> str:
        return obj.device.area.name

    @staticmethod
    def resolve_escalation_label(obj: Alarm) -> str:
        return str(obj.get_escalation_level_display())


class AlarmEventOut(Schema):
    """One line of an alarm's timeline."""

    at: dt.datetime
    kind: str
    kind_label: str
    actor: str
    note: str
    data: dict[str, Any]

    @staticmethod
    def resolve_kind_label(obj: AlarmEvent) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_actor(obj: AlarmEvent) -> str:
        user = obj.actor
        if user is None:
            return "系统"
        return str(user.get_full_name() or user.get_username())


class AlarmDetail(AlarmOut):
    """One alarm with what triggered it, who acknowledged it and its timeline."""

    detail: dict[str, Any]
    false_reason: str
    acknowledged_by: str | None
    acknowledged_at: dt.datetime | None
    cleared_at: dt.datetime | None
    closed_at: dt.datetime | None
    escalated_at: dt.datetime | None
    events: list[AlarmEventOut]

    @staticmethod
    def resolve_acknowledged_by(obj: Alarm) -> str | None:
        user = obj.acknowledged_by
        if user is None:
            return None
        return str(user.get_full_name() or user.get_username())

    @staticmethod
    def resolve_events(obj: Alarm) -> list[AlarmEvent]:
        return list(obj.events.all())


class AlarmActionIn(Schema):
    """``note`` for acknowledge and clear; ``reason`` (required) for a false alarm."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=300)
    reason: str = Field("", max_length=200)


# --- rules -------------------------------------------------------------------------------
class RuleOut(Schema):
    """An alarm rule (告警规则)."""

    id: int
    code: str
    name: str
    device_type: str | None
    device_type_name: str | None
    area_path: str = Field(description="适用区域路径，空为全县 / blank means everywhere")
    kind: RuleKind
    kind_label: str
    message_kind: str
    condition: str
    clear_condition: str
    duration_s: int
    count: int
    window_s: int
    window_start: dt.time | None
    window_end: dt.time | None
    severity: Severity
    severity_label: str
    opens_case: bool
    case_category_code: str
    escalate_after_min: int | None
    enabled: bool
    description: str
    updated_at: dt.datetime

    @staticmethod
    def resolve_device_type(obj: AlarmRule) -> str | None:
        return obj.device_type.code if obj.device_type_id and obj.device_type else None

    @staticmethod
    def resolve_device_type_name(obj: AlarmRule) -> str | None:
        return obj.device_type.name if obj.device_type_id and obj.device_type else None

    @staticmethod
    def resolve_kind_label(obj: AlarmRule) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_severity_label(obj: AlarmRule) -> str:
        return str(obj.get_severity_display())


class RuleFields(Schema):
    """The editable fields of a rule (all optional: an update changes what it names)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=100)
    device_type: str | None = Field(None, max_length=32, description="设备类型编码 / type code")
    area: int | None = Field(None, description="适用区域 / area id; omitted: everywhere")
    message_kind: MessageKind | None = None
    condition: str | None = Field(None, max_length=2000)
    clear_condition: str | None = Field(None, max_length=2000)
    duration_s: int | None = Field(None, ge=0, le=30 * 86400)
    count: int | None = Field(None, ge=1, le=10_000)
    window_s: int | None = Field(None, ge=0, le=30 * 86400)
    window_start: dt.time | None = None
    window_end: dt.time | None = None
    severity: Severity | None = None
    opens_case: bool | None = None
    case_category_code: str | None = Field(None, max_length=20)
    escalate_after_min: int | None = Field(None, ge=1, le=7 * 1440)
    enabled: bool | None = None
    description: str | None = Field(None, max_length=300)


class RuleIn(RuleFields):
    """A new rule: ``code``, ``name``, ``kind`` and ``severity`` are required."""

    code: str = Field(..., pattern=r"^[a-z0-9_]{2,40}$", description="编码 / code")
    name: str = Field(..., min_length=1, max_length=100)  # type: ignore[assignment]
    kind: RuleKind
    severity: Severity  # type: ignore[assignment]


DeviceDetail.model_rebuild()
