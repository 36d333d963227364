"""The default alarm rules (默认告警规则) every county starts with.

Case categories are the request loop's codes (``cases/catalogue.py``): 06 消防安全,
05 治安隐患, 0802 独居老人关爱 (under 08 养老服务). The catalogue has no 安全隐患, so gas
leaks go to 消防安全.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .choices import MessageKind, RuleKind, Severity
from .registry import validate_rule

FIRE = "06"
SECURITY = "05"
ELDERLY = "0802"

# code: fields
DEFAULT_RULES: dict[str, dict[str, Any]] = {
    "smoke_alarm": {
        "name": "烟感火警", "device_type": "smoke", "kind": RuleKind.EVENT,
        "message_kind": MessageKind.EVENT,
        "condition": 'event == "alarm"', "clear_condition": 'event == "clear"',
        "severity": Severity.CRITICAL, "opens_case": True, "case_category_code": FIRE,
        "escalate_after_min": 5,
        "description": "烟感探测器报火警，立即生成消防安全工单",
    },
    "gas_leak": {
        "name": "燃气泄漏", "device_type": "gas", "kind": RuleKind.THRESHOLD,
        "message_kind": MessageKind.TELEMETRY,
        "condition": "lel >= 25", "clear_condition": "lel < 10", "duration_s": 10,
        "severity": Severity.CRITICAL, "opens_case": True, "case_category_code": FIRE,
        "escalate_after_min": 5,
        "description": "可燃气体浓度≥25%LEL持续10秒",
    },
    "gas_alarm": {
        "name": "燃气报警", "device_type": "gas", "kind": RuleKind.EVENT,
        "message_kind": MessageKind.EVENT,
        "condition": 'event == "alarm"', "clear_condition": 'event == "clear"',
        "severity": Severity.CRITICAL, "opens_case": True, "case_category_code": FIRE,
        "escalate_after_min": 5,
        "description": "可燃气体探测器自身报警",
    },
    "tamper": {
        "name": "设备防拆", "device_type": None, "kind": RuleKind.EVENT,
        "message_kind": MessageKind.EVENT, "condition": 'event == "tamper"',
        "severity": Severity.WARNING,
        "description": "任何设备上报被拆除或外壳打开",
    },
    "low_battery": {
        "name": "电量低", "device_type": None, "kind": RuleKind.EVENT,
        "condition": 'event == "low_battery" or battery < 15',
        "clear_condition": "battery >= 30",
        "severity": Severity.WARNING,
        "description": "设备上报低电量或电量低于15%，电量回到30%以上自动解除",
    },
    "stranger_night": {
        "name": "夜间陌生人频繁进出", "device_type": "face_gate", "kind": RuleKind.REPEAT,
        "message_kind": MessageKind.EVENT, "condition": 'event == "stranger"',
        "count": 3, "window_s": 5 * 3600,
        "window_start": dt.time(0, 0), "window_end": dt.time(5, 0),
        "severity": Severity.MAJOR, "escalate_after_min": 15,
        "description": "同一闸机00:00–05:00之间识别到陌生人3次",
    },
    "fence_intrusion": {
        "name": "电子围栏入侵", "device_type": "fence", "kind": RuleKind.EVENT,
        "message_kind": MessageKind.EVENT,
        "condition": 'event == "intrusion"', "clear_condition": 'event == "clear"',
        "severity": Severity.MAJOR, "escalate_after_min": 15,
    },
    "access_forced": {
        "name": "门禁被强行打开", "device_type": "access", "kind": RuleKind.EVENT,
        "message_kind": MessageKind.EVENT,
        "condition": 'event in ("forced_open", "held_open")',
        "clear_condition": 'event == "closed"',
        "severity": Severity.MAJOR, "escalate_after_min": 15,
    },
    "camera_fire": {
        "name": "视频识别烟火", "device_type": "camera", "kind": RuleKind.EVENT,
        "message_kind": MessageKind.EVENT, "condition": 'event in ("fire", "smoke")',
        "clear_condition": 'event == "clear"',
        "severity": Severity.CRITICAL, "opens_case": True, "case_category_code": FIRE,
        "escalate_after_min": 5,
    },
    "camera_fall": {
        "name": "视频识别跌倒", "device_type": "camera", "kind": RuleKind.EVENT,
        "message_kind": MessageKind.EVENT, "condition": 'event == "fall"',
        "clear_condition": 'event == "clear"',
        "severity": Severity.MAJOR, "escalate_after_min": 10,
    },
    "sos": {
        "name": "一键呼救", "device_type": "sos_button", "kind": RuleKind.EVENT,
        "message_kind": MessageKind.EVENT,
        "condition": 'event == "sos"', "clear_condition": 'event == "cancel"',
        "severity": Severity.CRITICAL, "opens_case": True, "case_category_code": ELDERLY,
        "escalate_after_min": 5,
        "description": "老人按下一键呼救按钮",
    },
    "offline": {
        "name": "设备离线", "device_type": None, "kind": RuleKind.OFFLINE,
        "duration_s": 30 * 60, "severity": Severity.MINOR,
        "description": "30分钟没有收到任何消息（含心跳）",
    },
    "area_offline": {
        "name": "区域设备集中离线", "device_type": None, "kind": RuleKind.AREA_OFFLINE,
        "count": 10, "severity": Severity.MAJOR, "escalate_after_min": 30,
        "description": "同一区域至少10台、且过半设备在同一轮检查中离线（疑似网关故障或停电）："
                       "合并为一条区域告警，不再逐台告警",
    },
    "welfare": {
        "name": "独居老人24小时无活动", "device_type": None, "kind": RuleKind.WELFARE,
        "duration_s": 24 * 3600, "severity": Severity.MAJOR, "opens_case": True,
        "case_category_code": ELDERLY, "escalate_after_min": 30,
        "description": "独居老人住所的门磁和水表24小时没有活动",
    },
}  # fmt: skip


def ensure_default_rules(apps: Any = None) -> int:
    """Create the default rules that are missing (an edited rule is left as it is);
    returns how many were created. Called by a migration and safe to call again."""
    if apps is None:
        from django.apps import apps as installed

        apps = installed
    rule_model = apps.get_model("iot", "AlarmRule")
    type_model = apps.get_model("iot", "DeviceType")
    types = {t.code: t for t in type_model.objects.all()}
    created = 0
    for code, spec in DEFAULT_RULES.items():
        if rule_model.objects.filter(code=code).exists():
            continue
        fields = dict(spec)
        type_code = fields.pop("device_type")
        validate_rule(
            kind=fields["kind"],
            condition=fields.get("condition", ""),
            clear_condition=fields.get("clear_condition", ""),
            type_code=type_code,
            count=fields.get("count", 1),
            duration_s=fields.get("duration_s", 0),
            window_s=fields.get("window_s", 0),
        )
        rule_model.objects.create(
            code=code, device_type=types.get(type_code) if type_code else None, **fields
        )
        created += 1
    return created
