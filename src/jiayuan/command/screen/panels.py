"""The numbers of the one screen's panels (一屏管理) for one area and one user.

Every figure starts from ``visible_to(user)`` (the user's scope) and is narrowed to the
area's subtree by its materialised path, so a street leader's county-wide question
still only counts their street. Each panel is one or two grouped queries whose number
does not grow with the rows: at county scale (~300,000 residents, 10,000 devices, a year
of cases) the whole screen is a fixed two dozen queries. What other apps already define
is called, not copied: the overview counts (:mod:`jiayuan.people.overview`), the open
case statuses, the overdue test and the traffic light (:mod:`jiayuan.cases.queries`,
:mod:`jiayuan.cases.sla`), the open alarm statuses, the open match statuses and the
community dashboard's month starts and fulfilled wish statuses.

Cases are placed by where they happen (their grid's path, as the case lists' area
filter does), and counted only where the user's scope holds them.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any, cast

from django.db.models import Case as CaseWhen
from django.db.models import Count, IntegerField, Q, Value, When
from django.utils import timezone

from jiayuan.cases.choices import OPEN_STATUSES as OPEN_CASE_STATUSES
from jiayuan.cases.choices import STAGE_OF_STATUS, Light
from jiayuan.cases.choices import Status as CaseStatus
from jiayuan.cases.choices import Step as CaseStep
from jiayuan.cases.escalation import STEP_OF_STAGE
from jiayuan.cases.models import Case
from jiayuan.cases.queries import overdue_q
from jiayuan.cases.sla import light_for
from jiayuan.community.choices import ActivityStatus, BookingStatus
from jiayuan.community.dashboard import FULFILLED, month_starts
from jiayuan.community.models import Activity, Booking, Wish
from jiayuan.core.calendar import WorkClock
from jiayuan.core.errors import MAX_ROW_ID, NotFound
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import ALL, scope_paths
from jiayuan.core.validity import valid_on
from jiayuan.iot.choices import OPEN_ALARM_STATUSES, AlarmStatus, Severity
from jiayuan.iot.models import Alarm
from jiayuan.org.choices import AreaKind, PartyOrgKind
from jiayuan.org.models import Area, PartyOrganization
from jiayuan.org.paths import KIND_DEPTH
from jiayuan.people import overview
from jiayuan.people.choices import ForceKind, TagScope
from jiayuan.people.models import (
    CentralHousehold,
    Force,
    HouseholdTag,
    Person,
    PersonTag,
    Tag,
)
from jiayuan.policies.choices import MatchStatus
from jiayuan.policies.indicators import TASK_OPEN
from jiayuan.policies.models import Match

from ..models import DutyShift

#: The kinds of area that have a screen, and the kinds of their children on the switcher.
SCREEN_KINDS = (AreaKind.COUNTY, AreaKind.STREET, AreaKind.COMMUNITY)
CHILD_KIND = {AreaKind.COUNTY: AreaKind.STREET, AreaKind.STREET: AreaKind.COMMUNITY}
#: Tag categories shown as special groups: persons (特殊人群) and households (社会救助).
SPECIAL_CATEGORIES = ("特殊人群", "社会救助")
#: The overview counts shown on the population panel, in this order.
POPULATION_KEYS = ("residents", "households", "dwellings", "party_members", "forces", "grids")
#: The steps an open case can wait in (问 and 转 are moments, not waits), in their order.
OPEN_STEPS = [
    step for step in CaseStep if step in {STEP_OF_STAGE[s] for s in STAGE_OF_STATUS.values()}
]
TREND_LABELS = {
    "cases_received": "受理诉求",
    "cases_closed": "办结诉求",
    "alarms_raised": "触发告警",
}


def step_of(status: str) -> str:
    """The step an open case in ``status`` waits in (派, 办, 审 or 回)."""
    return str(STEP_OF_STAGE[STAGE_OF_STATUS[CaseStatus(status)]])


def _under(qs: Any, path: str, field: str = "area_path") -> Any:
    return qs.filter(**{f"{field}__startswith": path})


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


# --- population and special groups ------------------------------------------------------
def population(user: Any, path: str, today: dt.date) -> dict[str, Any]:
    """The overview counts (people's and the apps' registered ones) and the number of
    persons and households holding each special-group tag today."""
    counts = overview.counts(user, path)
    labels = overview.all_labels()
    tags = {
        t.pk: t
        for t in Tag.objects.filter(category__in=SPECIAL_CATEGORIES).order_by("category", "pk")
    }
    held: dict[int, int] = {}
    person_rows = (
        _under(PersonTag.objects.visible_to(user), path)
        .filter(
            valid_on(today),
            tag_id__in=[k for k, t in tags.items() if t.scope != TagScope.HOUSEHOLD],
        )
        # the deceased are few and indexed: a small list, not a join per tag
        .exclude(person_id__in=Person.objects.filter(death_date__isnull=False).values("pk"))
        .order_by()
        .values("tag_id")
        .annotate(n=Count("pk"))
    )
    household_rows = (
        _under(HouseholdTag.objects.visible_to(user), path)
        .filter(
            valid_on(today),
            tag_id__in=[k for k, t in tags.items() if t.scope == TagScope.HOUSEHOLD],
        )
        .order_by()
        .values("tag_id")
        .annotate(n=Count("pk"))
    )
    for row in [*person_rows, *household_rows]:
        held[row["tag_id"]] = row["n"]
    return {
        "counts": [
            {"key": key, "label": labels[key], "value": counts.get(key, 0)}
            for key in POPULATION_KEYS
        ],
        "groups": [
            {
                "key": t.code,
                "label": t.name,
                "unit": "户" if t.scope == TagScope.HOUSEHOLD else "人",
                "value": held.get(pk, 0),
            }
            for pk, t in tags.items()
        ],
        "overview": counts,
    }


# --- party organisation coverage ---------------------------------------------------------
def party(user: Any, path: str, children: list[Area]) -> dict[str, Any]:
    """Zones with a 小区党支部 and grids with a 网格党小组 (in all, and per child area of
    the switcher), and the 党员中心户: three queries."""
    areas = list(
        _under(Area.objects.visible_to(user), path)
        .filter(kind__in=(AreaKind.ZONE, AreaKind.GRID))
        .values_list("kind", "path")
    )
    orgs = set(
        _under(PartyOrganization.objects.visible_to(user), path)
        .filter(kind__in=(PartyOrgKind.BRANCH, PartyOrgKind.GROUP))
        .values_list("kind", "area_path")
    )
    wanted = {AreaKind.ZONE: PartyOrgKind.BRANCH, AreaKind.GRID: PartyOrgKind.GROUP}

    def tally(prefix: str) -> dict[str, int]:
        out = {"zones": 0, "branches": 0, "grids": 0, "groups": 0}
        for kind, p in areas:
            if not p.startswith(prefix):
                continue
            covered = (wanted[AreaKind(kind)], p) in orgs
            if kind == AreaKind.ZONE:
                out["zones"] += 1
                out["branches"] += covered
            else:
                out["grids"] += 1
                out["groups"] += covered
        return out

    total = tally(path)
    central = _under(CentralHousehold.objects.visible_to(user), path).count()
    return {
        **total,
        "zone_coverage": _share(total["branches"], total["zones"]),
        "grid_coverage": _share(total["groups"], total["grids"]),
        "central_households": central,
        "by_child": [{"id": c.pk, "name": c.name, **tally(c.path)} for c in children],
    }


# --- forces on duty ----------------------------------------------------------------------
def forces(user: Any, path: str) -> dict[str, Any]:
    """Forces on duty now (an open 上岗 shift) beside all forces, per kind; how many of
    those on duty reported a position (a count only: positions are personal data)."""
    on_duty = {
        r["force__kind"]: r
        for r in _under(DutyShift.objects.visible_to(user), path)
        .filter(ended_at__isnull=True)
        .order_by()
        .values("force__kind")
        .annotate(n=Count("pk"), located=Count("pk", filter=Q(lat__isnull=False)))
    }
    total = dict(
        _under(Force.objects.visible_to(user), path)
        .order_by()
        .values("kind")
        .annotate(n=Count("pk"))
        .values_list("kind", "n")
    )
    by_kind = [
        {
            "key": str(kind),
            "label": str(kind.label),
            "on_duty": on_duty.get(kind, {}).get("n", 0),
            "total": total.get(kind, 0),
        }
        for kind in ForceKind
    ]
    return {
        "on_duty": sum(r["on_duty"] for r in by_kind),
        "located": sum(r.get("located", 0) for r in on_duty.values()),
        "total": sum(total.values()),
        "by_kind": by_kind,
    }


# --- cases -------------------------------------------------------------------------------
def cases_in(user: Any, path: str) -> Any:
    """The cases the user's scope holds that happen in the area (their grid under it)."""
    return _under(Case.objects.visible_to(user), path, "grid__path")


