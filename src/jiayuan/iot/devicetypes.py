"""The shipped device types (设备类型) and the payload schema of each message kind.

A schema is a small JSON-Schema-like dict per message kind::

    {"event": {"event": {"type": "enum", "values": [...], "required": True},
               "battery": {"type": "int", "min": 0, "max": 100}}}

Field types are those of the rule language (``int``, ``decimal``, ``str``, ``bool``,
``enum``), so every payload field is also a name alarm rules may use (``iot.registry``).
Unknown extra fields are kept but not checked: vendors add fields, and dropping a smoke
alarm because its firmware reports a new counter would be the wrong trade.

``ACTIVITY`` says, in the rule language, which messages of a type show that someone is
at home (a door opening, water running): the welfare check reads them.
"""

from __future__ import annotations

import math
from typing import Any

Spec = dict[str, Any]
KindSchema = dict[str, Spec]

BATTERY: Spec = {"type": "int", "min": 0, "max": 100, "label": "电量"}
RSSI: Spec = {"type": "int", "min": -150, "max": 0, "label": "信号强度"}
HEARTBEAT: KindSchema = {"battery": BATTERY, "rssi": RSSI}


def _event(*values: str, **extra: Spec) -> KindSchema:
    return {
        "event": {"type": "enum", "values": list(values), "required": True, "label": "事件"},
        "battery": BATTERY,
        **extra,
    }


# code: (name, category, schema by message kind)
DEVICE_TYPES: dict[str, tuple[str, str, dict[str, KindSchema]]] = {
    "smoke": ("烟感探测器", "消防", {
        "event": _event(
            "alarm", "clear", "tamper", "low_battery", "test", "fault",
            smoke_density={"type": "decimal", "min": 0, "max": 100, "label": "烟雾浓度"},
        ),
        "telemetry": {
            "smoke_density": {"type": "decimal", "min": 0, "max": 100, "label": "烟雾浓度"},
            "temperature": {"type": "decimal", "min": -50, "max": 150, "label": "温度"},
            "battery": BATTERY,
        },
        "heartbeat": HEARTBEAT,
    }),
    "gas": ("可燃气体探测器", "消防", {
        "event": _event(
            "alarm", "clear", "tamper", "low_battery", "fault",
            lel={"type": "decimal", "min": 0, "max": 100, "label": "浓度(%LEL)"},
        ),
        "telemetry": {
            "lel": {"type": "decimal", "min": 0, "max": 100, "required": True,
                    "label": "浓度(%LEL)"},
            "battery": BATTERY,
        },
        "heartbeat": HEARTBEAT,
    }),
    "access": ("门禁控制器", "治安", {
        "event": _event(
            "open", "forced_open", "held_open", "closed", "denied", "tamper",
            door={"type": "str", "label": "门"},
            method={"type": "enum", "values": ["card", "face", "password", "remote", "qr"],
                    "label": "开门方式"},
        ),
        "heartbeat": HEARTBEAT,
    }),
    "face_gate": ("人脸识别闸机", "治安", {
        "event": _event(
            "recognised", "stranger", "tamper",
            similarity={"type": "decimal", "min": 0, "max": 1, "label": "相似度"},
            direction={"type": "enum", "values": ["in", "out"], "label": "方向"},
        ),
        "heartbeat": HEARTBEAT,
    }),
    "fence": ("电子围栏", "治安", {
        "event": _event(
            "intrusion", "clear", "tamper", "fault",
            zone={"type": "str", "label": "防区"},
        ),
        "heartbeat": HEARTBEAT,
    }),
    "camera": ("视频智能分析", "治安", {
        "event": _event(
            "fall", "loitering", "crowd", "fire", "smoke", "clear", "tamper",
            confidence={"type": "decimal", "min": 0, "max": 1, "label": "置信度"},
            people={"type": "int", "min": 0, "label": "人数"},
        ),
        "heartbeat": HEARTBEAT,
    }),
    "water_meter": ("智能水表", "养老", {
        "event": _event("leak", "tamper", "low_battery"),
        "telemetry": {
            "flow": {"type": "decimal", "min": 0, "max": 10000, "required": True,
                     "label": "流量(升/分)"},
            "total": {"type": "decimal", "min": 0, "label": "累计用水(立方米)"},
            "battery": BATTERY,
        },
        "heartbeat": HEARTBEAT,
    }),
    "door_sensor": ("门磁", "养老", {
        "event": _event("open", "close", "tamper", "low_battery"),
        "heartbeat": HEARTBEAT,
    }),
    "sos_button": ("一键呼救按钮", "养老", {
        "event": _event("sos", "cancel", "low_battery", "tamper"),
        "heartbeat": HEARTBEAT,
    }),
}  # fmt: skip

