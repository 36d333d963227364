"""The one screen's change feed (实时动态): new alarms, new cases, case steps and
mobilisation milestones in a scope area, read from the database by id.

Alarms are raised by another process (``jiayuan ingest``), cases by any web or worker
process: the stream finds them by polling each table for ids above the last one it has
seen (:meth:`Feed.poll`, a primary-key range scan — three index lookups when nothing
happened). The position in the three tables is the :class:`Cursor`; it travels as the
``id:`` of every server-sent event, so a browser that reconnects with
``Last-Event-ID`` resumes exactly after the last event it received: nothing lost,
nothing twice.

Ids are handed out when a row is inserted but become visible when its transaction
commits, and on PostgreSQL two ingest processes may commit out of order (id 41 seen
while 40 is still in flight). An id below the highest seen that is missing from the
table is kept as a *gap* for :data:`GAP_WAIT_S` and looked for again on every poll; a
gap that never fills (a rolled-back insert, a deleted row) is dropped after that. Gaps
travel in the cursor too (at most :data:`MAX_GAPS` per table). Which ids are missing is
decided on every row of the table, in scope or not: a row of another street is simply
not an event of this feed.

Scope: the feed serves one county, street or community that the user may see
(``layers.screen_area``); a row belongs to it when its ``area_path`` (an alarm's, the
case's owning level, the mobilisation's) lies under the area's path, and it is cut to
the user's scope as well.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Max, Model, Q, QuerySet
from django.utils import timezone

from jiayuan.cases.choices import Status as CaseStatus
from jiayuan.cases.choices import Step as CaseStep
from jiayuan.cases.machine import OTHER_EVENTS, TRANSITIONS
from jiayuan.cases.models import CaseEvent
from jiayuan.cases.sla import light_for
from jiayuan.core.calendar import WorkClock
from jiayuan.core.errors import MAX_ROW_ID
from jiayuan.core.scoping import scope_q
from jiayuan.iot.choices import AlarmStatus, Severity
from jiayuan.iot.models import Alarm
from jiayuan.org.models import Area

from ..models import MobilisationEvent
from .layers import LIGHT_LABELS, alarm_feature, case_feature

#: Rows read per table and poll; a burst larger than this is served over several polls.
BATCH = 200
#: How long an id below the highest seen is awaited before it counts as never coming.
GAP_WAIT_S = 10.0
#: Gaps remembered per table (the newest ones: those are the transactions in flight).
MAX_GAPS = 20
#: How far below the highest id a poll looks for missing ones.
GAP_SCAN = 5000
#: The longest cursor accepted from a client.
MAX_CURSOR_CHARS = 1000
#: How far behind the present a resumed cursor may start, per table: a browser back
#: after a long outage (or a cursor typed by hand: ``0-0-0``) replays the newest rows
#: only, not a year of case events.
MAX_REPLAY = 1000

#: The mobilisation milestones the screen announces (a member's every step is left to
#: the mobilisation's own page: 200 forces answering would drown the ticker).
MOBILISATION_KINDS = (
    MobilisationEvent.Kind.CREATED,
    MobilisationEvent.Kind.TOPPED_UP,
    MobilisationEvent.Kind.HEAD_COUNT,
    MobilisationEvent.Kind.ASSEMBLED,
    MobilisationEvent.Kind.CLOSED,
)
KIND_LABELS = {"alarm": "告警", "case": "新诉求", "step": "诉求进展", "mobilisation": "调度"}


# --- the cursor ---------------------------------------------------------------------------
@dataclass
class Track:
    """The position in one table: the highest id seen and the ids below it still awaited
    (id → monotonic deadline)."""

    last: int = 0
    gaps: dict[int, float] = field(default_factory=dict)

    def encode(self) -> str:
        return "~".join(str(i) for i in [self.last, *sorted(self.gaps)])

    @classmethod
    def decode(cls, raw: str, deadline: float) -> Track:
        parts = [int(p) for p in raw.split("~")]
        if not parts or len(parts) > MAX_GAPS + 1:
            raise ValueError(raw)
        last, gaps = parts[0], parts[1:]
        if not 0 <= last <= MAX_ROW_ID or any(not 0 < g < last for g in gaps):
            raise ValueError(raw)
        return cls(last, dict.fromkeys(gaps, deadline))


@dataclass
class Cursor:
    """Where the feed stands in the alarms, case events and mobilisation events,
    written ``<alarms>-<case events>-<mobilisation events>``, each ``last[~gap…]``."""

    alarms: Track = field(default_factory=Track)
    cases: Track = field(default_factory=Track)
    mobilisations: Track = field(default_factory=Track)

    def encode(self) -> str:
        return "-".join(t.encode() for t in self.tracks())

    def tracks(self) -> tuple[Track, Track, Track]:
        return (self.alarms, self.cases, self.mobilisations)

    @classmethod
    def decode(cls, raw: str | None, now: float | None = None) -> Cursor | None:
        """The cursor written in ``raw``, or ``None`` for anything else (the stream then
        starts from the present)."""
        if not raw or len(raw) > MAX_CURSOR_CHARS:
            return None
        deadline = (time.monotonic() if now is None else now) + GAP_WAIT_S
        try:
            parts = [Track.decode(p, deadline) for p in raw.strip().split("-")]
        except ValueError:
            return None
        if len(parts) != 3:
            return None
        return cls(*parts)

    @classmethod
    def now(cls) -> Cursor:
        """The present: the highest id of each table (three index lookups)."""

        def top(model: type[Model]) -> int:
            return int(model._default_manager.aggregate(top=Max("pk"))["top"] or 0)

        return cls(Track(top(Alarm)), Track(top(CaseEvent)), Track(top(MobilisationEvent)))


# --- events -------------------------------------------------------------------------------
@dataclass
class Event:
    """One change for the screen: ``data`` is what the page receives (JSON), ``cursor``
    the feed's position right after it (the SSE ``id:``)."""

    data: dict[str, Any]
    cursor: str


