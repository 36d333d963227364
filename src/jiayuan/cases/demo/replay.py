"""Applying the plans in memory: :class:`Replay` runs intake and every planned step
through the same ``apply`` functions as the live actions (:mod:`jiayuan.cases.actions`)
and keeps the cases, timelines and return visits for a bulk insert.

The replay is the :class:`~jiayuan.cases.actions.World` of those functions: it answers
"who handles this level here", "which user is that", "which case is that number" from
memory instead of the database. What it does not share with ``services`` is only what
touches the database: numbering (the day's sequence kept in memory), the duplicate
search (over the cases replayed so far) and the writing. :func:`apply_with_services`
applies the same plans through the real actions; a test requires both to write the
same cases, timelines and return visits.
"""

from __future__ import annotations

import bisect
import datetime as dt
import secrets
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from jiayuan.core import bulk
from jiayuan.core.calendar import WorkClock
from jiayuan.core.geo import distance_m
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area
from jiayuan.org.paths import ancestor_path
from jiayuan.people.models import Person

from .. import actions, routing, sla
from ..choices import Channel, Level, Status
from ..machine import TRANSITIONS
from ..models import Case, CaseSequence, Department, ReturnVisit
from .plans import CasePlan, PlannedStep, Staff, resolve, resolve_params

#: A timeline event as the replay keeps it: the columns of ``CaseEvent`` but the case.
EventRow = tuple[dt.datetime, Any, str, str, str, str, str, str, bool, dict[str, Any]]
EVENT_FIELDS = ("at", "actor", "actor_name", "action", "step", "from_status", "to_status",
                "note", "public", "data")  # fmt: skip


def _row(at: dt.datetime, event: actions.Event) -> EventRow:
    """What ``services`` writes for ``event`` (the actor's id and name, or the system),
    stamped with the time of its planned step."""
    actor = event.actor
    actor_id = actor.pk if getattr(actor, "pk", None) else None
    name = getattr(actor, "username", "") or "系统"
    return (at, actor_id, name, event.action, event.step, event.from_status, event.to_status,
            event.note, event.public, event.data)  # fmt: skip


