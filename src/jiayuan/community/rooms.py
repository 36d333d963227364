"""Rooms and their bookings (活动室预约): one room, many purposes at staggered times
(一室多用、错时服务).

The contract, stated where the code is:

- Confirmed bookings of one room never overlap. Touching ends are allowed (14:00–16:00
  and 16:00–18:00 both stand). :func:`book` and :func:`book_series` lock the room row
  (``SELECT … FOR UPDATE``) inside one transaction *before* they look for overlaps, so
  two requests for one slot arriving together on PostgreSQL are serialised on the room
  and exactly one of them books it; SQLite serialises every writer already (IMMEDIATE
  transactions).
- A recurring booking is an RFC 5545 RRULE (``FREQ=WEEKLY;BYDAY=TU;UNTIL=20270301``)
  expanded with python-dateutil into at most :data:`MAX_OCCURRENCES` bookings within
  :data:`HORIZON` of its first one; it is refused whole when any occurrence conflicts,
  and the refusal names the first conflicting occurrence and the booking it meets.
- Opening hours are honoured: the room's own, else its position's (ISO weekday →
  ``[["08:30", "12:00"], …]``; a weekday missing is closed). A room and position with
  no hours declared at all are open at any time.
- Cancelling a booking (or a whole series) frees its time at once.

Every write is audited; acting needs ``Perm.SERVE`` where the room is.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dateutil.rrule import rrule, rrulestr
from django.db import transaction
from django.utils import timezone

from jiayuan.core import audit
from jiayuan.core.actions import ensure_in_scope
from jiayuan.core.errors import Conflict, NotFound, ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Perm

from .choices import BookingStatus
from .models import Booking, BookingSeries, Room, ServicePosition

MAX_OCCURRENCES = 200
HORIZON = dt.timedelta(days=366)
MAX_DURATION = dt.timedelta(hours=24)
EARLIEST = dt.date(2000, 1, 1)
LATEST_AHEAD = dt.timedelta(days=3 * 366)  # nothing is booked more than three years ahead
WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


# --- text from users ----------------------------------------------------------------------
def clean_text(
    value: Any, *, field: str, label: str, max_length: int, required: bool = True
) -> str:
    """``value`` trimmed; refused (422) when empty but required, too long, or holding
    control characters or lone surrogates (which PostgreSQL cannot store)."""
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise ValidationFailed(f"请填写{label}", f"{field} is required", field=field)
    if len(text) > max_length:
        raise ValidationFailed(
            f"{label}不能超过{max_length}个字", f"{field} is longer than {max_length}", field=field
        )
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Co") for ch in text):
        raise ValidationFailed(
            f"{label}含有无法识别的字符", f"{field} holds control characters", field=field
        )
    return text


# --- opening hours ------------------------------------------------------------------------
Spans = dict[int, list[tuple[int, int]]]  # ISO weekday → [(open minute, close minute)]


def _minute(text: Any, field: str) -> int:
    match = _HHMM.match(str(text)) if isinstance(text, str) else None
    minutes = int(match.group(1)) * 60 + int(match.group(2)) if match else -1
    if not match or minutes > 24 * 60:
        raise ValidationFailed(
            "开放时间格式应为 08:30", f"opening hours take HH:MM times, got {text!r}", field=field
        )
    return minutes


def parse_hours(data: Any, field: str = "opening_hours") -> Spans:
    """Opening hours as minutes per ISO weekday, checked: ``{"1": [["08:30", "12:00"]]}``."""
    if data in (None, "", {}):
        return {}
    if not isinstance(data, dict) or len(data) > 7:
        raise ValidationFailed("开放时间格式无效", "opening hours map weekdays 1-7", field=field)
    spans: Spans = {}
    for key, day in data.items():
        if str(key) not in {"1", "2", "3", "4", "5", "6", "7"} or not isinstance(day, list):
            raise ValidationFailed(
                "开放时间格式无效", "opening hours map weekdays 1-7", field=field
            )
        if len(day) > 6:
            raise ValidationFailed("每天最多6个开放时段", "at most 6 spans a day", field=field)
        parsed = []
        for span in day:
            if not isinstance(span, list | tuple) or len(span) != 2:
                raise ValidationFailed(
                    "开放时段应为[开始, 结束]", "a span is [open, close]", field=field
                )
            start, end = _minute(span[0], field), _minute(span[1], field)
            if end <= start:
                raise ValidationFailed(
                    "开放时段结束须晚于开始", "a span ends after it opens", field=field
                )
            parsed.append((start, end))
        spans[int(key)] = sorted(parsed)
    return spans


def effective_hours(room: Room) -> Any:
    """The hours a room keeps: its own, else its position's."""
    return room.opening_hours or room.position.opening_hours or {}