def _clock(value: Any) -> str:
    return timezone.localtime(value).strftime("%H:%M:%S") if value else ""


def alarm_event(alarm: Alarm, clock: WorkClock | None = None) -> dict[str, Any]:
    device = alarm.device
    severity = Severity(alarm.severity).label if alarm.severity in Severity.values else ""
    return {
        "kind": "alarm",
        "kind_label": KIND_LABELS["alarm"],
        "id": alarm.pk,
        "at": _clock(alarm.first_at),
        "text": f"{device.name or device.serial}：{alarm.title}",
        "severity": alarm.severity,
        "severity_label": str(severity),
        "status": alarm.status,
        "active": alarm.status == AlarmStatus.ACTIVE,
        "feature": alarm_feature(alarm),
    }


def case_event(event: CaseEvent, clock: WorkClock | None = None) -> dict[str, Any]:
    case = event.case
    statuses = dict(CaseStatus.choices)
    new = event.action == "receive"
    kind = TRANSITIONS.get(event.action) or OTHER_EVENTS.get(event.action)
    action_label = kind.label if kind is not None else event.action
    light = light_for(case, None, clock)
    data: dict[str, Any] = {
        "kind": "case" if new else "step",
        "kind_label": KIND_LABELS["case" if new else "step"],
        "id": case.pk,
        "at": _clock(event.at),
        "number": case.number,
        "step": event.step,
        "step_label": str(dict(CaseStep.choices).get(event.step, "")),
        "status": case.status,
        "status_label": str(statuses.get(event.to_status, event.to_status)),
        "from_status": event.from_status,
        "to_status": event.to_status,
        "light": light,
        "light_label": LIGHT_LABELS.get(light, ""),
    }
    if new:
        data["text"] = f"{case.number} {case.title}".strip()
    else:
        data["text"] = f"{case.number} {action_label} → {data['status_label']}"
    if case.lat is not None and case.lng is not None:
        data["feature"] = case_feature(case, light, statuses)
    return data


def mobilisation_event(event: MobilisationEvent, clock: WorkClock | None = None) -> dict[str, Any]:
    mob = event.mobilisation
    label = MobilisationEvent.Kind(event.kind).label
    return {
        "kind": "mobilisation",
        "kind_label": KIND_LABELS["mobilisation"],
        "id": mob.pk,
        "at": _clock(event.at),
        "event": event.kind,
        "text": f"{mob.number} {label}（需 {mob.head_count} 人）",
        "status": mob.status,
    }


# --- the feed -------------------------------------------------------------------------------
@dataclass
class Source:
    """One table the feed follows: its model, the rows of a batch that belong to the feed,
    and how a row becomes an event."""

    model: type[Model]
    rows: Callable[[list[int]], Iterable[Any]]
    to_event: Callable[[Any, WorkClock], dict[str, Any]]