class Replay:
    """Applies plans as :mod:`services` would, in memory; see the module docstring."""

    def __init__(self, staff: Staff, clock: WorkClock) -> None:
        self.staff = staff
        self.clock = clock
        self.areas = {
            a.path: a
            for a in Area.objects.filter(
                kind__in=[AreaKind.STREET, AreaKind.COMMUNITY, AreaKind.ZONE, AreaKind.GRID]
            )
        }
        self.departments = {d.pk: d for d in Department.objects.all()}
        self.sequences = dict(CaseSequence.objects.values_list("day", "last"))
        self.prefixes: dict[dt.date, str] = {}
        # get_channel_display() re-translates every choice on each call
        self.channel_labels = {c.value: str(c.label) for c in Channel}
        self.cases: list[Case] = []
        self.events: list[list[EventRow]] = []
        self.visits: list[ReturnVisit] = []
        self.by_category: dict[int, list[int]] = {}  # category → indexes, by receipt
        self.times: dict[int, list[dt.datetime]] = {}  # category → their receipt times
        self.numbers: dict[int, str] = {}  # id(plan) → case number
        self.index_of: dict[str, int] = {}
        self.context = actions.Context(actor=None, now=timezone.now(), world=self, clock=clock)

    # -- the world the actions read (actions.World) ------------------------------------------
    def owner_for(self, grid: Area, level: str) -> Area:
        kind = routing.LEVEL_KIND[level]  # type: ignore[index]
        return grid if kind == AreaKind.GRID else self.areas[ancestor_path(grid.path, kind)]

    def handler_for(self, owner: Area, level: str) -> Any:
        return self.staff.handler(owner.path, level)

    def user_at(self, case: Case, user_id: int) -> Any:
        return self.staff.users[user_id]

    def department(self, department_id: int) -> Department | None:
        return self.departments.get(department_id)

    def merge_target(self, case: Case, into: str | int, actor: Any) -> Case | None:
        found = self.index_of.get(str(into))
        return self.cases[found] if found is not None else None

    # -- what only the live intake does with the database --------------------------------------
    def number(self, day: dt.date) -> str:
        last = self.sequences.get(day, 0) + 1
        self.sequences[day] = last
        prefix = self.prefixes.get(day)
        if prefix is None:  # the date's format, once a day rather than once a case
            prefix = self.prefixes[day] = f"WS{day:%Y%m%d}-"
        return f"{prefix}{last:04d}"

    def duplicates(self, i: int) -> list[str]:
        """``services.duplicate_candidates`` over the cases replayed so far."""
        case = self.cases[i]
        category = case.category
        since = case.received_at - dt.timedelta(hours=category.duplicate_window_hours)
        earlier = self.by_category.get(category.pk, [])
        times = self.times.get(category.pk, [])
        lo = bisect.bisect_left(times, since)
        hits: list[str] = []
        reach = category.duplicate_radius_m / 100_000  # degrees, generously
        for j in reversed(earlier[lo:]):  # newest first, as services orders them
            other = self.cases[j]
            if case.lat is not None and other.lat is not None and abs(other.lat - case.lat) > reach:
                continue
            if other.merged_into_id is not None or other.merged_into is not None:
                continue
            if other.status in (Status.REJECTED, Status.MERGED):
                continue
            if case.lat is None or other.lat is None or case.lng is None or other.lng is None:
                continue
            if distance_m(case.lat, case.lng, other.lat, other.lng) <= category.duplicate_radius_m:
                hits.append(other.number)
                if len(hits) == 5:
                    break
        return hits

    # -- intake -----------------------------------------------------------------------------
    def intake(self, plan: CasePlan) -> int:
        """``services.intake`` for a plan: build, number, look for duplicates, receive and
        dispatch (through the ``dispatch`` action's own apply function)."""
        now = plan.received_at
        category = plan.category
        level = category.default_level
        owner = self.owner_for(plan.grid, level)
        description = plan.description.strip()
        # the shared bulk path's constructor: Case(...) without its per-field work
        case = bulk.build(
            Case,
            number=self.number(timezone.localdate(now)),
            channel=plan.channel,
            category=category,
            title=description[:30],
            description=description,
            priority=plan.priority,
            level=level,
            lat=plan.lat,
            lng=plan.lng,
            address="",
            grid=plan.grid,
            owner_area=owner,
            reporter=plan.reporter,
            reporter_name="" if plan.anonymous else plan.reporter_name,
            anonymous=plan.anonymous,
            received_at=now,
            source_ref="",
            attributes={},
            handler_department=category.department if level == Level.DEPARTMENT else None,
            tracking_token=secrets.token_urlsafe(18),
            stage_started_at=now,
        )
        if plan.reporter_phone and not plan.anonymous:
            case.set_reporter_phone(plan.reporter_phone)
        sla.start_total(case, self.clock)
        sla.start_stage(case, now, self.clock)
        i = len(self.cases)
        self.cases.append(case)
        self.events.append([])
        hints = self.duplicates(i)
        case.duplicate_of_hint = hints
        self.by_category.setdefault(category.pk, []).append(i)
        self.times.setdefault(category.pk, []).append(case.received_at)
        self.numbers[id(plan)] = case.number
        self.index_of[case.number] = i
        received = actions.receive_event(case, None, hints, self.channel_labels[case.channel])
        self.events[i].append(_row(now, received))
        if plan.auto_dispatch:
            handler = self.staff.handler(owner.path, level)
            if handler is not None or level == Level.DEPARTMENT:
                self.apply(i, "dispatch", None, now, reason="自动派单", handler=handler)
        return i

    # -- the actions ------------------------------------------------------------------------
    def apply(self, i: int, action: str, actor: Any, now: dt.datetime, **params: Any) -> None:
        """Apply one action to case ``i`` and keep its events and return visits."""
        ctx = self.context  # one context, re-aimed at each step
        ctx.actor, ctx.now = actor, now
        effects = actions.apply(self.cases[i], action, ctx, **params)
        for event in effects.events:
            j = i if event.on is None else self.index_of[event.on.number]
            self.events[j].append(_row(now, event))
        self.visits.extend(effects.visits)

    def perform(self, i: int, step: PlannedStep) -> None:
        """``services.perform`` for a planned step: the state check, then the action."""
        case = self.cases[i]
        if case.status not in TRANSITIONS[step.action].sources:
            raise ValueError(f"{case.number}: cannot {step.action} while {case.status}")
        actor = resolve(step.actor, case, self.staff)
        params = resolve_params(step, case, self.staff, self.numbers)
        self.apply(i, step.action, actor, step.at, **params)
        case.version += 1

    def run(self, plans: Iterable[CasePlan]) -> None:
        for plan in plans:
            if plan.merge_into is not None:
                for step in plan.steps:
                    step.params["into"] = id(plan.merge_into)
            i = self.intake(plan)
            for step in plan.steps:
                self.perform(i, step)


# --- the same plans through the real actions --------------------------------------------------
def apply_with_services(plans: Iterable[CasePlan], staff: Staff) -> list[Case]:
    """Apply plans through ``services.intake`` and ``services.perform`` (slow, exact)."""
    from .. import services

    numbers: dict[int, str] = {}
    out = []
    for plan in plans:
        case = services.intake(
            actor=None,
            channel=plan.channel,
            category=plan.category,
            description=plan.description,
            lat=plan.lat,
            lng=plan.lng,
            grid=plan.grid,
            reporter=Person.objects.get(pk=plan.reporter.pk) if plan.reporter else None,
            reporter_name=plan.reporter_name,
            reporter_phone=plan.reporter_phone,
            anonymous=plan.anonymous,
            priority=plan.priority,
            received_at=plan.received_at,
            auto_dispatch=plan.auto_dispatch,
        )
        numbers[id(plan)] = case.number
        for step in plan.steps:
            if plan.merge_into is not None:
                step.params["into"] = id(plan.merge_into)
            params = resolve_params(step, case, staff, numbers)
            if step.actor == "reporter":
                # what services.visit_by_token does, at the planned time
                params["_as_reporter"] = True
            actor = resolve(step.actor, case, staff)
            case = services.perform(case.pk, step.action, actor=actor, now=step.at, **params)
        out.append(case)
    return out