def hours_lines(data: Any) -> list[tuple[str, str]]:
    """``[("周一", "08:30–12:00, 14:00–18:00"), …, ("周日", "闭馆")]`` for a page."""
    try:
        spans = parse_hours(data)
    except ValidationFailed:
        return []
    if not spans:
        return []
    lines = []
    for day in range(1, 8):
        text = ", ".join(f"{_hhmm(a)}–{_hhmm(b)}" for a, b in spans.get(day, [])) or "闭馆"
        lines.append((WEEKDAYS[day - 1], text))
    return lines


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _local(value: dt.datetime) -> dt.datetime:
    return timezone.localtime(value)


def within_hours(spans: Spans, starts_at: dt.datetime, ends_at: dt.datetime) -> bool:
    """Whether the span lies inside one opening span of its day (no hours: always)."""
    if not spans:
        return True
    start, end = _local(starts_at), _local(ends_at)
    day = start.date()
    end_minute = end.hour * 60 + end.minute
    if end.date() != day:
        if end.date() != day + dt.timedelta(days=1) or end_minute or end.second:
            return False
        end_minute = 24 * 60  # up to midnight
    start_minute = start.hour * 60 + start.minute
    return any(a <= start_minute and end_minute <= b for a, b in spans.get(start.isoweekday(), []))


def open_minutes(spans: Spans, first: dt.date, last: dt.date) -> int:
    """Minutes open from ``first`` to ``last`` (both included)."""
    total, day = 0, first
    while day <= last:
        total += sum(b - a for a, b in spans.get(day.isoweekday(), []))
        day += dt.timedelta(days=1)
    return total


# --- reading ------------------------------------------------------------------------------
def rooms_visible_to(user: Any) -> Any:
    """Rooms the user may see, with their position (one join)."""
    return Room.objects.visible_to(user).select_related("position", "position__area")


def positions_visible_to(user: Any) -> Any:
    return ServicePosition.objects.visible_to(user).select_related("area")


def get_room(user: Any, room_id: int) -> Room:
    room = rooms_visible_to(user).filter(pk=room_id).first()
    if room is None:
        raise NotFound("活动室不存在", "room not found")
    return room  # type: ignore[no-any-return]


def bookings_between(
    rooms: Iterable[int] | None, start: dt.datetime, end: dt.datetime, user: Any = None
) -> Any:
    """Confirmed bookings overlapping ``[start, end)``, of ``rooms`` (ids) or of every
    room ``user`` sees."""
    qs = Booking.objects.filter(
        status=BookingStatus.CONFIRMED, starts_at__lt=end, ends_at__gt=start
    ).select_related("room", "room__position")
    if user is not None:
        qs = qs.visible_to(user)
    if rooms is not None:
        qs = qs.filter(room_id__in=list(rooms))
    return qs.order_by("starts_at", "pk")


# --- booking ------------------------------------------------------------------------------
def _aware(value: dt.datetime) -> dt.datetime:
    if timezone.is_naive(value):
        return timezone.make_aware(value)
    return value