class Feed:
    """The changes in ``area`` for ``user`` after ``cursor`` (the present if ``None``).

    ``user`` must be allowed to see ``area`` (``layers.screen_area``); the rows are cut
    to the user's scope and the area's path here as well."""

    def __init__(
        self,
        user: Any,
        area: Area,
        cursor: Cursor | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.user = user
        self.area = area
        self.clock = clock
        present = Cursor.now()
        if cursor is not None:
            for mine, now_ in zip(cursor.tracks(), present.tracks(), strict=True):
                floor = now_.last - MAX_REPLAY
                if mine.last < floor:
                    mine.last = floor
                    mine.gaps = {g: d for g, d in mine.gaps.items() if g > floor}
        self.cursor = cursor if cursor is not None else present
        path = area.path
        self.sources = (
            Source(Alarm, self._alarms(path), alarm_event),
            Source(CaseEvent, self._case_events(path), case_event),
            Source(MobilisationEvent, self._mobilisation_events(path), mobilisation_event),
        )

    def _alarms(self, path: str) -> Callable[[list[int]], QuerySet[Alarm]]:
        scoped = (
            Alarm.objects.visible_to(self.user)
            .filter(area_path__startswith=path)
            .select_related("device")
        )
        return lambda ids: scoped.filter(pk__in=ids)

    def _case_events(self, path: str) -> Callable[[list[int]], QuerySet[CaseEvent]]:
        # A transition (or the intake) of a case the area's levels own now; notes and
        # reminders change no status and are left out.
        scoped = (
            CaseEvent.objects.filter(scope_q(self.user, field="case__area_path"))
            .filter(case__area_path__startswith=path)
            .exclude(to_status="")
            .select_related("case")
            .only(
                "pk",
                "at",
                "action",
                "step",
                "from_status",
                "to_status",
                "case__number",
                "case__title",
                "case__status",
                "case__lat",
                "case__lng",
                "case__received_at",
                "case__stage_started_at",
                "case__stage_due_at",
                "case__suspended_at",
            )
        )
        return lambda ids: scoped.filter(pk__in=ids)

    def _mobilisation_events(self, path: str) -> Callable[[list[int]], QuerySet[Any]]:
        scoped = (
            MobilisationEvent.objects.filter(scope_q(self.user, field="mobilisation__area_path"))
            .filter(mobilisation__area_path__startswith=path, kind__in=MOBILISATION_KINDS)
            .select_related("mobilisation")
        )
        return lambda ids: scoped.filter(pk__in=ids)

    def poll(self) -> list[Event]:
        """The events since the cursor, oldest first per table (alarms, then cases, then
        mobilisations), each with the cursor right after it; advances the cursor."""
        now = self.clock()
        work_clock = WorkClock()  # the cases' lights share one (its days are cached)
        events: list[Event] = []
        for source, track in zip(self.sources, self.cursor.tracks(), strict=True):
            for gap, deadline in list(track.gaps.items()):
                if deadline <= now:
                    del track.gaps[gap]
            ids = self._new_ids(source.model, track)
            if not ids:
                continue
            rows = {row.pk: row for row in source.rows(ids)}
            for pk in ids:
                self._advance(track, pk, now)
                row = rows.get(pk)
                if row is not None:
                    events.append(Event(source.to_event(row, work_clock), self.cursor.encode()))
        return events

    @staticmethod
    def _new_ids(model: type[Model], track: Track) -> list[int]:
        """The ids above the track's last and its awaited gaps that exist now, in any
        scope (an index-only range scan)."""
        after = Q(pk__gt=track.last)
        if track.gaps:
            after |= Q(pk__in=list(track.gaps))
        qs = model._default_manager.filter(after).order_by("pk").values_list("pk", flat=True)
        return list(qs[:BATCH])

    @staticmethod
    def _advance(track: Track, pk: int, now: float) -> None:
        if track.gaps.pop(pk, None) is not None or pk <= track.last:
            return
        # Ids between the last seen and this one that are not here yet: in flight (or
        # never coming). Only the newest are remembered.
        missing = []
        low = max(track.last + 1, pk - GAP_SCAN)
        for gap in range(pk - 1, low - 1, -1):
            missing.append(gap)
            if len(missing) >= MAX_GAPS:
                break
        for gap in missing:
            track.gaps[gap] = now + GAP_WAIT_S
        if len(track.gaps) > MAX_GAPS:
            for gap in sorted(track.gaps)[: len(track.gaps) - MAX_GAPS]:
                del track.gaps[gap]
        track.last = pk
