"""The demo year of cases that fills the indicator pages (acceptance 9): its fast replay
writes exactly what the real actions write, and the tiny world every test runs in
holds a plausible year."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from jiayuan.cases import demo, indicators
from jiayuan.cases.choices import Channel, Status
from jiayuan.cases.models import Case, CaseEvent, ReturnVisit
from jiayuan.core.calendar import WorkClock
from jiayuan.core.pii import decrypt
from jiayuan.org.models import Area, Membership

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Shanghai")
SKIP = {"id", "tracking_token", "created_at", "updated_at", "reporter_phone_enc"}


def snapshot(numbers: list[str]) -> dict[str, Any]:
    """Everything the two paths must agree on, by case number."""
    out: dict[str, Any] = {}
    for case in Case.objects.filter(number__in=numbers):
        fields = {
            f.attname: getattr(case, f.attname)
            for f in Case._meta.concrete_fields
            if f.attname not in SKIP
        }
        fields["phone"] = decrypt(case.reporter_phone_enc) if case.reporter_phone_enc else ""
        fields["merged_into"] = case.merged_into.number if case.merged_into else None
        fields.pop("merged_into_id")
        events = [
            (e.action, e.step, e.from_status, e.to_status, e.note, e.public, e.data, e.actor_id,
             e.actor_name)
            for e in CaseEvent.objects.filter(case=case).order_by("id")
        ]  # fmt: skip
        visits = [
            (v.by, v.satisfaction, v.comment, v.visitor_id, v.at)
            for v in ReturnVisit.objects.filter(case=case).order_by("id")
        ]
        out[case.number] = {"case": fields, "events": events, "visits": visits}
    return out


def test_the_replay_writes_exactly_what_the_actions_write(own_grid: Area) -> None:
    # given two months of planned cases in the grid account's grid, in 2024 (before any
    # seeded case, so duplicate hints only see these), with every kind of life
    staff, clock = demo.Staff(), WorkClock()
    start = dt.datetime(2024, 3, 1, tzinfo=TZ)
    end = dt.datetime(2024, 4, 30, 23, tzinfo=TZ)
    wanted = {"accept", "start", "handle", "approve", "visit", "send_back", "escalate",
              "suspend", "resume", "reject", "merge", "dispatch", "transfer"}  # fmt: skip

    def covers(plans: list[demo.CasePlan]) -> bool:
        steps = [s for p in plans for s in p.steps]
        return (
            wanted <= {s.action for s in steps}
            and any(s.params.get("satisfaction") == "unsatisfied" for s in steps)
            and any(s.actor == "reporter" for s in steps)
            and any(s.params.get("level") for s in steps)  # a jump of two levels
        )

    # (planning is cheap: take the first seed whose 40 cases hold every kind of step)
    for seed in range(500):
        plans = demo.Planner(random.Random(seed), [own_grid], staff, start, end, clock).plan(40)
        if covers(plans):
            break
    assert covers(plans), "no sample of 40 cases holds every kind of step"
    # when they go through services.intake / services.perform (then rolled back)
    savepoint = transaction.savepoint()
    slow = demo.apply_with_services(plans, staff)
    numbers = [c.number for c in slow]
    expected = snapshot(numbers)
    transaction.savepoint_rollback(savepoint)
    assert not Case.objects.filter(number__in=numbers).exists()
    # and through the replay and the bulk writer
    replay = demo.Replay(staff, clock)
    replay.run(plans)
    demo.write(replay, staff)
    got = snapshot(numbers)
    # then every case, timeline and return visit is the same
    assert len(got) == len(expected) == len(plans)
    for number in numbers:
        assert got[number]["case"] == expected[number]["case"], number
        assert got[number]["events"] == expected[number]["events"], number
        assert got[number]["visits"] == expected[number]["visits"], number
    # and the replay stamps each event with the time of its step, in order (a duplicate
    # merged in later is noted on the target when the merge happens)
    for case in Case.objects.filter(number__in=numbers):
        own = case.events.exclude(action="merged_in").order_by("id")
        times = list(own.values_list("at", flat=True))
        assert times == sorted(times) and times[0] == case.received_at
        if case.status == Status.CLOSED:
            assert times[-1] == case.closed_at


# --- the tiny world's year --------------------------------------------------------------------
def test_the_tiny_world_holds_a_plausible_year_in_the_grid_accounts_grid(
    own_grid: Area,
) -> None:
    seeded = Case.objects.filter(received_at__year__gte=2025)
    cases = list(seeded.select_related("grid"))
    assert 120 <= len(cases) <= 180
    assert {c.grid_id for c in cases} == {own_grid.pk}
    # a year, ending yesterday; mostly in office hours
    today = timezone.localdate()
    days = {timezone.localtime(c.received_at).date() for c in cases}
    assert max(days) < today and min(days) >= today - dt.timedelta(days=366)
    clock = WorkClock()
    in_hours = sum(
        clock.minutes_between(c.received_at, c.received_at + dt.timedelta(minutes=1)) > 0
        for c in cases
    )
    assert in_hours / len(cases) > 0.6
    # several channels, most closed, most of the verdicts 满意
    assert len({c.channel for c in cases}) >= 5 and Channel.HOTLINE in {c.channel for c in cases}
    statuses = Counter(c.status for c in cases)
    assert statuses[Status.CLOSED] / len(cases) > 0.7
    verdicts = Counter(c.satisfaction for c in cases if c.satisfaction)
    assert verdicts["satisfied"] > verdicts["basic"] > 0
    assert any(c.rework_count for c in cases) and any(c.escalated_help for c in cases)
    # the tests' favourite point, the grid centroid, is kept clear of seeded reports
    for c in cases:
        assert demo._metres(c.lat, c.lng, own_grid.centroid_lat, own_grid.centroid_lng) > 120
    # every timeline starts with its receipt
    first = dict(
        CaseEvent.objects.filter(case__in=cases).values("case").annotate(m=Min("id"))
        .values_list("case", "m")
    )  # fmt: skip
    receipts = set(CaseEvent.objects.filter(pk__in=first.values()).values_list("action", flat=True))
    assert receipts == {"receive"}


def test_the_seeded_year_fills_the_indicators(users: dict[str, Any]) -> None:
    year = indicators.summary(users["admin"], start=timezone.localdate() - dt.timedelta(days=366))
    assert year.received >= 120
    for rate in ("dispatch_on_time_rate", "close_on_time_rate", "satisfaction_rate",
                 "in_grid_rate", "first_time_rate"):  # fmt: skip
        value = getattr(year, rate)
        assert value is not None and 0.3 < value <= 1.0, rate
    assert year.avg_handling_hours and year.avg_handling_hours > 1
    months = indicators.by_month(
        users["admin"], start=timezone.localdate() - dt.timedelta(days=366)
    )
    assert len(months) >= 12 and all(m.received for m in months[1:-1])


def test_property_requests_decline_through_the_year(own_grid: Area) -> None:
    # the planner's trend, measured on a county-sized draw (planning only, no writes)
    staff, clock = demo.Staff(), WorkClock()
    end = dt.datetime(2026, 10, 31, 23, tzinfo=TZ)
    planner = demo.Planner(random.Random(3), [own_grid], staff, end - dt.timedelta(days=365), end,
                           clock)  # fmt: skip
    plans = planner.plan(6000)
    first = sum(p.category.code.startswith("01") for p in plans if p.received_at.month in (11, 12))
    last = sum(p.category.code.startswith("01") for p in plans if p.received_at.month in (9, 10))
    assert last < 0.75 * first


def test_handler_accounts_for_the_county_scale(own_grid: Area) -> None:
    # the tiny world has handlers only where the demo accounts are; the county-scale seed
    # gives every grid, zone and community one, once
    made = demo.ensure_staff()
    grids = Area.objects.filter(kind="grid").count()
    zones = Area.objects.filter(kind="zone").count()
    communities = Area.objects.filter(kind="community").count()
    assert made == (grids - 1) + (zones - 1) + (communities - 1)
    assert demo.ensure_staff() == 0
    staff = demo.Staff()
    for grid in Area.objects.filter(kind="grid"):
        assert staff.handler(grid.path, "grid") is not None
    other = Area.objects.filter(kind="grid").exclude(pk=own_grid.pk).order_by("path").first()
    worker = Membership.objects.get(area=other, role="grid_worker").user
    assert worker.username == "grid-" + "-".join(other.path.strip("/").split("/")[1:])
    assert worker.check_password("jiayuan-demo")
    assert not get_user_model().objects.get(pk=worker.pk).is_staff