def check_span(starts_at: dt.datetime, ends_at: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The span, time-zone aware, refused when it ends before it starts, runs over a day,
    or lies before 2000 or more than three years ahead."""
    starts_at, ends_at = _aware(starts_at), _aware(ends_at)
    if ends_at <= starts_at:
        raise ValidationFailed(
            "结束时间须晚于开始时间", "ends_at must be after starts_at", field="ends_at"
        )
    if ends_at - starts_at > MAX_DURATION:
        raise ValidationFailed(
            "一次预约不能超过24小时", "a booking lasts at most 24 hours", field="ends_at"
        )
    today = timezone.localdate()
    if _local(starts_at).date() < EARLIEST or _local(ends_at).date() > today + LATEST_AHEAD:
        raise ValidationFailed(
            "预约日期超出可预约范围(最多提前三年)",
            "bookings lie between 2000 and three years ahead",
            field="starts_at",
        )
    return starts_at, ends_at


def conflict_detail(booking: Booking) -> dict[str, Any]:
    """What a 409 names: the booking already holding the time."""
    return {
        "id": booking.pk,
        "title": booking.title,
        "starts_at": _local(booking.starts_at).isoformat(),
        "ends_at": _local(booking.ends_at).isoformat(),
    }


def _refuse_conflict(existing: Booking, occurrence: tuple[dt.datetime, dt.datetime] | None) -> None:
    when = f"{_local(existing.starts_at):%Y-%m-%d %H:%M}–{_local(existing.ends_at):%H:%M}"
    detail: dict[str, Any] = {"conflict": conflict_detail(existing)}
    zh = f"该时段已被预约：{existing.title}（{when}）"
    en = f"the room is booked then: {existing.title} ({when})"
    if occurrence is not None:
        day = f"{_local(occurrence[0]):%Y-%m-%d %H:%M}"
        detail["occurrence"] = {
            "starts_at": _local(occurrence[0]).isoformat(),
            "ends_at": _local(occurrence[1]).isoformat(),
        }
        zh = f"周期预约中 {day} 这一次与已有预约冲突：{existing.title}（{when}）"
        en = f"the occurrence on {day} meets an existing booking: {existing.title} ({when})"
    raise Conflict(zh, en, detail=detail)


def _lock_room(actor: Any, room_id: int) -> Room:
    """The room, locked for this transaction, after the actor's scope is checked."""
    if actor is not None:
        get_room(actor, room_id)  # 404 outside the actor's scope
    # lock the room row only (not its position: other rooms of it book in parallel)
    room = (
        Room.objects.select_for_update(of=("self",))
        .select_related("position")
        .filter(pk=room_id)
        .first()
    )
    if room is None:
        raise NotFound("活动室不存在", "room not found")
    ensure_in_scope(actor, room, Perm.SERVE)
    if not room.bookable or not room.position.active:
        raise ValidationFailed(
            "该活动室暂不开放预约", "the room is not open for booking", field="room"
        )
    return room


def _check_hours(room: Room, spans: Spans, starts_at: dt.datetime, ends_at: dt.datetime) -> None:
    if not within_hours(spans, starts_at, ends_at):
        day = f"{_local(starts_at):%Y-%m-%d %H:%M}–{_local(ends_at):%H:%M}"
        raise ValidationFailed(
            f"{day} 不在{room.name}的开放时间内",
            f"{day} lies outside the room's opening hours",
            field="starts_at",
        )


@dataclass
class BookingRequest:
    """What a booking asks for; ``rule`` (an RRULE) makes it recurring."""

    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    organiser: str = ""
    attendees: int = 0
    rule: str = ""


def _clean(req: BookingRequest, room: Room) -> BookingRequest:
    title = clean_text(req.title, field="title", label="用途", max_length=100)
    organiser = clean_text(
        req.organiser, field="organiser", label="组织方", max_length=100, required=False
    )
    if not isinstance(req.attendees, int) or req.attendees < 0 or req.attendees > 100_000:
        raise ValidationFailed("预计人数无效", "attendees must be 0 or more", field="attendees")
    if room.capacity and req.attendees > room.capacity:
        raise ValidationFailed(
            f"预计人数超过活动室容纳人数({room.capacity})",
            f"more attendees than the room holds ({room.capacity})",
            field="attendees",
        )
    starts_at, ends_at = check_span(req.starts_at, req.ends_at)
    return BookingRequest(title, starts_at, ends_at, organiser, req.attendees, req.rule)


def book(room_id: int, req: BookingRequest, *, actor: Any) -> Booking:
    """Book a room once (单次预约); 409 naming the booking that holds the time."""
    if req.rule:
        return book_series(room_id, req, actor=actor)[0]
    with transaction.atomic():
        room = _lock_room(actor, room_id)
        req = _clean(req, room)
        _check_hours(room, parse_hours(effective_hours(room)), req.starts_at, req.ends_at)
        clash = (
            Booking.objects.filter(
                room=room,
                status=BookingStatus.CONFIRMED,
                starts_at__lt=req.ends_at,
                ends_at__gt=req.starts_at,
            )
            .order_by("starts_at")
            .first()
        )
        if clash is not None:
            _refuse_conflict(clash, None)
        booking = Booking(
            room=room,
            title=req.title,
            organiser=req.organiser,
            starts_at=req.starts_at,
            ends_at=req.ends_at,
            attendees=req.attendees,
            booked_by=actor if getattr(actor, "pk", None) else None,
        )
        booking.save()
        audit.record(AuditEntry.Action.CREATE, booking, actor, audit.snapshot(booking))
    return booking


# --- recurrence ---------------------------------------------------------------------------
_RULE_KEYS = {
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "BYDAY",
    "BYMONTHDAY",
    "BYMONTH",
    "WKST",
    "BYSETPOS",
}
_FREQS = {"DAILY", "WEEKLY", "MONTHLY"}


def _bad_rule(zh: str, en: str) -> ValidationFailed:
    return ValidationFailed(f"重复规则无效：{zh}", f"invalid recurrence rule: {en}", field="rule")


def parse_rule(text: str, starts_at: dt.datetime) -> tuple[str, rrule]:
    """The RRULE (``FREQ=WEEKLY;BYDAY=TU;UNTIL=20270301``, an ``RRULE:`` prefix allowed)
    in its stored form and parsed from the first occurrence's local time.

    Only daily, weekly and monthly rules with a COUNT or an UNTIL are taken: a room is
    not booked every minute, nor forever."""
    raw = clean_text(text, field="rule", label="重复规则", max_length=200).upper()
    raw = raw.removeprefix("RRULE:")
    parts: dict[str, str] = {}
    for part in raw.split(";"):
        key, sep, value = part.partition("=")
        if not sep or not value or key not in _RULE_KEYS or key in parts:
            raise _bad_rule(f"无法识别“{part[:40]}”", f"cannot read {part[:40]!r}")
        parts[key] = value
    if parts.get("FREQ") not in _FREQS:
        raise _bad_rule("频率须为 DAILY、WEEKLY 或 MONTHLY", "FREQ is DAILY, WEEKLY or MONTHLY")
    if "COUNT" not in parts and "UNTIL" not in parts:
        raise _bad_rule("须指定次数(COUNT)或截止日期(UNTIL)", "give COUNT or UNTIL")
    for key, low, high in (("COUNT", 1, MAX_OCCURRENCES), ("INTERVAL", 1, 52)):
        if key in parts:
            if not parts[key].isdigit() or len(parts[key]) > 6:
                raise _bad_rule(f"{key} 须为正整数", f"{key} is a positive integer")
            if not low <= int(parts[key]) <= high:
                raise _bad_rule(
                    f"{key} 须在 {low} 到 {high} 之间", f"{key} lies between {low} and {high}"
                )
    canonical = ";".join(f"{k}={v}" for k, v in parts.items())
    start = _local(starts_at).replace(tzinfo=None)
    try:
        parsed = rrulestr(canonical, dtstart=start, ignoretz=True)
    except (ValueError, TypeError, OverflowError, KeyError, IndexError) as exc:
        raise _bad_rule("格式错误", str(exc)[:80]) from exc
    if not isinstance(parsed, rrule):
        raise _bad_rule("只接受一条 RRULE", "one RRULE only")
    return canonical, parsed


def occurrences(
    rule_text: str, starts_at: dt.datetime, ends_at: dt.datetime
) -> tuple[str, list[tuple[dt.datetime, dt.datetime]]]:
    """Every (start, end) of the series, refused beyond :data:`MAX_OCCURRENCES` or a year."""
    starts_at, ends_at = check_span(starts_at, ends_at)
    canonical, parsed = parse_rule(rule_text, starts_at)
    length = ends_at - starts_at
    first = _local(starts_at).replace(tzinfo=None)
    horizon = first + HORIZON
    found: list[tuple[dt.datetime, dt.datetime]] = []
    try:
        for when in parsed:
            if when > horizon:
                raise _bad_rule("周期预约最长一年", "a series spans one year at most")
            if len(found) == MAX_OCCURRENCES:
                raise _bad_rule(
                    f"周期预约最多{MAX_OCCURRENCES}次", f"at most {MAX_OCCURRENCES} occurrences"
                )
            start = timezone.make_aware(when)
            found.append((start, start + length))
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, ValidationFailed):
            raise
        raise _bad_rule("无法展开", str(exc)[:80]) from exc
    if not found:
        raise _bad_rule("没有任何一次预约", "the rule yields no occurrence")
    for (_a, end), (b, _e) in itertools.pairwise(found):
        if b < end:
            raise _bad_rule("相邻两次预约时间重叠", "occurrences overlap one another")
    return canonical, found


