"""A year of cases for the demo county (演示诉求), so the inboxes, maps and indicator
pages are full on first start.

``seed_cases(rng, scale)`` plans each case's whole life — who reported what, where
and when, and every step after (accept, handle, review, return visit, rework,
reopening, escalation, suspension, rejection, merging), at plausible working-hour
times — and keeps the steps that had happened by now: recent cases are still open, a
few are overdue today. The overdue-escalation job then runs once, as it would have.

Where to look:

- ``texts.py`` — what people report: descriptions, results, reasons, comments.
- ``plans.py`` — :class:`Planner` draws the plans (:class:`CasePlan`, one
  :class:`PlannedStep` per action); :class:`Staff` knows who handles and reviews where.
- ``replay.py`` — :class:`Replay` applies the plans in memory through the very
  ``apply`` functions of the live actions (:mod:`jiayuan.cases.actions`), with itself
  as their world; :func:`apply_with_services` applies the same plans through
  ``services`` (a test requires identical cases, timelines and return visits).
- ``writing.py`` — handler accounts where the demo has none (:func:`ensure_staff`),
  then :func:`write` inserts everything in bulk, one audit entry per case (30,000
  cases and their quarter of a million timeline events in about a minute of CPU, where
  ~70 queries per case through the actions would take hours; see docs/benchmarks.md).
- ``seed.py`` — :func:`seed_cases`, the entry point.

Timeline events carry the time of their step (the live actions stamp the time they
run). At the county scale every grid, zone, community and street gets a handler
account (网格员, 小区党支部书记, 社区工作者, 街道领导) where the demo accounts leave
none, so that cases can be dispatched anywhere. The tiny world (every test session
seeds it) gets no extra account: its cases all happen in the ``grid`` account's grid,
keep clear of its centroid (tests report there), and stop at yesterday.
"""

from jiayuan.core.geo import distance_m as _metres

from .plans import (
    CASES_PER_YEAR,
    KEEP_CLEAR_M,
    CasePlan,
    PlannedStep,
    Planner,
    Staff,
    resolve,
    resolve_params,
)
from .replay import Replay, apply_with_services
from .seed import seed_cases
from .texts import TEXTS
from .writing import NOTE, ensure_staff, write

__all__ = [
    "CASES_PER_YEAR",
    "KEEP_CLEAR_M",
    "NOTE",
    "TEXTS",
    "CasePlan",
    "PlannedStep",
    "Planner",
    "Replay",
    "Staff",
    "_metres",
    "apply_with_services",
    "ensure_staff",
    "resolve",
    "resolve_params",
    "seed_cases",
    "write",
]
