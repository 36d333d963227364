"""Duty (上岗/下岗), positions and availability of forces.

A position is kept only while its shift is open and only for
``COMMAND_LOCATION_RETENTION_HOURS`` (PIPL: minimum necessary): going off duty wipes it,
:func:`purge_locations` wipes older ones. Staff reading a force's position go through
:func:`position_of`, which writes the audit log.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from jiayuan.core import audit
from jiayuan.core.errors import Conflict, NotFound, ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed
from jiayuan.people.models import Force, Person

from .models import Availability, DutyShift

DEFAULT_RETENTION_HOURS = 24
_TIME = "%H:%M"


def retention() -> dt.timedelta:
    hours = getattr(settings, "COMMAND_LOCATION_RETENTION_HOURS", DEFAULT_RETENTION_HOURS)
    return dt.timedelta(hours=float(hours))


def check_point(lat: Any, lng: Any) -> tuple[float, float] | None:
    """A WGS 84 point, or ``None`` when both are missing; anything else is refused."""
    if lat in (None, "") and lng in (None, ""):
        return None
    try:
        la, ln = float(lat), float(lng)
    except (TypeError, ValueError):
        raise ValidationFailed("位置无效", "invalid location", field="lat") from None
    if not (math.isfinite(la) and math.isfinite(ln) and -90 <= la <= 90 and -180 <= ln <= 180):
        raise ValidationFailed("位置超出范围", "location out of range", field="lat")
    return la, ln


def forces_of(user: Any) -> list[Force]:
    """The forces the signed-in user serves as (through their person record)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    person = Person.objects.filter(user=user).first()
    if person is None:
        return []
    return list(person.forces.select_related("area").order_by("pk"))


def open_shift(force: Force) -> DutyShift | None:
    return DutyShift.objects.filter(force=force, ended_at__isnull=True).first()


def go_on_duty(
    force: Force, *, actor: Any, lat: Any = None, lng: Any = None, now: dt.datetime | None = None
) -> DutyShift:
    """上岗: open a shift (or update the open one's position)."""
    now = now or timezone.now()
    point = check_point(lat, lng)
    with transaction.atomic():
        shift = DutyShift.objects.select_for_update().filter(force=force, ended_at__isnull=True)
        current = shift.first()
        if current is None:
            current = DutyShift(force=force, started_at=now)
        if point is not None:
            current.lat, current.lng = point
            current.located_at = now
        try:
            with transaction.atomic():
                current.save()
        except IntegrityError:  # another request opened it a moment ago
            raise Conflict("已在岗", "already on duty") from None
        if not force.on_duty:
            Force.objects.filter(pk=force.pk).update(on_duty=True)
            force.on_duty = True
        audit.record(AuditEntry.Action.UPDATE, current, actor, {"on_duty": True}, "上岗")
    return current


def go_off_duty(force: Force, *, actor: Any, now: dt.datetime | None = None) -> DutyShift:
    """下岗: close the open shift and forget its position."""
    now = now or timezone.now()
    with transaction.atomic():
        current = (
            DutyShift.objects.select_for_update().filter(force=force, ended_at__isnull=True).first()
        )
        if current is None:
            raise Conflict("当前不在岗", "not on duty")
        current.ended_at = now
        current.lat = current.lng = current.located_at = None
        current.save()
        Force.objects.filter(pk=force.pk).update(on_duty=False)
        force.on_duty = False
        audit.record(AuditEntry.Action.UPDATE, current, actor, {"on_duty": False}, "下岗")
    return current


def purge_locations(now: dt.datetime | None = None) -> int:
    """Wipe positions of closed shifts and positions older than the retention."""
    now = now or timezone.now()
    stale = DutyShift.objects.filter(located_at__isnull=False).filter(
        located_at__lt=now - retention()
    )
    closed = DutyShift.objects.filter(ended_at__isnull=False, lat__isnull=False)
    ids = set(stale.values_list("pk", flat=True)) | set(closed.values_list("pk", flat=True))
    if not ids:
        return 0
    return DutyShift.objects.filter(pk__in=ids).update(lat=None, lng=None, located_at=None)


