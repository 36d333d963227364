"""The community services of the demo county (演示社区服务): positions and rooms with a
year of bookings, volunteer teams and volunteers, co-building units and markets,
activities with their sign-ups and hours, a year of wishes and the compounds' topics with
their votes — the programme's figures at the county scale (see :mod:`.plan`).

Where to look:

- ``frame.py`` — what the plan is drawn on: the seeded county read once from the
  database (:func:`frame_from_db`), or a planned world before it is written
  (:func:`frame_from_world`, for tests that plan the county without a database).
- ``plan.py`` — :func:`plan_services` draws every row as a plain record from one random
  stream (``rng_for(seed, "community")``); :func:`decide` settles a vote by the matter
  type's thresholds.
- ``write.py`` — :func:`write_plan` writes the plan through the shared bulk path with
  one audit entry summarising it.
- ``texts.py`` — the words.

:func:`seed_community` is the seed's stage 社区服务 (after 设备).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.utils import timezone

from jiayuan.core.sampling import rng_for

from .frame import Frame, frame_from_db, frame_from_world
from .plan import SIZES, ServicesPlan, decide, plan_services
from .write import NOTE, write_plan


def seed_community(seed: int, scale: str, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Add the community services to the seeded county; returns the counts written and
    the stage's seconds (planning and writing)."""
    started = time.perf_counter()
    now = now or timezone.now()
    frame = frame_from_db(timezone.localdate(now))
    plan = plan_services(frame, scale, rng_for(seed, "community"), now)
    planned = time.perf_counter()
    counts: dict[str, Any] = dict(write_plan(plan, frame, now))
    counts["community_seconds"] = {
        "plan": round(planned - started, 2),
        "write": round(time.perf_counter() - planned, 2),
    }
    return counts


def plan_for(seed: int, scale: str, *, now: dt.datetime | None = None) -> ServicesPlan:
    """The plan :func:`seed_community` writes, drawn again from the seeded database."""
    now = now or timezone.now()
    return plan_services(
        frame_from_db(timezone.localdate(now)), scale, rng_for(seed, "community"), now
    )


__all__ = [
    "NOTE",
    "SIZES",
    "Frame",
    "ServicesPlan",
    "decide",
    "frame_from_db",
    "frame_from_world",
    "plan_for",
    "plan_services",
    "seed_community",
    "write_plan",
]
