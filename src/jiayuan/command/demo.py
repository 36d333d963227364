"""Forces on duty in the demo county (演示在岗力量): the seed's stage 在岗力量, county scale only.

A first start should show the one screen and the mobilisation page with people on post:
most grid workers and a share of the other forces are on duty now, each near their area's
centroid (a position reported within the last hour, so the retention job keeps it for a
day), and every force that served took a shift a day over the past two weeks (closed, no
position: going off duty wipes it). The tiny test county gets none — its tests put forces
on duty themselves and count on no one else being there.

Written through the shared bulk path as tuples, with one audit entry summarising the
stage, like the other demo stages at this size.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import time
from typing import Any

from django.db import transaction
from django.utils import timezone

from jiayuan.core import audit, bulk
from jiayuan.core.models import AuditEntry
from jiayuan.core.sampling import rng_for
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area
from jiayuan.people.choices import ForceKind
from jiayuan.people.models import Force

from .models import DutyShift

NOTE = "seed-demo"
# The share of each kind of force on post at the moment the demo starts.
ON_POST: dict[str, float] = {ForceKind.GRID_WORKER: 0.7}
ON_POST_OTHERS = 0.12
HISTORY_DAYS = 14
# How far from the area's centroid a force stands: up to ~300 m.
SPREAD_M = 300.0
_M_PER_DEG = 111_320.0
FIELDS = (
    "force_id", "area_path", "started_at", "ended_at", "lat", "lng", "located_at",
    "created_at", "updated_at",
)  # fmt: skip


def _near(rng: random.Random, lat: float, lng: float) -> tuple[float, float]:
    distance = SPREAD_M * math.sqrt(rng.random())
    angle = rng.random() * 2 * math.pi
    dlat = distance * math.cos(angle) / _M_PER_DEG
    dlng = distance * math.sin(angle) / (_M_PER_DEG * max(math.cos(math.radians(lat)), 0.01))
    return round(lat + dlat, 6), round(lng + dlng, 6)


def plan_shifts(
    forces: list[tuple[int, str, str, float | None, float | None]],
    rng: random.Random,
    now: dt.datetime,
) -> list[tuple[Any, ...]]:
    """Shift rows ``FIELDS`` for ``forces`` given as (id, kind, area path, centroid lat,
    centroid lng): an open, located shift for those on post, and past closed shifts."""
    rows: list[tuple[Any, ...]] = []
    for force_id, kind, path, lat, lng in forces:
        share = ON_POST.get(kind, ON_POST_OTHERS)
        for back in range(HISTORY_DAYS, 0, -1):
            if rng.random() < share:
                # a day shift from 08:30–11:30 Beijing time (00:30–03:30 UTC)
                day = (now - dt.timedelta(days=back)).replace(hour=0, minute=30, second=0)
                start = day + dt.timedelta(hours=rng.uniform(0, 3))
                end = start + dt.timedelta(hours=rng.uniform(3, 9))
                rows.append((force_id, path, start, end, None, None, None, start, end))
        if rng.random() < share:
            started = now - dt.timedelta(minutes=rng.uniform(20, 480))
            point = (None, None) if lat is None or lng is None else _near(rng, lat, lng)
            located = now - dt.timedelta(minutes=rng.uniform(0, 55)) if lat is not None else None
            changed = located or started
            rows.append((force_id, path, started, None, *point, located, started, changed))
    return rows


def seed_duty(seed: int, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Put the county's forces on post (see the module); returns the counts and seconds."""
    started = time.perf_counter()
    now = now or timezone.now()
    forces = list(
        Force.objects.order_by("pk").values_list(
            "pk", "kind", "area_path", "area__centroid_lat", "area__centroid_lng"
        )
    )
    rows = plan_shifts(forces, rng_for(seed, "duty"), now)
    with transaction.atomic():
        written = bulk.insert_tuples(DutyShift, FIELDS, rows)
        # ``Force.on_duty`` says the same as an open shift (duty.go_off_duty keeps them so)
        posted = {row[0] for row in rows if row[3] is None}
        Force.objects.exclude(pk__in=posted).filter(on_duty=True).update(on_duty=False)
        county = Area.objects.filter(kind=AreaKind.COUNTY).order_by("path").first()
        counts = {"duty_shifts": written, "forces_on_post": len(posted)}
        if county is not None:
            audit.record(
                AuditEntry.Action.CREATE, county, None, counts,
                f"{NOTE}: 在岗力量演示数据，批量写入，逐行审计已省略",
            )  # fmt: skip
    return {**counts, "duty_seconds": round(time.perf_counter() - started, 2)}