def cases(user: Any, path: str, now: dt.datetime) -> dict[str, Any]:
    """Open cases per status and step, and per traffic light: red is the overdue test in
    SQL; yellow needs the working-time clock, run on the open cases not yet red only."""
    scoped = cases_in(user, path).filter(status__in=OPEN_CASE_STATUSES)
    rows = list(
        scoped.order_by()
        .values("status")
        .annotate(n=Count("pk"), red=Count("pk", filter=overdue_q(now)))
    )
    by_status = {r["status"]: r["n"] for r in rows}
    red = sum(r["red"] for r in rows)
    clock = WorkClock()
    yellow = 0
    running = scoped.exclude(overdue_q(now)).filter(stage_due_at__isnull=False)
    for status, started, due, suspended in running.values_list(
        "status", "stage_started_at", "stage_due_at", "suspended_at"
    ).iterator(chunk_size=2000):
        # the four fields the light reads, not a whole model instance per open case
        case = SimpleNamespace(
            is_open=True,
            status=status,
            stage_started_at=started,
            stage_due_at=due,
            suspended_at=suspended,
        )
        if light_for(cast(Case, case), now, clock) == Light.YELLOW:
            yellow += 1
    total = sum(by_status.values())
    green = total - red - yellow
    steps = dict.fromkeys(OPEN_STEPS, 0)
    for status, n in by_status.items():
        steps[CaseStep(step_of(status))] += n
    return {
        "open": total,
        "by_status": [
            {"key": str(s), "label": str(s.label), "value": by_status.get(s, 0)}
            for s in OPEN_CASE_STATUSES
        ],
        "by_step": [{"key": str(s), "label": str(s.label), "value": n} for s, n in steps.items()],
        "by_light": [
            {"key": str(light), "label": str(light.label), "value": n}
            for light, n in ((Light.GREEN, green), (Light.YELLOW, yellow), (Light.RED, red))
        ],
    }


