"""政策找人 on the desk: the door visits a grid worker owes (eligible matches waiting for
the visit, by the day it is due), the candidates waiting for their verification
(待核实), the open tasks of a community and their totals per community for the street
and the county; and a resident's own benefits."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Q
from django.db.models.functions import Substr
from django.urls import reverse

from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area
from jiayuan.policies.choices import MatchKind, MatchStatus
from jiayuan.policies.indicators import TASK_OPEN
from jiayuan.policies.models import Match, ReceivedBenefit
from jiayuan.policies.queries import matches_for

from .base import GREEN, GREY, LIMIT, Item, Section, date_light, listed, section

VISITS = "/policies/visits/"


def _match_item(today: dt.date) -> Any:
    def item(match: Match) -> Item:
        light, word = date_light(match.due_on, today)
        return Item(
            text=f"{match.person.name} · {match.policy.name}",
            url=reverse("policies:match", args=[match.pk]),
            due=match.due_on,
            due_label="应上门",
            light=light,
            word=word,
            meta=" · ".join(x for x in (match.get_status_display(), match.get_kind_display()) if x),
        )

    return item


def _matches(user: Any) -> Any:
    return matches_for(user).select_related(None).select_related("policy", "person")


def door_visits(user: Any, today: dt.date) -> Section:
    """Eligible matches waiting for the door visit (待上门), the earliest due first."""
    qs = _matches(user).filter(kind=MatchKind.ELIGIBLE, status=MatchStatus.PENDING)
    return section(
        "door_visits",
        "待上门走访",
        qs.order_by("due_on", "pk"),
        _match_item(today),
        empty="今日没有待上门的走访任务",
        more_url=f"{VISITS}?status=pending",
    )


def to_verify(user: Any, today: dt.date) -> Section:
    """Candidates the data cannot decide: the grid worker verifies them at the door."""
    qs = _matches(user).filter(kind=MatchKind.CANDIDATE, status=MatchStatus.PENDING)
    return section(
        "to_verify",
        "待核实居民",
        qs.order_by("due_on", "pk"),
        _match_item(today),
        empty="没有待核实的居民",
        more_url=f"{VISITS}?status=pending",
    )


def open_tasks(user: Any, today: dt.date) -> Section:
    """Every open door task of the scope (待上门, 已上门, 已受理), overdue first."""
    qs = _matches(user).filter(status__in=TASK_OPEN)
    return section(
        "matches",
        "政策找人待办",
        qs.order_by("due_on", "pk"),
        _match_item(today),
        empty="没有待办的政策匹配",
        more_url=f"{VISITS}?status=open",
    )


def per_community(user: Any, today: dt.date) -> Section:
    """Open door tasks and overdue ones per community of the scope: one query for the
    communities, one grouped count (by the community's path prefix) for the tasks."""
    communities = list(
        Area.objects.visible_to(user).filter(kind=AreaKind.COMMUNITY).order_by("path")[:40]
    )
    by_path = {a.path: a for a in communities}
    totals: dict[str, tuple[int, int]] = {}
    for length in sorted({len(p) for p in by_path}):
        rows = (
            Match.objects.visible_to(user)
            .filter(status__in=TASK_OPEN)
            .annotate(prefix=Substr("area_path", 1, length))
            .order_by()
            .values("prefix")
            .annotate(n=Count("pk"), late=Count("pk", filter=Q(due_on__lt=today)))
            .values_list("prefix", "n", "late")
        )
        for prefix, n, late in rows:
            if prefix in by_path:
                totals[prefix] = (n, late)
    ranked = sorted(
        ((a, *totals.get(a.path, (0, 0))) for a in communities), key=lambda r: (-r[2], -r[1])
    )
    items = [
        Item(
            text=f"{area.name}：待办 {n} 项",
            url=f"{VISITS}?status=open",
            light=("red" if late else GREEN) if n else GREY,
            word=f"逾期 {late} 项" if late else ("无逾期" if n else "无待办"),
        )
        for area, n, late in ranked[:LIMIT]
        if n
    ]
    shown = listed(
        "matches_per_community",
        "政策找人待办（按社区）",
        items,
        empty="各社区没有待办的政策匹配",
        more_url="/policies/dashboard/",
    )
    shown.count = sum(n for _a, n, _l in ranked)
    shown.rest = sum(1 for _a, n, _l in ranked if n) - len(items)
    return shown


def my_benefits(person: Any, today: dt.date) -> Section:
    """The benefits a resident receives (享受待遇), the newest first."""
    qs = (
        ReceivedBenefit.objects.none()
        if person is None
        else ReceivedBenefit.objects.filter(person=person).select_related("policy")
    )

    def item(b: ReceivedBenefit) -> Item:
        ended = b.until is not None and b.until < today
        amount = f"每月 {b.monthly_amount} 元" if b.monthly_amount is not None else ""
        since = f"自 {b.since:%Y-%m-%d}" if b.since else ""
        return Item(
            text=b.policy.name,
            light=GREY if ended else GREEN,
            word="已终止" if ended else "享受中",
            meta=" · ".join(x for x in (amount, since) if x),
        )

    shown = section(
        "my_benefits",
        "我的待遇",
        qs.order_by("-recorded_at", "-pk"),
        item,
        empty="暂无登记的待遇",
    )
    shown.kind = "status"  # what they receive, not work to do
    return shown