def position_of(force: Force, *, actor: Any) -> dict[str, Any] | None:
    """The force's last known position for staff in scope; every look is audited."""
    if not path_allowed(actor, force.area_path, Perm.VIEW):
        raise NotFound()
    shift = open_shift(force)
    if shift is None or shift.lat is None:
        return None
    audit.record(AuditEntry.Action.REVEAL, shift, actor, {"fields": ["lat", "lng"]}, "查看力量位置")
    return {"lat": shift.lat, "lng": shift.lng, "at": shift.located_at}


def parse_windows(raw: Any) -> list[dict[str, Any]]:
    """Validate availability windows: a list of ``{weekday 0–6, start, end "HH:MM"}``."""
    if not isinstance(raw, list) or len(raw) > 50:
        raise ValidationFailed(
            "可调度时段格式无效", "windows must be a short list", field="windows"
        )
    out = []
    for item in raw:
        if not isinstance(item, dict):
            raise ValidationFailed("可调度时段格式无效", "invalid window", field="windows")
        try:
            weekday = int(item.get("weekday"))  # type: ignore[arg-type]
            start = dt.datetime.strptime(str(item.get("start")), _TIME).time()  # noqa: DTZ007
            end = dt.datetime.strptime(str(item.get("end")), _TIME).time()  # noqa: DTZ007
        except (TypeError, ValueError):
            raise ValidationFailed(
                "可调度时段格式无效", "invalid window", field="windows"
            ) from None
        if not 0 <= weekday <= 6 or end <= start:
            raise ValidationFailed("可调度时段无效", "invalid weekday or span", field="windows")
        out.append({"weekday": weekday, "start": start.strftime(_TIME), "end": end.strftime(_TIME)})
    return out


def set_availability(force: Force, windows: Any, *, actor: Any) -> Availability:
    clean = parse_windows(windows)
    with transaction.atomic():
        row, _ = Availability.objects.get_or_create(force=force)
        row.windows = clean
        row.save()
        audit.record(AuditEntry.Action.UPDATE, row, actor, {"windows": clean}, "可调度时段")
    return row


def available(windows: list[dict[str, Any]] | None, at: dt.datetime) -> bool:
    """Whether ``at`` (local time) falls inside one of the windows; none means always."""
    if not windows:
        return True
    local = timezone.localtime(at)
    hhmm = local.strftime(_TIME)
    return any(
        w.get("weekday") == local.weekday() and w.get("start", "") <= hhmm < w.get("end", "")
        for w in windows
    )


# --- the force's own skills and windows, from the phone ----------------------------------
#: Skills a force ticks on the phone (more may be typed in): what mobilisation asks for.
SKILL_CHOICES: tuple[str, ...] = (
    "应急救护", "消防", "防汛", "治安巡逻", "矛盾调解", "心理疏导", "水电维修", "家电维修",
    "驾驶", "法律咨询", "政策宣讲", "助老陪护", "义诊", "医疗护理", "课业辅导", "摄影",
)  # fmt: skip
MAX_SKILLS = 20  # what a mobilisation may ask for at most (mobilise._clean_list)
MAX_SKILL_LENGTH = 20
MAX_PHONE_WINDOWS = 14  # two spans a day
WEEKDAYS: tuple[str, ...] = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_SKILL_SEPARATORS = re.compile(r"[,，、;；\s]+")
_HHMM = re.compile(r"[0-9]{2}:[0-9]{2}")
_WEEKDAY_VALUES = frozenset(str(d) for d in range(7))


