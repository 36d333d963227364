"""What the API and the pages of the device side share: the scoped querysets of devices,
alarms and rules, their filters, and the user-facing writes (alarm actions, rule edits)
with their scope checks.

Every read starts from ``visible_to(user)``; outside the scope is a 404, a user who sees
an alarm but may not change it gets a 403. Alarm transitions themselves live in
:mod:`jiayuan.iot.lifecycle` (timeline, case link); this module only decides whether
this user may ask for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet

from jiayuan.core import audit
from jiayuan.core.errors import NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import ALL, path_allowed, scope_paths
from jiayuan.org.models import Area
from jiayuan.org.queries import filter_under

from .choices import OPEN_ALARM_STATUSES
from .models import Alarm, AlarmRule, DeadLetter, Device, DeviceType

# --- reads -------------------------------------------------------------------------------


def devices_for(user: Any) -> QuerySet[Device]:
    return Device.objects.visible_to(user).select_related("device_type", "area")


def alarms_for(user: Any) -> QuerySet[Alarm]:
    return Alarm.objects.visible_to(user).select_related(
        "device__device_type", "device__area", "rule", "acknowledged_by"
    )


def dead_letters_for(user: Any) -> QuerySet[DeadLetter]:
    """Dead letters of devices in scope; those of unknown devices (no path) only for users
    who see the whole tree."""
    scoped = DeadLetter.objects.visible_to(user)
    if any(p == ALL or p.count("/") <= 1 for p in scope_paths(user, Perm.VIEW)):
        return scoped | DeadLetter.objects.filter(area_path="")
    return scoped


def area_path_of(area_id: int | None) -> str | None:
    if area_id is None:
        return None
    return Area.objects.filter(pk=area_id).values_list("path", flat=True).first()


def filter_devices(
    qs: QuerySet[Device],
    *,
    type_code: str | None = None,
    statuses: Sequence[str] | None = None,
    area: int | None = None,
    q: str | None = None,
) -> QuerySet[Device]:
    if type_code:
        qs = qs.filter(device_type__code=type_code)
    if statuses:
        qs = qs.filter(status__in=statuses)
    if area is not None:
        qs = filter_under(qs, area)
    if q and q.strip():
        term = q.strip()
        qs = qs.filter(Q(serial__icontains=term) | Q(name__icontains=term))
    return qs


def filter_alarms(
    qs: QuerySet[Alarm],
    *,
    statuses: Sequence[str] | None = None,
    open_only: bool = False,
    severities: Sequence[str] | None = None,
    area: int | None = None,
    device: int | None = None,
    since: Any = None,
) -> QuerySet[Alarm]:
    if open_only:
        qs = qs.filter(status__in=OPEN_ALARM_STATUSES)
    if statuses:
        qs = qs.filter(status__in=statuses)
    if severities:
        qs = qs.filter(severity__in=severities)
    if area is not None:
        qs = filter_under(qs, area)
    if device is not None:
        qs = qs.filter(device_id=device)
    if since is not None:
        qs = qs.filter(last_at__gte=since)
    return qs


def get_device(user: Any, pk: int) -> Device:
    device = devices_for(user).filter(pk=pk).first()
    if device is None:
        raise NotFound("设备不存在", "device not found")
    return device


def get_alarm(user: Any, pk: int) -> Alarm:
    alarm = alarms_for(user).filter(pk=pk).first()
    if alarm is None:
        raise NotFound("告警不存在", "alarm not found")
    return alarm


# --- alarm actions -------------------------------------------------------------------------
ALARM_ACTIONS = {
    "acknowledge": "确认",
    "clear": "解除",
    "false_alarm": "标为误报",
}
# Our action names (URL slugs) and the lifecycle's transitions they ask for.
LIFECYCLE_NAMES = {"acknowledge": "acknowledge", "clear": "clear", "false_alarm": "mark_false"}


def may_change(user: Any, alarm: Alarm) -> bool:
    return path_allowed(user, alarm.area_path, Perm.CHANGE)


def allowed_actions(user: Any, alarm: Alarm) -> list[str]:
    """The actions ``user`` may take on ``alarm`` now (the buttons the pages draw)."""
    from . import lifecycle

    if not may_change(user, alarm):
        return []
    open_now = set(lifecycle.allowed_actions(alarm))
    return [ours for ours, theirs in LIFECYCLE_NAMES.items() if theirs in open_now]


def act_on_alarm(user: Any, pk: int, action: str, *, note: str = "", reason: str = "") -> Alarm:
    """Acknowledge, clear or mark false one alarm the user sees, through the lifecycle.

    404 outside the scope, 403 for a user who may only look, 422 for a false alarm
    without a reason.
    """
    from . import lifecycle

    alarm = get_alarm(user, pk)
    if action not in ALARM_ACTIONS:
        raise NotFound(f"没有「{action}」这个操作", f"there is no action {action}")
    if not may_change(user, alarm):
        raise PermissionDenied("您只能查看该告警", "you may view but not handle this alarm")
    if action == "acknowledge":
        lifecycle.acknowledge(alarm, user)
    elif action == "clear":
        lifecycle.clear(alarm, user, note.strip())
    else:
        if not reason.strip():
            raise ValidationFailed("请填写误报原因", "a reason is required", field="reason")
        lifecycle.mark_false(alarm, user, reason.strip())
    return get_alarm(user, pk)


# --- rules ---------------------------------------------------------------------------------
def prefixes(path: str) -> list[str]:
    """``370830/001/002/`` → ``["370830/", "370830/001/", "370830/001/002/"]``."""
    parts = [p for p in path.split("/") if p]
    return ["/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def rules_for(user: Any) -> QuerySet[AlarmRule]:
    """Rules that apply somewhere in the user's scope: county-wide ones, those set on an
    area above the user's, and those inside it."""
    paths = scope_paths(user, Perm.VIEW)
    qs = AlarmRule.objects.select_related("device_type")
    if ALL in paths:
        return qs
    if not paths:
        return qs.none()
    q = Q(area_path="")
    for path in paths:
        q |= Q(area_path__startswith=path) | Q(area_path__in=prefixes(path))
    return qs.filter(q)


