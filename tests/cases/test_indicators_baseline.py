"""Defect 10: the property-request figure ("物业类诉求下降21%") is measured against the
programme's baseline period, not month on month, and is computed from the cases.

The constructed cases live in 2024, before anything the demo seed writes; the periods
are given explicitly, so the seeded year does not enter the figures.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from jiayuan.cases import demo, indicators
from jiayuan.cases.indicators import Period
from jiayuan.cases.models import Case
from jiayuan.core.calendar import WorkClock
from jiayuan.core.errors import ValidationFailed
from jiayuan.org.models import Area

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Shanghai")
BASELINE = Period(dt.date(2024, 1, 1), dt.date(2024, 4, 1))  # Jan–Mar 2024
CURRENT = Period(dt.date(2024, 9, 1), dt.date(2024, 12, 1))  # Sep–Nov 2024


def received(month: int, n: int) -> dt.datetime:
    return dt.datetime(2024, month, 10, 9, n % 60, tzinfo=TZ)


def add_cases(make_case: Any, code: str, month: int, count: int) -> None:
    """``count`` cases of ``code`` received in ``month`` of 2024: one through intake, the
    rest copied from it (the indicator only counts rows)."""
    first = make_case(category=code, received_at=received(month, 0), auto_dispatch=False)
    rows = []
    for n in range(1, count):
        copy = Case.objects.get(pk=first.pk)
        copy.pk = None
        copy.number = f"T{code}{month:02d}{n:04d}"
        copy.tracking_token = f"t-{code}-{month}-{n}"
        copy.received_at = received(month, n)
        rows.append(copy)
    Case.objects.bulk_create(rows)


@pytest.fixture
def constructed(make_case: Any) -> None:
    """物业服务 (01): 100 a month in the baseline; 79 a month in Sep–Nov on average
    (a dip to 68 in October, a rise to 90 in November). 环境卫生 (02): 20 a month
    throughout."""
    for month, count in {1: 100, 2: 100, 3: 100, 9: 79, 10: 68, 11: 90}.items():
        add_cases(make_case, "0101", month, count)
        add_cases(make_case, "0201", month, 20)


def test_property_requests_against_the_baseline_not_month_on_month(
    constructed: None, users: dict[str, Any]
) -> None:
    admin = users["admin"]
    # when the figure is asked for Sep–Nov 2024 against Jan–Mar 2024
    report = indicators.since_baseline(admin, baseline=BASELINE, current=CURRENT)
    assert report is not None
    property_row = report.get("01")
    assert property_row is not None
    # then it is the monthly rate now against the baseline's: 79 against 100, down 21 %
    assert (property_row.baseline_total, property_row.current_total) == (300, 237)
    assert property_row.change == pytest.approx(-0.21)
    assert property_row.sentence.endswith("下降 21%")
    assert "较基期" in property_row.sentence
    # while November against October alone (环比) says something else entirely: up 32 %
    november = {c.code: c for c in indicators.month_over_month(admin, dt.date(2024, 11, 1))}
    assert november["01"].change == pytest.approx(90 / 68 - 1)
    # and a flat category stays flat
    flat = report.get("02")
    assert flat is not None and flat.change == pytest.approx(0.0)


def test_the_current_period_defaults_to_the_last_full_months(
    constructed: None, users: dict[str, Any]
) -> None:
    # given "today" in December 2024, the last three full months are Sep–Nov
    report = indicators.since_baseline(
        users["admin"], baseline=BASELINE, today=dt.date(2024, 12, 6)
    )
    assert report is not None
    assert report.current == CURRENT
    assert report.get("01").change == pytest.approx(-0.21)  # type: ignore[union-attr]
    # and periods that would overlap give no figure rather than a wrong one
    assert (
        indicators.since_baseline(users["admin"], baseline=BASELINE, today=dt.date(2024, 5, 1))
        is None
    )


def test_the_baseline_defaults_to_the_first_full_months_in_the_data(users: dict[str, Any]) -> None:
    admin = users["admin"]
    first = Case.objects.order_by("received_at").values_list("received_at", flat=True)[0]
    day = timezone.localtime(first).date()
    expected_start = day if day.day == 1 else indicators.next_month(day)
    baseline = indicators.baseline_period(admin)
    assert baseline is not None
    assert baseline.start == expected_start
    assert baseline.months == indicators.BASELINE_MONTHS


def test_the_baseline_is_configurable(users: dict[str, Any]) -> None:
    with override_settings(CASES_BASELINE="2024-01/2024-03"):
        assert indicators.baseline_period(users["admin"]) == BASELINE
    with override_settings(CASES_BASELINE="2024-02"):
        assert indicators.baseline_period(users["admin"]) == Period(
            dt.date(2024, 2, 1), dt.date(2024, 3, 1)
        )
    with override_settings(CASES_BASELINE="last spring"), pytest.raises(ValidationFailed):
        indicators.baseline_period(users["admin"])


def test_the_dashboard_shows_the_figure_against_the_baseline(users: dict[str, Any]) -> None:
    client = Client()
    client.force_login(users["community"])
    response = client.get("/cases/indicators/")
    assert response.status_code == 200
    baseline = response.context["baseline"]
    report = indicators.since_baseline(users["community"])
    assert report is not None and baseline is not None
    assert baseline["baseline"] == report.baseline.label
    assert {row["code"] for row in baseline["rows"]} == {row.code for row in report.rows}
    assert 'data-testid="since-baseline"' in response.content.decode()


@pytest.mark.parametrize("end", [dt.date(2026, 12, 6), dt.date(2026, 3, 15), dt.date(2026, 8, 1)])
def test_the_demo_year_produces_the_property_decline(own_grid: Area, end: dt.date) -> None:
    # given the demo's year of cases ending on ``end`` (planned at county size, no writes)
    stop = dt.datetime.combine(end, dt.time(23), tzinfo=TZ)
    planner = demo.Planner(
        random.Random(11), [own_grid], demo.Staff(), stop - dt.timedelta(days=365), stop,
        WorkClock(),
    )  # fmt: skip
    plans = planner.plan(12000)
    # when the figure is measured as the indicator measures it: the first three full
    # months against the last three full months
    first = timezone.localtime(plans[0].received_at).date()
    start = first if first.day == 1 else indicators.next_month(first)
    baseline = Period(start, indicators.add_months(start, 3))
    current = Period(indicators.add_months(end.replace(day=1), -3), end.replace(day=1))

    def property_cases(period: Period) -> int:
        return sum(
            p.category.code.startswith("01")
            and period.start <= timezone.localtime(p.received_at).date() < period.end
            for p in plans
        )

    change = property_cases(current) / property_cases(baseline) - 1
    # then the data show the seed's "物业类诉求下降21%", whatever the season of the run
    assert -0.29 < change < -0.13, change
