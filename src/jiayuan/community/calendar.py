"""The community's calendar (社区日历): service activities and room bookings, by month or
by week, in the user's scope, filtered by community or by service position.

Activities are read only here (the volunteers part owns them); a booking made for an
activity (``Activity.booking``) is shown once, as the activity.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from .choices import ActivityStatus, BookingStatus
from .models import Activity, Booking
from .rooms import WEEKDAYS, day_bounds, monday_of

MAX_ENTRIES = 2000  # a month of a whole county is cut here (the page says so)


@dataclass
class Entry:
    kind: str  # "activity" or "booking"
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    place: str
    url: str


@dataclass
class Day:
    date: dt.date
    in_period: bool
    entries: list[Entry] = field(default_factory=list)

    @property
    def weekday(self) -> str:
        return WEEKDAYS[self.date.weekday()]


@dataclass
class Calendar:
    view: str  # "month" or "week"
    first: dt.date  # the period's first day
    last: dt.date
    weeks: list[list[Day]]
    count: int
    cut: bool
    previous: dt.date
    next: dt.date


def _activity_url(pk: int) -> str:
    """The activity's staff page (the volunteers part's ``community:activity``)."""
    try:
        return reverse("community:activity", args=[pk])
    except NoReverseMatch:
        return ""


def period_of(view: str, anchor: dt.date) -> tuple[dt.date, dt.date, dt.date, dt.date]:
    """(first, last, previous anchor, next anchor) of the month or week holding ``anchor``."""
    if view == "week":
        first = monday_of(anchor)
        return (
            first,
            first + dt.timedelta(days=6),
            first - dt.timedelta(days=7),
            first + dt.timedelta(days=7),
        )
    first = anchor.replace(day=1)
    nxt = (first + dt.timedelta(days=32)).replace(day=1)
    previous = (first - dt.timedelta(days=1)).replace(day=1)
    return first, nxt - dt.timedelta(days=1), previous, nxt


def entries(
    user: Any,
    first: dt.date,
    last: dt.date,
    *,
    area_path: str | None = None,
    position_id: int | None = None,
) -> tuple[list[Entry], bool]:
    """Activities and bookings the user may see that meet ``first``–``last``; two queries.
    Returns the entries by start and whether they were cut at :data:`MAX_ENTRIES`."""
    start, end = day_bounds(first, last)
    activities = (
        Activity.objects.visible_to(user)
        .exclude(status=ActivityStatus.CANCELLED)
        .filter(starts_at__lt=end, ends_at__gt=start)
        .select_related("position")
        .only("id", "title", "starts_at", "ends_at", "place", "booking_id", "position__name")
    )
    bookings = (
        Booking.objects.visible_to(user)
        .filter(status=BookingStatus.CONFIRMED, starts_at__lt=end, ends_at__gt=start)
        .select_related("room", "room__position")
        .only(
            "id", "title", "starts_at", "ends_at", "room__id", "room__name", "room__position__name"
        )
    )
    if area_path:
        activities = activities.filter(area_path__startswith=area_path)
        bookings = bookings.filter(area_path__startswith=area_path)
    if position_id is not None:
        activities = activities.filter(position_id=position_id)
        bookings = bookings.filter(room__position_id=position_id)
    found: list[Entry] = []
    for_activities: set[int] = set()
    for a in activities.order_by("starts_at", "pk")[:MAX_ENTRIES]:
        if a.booking_id:
            for_activities.add(a.booking_id)
        place = a.place or (a.position.name if a.position else "")
        found.append(Entry("activity", a.title, a.starts_at, a.ends_at, place, _activity_url(a.pk)))
    for b in bookings.order_by("starts_at", "pk")[:MAX_ENTRIES]:
        if b.pk in for_activities:
            continue
        place = f"{b.room.position.name} · {b.room.name}"
        url = reverse("community:room", args=[b.room.pk])
        found.append(Entry("booking", b.title, b.starts_at, b.ends_at, place, url))
    found.sort(key=lambda e: (e.starts_at, e.kind, e.title))
    cut = len(found) > MAX_ENTRIES
    return found[:MAX_ENTRIES], cut


def build(
    user: Any,
    view: str,
    anchor: dt.date,
    *,
    area_path: str | None = None,
    position_id: int | None = None,
) -> Calendar:
    """The month (weeks Monday–Sunday, days outside the month greyed) or the week."""
    view = "week" if view == "week" else "month"
    first, last, previous, nxt = period_of(view, anchor)
    grid_first = monday_of(first)
    grid_last = last + dt.timedelta(days=6 - last.weekday())
    found, cut = entries(user, first, last, area_path=area_path, position_id=position_id)
    days: dict[dt.date, Day] = {}
    day = grid_first
    while day <= grid_last:
        days[day] = Day(day, first <= day <= last)
        day += dt.timedelta(days=1)
    for entry in found:
        # an entry is shown on each day it covers within the period
        d = max(timezone.localtime(entry.starts_at).date(), first)
        end_day = min(timezone.localtime(entry.ends_at - dt.timedelta(microseconds=1)).date(), last)
        while d <= end_day:
            days[d].entries.append(entry)
            d += dt.timedelta(days=1)
    ordered = list(days.values())
    weeks = [ordered[i : i + 7] for i in range(0, len(ordered), 7)]
    return Calendar(view, first, last, weeks, len(found), cut, previous, nxt)
