import datetime as dt

import pytest

from jiayuan.core.calendar import WorkCalendar, unknown_years
from jiayuan.core.models import CalendarDay

pytestmark = pytest.mark.django_db


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