def may_edit_rule_at(user: Any, area_path: str) -> bool:
    """Rules are configuration: editing one needs 督办 (supervise) where it applies; a
    county-wide rule (blank path) needs it at the root of the tree."""
    paths = scope_paths(user, Perm.SUPERVISE)
    if not area_path:
        return any(p == ALL or p.count("/") <= 1 for p in paths)
    return path_allowed(user, area_path, Perm.SUPERVISE)


def get_rule(user: Any, pk: int) -> AlarmRule:
    rule = rules_for(user).filter(pk=pk).first()
    if rule is None:
        raise NotFound("告警规则不存在", "alarm rule not found")
    return rule


def check_rule(rule: AlarmRule) -> None:
    """Refuse a rule that cannot work: the conditions in the rule language against the
    device type's payload fields (:func:`registry.validate_rule`, the engine's own check),
    a time-of-day window given by halves, a case without a category."""
    from .registry import validate_rule

    device_type = rule.device_type
    validate_rule(
        kind=rule.kind,
        condition=rule.condition,
        clear_condition=rule.clear_condition,
        type_code=device_type.code if device_type is not None else None,
        schema=device_type.schema if device_type is not None else None,
        count=rule.count,
        duration_s=rule.duration_s,
        window_s=rule.window_s,
    )
    if (rule.window_start is None) != (rule.window_end is None):
        raise ValidationFailed(
            "时段开始和结束需同时填写", "give both window_start and window_end",
            field="window_start",
        )  # fmt: skip
    if rule.opens_case and not rule.case_category_code:
        raise ValidationFailed(
            "生成工单的规则需要工单类别", "a case category is required", field="case_category_code"
        )


def save_rule(user: Any, rule: AlarmRule, changes: dict[str, Any], *, new: bool) -> AlarmRule:
    """Create or change a rule: scope (old and new place), validation, audit, one
    transaction."""
    if not new and not may_edit_rule_at(user, rule.area_path):
        raise PermissionDenied("您没有修改该规则的权限", "you may not change this rule")
    before = {} if new else audit.snapshot(rule)
    if "device_type" in changes:
        code = changes.pop("device_type")
        if code:
            device_type = DeviceType.objects.filter(code=code).first()
            if device_type is None:
                raise ValidationFailed(
                    f"设备类型 {code} 不存在", "no such device type", field="device_type"
                )
            rule.device_type = device_type
        else:
            rule.device_type = None
    if "area" in changes:
        area_id = changes.pop("area")
        path = "" if area_id is None else area_path_of(area_id)
        if path is None:
            raise ValidationFailed("区域不存在", "no such area", field="area")
        rule.area_path = path
    for name, value in changes.items():
        setattr(rule, name, "" if value is None and name in TEXT_FIELDS else value)
    if not may_edit_rule_at(user, rule.area_path):
        if rule.area_path and path_allowed(user, rule.area_path, Perm.VIEW):
            raise PermissionDenied("规则只能由社区及以上工作人员设置", "supervisors only")
        raise PermissionDenied("只能在本人管辖范围内设置规则", "outside your scope")
    check_rule(rule)
    with transaction.atomic():
        if new and AlarmRule.objects.filter(code=rule.code).exists():
            raise ValidationFailed(f"编码 {rule.code} 已被使用", "code taken", field="code")
        rule.save()
        if new:
            audit.record(AuditEntry.Action.CREATE, rule, user, audit.snapshot(rule), "")
        else:
            delta = audit.diff(before, audit.snapshot(rule))
            if delta:
                audit.record(AuditEntry.Action.UPDATE, rule, user, delta, "")
    return rule


TEXT_FIELDS = {
    "condition",
    "clear_condition",
    "description",
    "case_category_code",
    "message_kind",
}
