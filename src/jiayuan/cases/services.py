"""Domain actions of the request loop. Every transition goes through :func:`perform`:
lock the row, check the state machine and the actor's relation to the case, apply the
action (:mod:`jiayuan.cases.actions`: the case's new fields and the action's effects),
then persist the case, its timeline events, return visits, inbox notices and audit
entry in one transaction; messages to the reporter leave after the commit."""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from jiayuan.core import audit, geo
from jiayuan.core.calendar import WorkClock
from jiayuan.core.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from jiayuan.core.incidents import close_incident
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Perm, Role
from jiayuan.core.scoping import path_allowed, roles
from jiayuan.org.models import Area, Dwelling
from jiayuan.people.models import Person

from . import actions, notify, proxies, routing, sla
from . import attributes as case_attributes
from .actions import TransitionRefused
from .choices import Channel, Level, Priority, Status
from .machine import TRANSITIONS, Transition, allowed
from .models import Case, CaseEvent, CaseSequence, Category, ReturnVisit

User = get_user_model()


# --- reading ---------------------------------------------------------------------------
def relations(user: Any, case: Case) -> set[str]:
    """How ``user`` stands to ``case``: handler, supervisor, reporter (or system)."""
    if user is None:
        return {"system"}
    found: set[str] = set()
    if case.handler_user_id is not None and case.handler_user_id == user.pk:
        found.add("handler")
    if path_allowed(user, case.area_path, Perm.SUPERVISE):
        found.add("supervisor")
    if case.reporter_id is not None and getattr(case.reporter, "user_id", None) == user.pk:
        found.add("reporter")
    return found


def available_actions(user: Any, case: Case) -> list[Transition]:
    return allowed(case.status, relations(user, case))


# --- intake (问) -------------------------------------------------------------------------
def _next_number(day: dt.date) -> str:
    """The day's next case number, ``WS20261128-0001``: one ``INSERT … ON CONFLICT DO
    UPDATE … RETURNING`` (SQLite ≥ 3.35 and PostgreSQL alike), atomic by itself, so two
    intakes at once — the day's first two included — never share a number and nothing
    is read, locked and written back in three statements."""
    table = connection.ops.quote_name(CaseSequence._meta.db_table)
    last = connection.ops.quote_name("last")
    day_col = connection.ops.quote_name("day")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({day_col}, {last}) VALUES (%s, 1) "  # noqa: S608
            f"ON CONFLICT ({day_col}) DO UPDATE SET {last} = {table}.{last} + 1 "
            f"RETURNING {last}",
            [connection.ops.adapt_datefield_value(day)],
        )
        row = cursor.fetchone()
    if row is None:  # pragma: no cover - RETURNING always answers one row
        raise Conflict("生成编号失败，请重试", "could not allocate a case number, try again")
    return f"WS{day:%Y%m%d}-{row[0]:04d}"


# The fields of a duplicate candidate that intake and its answer read.
_CANDIDATE_FIELDS = ("id", "number", "title", "status", "received_at", "lat", "lng", "area_path")


def duplicate_candidates(case: Case, limit: int = 5) -> list[Case]:
    """Open cases of the same category near the same place within the category's window."""
    category = case.category
    since = case.received_at - dt.timedelta(hours=category.duplicate_window_hours)
    qs = (
        Case.objects.filter(
            category=category,
            received_at__range=(since, case.received_at),  # earlier cases, even when backdated
            merged_into__isnull=True,
        )
        .exclude(status__in=[Status.REJECTED, Status.MERGED])
        # what the distance and the hint need, not the 60 columns of up to 200 cases
        .only(*_CANDIDATE_FIELDS)
    )
    if case.pk is not None:  # intake asks before the case is written
        qs = qs.exclude(pk=case.pk)
    if case.lat is not None and case.lng is not None:
        d_lat = category.duplicate_radius_m / 111_000
        d_lng = d_lat / max(math.cos(math.radians(case.lat)), 0.1)
        qs = qs.filter(
            lat__range=(case.lat - d_lat, case.lat + d_lat),
            lng__range=(case.lng - d_lng, case.lng + d_lng),
        )
        near = [
            c
            for c in qs[:200]
            if c.lat is not None
            and c.lng is not None
            and geo.distance_m(case.lat, case.lng, c.lat, c.lng) <= category.duplicate_radius_m
        ]
    elif case.dwelling_id is not None:
        near = list(qs.filter(dwelling_id=case.dwelling_id)[:limit])
    else:
        near = []
    return near[:limit]


