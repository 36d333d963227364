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