def clean_skills(chosen: Iterable[Any], other: Any = "") -> list[str]:
    """A force's skills from the ticked tags and the free text (separated by commas, 、
    or spaces): trimmed, each at most :data:`MAX_SKILL_LENGTH` characters, no control
    characters, no duplicates, at most :data:`MAX_SKILLS`."""
    text = str(other or "")
    if len(text) > MAX_SKILLS * (MAX_SKILL_LENGTH + 1):
        raise ValidationFailed("其他技能过长", "the other skills are too long", field="skills")
    items = [str(c) for c in chosen] + _SKILL_SEPARATORS.split(text)
    out: list[str] = []
    for raw in items:
        skill = raw.strip()
        if not skill:
            continue
        if len(skill) > MAX_SKILL_LENGTH:
            raise ValidationFailed(
                f"技能「{skill[:MAX_SKILL_LENGTH]}…」超过 {MAX_SKILL_LENGTH} 个字",
                f"a skill is longer than {MAX_SKILL_LENGTH} characters",
                field="skills",
            )
        if any(unicodedata.category(ch)[0] == "C" for ch in skill):
            raise ValidationFailed(
                "技能含有无效字符", "a skill holds invalid characters", field="skills"
            )
        if skill not in out:
            out.append(skill)
    if len(out) > MAX_SKILLS:
        raise ValidationFailed(
            f"技能最多 {MAX_SKILLS} 项", f"at most {MAX_SKILLS} skills", field="skills"
        )
    return out


def set_skills(force: Force, skills: list[str], *, actor: Any) -> Force:
    """A force's own skills (技能), as :func:`clean_skills` returned them; audited."""
    with transaction.atomic():
        row = Force.objects.select_for_update().get(pk=force.pk)
        before = list(row.skills or [])
        if before != skills:
            Force.objects.filter(pk=row.pk).update(skills=skills)
            audit.record(AuditEntry.Action.UPDATE, row, actor, {"skills": [before, skills]}, "技能")
    force.skills = skills
    return force


def windows_from_rows(
    weekdays: list[Any], starts: list[Any], ends: list[Any]
) -> list[dict[str, Any]]:
    """Availability windows from the phone form's rows (weekday, start, end), with an
    error naming the row; a row left blank is dropped. The result goes to
    :func:`set_availability`, which checks it again."""
    if not len(weekdays) == len(starts) == len(ends) or len(weekdays) > 4 * MAX_PHONE_WINDOWS:
        raise ValidationFailed("可调度时段格式无效", "invalid windows", field="windows")
    out: list[dict[str, Any]] = []
    for row, (day, start, end) in enumerate(zip(weekdays, starts, ends, strict=True), 1):
        start, end = str(start).strip(), str(end).strip()
        if not start and not end:
            continue
        if str(day) not in _WEEKDAY_VALUES:
            raise ValidationFailed(
                f"第 {row} 行：请选择星期一至星期日",
                f"row {row}: the weekday must be 0–6",
                field="windows",
            )
        if not start or not end:
            raise ValidationFailed(
                f"第 {row} 行：请填写开始和结束时间",
                f"row {row}: both start and end are required",
                field="windows",
            )
        try:
            if not (_HHMM.fullmatch(start) and _HHMM.fullmatch(end)):
                raise ValueError(start)
            begins = dt.datetime.strptime(start, _TIME).time()  # noqa: DTZ007
            finishes = dt.datetime.strptime(end, _TIME).time()  # noqa: DTZ007
        except ValueError:
            raise ValidationFailed(
                f"第 {row} 行：时间须为 HH:MM（如 08:30）",
                f"row {row}: times are HH:MM (e.g. 08:30)",
                field="windows",
            ) from None
        if finishes <= begins:
            raise ValidationFailed(
                f"第 {row} 行：结束时间须晚于开始时间",
                f"row {row}: the end must be after the start",
                field="windows",
            )
        window = {"weekday": int(day), "start": start, "end": end}
        if window not in out:
            out.append(window)
    if len(out) > MAX_PHONE_WINDOWS:
        raise ValidationFailed(
            f"可调度时段最多 {MAX_PHONE_WINDOWS} 个",
            f"at most {MAX_PHONE_WINDOWS} windows",
            field="windows",
        )
    return sorted(out, key=lambda w: (w["weekday"], w["start"], w["end"]))


def windows_of(forces: list[Force]) -> dict[int, list[dict[str, Any]]]:
    """Each force's availability windows (an empty list: always available), one query."""
    rows = Availability.objects.filter(force__in=forces).values_list("force_id", "windows")
    found = {force_id: list(windows or []) for force_id, windows in rows}
    return {f.pk: found.get(f.pk, []) for f in forces}