def _write_events(case: Case, events: list[actions.Event]) -> list[CaseEvent]:
    """Write resolved timeline events (on ``case``, or on the other case they name) in
    one INSERT."""
    return CaseEvent.objects.bulk_create(
        CaseEvent(
            case=event.on or case,
            actor=event.actor if getattr(event.actor, "pk", None) else None,
            actor_name=getattr(event.actor, "username", "") or "系统",
            action=event.action,
            step=event.step,
            from_status=event.from_status,
            to_status=event.to_status,
            note=event.note,
            public=event.public,
            data=event.data,
        )
        for event in events
    )


def _persist(
    case: Case, effects: actions.Effects, before: Sequence[actions.Event] = ()
) -> list[CaseEvent]:
    """Everything an applied action leaves besides the case row itself (``before``:
    events to write ahead of the action's own, in the same INSERT); returns the events
    written."""
    written = _write_events(case, [*before, *effects.events])
    for visit in effects.visits:
        visit.case = case
        visit.save()
    for notice in effects.notices:
        users = list(notice.users)
        if notice.supervisors_of is not None:
            users += routing.supervisors(notice.supervisors_of)
        notify.notify(users, case, notice.kind, notice.title, notice.body)
    if effects.incident_closed:
        # In this transaction: the alarm closes together with its case, or neither does.
        close_incident(Case, key=case.source_ref, number=case.number, outcome=case.status)
    for body in effects.to_reporter:
        # Outbound messages leave the process: only once the action is committed.
        transaction.on_commit(functools.partial(notify.tell_reporter, case, body))
    return written


def default_channel(actor: Any) -> str:
    """The channel of a case whose filer names none: a resident's own report (no staff
    actor) is 随手拍, a grid worker's a patrol finding, other staff enter hotline orders."""
    if actor is None:
        return Channel.SNAPSHOT
    # the memberships scoping has read for this user already: no query of its own
    on_patrol = Role.GRID_WORKER in roles(actor)
    return Channel.PATROL if on_patrol else Channel.HOTLINE


def _proxy(
    actor: Any,
    proxy: Any,
    proxy_name: str,
    reporter: Person | None,
    reporter_name: str,
    anonymous: bool,
) -> tuple[Any, str]:
    """The proxy of a 红色代办 case (the acting user unless named) and their name."""
    proxy = proxy if proxy is not None else actor
    name = (proxy_name or "").strip()
    if proxy is not None and not name:
        name = proxy.get_full_name().strip() or proxy.username
    if not name:
        raise ValidationFailed(
            "红色代办须注明代办人", "a red proxy case names its proxy", field="proxy"
        )
    if anonymous or (reporter is None and not reporter_name.strip()):
        raise ValidationFailed(
            "红色代办须注明代办的居民",
            "a red proxy case names the resident it is filed for",
            field="reporter",
        )
    return proxy, name[:50]


