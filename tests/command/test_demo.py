"""The demo's forces on post (command.demo): open shifts near the area, closed shifts
without a position, ``Force.on_duty`` agreeing with the open shifts."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from jiayuan.command import demo
from jiayuan.command.models import DutyShift
from jiayuan.core.geo import distance_m
from jiayuan.core.models import AuditEntry
from jiayuan.people.models import Force

NOW = dt.datetime(2026, 3, 4, 2, 0, tzinfo=dt.UTC)
CENTRE = (35.72, 116.49)


def test_planned_shifts_are_near_the_area_and_closed_ones_hold_no_position() -> None:
    forces = [(i, "grid_worker" if i % 3 == 0 else "volunteer", "/1/", *CENTRE) for i in range(600)]
    rows = demo.plan_shifts(forces, random.Random(5), NOW)
    fields = demo.FIELDS
    opened = [dict(zip(fields, r, strict=True)) for r in rows if r[3] is None]
    closed = [dict(zip(fields, r, strict=True)) for r in rows if r[3] is not None]
    # at most one open shift per force, each located within the spread, recently
    assert len({r["force_id"] for r in opened}) == len(opened)
    for r in opened:
        assert distance_m(r["lat"], r["lng"], *CENTRE) <= demo.SPREAD_M + 1
        assert NOW - dt.timedelta(hours=1) <= r["located_at"] <= NOW
        assert r["started_at"] < NOW
    for r in closed:
        assert r["lat"] is None and r["lng"] is None and r["located_at"] is None
        assert r["started_at"] < r["ended_at"] < NOW
    # grid workers are on post far more often than the others
    grid = sum(1 for r in opened if r["force_id"] % 3 == 0) / 200
    others = sum(1 for r in opened if r["force_id"] % 3 != 0) / 400
    assert grid > 0.55 and others < 0.25


def test_an_area_without_a_centroid_gives_an_unlocated_shift() -> None:
    rows = demo.plan_shifts([(1, "grid_worker", "/1/", None, None)] * 50, random.Random(1), NOW)
    assert all(r[4] is None and r[6] is None for r in rows if r[3] is None)


@pytest.mark.django_db
def test_seed_duty_writes_shifts_and_keeps_on_duty_in_step() -> None:
    audits = AuditEntry.objects.count()
    counts = demo.seed_duty(3, now=NOW)
    open_ids = set(
        DutyShift.objects.filter(ended_at__isnull=True).values_list("force_id", flat=True)
    )
    assert counts["forces_on_post"] == len(open_ids) > 0
    assert counts["duty_shifts"] == DutyShift.objects.count()
    assert set(Force.objects.filter(on_duty=True).values_list("pk", flat=True)) == open_ids
    # each shift carries its force's area path (scoping)
    for shift in DutyShift.objects.select_related("force")[:50]:
        assert shift.area_path == shift.force.area_path
    assert AuditEntry.objects.count() == audits + 1
