"""The red partners of the demo county (演示红色合伙人): 300+ partners of the four kinds
over the 26 communities, and 26 partner-run projects at every stage — most in operation
for a year with their calls, agreements, inspections, feedback, evaluations and credit
ledger, the 永续社区长者食堂 among them (see :mod:`.plan`).

Where to look:

- ``frame.py`` — what the plan is drawn on, read once from the seeded database.
- ``plan.py`` — :func:`plan_partners` draws every row as a plain record from one random
  stream (``rng_for(seed, "partners")``), its numbers from the rules' own functions.
- ``write.py`` — :func:`write_plan` writes the plan through the shared bulk path with
  one audit entry summarising it.
- ``texts.py`` — the words.

:func:`seed_partners` is the seed's stage 红色合伙人 (after 社区服务).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.utils import timezone

from jiayuan.core.sampling import rng_for

from .frame import Frame, frame_from_db
from .plan import SIZES, PartnersPlan, plan_partners
from .write import DOCUMENT_NAME, NOTE, demo_pdf, write_plan


def seed_partners(seed: int, scale: str, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Add the red partners to the seeded county; returns the counts written and the
    stage's seconds (planning and writing)."""
    started = time.perf_counter()
    now = (now or timezone.now()).replace(microsecond=0)
    frame = frame_from_db(timezone.localdate(now))
    plan = plan_partners(frame, scale, rng_for(seed, "partners"), now)
    planned = time.perf_counter()
    counts: dict[str, Any] = dict(write_plan(plan, frame, now))
    counts["partners_seconds"] = {
        "plan": round(planned - started, 2),
        "write": round(time.perf_counter() - planned, 2),
    }
    return counts


def plan_for(seed: int, scale: str, *, now: dt.datetime | None = None) -> PartnersPlan:
    """The plan :func:`seed_partners` writes, drawn again from the seeded database."""
    now = (now or timezone.now()).replace(microsecond=0)
    return plan_partners(
        frame_from_db(timezone.localdate(now)), scale, rng_for(seed, "partners"), now
    )


__all__ = [
    "DOCUMENT_NAME",
    "NOTE",
    "SIZES",
    "Frame",
    "PartnersPlan",
    "demo_pdf",
    "frame_from_db",
    "plan_for",
    "plan_partners",
    "seed_partners",
    "write_plan",
]