def intake(
    *,
    actor: Any,
    channel: str | None = None,
    category: Category,
    description: str,
    lat: float | None = None,
    lng: float | None = None,
    dwelling: Dwelling | None = None,
    grid: Area | None = None,
    address: str = "",
    reporter: Person | None = None,
    reporter_name: str = "",
    reporter_phone: str = "",
    anonymous: bool = False,
    priority: str = Priority.NORMAL,
    title: str = "",
    source_ref: str = "",
    attributes: dict[str, Any] | None = None,
    received_at: dt.datetime | None = None,
    auto_dispatch: bool = True,
    red_proxy: bool = False,
    proxy: Any = None,
    proxy_name: str = "",
    level: str | None = None,
) -> Case:
    """Receive a request (问): validate, locate, number, look for duplicates, and
    dispatch it to the default level's handler of the located grid (派).

    Every intake path (API, staff and resident pages, Open311, the 12345 import,
    incidents) comes through here, so the checks are the same for all: the category's
    attributes (typed, and required of every path that collects them — ``attributes``
    a dict, not ``None``: :mod:`jiayuan.cases.attributes`), the channel (the
    filer's default when none is named, :func:`default_channel`) and, for 红色代办
    (``red_proxy``), the proxy — ``proxy`` (a user; the actor unless named) and
    ``proxy_name`` (their name unless given) — filing for the resident ``reporter`` (or
    ``reporter_name``). ``level`` overrides the category's default level (an incident
    bridge sender that names who should handle it).
    """
    description = (description or "").strip()
    if not description:
        raise ValidationFailed("请填写诉求内容", "a description is required", field="description")
    attributes = case_attributes.clean(category, attributes)
    if channel is None:
        channel = default_channel(actor)
    if channel not in Channel.values:
        raise ValidationFailed(f"未知渠道 {channel}", f"unknown channel {channel}", field="channel")
    if priority not in Priority.values:
        raise ValidationFailed("紧急程度无效", "invalid priority", field="priority")
    if grid is None:
        grid = routing.locate_grid(lat=lat, lng=lng, dwelling=dwelling)
    elif grid.kind != "grid":
        raise ValidationFailed("请选择网格", "the area must be a grid", field="grid")
    if actor is not None and not path_allowed(actor, grid.path, Perm.VIEW):
        # Staff may only file cases where they work; residents file through the
        # public page, which passes actor=None; 三长 and 党员中心户 file 红色代办 for the
        # residents they look after (defect 2, cases.proxies).
        if not (red_proxy and proxies.may_file_for(actor, reporter)):
            raise NotFound("该位置不在您的管辖范围内", "the location is outside your area")
    if red_proxy:
        proxy, proxy_name = _proxy(actor, proxy, proxy_name, reporter, reporter_name, anonymous)
    else:
        proxy, proxy_name = None, ""
    phone = ""
    if reporter_phone:
        from jiayuan.people.services import validate_phone

        phone = validate_phone(reporter_phone)
    now = received_at or timezone.now()
    level = level or category.default_level
    owner = routing.owner_for(grid, level)
    case = Case(
        number=_next_number(timezone.localdate(now)),
        channel=channel,
        category=category,
        title=title[:100] or description[:30],
        description=description,
        priority=priority,
        level=level,
        lat=lat,
        lng=lng,
        address=address,
        grid=grid,
        dwelling=dwelling,
        owner_area=owner,
        reporter=reporter,
        reporter_name="" if anonymous else reporter_name,
        anonymous=anonymous,
        received_at=now,
        source_ref=source_ref,
        attributes=attributes,
        handler_department=category.department if level == Level.DEPARTMENT else None,
        red_proxy=red_proxy,
        proxy_user=proxy,
        proxy_name=proxy_name,
    )
    if phone and not anonymous:
        case.set_reporter_phone(phone)
    clock = WorkClock()
    sla.start_total(case, clock)
    sla.start_stage(case, now, clock)
    # The row is built completely before it is written: duplicates looked up, the
    # dispatch applied; then one INSERT of the case, one of its audit entry, one of its
    # timeline and one of the handler's notice.
    candidates = duplicate_candidates(case)
    hints = [c.number for c in candidates]
    case.duplicate_of_hint = hints
    case._duplicate_cases = candidates  # type: ignore[attr-defined]  # for the API's answer
    received = actions.receive_event(case, actor, hints)
    effects = actions.Effects()
    if auto_dispatch:
        handler = routing.handler_for(owner, level)
        if handler is not None or level == Level.DEPARTMENT:
            ctx = actions.Context(actor=None, now=now, world=WORLD, clock=clock)
            effects = actions.apply(case, "dispatch", ctx, reason="自动派单", handler=handler)
    case.area_path = case.derive_area_path()
    with transaction.atomic():
        case.save(force_insert=True)
        # (the system writes the row, as core.actions.save_new(case, actor=None) would)
        audit.record(
            AuditEntry.Action.CREATE, case, None, audit.snapshot(case), f"intake via {channel}"
        )
        events = _persist(case, effects, before=[received])
    _answer_from_memory(case, events)
    return case


