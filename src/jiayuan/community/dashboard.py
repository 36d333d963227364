"""The services dashboard (服务概览) of a community, and the community's counts on the
overview (``GET /api/v1/overview``, the home page).

Every figure starts from ``visible_to(user)`` and is narrowed to one area's subtree
(``under``, ``""`` for the whole of the user's scope). The figures cover the last twelve
months, month by month, so the cards are the sums of the trend chart's columns; the
room occupancy covers the last thirty days. Each figure is one query (an aggregate, or
a group-by month), so the page costs the same for a compound and for the county.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import TruncMonth
from django.utils import timezone

from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area

from .choices import ActivityStatus, BookingStatus, PositionKind, TopicStatus, WishStatus
from .models import (
    Activity,
    Booking,
    HoursEntry,
    Market,
    Room,
    ServicePosition,
    Team,
    Topic,
    Volunteer,
    Wish,
)

#: The community's keys on the overview, with their labels (people.overview.register).
OVERVIEW_LABELS: dict[str, str] = {
    "volunteers": "志愿者",
    "volunteer_teams": "志愿服务队",
    "activities": "服务活动",
    "markets": "公益集市",
    "deliberation_spots": "议事阵地",
    "service_centres": "党群服务中心",
    "stations": "红帆驿站",
}
FULFILLED = (WishStatus.FULFILLED, WishStatus.THANKED)
SPOTS = (PositionKind.CORRIDOR, PositionKind.PAVILION)
OCCUPANCY_DAYS = 30


def _under(qs: Any, under: str) -> Any:
    return qs.filter(area_path__startswith=under) if under else qs


def overview_counts(user: Any, under: str = "") -> dict[str, int]:
    """The community services' counts for the overview, in one query: a count per
    model (positions per kind) joined by ``UNION ALL``."""

    def grouped(qs: Any, key: Any) -> Any:
        return _under(qs, under).order_by().values(key=key).annotate(n=Count("pk"))

    not_cancelled = ~Q(status=ActivityStatus.CANCELLED)
    parts = [
        grouped(ServicePosition.objects.visible_to(user), F("kind")),
        grouped(Volunteer.objects.visible_to(user).filter(active=True), Value("volunteers")),
        grouped(Team.objects.visible_to(user), Value("volunteer_teams")),
        grouped(Activity.objects.visible_to(user).filter(not_cancelled), Value("activities")),
        grouped(Market.objects.visible_to(user).filter(not_cancelled), Value("markets")),
    ]
    found = dict(parts[0].union(*parts[1:], all=True).values_list("key", "n"))
    out = dict.fromkeys(OVERVIEW_LABELS, 0)
    for key, n in found.items():
        if key == PositionKind.CENTRE:
            out["service_centres"] += n
        elif key == PositionKind.STATION:
            out["stations"] += n
        elif key in SPOTS:
            out["deliberation_spots"] += n
        elif key in out:
            out[key] += n
    return out


@dataclass
class Figures:
    """What the dashboard shows: the cards and the monthly trend."""

    cards: list[tuple[str, str, Any]]
    months: list[str]
    trend: dict[str, list[float]] = field(default_factory=dict)

    def chart(self) -> dict[str, Any]:
        """The trend for the chart's json_script: labels and one series per figure."""
        return {
            "months": self.months,
            "series": [
                {"key": key, "name": TREND_LABELS[key], "data": values}
                for key, values in self.trend.items()
            ],
        }

    def rows(self) -> list[tuple[str, list[float]]]:
        """The trend as table rows (month, values in TREND_LABELS order), for reading."""
        return [
            (month, [self.trend[key][i] for key in TREND_LABELS])
            for i, month in enumerate(self.months)
        ]


TREND_LABELS: dict[str, str] = {
    "wishes": "收集心愿",
    "fulfilled": "实现心愿",
    "activities": "服务活动",
    "participations": "参与人次",
    "hours": "志愿时长",
    "visits": "集市服务人次",
}


def month_starts(today: dt.date, months: int = 12) -> list[dt.date]:
    """The first days of the last ``months`` months, the current one last."""
    out = []
    year, month = today.year, today.month
    for _ in range(months):
        out.append(dt.date(year, month, 1))
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return out[::-1]


def _monthly(rows: Any, key: str, months: list[dt.date]) -> dict[str, list[float]]:
    """Group-by-month rows into one list per value, zero where a month has none."""
    index = {m: i for i, m in enumerate(months)}
    out: dict[str, list[float]] = {}
    for row in rows:
        month = row.pop("month")
        if month is None:
            continue
        day = timezone.localtime(month).date() if isinstance(month, dt.datetime) else month
        i = index.get(day.replace(day=1))
        if i is None:
            continue
        for name, value in row.items():
            out.setdefault(name, [0.0] * len(months))[i] += float(value or 0)
    return out