def book_series(room_id: int, req: BookingRequest, *, actor: Any) -> list[Booking]:
    """Book a room by a recurring rule (周期预约), all or nothing: one occurrence outside
    the opening hours or meeting a booking refuses the whole series, naming it."""
    with transaction.atomic():
        room = _lock_room(actor, room_id)
        req = _clean(req, room)
        canonical, spans_list = occurrences(req.rule, req.starts_at, req.ends_at)
        hours = parse_hours(effective_hours(room))
        for start, end in spans_list:
            _check_hours(room, hours, start, end)
        existing = list(
            Booking.objects.filter(
                room=room,
                status=BookingStatus.CONFIRMED,
                starts_at__lt=spans_list[-1][1],
                ends_at__gt=spans_list[0][0],
            ).order_by("starts_at", "pk")
        )
        for start, end in spans_list:
            for other in existing:
                if other.starts_at < end and start < other.ends_at:
                    _refuse_conflict(other, (start, end))
        by = actor if getattr(actor, "pk", None) else None
        series = BookingSeries(room=room, title=req.title, rule=canonical, booked_by=by)
        series.save()
        audit.record(AuditEntry.Action.CREATE, series, actor, audit.snapshot(series))
        rows = [
            Booking(
                room=room,
                series=series,
                title=req.title,
                organiser=req.organiser,
                starts_at=start,
                ends_at=end,
                attendees=req.attendees,
                booked_by=by,
                area_path=room.area_path,
            )
            for start, end in spans_list
        ]
        created = Booking.objects.bulk_create(rows)
        if any(b.pk is None for b in created):  # backends that return no ids
            created = list(Booking.objects.filter(series=series).order_by("starts_at"))
        audit.record_snapshots(created, actor)
    return created


