"""Mainland China working days (工作日), holidays and make-up working days included.

The ``chinese-calendar`` package knows the published years; an administrator adds
later years as :class:`~jiayuan.core.models.CalendarDay` rows when the State Council
publishes them. For a year neither knows, Monday to Friday are working days and
:func:`unknown_years` reports it, so the admin pages can warn; nothing raises.

The declared days are a small table read on every SLA computation, so each process
keeps them in memory (:func:`declared_days`, a :class:`~jiayuan.core.cache.ProcessCache`):
a save in this process is seen at once, one elsewhere within :data:`DECLARED_DAYS_TTL_S`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from functools import lru_cache

import chinese_calendar
from django.utils import timezone

from .cache import ProcessCache

logger = logging.getLogger(__name__)

# How stale another process's copy of the declared days may be. A holiday is entered
# weeks before it happens; a minute is far below what an SLA clock could notice.
DECLARED_DAYS_TTL_S = 60.0

DeclaredDays = Mapping[int, Mapping[dt.date, bool]]


def _load() -> dict[int, dict[dt.date, bool]]:
    from .models import CalendarDay

    days: dict[int, dict[dt.date, bool]] = {}
    for day, is_workday in CalendarDay.objects.values_list("date", "is_workday"):
        days.setdefault(day.year, {})[day] = is_workday
    return days


_declared: ProcessCache[DeclaredDays] = ProcessCache(_load, ttl=DECLARED_DAYS_TTL_S)
_declared.watch("core.CalendarDay", uid="calendar")


def declared_days() -> DeclaredDays:
    """Every administrator-declared day by year, from this process's copy when fresh."""
    return _declared.get()


def forget_declared_days() -> None:
    """Drop this process's copy; the next calendar reads the table again."""
    _declared.forget()


@lru_cache(maxsize=64)
def _package_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


class WorkCalendar:
    """A snapshot of the calendar (the declared days as of its first question); build
    one per job or request. Building one is free: the declared days are shared by the
    process (:func:`declared_days`)."""

    def __init__(self) -> None:
        self._declared: DeclaredDays | None = None
        # each day's answer, once per snapshot (the package validates every date it is
        # asked about, which a year of seeded cases asks tens of thousands of times)
        self._answers: dict[dt.date, bool] = {}

    def _year(self, year: int) -> Mapping[dt.date, bool]:
        if self._declared is None:
            self._declared = declared_days()
        return self._declared.get(year, {})

    def knows(self, year: int) -> bool:
        return _package_knows(year) or bool(self._year(year))

    def is_workday(self, day: dt.date) -> bool:
        answer = self._answers.get(day)
        if answer is None:
            answer = self._answers[day] = self._is_workday(day)
        return answer

    def _is_workday(self, day: dt.date) -> bool:
        declared = self._year(day.year)
        if day in declared:
            return declared[day]
        if _package_knows(day.year):
            return bool(chinese_calendar.is_workday(day))
        if not declared:
            logger.warning("working-day calendar: year %s unknown, using Monday-Friday", day.year)
        return day.weekday() < 5

    def add_workdays(self, start: dt.date, days: int) -> dt.date:
        """The date ``days`` working days after ``start`` (``start`` itself not counted)."""
        current = start
        remaining = days
        while remaining > 0:
            current += dt.timedelta(days=1)
            if self.is_workday(current):
                remaining -= 1
        return current

    def workdays_between(self, start: dt.date, end: dt.date) -> int:
        """Working days in the half-open range (start, end]."""
        count = 0
        current = start
        while current < end:
            current += dt.timedelta(days=1)
            if self.is_workday(current):
                count += 1
        return count


def unknown_years(years: range | None = None) -> list[int]:
    """Years (by default this one and the next) that no source knows yet."""
    this_year = timezone.localdate().year
    cal = WorkCalendar()
    return [y for y in (years or range(this_year, this_year + 2)) if not cal.knows(y)]


# --- working hours -----------------------------------------------------------------------
# Government offices in Shandong keep 8:30-12:00 and 13:30-17:30 (7.5 hours a day).
WORKING_PERIODS: tuple[tuple[dt.time, dt.time], ...] = (
    (dt.time(8, 30), dt.time(12, 0)),
    (dt.time(13, 30), dt.time(17, 30)),
)
MINUTES_PER_WORKDAY = sum(
    (e.hour * 60 + e.minute) - (s.hour * 60 + s.minute) for s, e in WORKING_PERIODS
)
# A working day's periods together: what a whole working day adds (wall-clock
# differences within one day, as the periods' own subtractions give them).
_WORKDAY = dt.timedelta(minutes=MINUTES_PER_WORKDAY)
_ONE_DAY = dt.timedelta(days=1)


class WorkClock:
    """Counts working minutes: working days of :class:`WorkCalendar`, working periods of
    each day, in the county's time zone. Used by SLA clocks."""

    def __init__(self, calendar: WorkCalendar | None = None) -> None:
        self.calendar = calendar or WorkCalendar()
        self.tz = timezone.get_default_timezone()
        # Each day's periods, worked out once per clock (jobs and seeding ask for the
        # same days over and over).
        self._days: dict[dt.date, list[tuple[dt.datetime, dt.datetime]]] = {}

    def _periods(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        found = self._days.get(day)
        if found is not None:
            return found
        found = []
        if self.calendar.is_workday(day):
            found = [
                (
                    dt.datetime.combine(day, start, tzinfo=self.tz),
                    dt.datetime.combine(day, end, tzinfo=self.tz),
                )
                for start, end in WORKING_PERIODS
            ]
        self._days[day] = found
        return found

    def add(self, start: dt.datetime, minutes: float) -> dt.datetime:
        """The moment ``minutes`` working minutes after ``start``.

        After the first day, a working day the remaining time outlasts is taken whole
        (one subtraction instead of a walk through its periods): the same exact
        ``timedelta`` arithmetic, so the same moment, at a fraction of the cost for the
        seed's hundreds of thousands of due times."""
        moment = start.astimezone(self.tz)
        remaining = dt.timedelta(minutes=minutes)
        day = moment.date()
        days = self._days
        periods = days.get(day)
        if periods is None:
            periods = self._periods(day)
        for begin, end in periods:  # the first day: the moment may fall inside it
            if end <= moment:
                continue
            begin = max(begin, moment)
            available = end - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        for _ in range(3659):  # ten years of days: a limit, never reached in practice
            day += _ONE_DAY
            periods = days.get(day)
            if periods is None:
                periods = self._periods(day)
            if not periods:
                continue
            if remaining > _WORKDAY:
                remaining -= _WORKDAY
                continue
            for begin, end in periods:
                available = end - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
        raise ValueError("working-time limit too far in the future")

    def minutes_between(self, start: dt.datetime, end: dt.datetime) -> float:
        """Working minutes in [start, end) (0 when end is before start).

        The working days strictly between the first and the last count whole."""
        if end <= start:
            return 0.0
        start, end = start.astimezone(self.tz), end.astimezone(self.tz)
        total = dt.timedelta()
        first, last = start.date(), end.date()
        for begin, finish in self._periods(first):
            lo, hi = max(begin, start), min(finish, end)
            if hi > lo:
                total += hi - lo
        if last > first:
            days = self._days
            day = first + _ONE_DAY
            while day < last:
                periods = days.get(day)
                if periods is None:
                    periods = self._periods(day)
                if periods:
                    total += _WORKDAY
                day += _ONE_DAY
            for begin, finish in self._periods(last):
                lo, hi = max(begin, start), min(finish, end)
                if hi > lo:
                    total += hi - lo
        return total.total_seconds() / 60
