"""Writing the demo's year of cases: handler accounts where the demo has none, then the
replayed cases, one audit entry each, their timelines, return visits and the open
cases' inbox notices, written by the shared bulk path (:mod:`jiayuan.core.bulk`)."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model

from jiayuan.core import actions, audit, bulk
from jiayuan.core.models import Notification
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area, Membership

from .. import routing
from ..choices import Status
from ..models import Case, CaseEvent, CaseSequence, ReturnVisit
from ..notify import case_link
from .plans import Staff
from .replay import EVENT_FIELDS, Replay

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
    visits and the open cases' inbox messages, all through the shared bulk path
    (:mod:`jiayuan.core.bulk`): a case merged into another of the year gets its target's
    id there, the return visits their case's."""
    cases = replay.cases
    for case in cases:
        case.area_path = case.derive_area_path()
    bulk.insert(Case, cases)
    audit.record_snapshots(cases, None, NOTE)
    events = bulk.insert_tuples(
        CaseEvent,
        ["case", *EVENT_FIELDS],
        (
            (case.pk, *row)
            for case, timeline in zip(cases, replay.events, strict=True)
            for row in timeline
        ),
    )
    bulk.insert(ReturnVisit, replay.visits)
    # notices.notify stamps "now"; the seeded inbox keeps each stage's start time
    inbox = bulk.insert(Notification, list(_inbox(cases, staff)))
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