# --- cancelling ---------------------------------------------------------------------------
def get_booking(user: Any, booking_id: int) -> Booking:
    booking = (
        Booking.objects.visible_to(user)
        .select_related("room", "room__position", "series")
        .filter(pk=booking_id)
        .first()
    )
    if booking is None:
        raise NotFound("预约不存在", "booking not found")
    return booking  # type: ignore[no-any-return]


def cancel(booking_id: int, *, actor: Any, whole_series: bool = False) -> list[Booking]:
    """Cancel a booking, or with ``whole_series`` every booking of its series that has not
    ended yet; the time is free at once. Returns the bookings cancelled."""
    booking = get_booking(actor, booking_id)
    with transaction.atomic():
        Room.objects.select_for_update().filter(pk=booking.room_id).first()
        ensure_in_scope(actor, booking, Perm.SERVE)
        if whole_series and booking.series_id is not None:
            targets = list(
                Booking.objects.filter(
                    series_id=booking.series_id,
                    status=BookingStatus.CONFIRMED,
                    ends_at__gt=min(timezone.now(), booking.starts_at),
                )
            )
        else:
            targets = list(Booking.objects.filter(pk=booking.pk, status=BookingStatus.CONFIRMED))
        if not targets:
            raise Conflict("该预约已取消", "the booking is cancelled already")
        Booking.objects.filter(pk__in=[b.pk for b in targets]).update(
            status=BookingStatus.CANCELLED, updated_at=timezone.now()
        )
        delta = {"status": [BookingStatus.CONFIRMED.value, BookingStatus.CANCELLED.value]}
        for b in targets:
            b.status = BookingStatus.CANCELLED
        audit.record_changed(targets, [delta] * len(targets), actor, "取消预约")
    return targets