# --- alarms, policy matches, services ----------------------------------------------------
def alarms(user: Any, path: str) -> dict[str, Any]:
    """Open alarms (未确认 and 已确认) per severity: one query."""
    found: dict[tuple[str, str], int] = {
        (r["severity"], r["status"]): r["n"]
        for r in _under(Alarm.objects.visible_to(user), path)
        .filter(status__in=OPEN_ALARM_STATUSES)
        .order_by()
        .values("severity", "status")
        .annotate(n=Count("pk"))
    }
    levels = [
        {
            "key": str(s),
            "label": str(s.label),
            "active": found.get((s, AlarmStatus.ACTIVE), 0),
            "acknowledged": found.get((s, AlarmStatus.ACKNOWLEDGED), 0),
        }
        for s in Severity
    ]
    return {
        "open": sum(found.values()),
        "active": sum(r["active"] for r in levels),
        "by_level": levels,
    }


def policies(user: Any, path: str) -> dict[str, Any]:
    """Policy matches: door tasks pending (待上门/已上门/已受理), delivered (已办结) and
    upcoming (即将符合), with every status: one query."""
    found = dict(
        _under(Match.objects.visible_to(user), path)
        .order_by()
        .values("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    return {
        "pending": sum(found.get(s, 0) for s in TASK_OPEN),
        "delivered": found.get(MatchStatus.GRANTED, 0),
        "upcoming": found.get(MatchStatus.UPCOMING, 0),
        "by_status": [
            {"key": str(s), "label": str(s.label), "value": found.get(s, 0)} for s in MatchStatus
        ],
    }


WEEK = dt.timedelta(days=7)
SERVICE_LABELS = {
    "wishes_collected": "收集心愿",
    "wishes_fulfilled": "实现心愿",
    "activities_held": "开展活动",
    "rooms_booked": "活动室预约",
}


def services(user: Any, path: str, now: dt.datetime) -> dict[str, Any]:
    """The community services of the last seven days (a rolling week, so a Monday
    morning's wall screen is not empty): wishes collected and fulfilled, activities
    held, room bookings used — one ``UNION ALL`` query, as the community dashboard's
    overview counts."""
    start = now - WEEK

    def part(qs: Any, key: str) -> Any:
        return _under(qs, path).order_by().values(key=Value(key)).annotate(n=Count("pk"))

    parts = [
        part(Wish.objects.visible_to(user).filter(created_at__gte=start), "wishes_collected"),
        part(
            Wish.objects.visible_to(user).filter(status__in=FULFILLED, fulfilled_at__gte=start),
            "wishes_fulfilled",
        ),
        part(
            Activity.objects.visible_to(user).filter(
                status=ActivityStatus.DONE, starts_at__gte=start, starts_at__lte=now
            ),
            "activities_held",
        ),
        part(
            Booking.objects.visible_to(user).filter(
                status=BookingStatus.CONFIRMED, starts_at__gte=start, starts_at__lte=now
            ),
            "rooms_booked",
        ),
    ]
    found = dict(parts[0].union(*parts[1:], all=True).values_list("key", "n"))
    return {
        "since": start.isoformat(),
        "items": [
            {"key": key, "label": label, "value": int(found.get(key, 0))}
            for key, label in SERVICE_LABELS.items()
        ],
    }


# --- trends ------------------------------------------------------------------------------
def month_bounds(now: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """The last twelve months (the current one last) as local-time ``[start, end)``."""
    tz = timezone.get_current_timezone()
    starts = [
        dt.datetime.combine(m, dt.time(), tzinfo=tz) for m in month_starts(timezone.localdate(now))
    ]
    ends = [*starts[1:], now + dt.timedelta(microseconds=1)]
    return list(zip(starts, ends, strict=True))


def month_of(field: str, bounds: list[tuple[dt.datetime, dt.datetime]], cond: Q) -> CaseWhen:
    """The index of the month a row's ``field`` falls in (-1 outside, or when ``cond``
    does not hold): a searched CASE of plain comparisons with the months' local-time
    bounds, cheaper per row than SQLite's month truncation (a Python function) or one
    filtered count per month."""
    since = bounds[0][0]
    outside = ~cond | Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": since})
    return CaseWhen(
        When(outside, then=Value(-1)),
        *(When(Q(**{f"{field}__lt": end}), then=Value(i)) for i, (_s, end) in enumerate(bounds)),
        default=Value(-1),
        output_field=IntegerField(),
    )


def monthly_counts(
    qs: Any, stamps: dict[str, tuple[str, Q]], now: dt.datetime
) -> dict[str, list[int]]:
    """For each ``key: (timestamp field, condition)``, the rows per month over the last
    twelve months, in one grouped query (one group per combination of months)."""
    bounds = month_bounds(now)
    out = {key: [0] * len(bounds) for key in stamps}
    rows = (
        qs.order_by()
        .values(**{key: month_of(field, bounds, cond) for key, (field, cond) in stamps.items()})
        .annotate(n=Count("pk"))
    )
    for row in rows:
        for key in stamps:
            if row[key] >= 0:
                out[key][row[key]] += row["n"]
    return out


def trends(user: Any, path: str, now: dt.datetime) -> dict[str, Any]:
    """Cases received and closed, alarms raised, per month over the last twelve months
    (the current one last): two grouped queries."""
    bounds = month_bounds(now)
    since = bounds[0][0]
    scoped_cases = cases_in(user, path).filter(
        Q(received_at__gte=since) | Q(status=CaseStatus.CLOSED, closed_at__gte=since)
    )
    series = monthly_counts(
        scoped_cases,
        {
            "cases_received": ("received_at", Q()),
            "cases_closed": ("closed_at", Q(status=CaseStatus.CLOSED)),
        },
        now,
    )
    alarms_qs = _under(Alarm.objects.visible_to(user), path).filter(first_at__gte=since)
    series.update(monthly_counts(alarms_qs, {"alarms_raised": ("first_at", Q())}, now))
    return {
        "months": [start.strftime("%Y-%m") for start, _end in bounds],
        "series": [
            {"key": key, "label": label, "data": series[key]} for key, label in TREND_LABELS.items()
        ],
    }


# --- which screens a user may open -------------------------------------------------------
def screen_area(user: Any, area_id: int) -> Area:
    """The county, street or community ``area_id`` if the user's scope holds it, else
    :class:`NotFound` (other kinds, out of scope and ids beyond 64 bits alike)."""
    if not 1 <= area_id <= MAX_ROW_ID:
        raise NotFound("区域不存在", "area not found")
    area = (
        Area.objects.visible_to(user)
        .filter(pk=area_id, kind__in=SCREEN_KINDS)
        .only("pk", "name", "kind", "path", "parent_id")
        .first()
    )
    if area is None:
        raise NotFound("区域不存在", "area not found")
    return area


def root_paths(user: Any) -> list[str]:
    """The user's scope roots that have a screen (a county, street or community), from
    the scope paths already read for the user (no query of its own once they are)."""
    return [
        p
        for p in scope_paths(user, Perm.VIEW)
        if p == ALL or p.count("/") <= KIND_DEPTH[AreaKind.COMMUNITY]
    ]


def may_open_screen(user: Any) -> bool:
    """Whether the user has a screen at all (the navigation's 一屏 entry)."""
    return bool(root_paths(user))


def root_area(user: Any) -> Area | None:
    """The screen ``/command/screen/`` opens: the user's top scope root (the county for
    whoever sees everything); ``None`` for a grid worker, a branch secretary, a 三长 or
    a resident, whose scope lies below any screen."""
    paths = root_paths(user)
    if not paths:
        return None
    qs = Area.objects.filter(kind__in=SCREEN_KINDS).only("pk", "name", "kind", "path")
    if ALL in paths:
        return qs.filter(kind=AreaKind.COUNTY).order_by("path").first()
    return qs.filter(path__in=paths).order_by("depth", "path").first()


# --- the whole screen --------------------------------------------------------------------
def children_of(user: Any, area: Area) -> list[Area]:
    """The streets of a county, the communities of a street (none below a community), in
    the user's scope: the screen's switcher."""
    kind = CHILD_KIND.get(AreaKind(area.kind))
    if kind is None:
        return []
    return list(
        Area.objects.visible_to(user)
        .filter(parent_id=area.pk, kind=kind)
        .only("pk", "name", "kind", "path")
        .order_by("path")
    )


#: The panels the live stream's events change (a case, an alarm, a duty shift, a match):
#: what the page re-reads on an event, without the slower counts of the population,
#: the party coverage, the week's services and the twelve months of trends.
LIVE_PANELS = ("forces", "cases", "alarms", "policies")


def panels(
    user: Any, area: Area, now: dt.datetime | None = None, *, live_only: bool = False
) -> dict[str, Any]:
    """Every panel of the screen of ``area`` as ``user`` sees it (the page's first paint
    and ``GET /api/v1/screen`` alike); ``live_only``: only :data:`LIVE_PANELS` (the
    others ``None``) and their big numbers."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    path = area.path
    children = children_of(user, area)
    forces_panel = forces(user, path)
    cases_panel = cases(user, path, now)
    alarms_panel = alarms(user, path)
    policies_panel = policies(user, path)
    kpis = [
        {"key": "forces_on_duty", "label": "在岗力量", "value": forces_panel["on_duty"]},
        {"key": "cases_open", "label": "在办诉求", "value": cases_panel["open"]},
        {"key": "cases_red", "label": "超时诉求", "value": cases_panel["by_light"][2]["value"]},
        {"key": "alarms_active", "label": "未确认告警", "value": alarms_panel["active"]},
        {"key": "matches_pending", "label": "待上门政策", "value": policies_panel["pending"]},
    ]
    slow: dict[str, Any] = dict.fromkeys(("population", "party", "services", "trends"))
    if not live_only:
        people = population(user, path, today)
        counts = people.pop("overview")
        party_panel = party(user, path, children)
        party_panel["party_members"] = counts.get("party_members", 0)
        kpis.insert(0, {"key": "residents", "label": "居民", "value": counts.get("residents", 0)})
        slow = {
            "population": people,
            "party": party_panel,
            "services": services(user, path, now),
            "trends": trends(user, path, now),
        }
    return {
        "area": {
            "id": area.pk,
            "name": area.name,
            "kind": area.kind,
            "kind_label": str(AreaKind(area.kind).label),
        },
        "children": [{"id": c.pk, "name": c.name, "kind": c.kind} for c in children],
        "generated_at": now.isoformat(),
        "kpis": kpis,
        "population": slow["population"],
        "party": slow["party"],
        "forces": forces_panel,
        "cases": cases_panel,
        "alarms": alarms_panel,
        "policies": policies_panel,
        "services": slow["services"],
        "trends": slow["trends"],
    }
