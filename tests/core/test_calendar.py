import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction

from jiayuan.core import calendar
from jiayuan.core.calendar import WorkCalendar, WorkClock, unknown_years
from jiayuan.core.models import CalendarDay

pytestmark = pytest.mark.django_db

NEW_YEAR_2031 = dt.date(2031, 1, 1)  # a Wednesday, in a year no package knows


@pytest.fixture(autouse=True)
def fresh_declared_days() -> Iterator[None]:
    """Each test starts from, and leaves, no process copy of the declared days (a test's
    rows are rolled back, the copy would outlive them)."""
    calendar.forget_declared_days()
    yield
    calendar.forget_declared_days()


def test_national_day_2026_and_its_make_up_days() -> None:
    cal = WorkCalendar()
    # 2026 National Day holiday: 1-7 October; 9 October (a Friday) is an ordinary workday.
    for day in range(1, 8):
        assert not cal.is_workday(dt.date(2026, 10, day)), day
    assert cal.is_workday(dt.date(2026, 10, 9))
    # Saturday 10 October 2026 is a make-up working day (调休上班).
    assert cal.is_workday(dt.date(2026, 10, 10))
    # Thursday 30 September + 1 working day skips the holiday.
    assert cal.add_workdays(dt.date(2026, 9, 30), 1) == dt.date(2026, 10, 8)


def test_unknown_year_falls_back_to_weekdays_without_raising() -> None:
    cal = WorkCalendar()
    assert cal.is_workday(dt.date(2031, 1, 1))  # a Wednesday; no source knows 2031
    assert not cal.is_workday(dt.date(2031, 1, 4))  # Saturday
    assert 2031 in unknown_years(range(2030, 2032))


def test_administrator_entered_days_override() -> None:
    CalendarDay.objects.create(date=dt.date(2031, 1, 1), is_workday=False, name="元旦")
    CalendarDay.objects.create(date=dt.date(2031, 1, 4), is_workday=True, name="元旦调休")
    cal = WorkCalendar()
    assert not cal.is_workday(dt.date(2031, 1, 1))
    assert cal.is_workday(dt.date(2031, 1, 4))
    assert cal.knows(2031)
    assert 2031 not in unknown_years(range(2031, 2032))


def test_workdays_between() -> None:
    cal = WorkCalendar()
    # (30 Sep, 12 Oct]: 8, 9, 10 (make-up Saturday) and 12 October.
    assert cal.workdays_between(dt.date(2026, 9, 30), dt.date(2026, 10, 12)) == 4


def at(day: str, hm: str) -> dt.datetime:
    from django.utils import timezone

    return dt.datetime.fromisoformat(f"{day}T{hm}").replace(tzinfo=timezone.get_default_timezone())


def test_working_minutes_skip_lunch_nights_and_the_national_day_holiday() -> None:
    from jiayuan.core.calendar import MINUTES_PER_WORKDAY, WorkClock

    clock = WorkClock()
    assert MINUTES_PER_WORKDAY == 450
    # 30 min before lunch, then after lunch.
    assert clock.add(at("2026-09-29", "11:30"), 60) == at("2026-09-29", "14:00")
    # Wednesday 30 Sep 17:00 + 1 working hour: 30 min that evening, the rest on 8 Oct.
    assert clock.add(at("2026-09-30", "17:00"), 60) == at("2026-10-08", "09:00")
    # Two working days from Friday 9 Oct noon: the make-up Saturday 10 Oct counts.
    assert clock.add(at("2026-10-09", "12:00"), 2 * 450) == at("2026-10-12", "12:00")
    # A report at night starts counting next working morning.
    assert clock.add(at("2026-10-08", "22:00"), 30) == at("2026-10-09", "09:00")
    assert clock.minutes_between(at("2026-09-30", "17:00"), at("2026-10-08", "09:00")) == 60
    assert clock.minutes_between(at("2026-10-08", "09:00"), at("2026-09-30", "17:00")) == 0


# --- the declared days are cached per process -------------------------------------------
def test_a_second_clock_in_the_same_process_does_not_query_again(
    django_assert_num_queries: Any,
) -> None:
    # given one clock that has read the declared days
    assert WorkClock().calendar.is_workday(NEW_YEAR_2031)
    # when another job builds its own clock and asks about any year
    with django_assert_num_queries(0):
        clock = WorkClock()
        assert clock.calendar.is_workday(NEW_YEAR_2031)
        assert not clock.calendar.is_workday(dt.date(2026, 10, 1))


def test_a_saved_holiday_is_seen_without_a_restart(
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given the process holds the declared days, 2031 unknown
    assert WorkClock().calendar.is_workday(NEW_YEAR_2031)
    # when an administrator declares 1 January 2031 a holiday (and it commits)
    with django_capture_on_commit_callbacks(execute=True):
        CalendarDay.objects.create(date=NEW_YEAR_2031, is_workday=False, name="元旦")
    # then the next clock of the same process knows it
    assert not WorkClock().calendar.is_workday(NEW_YEAR_2031)
    assert WorkCalendar().knows(2031)


def test_another_process_save_is_seen_within_the_ttl() -> None:
    # given the process holds the declared days
    assert WorkCalendar().is_workday(NEW_YEAR_2031)
    # when another process declares the holiday (no signal reaches this one)
    CalendarDay.objects.bulk_create(
        [CalendarDay(date=NEW_YEAR_2031, is_workday=False, name="元旦")]
    )
    # then the copy is kept until it is DECLARED_DAYS_TTL_S old, and reloaded after
    assert WorkCalendar().is_workday(NEW_YEAR_2031)
    calendar._declared.checked_at -= calendar.DECLARED_DAYS_TTL_S + 1  # time passes
    assert not WorkCalendar().is_workday(NEW_YEAR_2031)


def test_a_rolled_back_holiday_is_not_kept() -> None:
    assert WorkCalendar().is_workday(NEW_YEAR_2031)
    with pytest.raises(RuntimeError), transaction.atomic():
        CalendarDay.objects.create(date=NEW_YEAR_2031, is_workday=False, name="元旦")
        assert not WorkCalendar().is_workday(NEW_YEAR_2031)  # the writer sees its row
        raise RuntimeError("rolled back")
    assert WorkCalendar().is_workday(NEW_YEAR_2031)