# How often a device of each type says it is alive (heartbeat, seconds). Mains-powered
# security devices report every five minutes, battery-powered home devices every ten:
# both well inside the default offline rule's 30 minutes, so one lost heartbeat is no
# alarm.
HEARTBEAT_S: dict[str, int] = {
    "access": 300, "face_gate": 300, "fence": 300, "camera": 300,
    "smoke": 600, "gas": 600, "water_meter": 600, "door_sensor": 600, "sos_button": 600,
}  # fmt: skip
DEFAULT_HEARTBEAT_S = 600

# Which messages show somebody moving about at home (rule language, per type).
ACTIVITY: dict[str, str] = {
    "door_sensor": 'kind == "event" and event in ("open", "close")',
    "water_meter": 'kind == "telemetry" and flow > 0',
}


def ensure_device_types(apps: Any = None) -> int:
    """Create or refresh the shipped types; returns how many were created. Safe to call
    again: a migration and the demo seeder both do."""
    if apps is None:
        from django.apps import apps as installed

        apps = installed
    model = apps.get_model("iot", "DeviceType")
    created = 0
    for code, (name, category, schema) in DEVICE_TYPES.items():
        _, was_created = model.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "category": category,
                "schema": schema,
                "activity": code in ACTIVITY,
            },
        )
        created += int(was_created)
    return created


def field_types(schema: dict[str, KindSchema]) -> dict[str, Spec]:
    """Every payload field of a type across its message kinds (first spec wins; the data
    above keeps a name's type the same in every kind)."""
    out: dict[str, Spec] = {}
    for fields in schema.values():
        for name, spec in fields.items():
            out.setdefault(name, spec)
    return out


def _check_value(name: str, spec: Spec, value: Any) -> str | None:
    kind = spec.get("type")
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{name}: 应为整数 / must be an integer"
    elif kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{name}: 应为数值 / must be a number"
        if isinstance(value, float) and not math.isfinite(value):
            return f"{name}: 应为有限数值 / must be finite"
    elif kind == "str":
        if not isinstance(value, str) or len(value) > 200:
            return f"{name}: 应为不超过200字的文本 / must be text up to 200 characters"
    elif kind == "bool":
        if not isinstance(value, bool):
            return f"{name}: 应为真假值 / must be true or false"
    elif kind == "enum":
        if value not in spec.get("values", ()):
            return f"{name}: 取值 {str(value)[:40]!r} 不在允许范围 / value not allowed"
    if kind in ("int", "decimal"):
        low, high = spec.get("min"), spec.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            return f"{name}: 超出范围 [{low}, {high}] / out of range"
    return None


def validate_payload(schema: dict[str, KindSchema], kind: str, data: Any) -> str | None:
    """The first reason ``data`` is not a valid ``kind`` message of a type, or ``None``."""
    fields = schema.get(kind)
    if fields is None:
        return f"该类型设备不发送 {kind} 消息 / this device type sends no {kind} messages"
    if not isinstance(data, dict):
        return "data 应为对象 / data must be an object"
    for name, spec in fields.items():
        if name not in data or data[name] is None:
            if spec.get("required"):
                return f"缺少字段 {name} / missing field {name}"
            continue
        problem = _check_value(name, spec, data[name])
        if problem:
            return problem
    return None