def _answer_from_memory(case: Case, events: list[CaseEvent]) -> None:
    """Fill the new case's timeline, photos and visits as a prefetch would, and give its
    times as the database gives them back (UTC), so the answer to an intake is the
    case in hand rather than a re-read of what was just written."""
    for f in case._meta.concrete_fields:
        value = getattr(case, f.attname)
        if isinstance(value, dt.datetime):
            setattr(case, f.attname, value.astimezone(dt.UTC))
    cache: dict[str, Any] = {}
    for name, rows in (("events", [e for e in events if e.case_id == case.pk]), ("photos", []),
                       ("visits", [])):  # fmt: skip
        qs = getattr(case, name).all()
        qs._result_cache = rows
        qs._prefetch_done = True
        cache[name] = qs
    case._prefetched_objects_cache = cache  # type: ignore[attr-defined]


# --- transitions -----------------------------------------------------------------------
WORLD = actions.LiveWorld()
#: The ``apply`` function of each action (the registry of :mod:`jiayuan.cases.actions`).
_HANDLERS = actions.APPLY


def perform(
    case_id: int, action: str, *, actor: Any, expected_version: int | None = None, **params: Any
) -> Case:
    """Take ``action`` on a case as ``actor`` (None for the system).

    The case row is locked for the whole transaction, so two handlers accepting at the
    same moment are serialised: the second finds it accepted and gets a 409. What the
    action changes comes from :func:`actions.apply`: the status and step from the
    transition table, the rest from the action's ``apply`` function.
    """
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise ValidationFailed(f"未知操作 {action}", f"unknown action {action}", field="action")
    with transaction.atomic():
        base = Case.objects.select_for_update()
        case = (base.visible_to(actor) if actor is not None else base).filter(pk=case_id).first()
        if case is None and actor is not None:
            # A handler may act on a case assigned to them even outside their area.
            case = base.filter(pk=case_id, handler_user=actor).first()
        if case is None:
            raise NotFound("诉求不存在", "case not found")
        if expected_version is not None and case.version != expected_version:
            raise Conflict("诉求已被他人更新，请刷新后重试", "the case changed meanwhile; reload")
        # Through the tracking link the reporter acts as the reporter alone, never with
        # the system's rights that actor=None otherwise carries.
        rel = {"reporter"} if params.pop("_as_reporter", False) else relations(actor, case)
        if not transition.who & rel:
            raise PermissionDenied(
                f"您不能对该诉求执行「{transition.label}」",
                f"you may not {action} this case",
            )
        if case.status not in transition.sources:
            raise TransitionRefused(
                f"当前状态「{case.get_status_display()}」不能执行「{transition.label}」",
                f"'{action}' is not allowed while the case is {case.status}",
            )
        reason = (params.get("reason") or "").strip()
        if transition.needs_reason and not reason:
            raise ValidationFailed("请填写原因", "a reason is required", field="reason")
        before = audit.snapshot(case)
        now = params.pop("now", None) or timezone.now()
        ctx = actions.Context(actor=actor, now=now, world=WORLD, clock=WorkClock())
        effects = actions.apply(case, action, ctx, **params)
        case.version += 1
        case.save()
        _persist(case, effects)
        audit.record(
            AuditEntry.Action.UPDATE,
            case,
            actor,
            audit.diff(before, audit.snapshot(case)),
            f"{action}: {reason}"[:200],
        )
    return case


def visit_by_token(token: str, satisfaction: str, comment: str = "") -> Case:
    """The resident's own verdict through the tracking link (no login)."""
    case = Case.objects.filter(tracking_token=token).first()
    if case is None:
        raise NotFound("诉求不存在", "case not found")
    return perform(
        case.pk,
        "visit",
        actor=None,
        _as_reporter=True,
        satisfaction=satisfaction,
        comment=comment,
        by=ReturnVisit.By.RESIDENT,
    )