# --- the week and the figures -------------------------------------------------------------
def monday_of(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def check_window(
    first: dt.date | None, last: dt.date | None, default_days: int = 7
) -> tuple[dt.date, dt.date]:
    """A window of days asked for (default: this week), refused when it is reversed,
    longer than a year, or lies outside 2000 … three years ahead."""
    today = timezone.localdate()
    latest = today + LATEST_AHEAD
    for value, name in ((first, "from"), (last, "to")):
        if value is not None and not EARLIEST <= value <= latest:
            raise ValidationFailed(
                "日期超出范围(2000年至三年后)",
                "dates lie between 2000 and three years ahead",
                field=name,
            )
    first = first or monday_of(today)
    last = last or min(first + dt.timedelta(days=default_days - 1), latest)
    if last < first:
        raise ValidationFailed("截止日期须不早于起始日期", "to is before from", field="to")
    if last - first > HORIZON:
        raise ValidationFailed("查询范围最长一年", "the window spans a year at most", field="to")
    return first, last


def day_bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """``[first 00:00, last+1 00:00)`` in local time."""
    start = timezone.make_aware(dt.datetime.combine(first, dt.time()))
    end = timezone.make_aware(dt.datetime.combine(last + dt.timedelta(days=1), dt.time()))
    return start, end


@dataclass
class Day:
    date: dt.date
    label: str
    bookings: list[Booking] = field(default_factory=list)
    hours: str = ""


def week(room: Room, monday: dt.date, bookings: Sequence[Booking] | None = None) -> list[Day]:
    """The room's week from ``monday``: each day with its bookings and opening hours."""
    start, end = day_bounds(monday, monday + dt.timedelta(days=6))
    if bookings is None:
        bookings = list(bookings_between([room.pk], start, end))
    spans = {}
    try:
        spans = parse_hours(effective_hours(room))
    except ValidationFailed:
        pass
    days = []
    for i in range(7):
        date = monday + dt.timedelta(days=i)
        text = ", ".join(f"{_hhmm(a)}–{_hhmm(b)}" for a, b in spans.get(date.isoweekday(), []))
        days.append(
            Day(date, WEEKDAYS[i], hours=text or ("闭馆" if spans else "不限"))  # no hours: open
        )
    for b in bookings:
        if b.room_id != room.pk:
            continue
        index = (_local(b.starts_at).date() - monday).days
        if 0 <= index < 7:
            days[index].bookings.append(b)
    return days


@dataclass
class Usage:
    """A room's use over a period: hours booked, hours open, occupancy (使用率)."""

    room: Room
    bookings: int
    booked_hours: float
    open_hours: float | None
    occupancy: float | None  # percent of the open hours booked; None: no hours declared


def usage(rooms: Sequence[Room], first: dt.date, last: dt.date) -> list[Usage]:
    """Hours booked per room from ``first`` to ``last`` (both included), bookings clipped
    to the period, and the share of the opening hours they fill (one query)."""
    start, end = day_bounds(first, last)
    seconds: dict[int, float] = defaultdict(float)
    counts: dict[int, int] = defaultdict(int)
    for b in Booking.objects.filter(
        room_id__in=[r.pk for r in rooms],
        status=BookingStatus.CONFIRMED,
        starts_at__lt=end,
        ends_at__gt=start,
    ).only("room_id", "starts_at", "ends_at"):
        seconds[b.room_id] += (min(b.ends_at, end) - max(b.starts_at, start)).total_seconds()
        counts[b.room_id] += 1
    result = []
    for room in rooms:
        try:
            spans = parse_hours(effective_hours(room))
        except ValidationFailed:
            spans = {}
        booked = round(seconds[room.pk] / 3600, 1)
        open_hours = round(open_minutes(spans, first, last) / 60, 1) if spans else None
        occupancy = round(100 * booked / open_hours, 1) if open_hours else None
        result.append(Usage(room, counts[room.pk], booked, open_hours, occupancy))
    return result


def period(kind: str, anchor: dt.date) -> tuple[dt.date, dt.date]:
    """The week (Monday–Sunday) or calendar month holding ``anchor``."""
    if kind == "month":
        first = anchor.replace(day=1)
        nxt = (first + dt.timedelta(days=32)).replace(day=1)
        return first, nxt - dt.timedelta(days=1)
    monday = monday_of(anchor)
    return monday, monday + dt.timedelta(days=6)
