"""The entry point of the demo's year of cases: plan, replay, write, then run the
overdue-escalation job once, as it would have run."""

from __future__ import annotations

import datetime as dt
import random
import time
from typing import Any

from django.db import transaction
from django.utils import timezone

from jiayuan.core.calendar import WorkClock
from jiayuan.core.roles import Role
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area, Membership

from .. import escalation
from .plans import CASES_PER_YEAR, Planner, Staff, _midnight
from .replay import Replay
from .writing import ensure_staff, write


def seed_cases(
    rng: random.Random | int = 7,
    scale: str = "tiny",
    *,
    now: dt.datetime | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Add a year of cases to the seeded demo county; returns counts and seconds.

    ``rng`` is a ``random.Random`` or a seed for one; with the same seed, scale and day
    the same cases come out."""
    started = time.perf_counter()
    if not isinstance(rng, random.Random):
        rng = random.Random(f"jiayuan-demo:{rng}:cases")  # noqa: S311 - demo data
    if scale not in CASES_PER_YEAR:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(CASES_PER_YEAR)}")
    now = now or timezone.now()
    clock = WorkClock()
    with transaction.atomic():
        if scale == "tiny":
            accounts = 0
            end = _midnight(timezone.localtime(now).date()) - dt.timedelta(seconds=1)
            home = Membership.objects.filter(user__username="grid", role=Role.GRID_WORKER)
            grids = [m.area for m in home.select_related("area")]
        else:
            accounts = ensure_staff()
            end = now
            grids = list(Area.objects.filter(kind=AreaKind.GRID).order_by("path"))
        if not grids:
            return {"cases": 0}
        staff = Staff()
        planner = Planner(rng, grids, staff, end - dt.timedelta(days=365), end, clock)
        plans = planner.plan(CASES_PER_YEAR[scale])
        planned = time.perf_counter()
        replay = Replay(staff, clock)
        replay.run(plans)
        replayed = time.perf_counter()
        counts: dict[str, Any] = write(replay, staff)
        written = time.perf_counter()
        counts["handler_accounts"] = accounts
        counts["escalation"] = escalation.run(now)
    counts["case_seconds"] = {
        "plan": round(planned - started, 2),
        "replay": round(replayed - planned, 2),
        "write": round(written - replayed, 2),
        "total": round(time.perf_counter() - started, 2),
    }
    if progress:
        print(f"诉求 cases: {counts}")  # noqa: T201
    return counts