def figures(user: Any, under: str = "", now: dt.datetime | None = None) -> Figures:
    """The dashboard's figures under ``user``'s scope and the area path ``under``."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    months = month_starts(today)
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(months[0], dt.time(), tzinfo=tz)

    def by_month(qs: Any, stamp: str, **values: Any) -> dict[str, list[float]]:
        rows = (
            _under(qs, under)
            .filter(**{f"{stamp}__gte": start, f"{stamp}__lte": now})
            .annotate(month=TruncMonth(stamp, tzinfo=tz))
            .order_by()
            .values("month")
            .annotate(**values)
        )
        return _monthly([dict(r) for r in rows], stamp, months)

    zero = [0.0] * len(months)
    trend: dict[str, list[float]] = {}
    wishes = by_month(Wish.objects.visible_to(user), "created_at", wishes=Count("pk"))
    trend["wishes"] = wishes.get("wishes", zero)
    fulfilled = by_month(
        Wish.objects.visible_to(user).filter(status__in=FULFILLED), "fulfilled_at",
        fulfilled=Count("pk"),
    )  # fmt: skip
    trend["fulfilled"] = fulfilled.get("fulfilled", zero)
    activities = by_month(
        Activity.objects.visible_to(user).filter(status=ActivityStatus.DONE), "starts_at",
        activities=Count("pk"), participations=Sum("participations"),
    )  # fmt: skip
    trend["activities"] = activities.get("activities", zero)
    trend["participations"] = activities.get("participations", zero)
    hours = by_month(HoursEntry.objects.visible_to(user), "created_at", hours=Sum("hours"))
    trend["hours"] = [round(h, 1) for h in hours.get("hours", zero)]
    markets = by_month(
        Market.objects.visible_to(user).filter(status=ActivityStatus.DONE), "starts_at",
        markets=Count("pk"), visits=Sum("visitors"),
    )  # fmt: skip
    trend["visits"] = markets.get("visits", zero)
    passed = (
        _under(Topic.objects.visible_to(user), under)
        .filter(resolution__passed=True, resolution__decided_at__gte=start)
        .exclude(status=TopicStatus.REJECTED)
        .count()
    )
    counts = overview_counts(user, under)
    occupancy = room_occupancy(user, under, now)

    def total(key: str, values: dict[str, list[float]] | None = None) -> int:
        return int(sum((values or trend).get(key, zero)))

    cards: list[tuple[str, str, Any]] = [
        ("wishes", "收集心愿", total("wishes")),
        ("fulfilled", "实现心愿", total("fulfilled")),
        ("activities", "服务活动", total("activities")),
        ("participations", "参与人次", total("participations")),
        (
            "hours",
            "志愿时长(小时)",
            Decimal(str(sum(trend["hours"]))).quantize(Decimal("0.1")),
        ),
        ("markets", "公益集市", total("markets", markets)),
        ("visits", "集市服务人次", total("visits")),
        ("topics_passed", "议题表决通过", passed),
        ("occupancy", "活动室使用率", f"{occupancy:.0%}"),
        ("volunteers", "志愿者", counts["volunteers"]),
        ("volunteer_teams", "志愿服务队", counts["volunteer_teams"]),
    ]
    return Figures(cards=cards, months=[m.strftime("%Y-%m") for m in months], trend=trend)


def _weekly_hours(opening: dict[str, Any]) -> dict[int, float]:
    """Open hours per ISO weekday of an ``opening_hours`` mapping (bad spans ignored)."""
    out: dict[int, float] = {}
    for day, spans in (opening or {}).items():
        try:
            weekday = int(day)
            for begin, end in spans:
                h1, m1 = (int(x) for x in str(begin).split(":"))
                h2, m2 = (int(x) for x in str(end).split(":"))
                out[weekday] = out.get(weekday, 0.0) + max(0, h2 * 60 + m2 - h1 * 60 - m1) / 60
        except (TypeError, ValueError):
            continue
    return out


def room_occupancy(user: Any, under: str = "", now: dt.datetime | None = None) -> float:
    """Booked hours of the bookable rooms over the last thirty days, against their open
    hours (the room's opening hours, else its position's): two queries."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=OCCUPANCY_DAYS)
    rooms = list(
        _under(Room.objects.visible_to(user), under)
        .filter(bookable=True)
        .values_list("pk", "opening_hours", "position__opening_hours")
    )
    if not rooms:
        return 0.0
    days = [(timezone.localdate(now) - dt.timedelta(days=i)).isoweekday()
            for i in range(OCCUPANCY_DAYS)]  # fmt: skip
    available = 0.0
    for _pk, own, position in rooms:
        weekly = _weekly_hours(own or position)
        available += sum(weekly.get(d, 0.0) for d in days)
    booked = 0.0
    for starts, ends in (
        Booking.objects.filter(
            room__in=[pk for pk, _o, _p in rooms], status=BookingStatus.CONFIRMED,
            starts_at__lt=now, ends_at__gt=since,
        ).values_list("starts_at", "ends_at")
    ):  # fmt: skip
        booked += (min(ends, now) - max(starts, since)).total_seconds() / 3600
    return min(1.0, booked / available) if available else 0.0


def communities_for(user: Any) -> list[Area]:
    """The communities the user may pick on the dashboard (one query)."""
    return list(Area.objects.visible_to(user).filter(kind=AreaKind.COMMUNITY).order_by("path"))
