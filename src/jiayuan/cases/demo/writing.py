"""Writing the demo's year of cases: handler accounts where the demo has none, then the
replayed cases, one audit entry each, their timelines, return visits and the open
cases' inbox notices, inserted in bulk with ids reserved up front."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, models

from jiayuan.core import actions, audit
from jiayuan.core.models import AuditEntry, Notification
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area, Membership

from .. import routing
from ..choices import Status
from ..models import Case, CaseEvent, CaseSequence, ReturnVisit
from ..notify import case_link
from .plans import Staff
from .replay import EVENT_FIELDS, EventRow, Replay

NOTE = "seed-demo"


def ensure_staff() -> int:
    """Give every grid, zone, community and street without one a handler account
    (``grid-001-003-02-01`` …), with the demo password; returns how many were made."""
    user_model = get_user_model()
    have = set(
        Membership.objects.filter(
            active=True, role__in=list(routing.LEVEL_ROLE.values())
        ).values_list("area_path", "role")
    )
    template = user_model.objects.filter(username="admin").first()
    password = template.password if template is not None else "!"
    prefix = {
        AreaKind.GRID: "grid",
        AreaKind.ZONE: "branch",
        AreaKind.COMMUNITY: "community",
        AreaKind.STREET: "street",
    }
    role_of = {kind: routing.LEVEL_ROLE[level] for level, kind in routing.LEVEL_KIND.items()
               if level in routing.LEVEL_ROLE}  # fmt: skip
    wanted = []
    for area in Area.objects.filter(kind__in=list(prefix)).order_by("path"):
        role = role_of[AreaKind(area.kind)]
        if (area.path, role) in have:
            continue
        name = prefix[AreaKind(area.kind)] + "-" + "-".join(area.path.strip("/").split("/")[1:])
        wanted.append((area, role, name))
    if not wanted:
        return 0
    users = []
    for _area, _role, name in wanted:
        user = user_model(username=name, is_staff=False, is_superuser=False)
        user.password = password
        user.audit_secret_fields = ("password",)  # type: ignore[attr-defined]
        users.append(user)
    users = actions.bulk_create(user_model, users, actor=None, note=NOTE)
    memberships = []
    for user, (area, role, _name) in zip(users, wanted, strict=True):
        m = Membership(user=user, area=area, role=role)
        m.area_path = area.path
        memberships.append(m)
    actions.bulk_create(Membership, memberships, actor=None, note=NOTE)
    return len(users)


def write(replay: Replay, staff: Staff, chunk: int = 5000) -> dict[str, int]:
    """Insert the replayed cases with one audit entry each (created by the system, note
    ``seed-demo``, as ``actions.bulk_create`` writes them), their timelines, return
    visits and the open cases' inbox messages."""
    cases = replay.cases
    _reserve_ids(Case, cases)
    for case in cases:
        case.area_path = case.derive_area_path()
        if case.merged_into is not None:  # the target had no id when it was assigned
            case.merged_into_id = case.merged_into.pk
    _insert(Case, cases, chunk)
    entries = [
        audit.entry(AuditEntry.Action.CREATE, c, None, audit.snapshot(c), NOTE) for c in cases
    ]
    _reserve_ids(AuditEntry, entries)
    _insert(AuditEntry, entries, chunk)
    events = _write_events(cases, replay.events, chunk)
    for visit in replay.visits:
        visit.case_id = visit.case.pk
    _reserve_ids(ReturnVisit, replay.visits)
    _insert(ReturnVisit, replay.visits, chunk)
    inbox = list(_inbox(cases, staff))
    Notification.objects.bulk_create(inbox, batch_size=chunk)
    # the next live intake of each day continues the day's numbers
    known = {row.day: row for row in CaseSequence.objects.filter(day__in=list(replay.sequences))}
    for day, row in known.items():
        row.last = replay.sequences[day]
    CaseSequence.objects.bulk_update(list(known.values()), ["last"], batch_size=chunk)
    CaseSequence.objects.bulk_create(
        [CaseSequence(day=d, last=n) for d, n in replay.sequences.items() if d not in known],
        batch_size=chunk,
    )
    return {"cases": len(cases), "case_events": events, "return_visits": len(replay.visits),
            "notifications": len(inbox)}  # fmt: skip


