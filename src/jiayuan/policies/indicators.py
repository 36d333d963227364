"""Indicators of 政策找人: how many people each policy found, how many were visited and
how many now receive the benefit, how long that took, per policy and per area.

Everything starts from ``Match.objects.visible_to(user)``: a street leader's dashboard
counts their street, a grid worker's their grid. Counts are one grouped aggregate
query each; the median (not the mean: a few matches left open for a year would drag a
mean far from the typical case) is computed in Python from one query returning two
dates per granted match, because SQLite has no ``percentile_cont``.

Definitions (the dashboard's legend says the same):

* **matched** (匹配) — matches that became door-to-door tasks: every status but
  ``upcoming`` (即将符合 is a heads-up, not yet a task);
* **visited** (已上门) — someone went to the door: a visit was recorded, or the match
  reached a status only a visit sets (已上门, 已受理, 已办结, 不符合, 本人放弃);
* **granted** (已办结) — the benefit was recorded;
* **days to benefit** — from ``eligible_on`` to the benefit's start (``since`` of the
  benefit the visit recorded; the day the match closed when the benefit names none).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Substr
from django.utils import timezone

from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area

from .choices import OPEN_STATUSES, MatchStatus
from .models import Match, Policy, ReceivedBenefit

VISITED_STATUSES = (
    MatchStatus.VISITED,
    MatchStatus.ACCEPTED,
    MatchStatus.GRANTED,
    MatchStatus.REJECTED,
    MatchStatus.DECLINED,
)
TASK_OPEN = tuple(s for s in OPEN_STATUSES if s != MatchStatus.UPCOMING)


@dataclass
class Row:
    """The indicators of one group of matches (a policy, an area, or all)."""

    key: str
    label: str
    matched: int = 0
    upcoming: int = 0
    open: int = 0
    overdue: int = 0
    visited: int = 0
    granted: int = 0
    rejected: int = 0
    declined: int = 0
    days: list[int] = field(default_factory=list, repr=False)

    @property
    def visit_rate(self) -> float | None:
        return self.visited / self.matched if self.matched else None

    @property
    def grant_rate(self) -> float | None:
        return self.granted / self.matched if self.matched else None

    @property
    def median_days(self) -> float | None:
        return float(statistics.median(self.days)) if self.days else None

    def add(self, counts: dict[str, Any]) -> None:
        for name in COUNT_NAMES:
            setattr(self, name, getattr(self, name) + (counts.get(name) or 0))

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            **{name: getattr(self, name) for name in COUNT_NAMES},
            "visit_rate": self.visit_rate,
            "grant_rate": self.grant_rate,
            "median_days": self.median_days,
        }


COUNT_NAMES = ("matched", "upcoming", "open", "overdue", "visited", "granted", "rejected",
               "declined")  # fmt: skip


def _counts(today: dt.date) -> dict[str, Count]:
    visited = Q(visited_at__isnull=False) | Q(status__in=VISITED_STATUSES)
    return {
        "matched": Count("pk", filter=~Q(status=MatchStatus.UPCOMING)),
        "upcoming": Count("pk", filter=Q(status=MatchStatus.UPCOMING)),
        "open": Count("pk", filter=Q(status__in=TASK_OPEN)),
        "overdue": Count("pk", filter=Q(status__in=TASK_OPEN, due_on__lt=today)),
        "visited": Count("pk", filter=visited & ~Q(status=MatchStatus.UPCOMING)),
        "granted": Count("pk", filter=Q(status=MatchStatus.GRANTED)),
        "rejected": Count("pk", filter=Q(status=MatchStatus.REJECTED)),
        "declined": Count("pk", filter=Q(status=MatchStatus.DECLINED)),
    }


def matches_for(user: Any, policy: Policy | None = None) -> QuerySet[Match]:
    """The matches ``user`` may see, of one policy or all."""
    queryset = Match.objects.visible_to(user)
    if policy is not None:
        queryset = queryset.filter(policy=policy)
    return queryset


def days_to_benefit(queryset: QuerySet[Match]) -> Iterable[tuple[int, str, int]]:
    """``(policy_id, area_path, days)`` of every granted match of ``queryset``."""
    # the day the first benefit of the match began, read through the benefits' match index
    since = (
        ReceivedBenefit.objects.filter(match=OuterRef("pk"))
        .order_by()
        .values("match")
        .annotate(first=Min("since"))
        .values("first")
    )
    rows = (
        queryset.filter(status=MatchStatus.GRANTED)
        .annotate(benefit_since=Subquery(since))
        .values_list("policy_id", "area_path", "eligible_on", "benefit_since", "closed_at")
    )
    for policy_id, path, eligible_on, benefit_since, closed_at in rows:
        end = benefit_since or (timezone.localdate(closed_at) if closed_at else None)
        if end is None or eligible_on is None:
            continue
        yield policy_id, path, max(0, (end - eligible_on).days)


def summary(user: Any, policy: Policy | None = None, today: dt.date | None = None) -> Row:
    """All visible matches (of ``policy``) as one row."""
    today = today or timezone.localdate()
    queryset = matches_for(user, policy)
    row = Row("all", "合计")
    row.add(queryset.aggregate(**_counts(today)))
    row.days = [days for _, _, days in days_to_benefit(queryset)]
    return row


def by_policy(user: Any, today: dt.date | None = None, *, all_policies: bool = True) -> list[Row]:
    """One row per policy (catalogue order), including policies that found no one in
    the scope when ``all_policies``."""
    today = today or timezone.localdate()
    queryset = matches_for(user)
    policies = Policy.objects.order_by("code").values_list("pk", "code", "name")
    rows = {pk: Row(code, name) for pk, code, name in policies}
    for group in queryset.values("policy_id").annotate(**_counts(today)).order_by():
        row = rows.get(group["policy_id"])
        if row is not None:
            row.add(group)
    for policy_id, _path, days in days_to_benefit(queryset):
        if policy_id in rows:
            rows[policy_id].days.append(days)
    out = list(rows.values())
    if not all_policies:
        out = [r for r in out if r.matched or r.upcoming]
    return out


def top_area(user: Any) -> Area | None:
    """The highest area ``user`` sees (the county for county staff, their grid for a
    grid worker); None when they see none or several unrelated ones."""
    roots = Area.objects.visible_to(user).order_by("depth", "path")
    first = roots.first()
    if first is None or roots.exclude(path__startswith=first.path).exists():
        return None
    return first


def breakdown_areas(user: Any) -> list[Area]:
    """The areas the per-area table splits the scope into: the children of the user's
    top area down to grids (a grid worker gets their grid as one row)."""
    top = top_area(user)
    if top is None:
        # several unrelated areas (a worker of two grids): each is a row
        roots = list(Area.objects.visible_to(user).order_by("depth", "path"))
        return [a for a in roots if not any(a.path.startswith(r.path) and a != r for r in roots)]
    if top.kind in (AreaKind.GRID, AreaKind.BUILDING, AreaKind.UNIT):
        return [top]
    return list(Area.objects.filter(parent=top).order_by("path"))


def by_area(user: Any, policy: Policy | None = None, today: dt.date | None = None) -> list[Row]:
    """One row per area of :func:`breakdown_areas` (areas without matches included).

    Matches are grouped by the prefix of their ``area_path`` in the database when the
    areas' paths all have the same length (the usual case: sibling codes are fixed
    width), else by full path and assigned to their area here.
    """
    today = today or timezone.localdate()
    areas = breakdown_areas(user)
    if not areas:
        return []
    rows = [Row(a.path, a.name) for a in areas]
    index = {row.key: row for row in rows}
    queryset = matches_for(user, policy)
    width = len(rows[0].key)
    uniform = all(len(row.key) == width for row in rows)
    if uniform:
        groups = (
            queryset.annotate(prefix=Substr("area_path", 1, width))
            .values("prefix")
            .annotate(**_counts(today))
            .order_by()
        )
        for group in groups:
            target = index.get(group["prefix"])
            if target is not None:
                target.add(group)
    else:
        for group in queryset.values("area_path").annotate(**_counts(today)).order_by():
            owner = _owner(rows, group["area_path"])
            if owner is not None:
                owner.add(group)
    for _policy_id, path, days in days_to_benefit(queryset):
        owner = index.get(path[:width]) if uniform else _owner(rows, path)
        if owner is not None:
            owner.days.append(days)
    return rows


def _owner(rows: list[Row], path: str) -> Row | None:
    return next((row for row in rows if path.startswith(row.key)), None)