# Values of these fields go to the driver as they are; others are adapted by the field.
PLAIN_FIELDS = (
    models.CharField, models.TextField, models.IntegerField, models.FloatField,
    models.BooleanField, models.ForeignKey,
)  # fmt: skip


def _kind(f: Any) -> str:
    if isinstance(f, models.DateTimeField):
        return "time"
    return "plain" if isinstance(f, PLAIN_FIELDS) else "other"


def _adapt_time(value: dt.datetime | None) -> Any:
    """What the backend's ``adapt_datetimefield_value`` makes of an aware datetime,
    without its per-value checks: SQLite stores naive UTC text, psycopg takes it as is."""
    if value is None or connection.vendor != "sqlite":
        return value
    return str(value.astimezone(dt.UTC).replace(tzinfo=None))


def _reserve_ids(model: type[models.Model], objs: list[Any]) -> None:
    """Give unsaved rows their primary keys up front (from the table's sequence), so
    that rows referring to them can be written without reading them back."""
    if not objs:
        return
    table, column = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, column, len(objs)],
            )
            ids = [row[0] for row in cursor.fetchall()]
        else:  # SQLite: the seed holds the write lock for its whole transaction
            q = connection.ops.quote_name
            cursor.execute(f"SELECT COALESCE(MAX({q(column)}), 0) FROM {q(table)}")  # noqa: S608
            last = cursor.fetchone()[0]
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            row = cursor.fetchone()
            last = max(last, row[0] if row else 0)
            ids = list(range(last + 1, last + 1 + len(objs)))
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias


def _insert(model: type[models.Model], objs: list[Any], chunk: int) -> None:
    """``INSERT`` rows whose ids are reserved, with ``executemany``: Django's
    ``bulk_create`` spends most of its time compiling SQL, and on SQLite it writes 16
    cases per statement."""
    fields = list(model._meta.concrete_fields)
    q = connection.ops.quote_name
    columns = ", ".join(q(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {q(model._meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
    kinds = [_kind(f) for f in fields]
    with connection.cursor() as cursor:
        for start in range(0, len(objs), chunk):
            rows = []
            for obj in objs[start : start + chunk]:
                row = []
                for f, kind in zip(fields, kinds, strict=True):
                    value = f.pre_save(obj, True)
                    if kind == "time":
                        value = _adapt_time(value)
                    elif kind == "other":
                        value = f.get_db_prep_save(value, connection)
                    row.append(value)
                rows.append(row)
            cursor.executemany(sql, rows)


def _write_events(cases: list[Case], timelines: list[list[EventRow]], chunk: int) -> int:
    """Insert the timelines with ``executemany``: a quarter of a million model instances
    would cost more than everything else together. Values are adapted by the fields
    themselves (time zone, JSON), as ``bulk_create`` would."""
    meta = CaseEvent._meta
    by_name = {f.name: f for f in meta.concrete_fields}
    fields = [by_name[name] for name in ("case", *EVENT_FIELDS)]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    table = connection.ops.quote_name(meta.db_table)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608 - names from the model
    data_field = by_name["data"]
    written = 0
    batch: list[list[Any]] = []
    with connection.cursor() as cursor:
        for case, timeline in zip(cases, timelines, strict=True):
            for at, *middle, data in timeline:
                batch.append([
                    case.pk,
                    _adapt_time(at),
                    *middle,
                    data_field.get_db_prep_save(data, connection),
                ])  # fmt: skip
            if len(batch) >= chunk:
                cursor.executemany(sql, batch)
                written += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            written += len(batch)
    return written


def _inbox(cases: Iterable[Case], staff: Staff) -> Iterable[Notification]:
    """One unread message per open case for whoever must act on it now."""
    for case in cases:
        if case.status in (Status.DISPATCHED, Status.ACCEPTED, Status.IN_PROGRESS):
            if case.handler_user is None:
                continue
            kind, title, user = "dispatch", f"新派单 {case.number}", case.handler_user
            if case.status != Status.DISPATCHED:
                kind, title = "todo", f"待办结 {case.number}"
        elif case.status == Status.HANDLED:
            kind, title = "review", f"待审核 {case.number}"
            user = staff.reviewer(case.owner_area.path, case.handler_user)
        else:
            continue
        yield Notification(user=user, kind=kind, title=title, body=case.title,
                           link=case_link(case), ref=case.number,
                           created_at=case.stage_started_at)  # fmt: skip
