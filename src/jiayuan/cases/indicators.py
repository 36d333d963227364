"""Indicators of the request loop (考核指标) per area, handler, category and month.

Every figure starts from ``Case.objects.visible_to(user)``: a grid worker's indicators
cover the cases their grid owns, a street leader's the whole street. The cases counted
are those *received* in the period (a cohort), so a month's figures settle as its cases
are closed.

The counting is done by the database: per table, one ``GROUP BY`` over the cases with
``COUNT(*) FILTER (WHERE …)`` (``Count(filter=Q(...))``, emulated with ``CASE WHEN``
on SQLite) and one over their return visits (for 满意率). Per-area tables aggregate
per located grid and add the grid rows up into their streets, communities or zones;
per-category tables aggregate per category and add sub-categories into their top
category — both in Python over at most a few hundred *group* rows, never over cases.

The average handling time counts working hours (工作时长) from receipt to reply on the
mainland calendar, which SQL cannot do; the working minutes are therefore fixed on the
case when it is replied to (``Case.handling_minutes``, computed by ``WorkClock`` in
``services``), and here they are only summed and counted in SQL.

Definitions (numerator / denominator):

============  =====================================================================
受理数        cases received
按时派遣率    dispatched before the dispatch stage was due / cases dispatched
按期办结率    replied within the total time limit / cases replied or closed
结案率        closed / received
返工率        sent back by the reviewer at least once / cases ever handled (submitted)
满意率        return visits answered 满意 or 基本满意 / return visits (every verdict)
回访率        closed (the visit closes a case) / cases replied or closed
重复诉求率    merged, or flagged with possible duplicates at intake / received
首次办结率    closed with no rework and no reopening / closed
平均办理时长  mean working hours from receipt to reply, over cases replied to
不出格率      closed at grid level / closed
不出网率      closed at grid, zone or community level / closed
较基期        requests per month of a top category in the last full months / per month
              in the baseline (the programme's first full months, or
              ``JIAYUAN_CASES_BASELINE``), minus one: the seed's "物业类诉求下降21%"
============  =====================================================================
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from jiayuan.core.context import current
from jiayuan.core.errors import ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import scope_q
from jiayuan.org.choices import AreaKind, PartyOrgKind
from jiayuan.org.models import Area, PartyOrganization

from .choices import Level, Satisfaction, Status
from .models import Case, Category, ReturnVisit

ANSWERED = (Status.REPLIED, Status.CLOSED)
IN_NETWORK = (Level.GRID, Level.ZONE, Level.COMMUNITY)

#: The rates and the average, in display order, with their Chinese names.
RATES: dict[str, str] = {
    "dispatch_on_time_rate": "按时派遣率",
    "close_on_time_rate": "按期办结率",
    "close_rate": "结案率",
    "rework_rate": "返工率",
    "satisfaction_rate": "满意率",
    "visit_rate": "回访率",
    "duplicate_rate": "重复诉求率",
    "first_time_rate": "首次办结率",
    "avg_handling_hours": "平均办理时长(工作小时)",
    "in_grid_rate": "不出格率",
    "in_network_rate": "不出网率",
}
#: Weights of the composite score used to rank grids and communities (sum 1).
SCORE_WEIGHTS: dict[str, float] = {
    "close_on_time_rate": 0.3,
    "satisfaction_rate": 0.3,
    "close_rate": 0.2,
    "first_time_rate": 0.2,
}


def _counts() -> dict[str, Any]:
    """The aggregate expressions behind every indicator: counts and one sum."""
    answered = Q(status__in=ANSWERED)
    closed = Q(status=Status.CLOSED)
    handled = Q(handled_at__isnull=False)
    return {
        "received": Count("pk"),
        "dispatched": Count("pk", filter=Q(dispatched_on_time__isnull=False)),
        "dispatched_on_time": Count("pk", filter=Q(dispatched_on_time=True)),
        "answered": Count("pk", filter=answered),
        "answered_on_time": Count("pk", filter=answered & Q(closed_on_time=True)),
        "closed": Count("pk", filter=closed),
        "handled": Count("pk", filter=handled),
        "reworked": Count("pk", filter=handled & Q(rework_count__gt=0)),
        "duplicates": Count("pk", filter=Q(status=Status.MERGED) | ~Q(duplicate_of_hint=[])),
        "first_time": Count("pk", filter=closed & Q(rework_count=0, reopen_count=0)),
        "timed": Count("handling_minutes"),
        "handling_minutes": Sum("handling_minutes"),
        "closed_in_grid": Count("pk", filter=closed & Q(closed_level=Level.GRID)),
        "closed_in_network": Count("pk", filter=closed & Q(closed_level__in=IN_NETWORK)),
    }


def _visit_counts() -> dict[str, Any]:
    """Counted over return visits (回访记录), not cases: every verdict counts, the 不满意
    that reopened a case too (a case closes only on 满意 or 基本满意)."""
    return {
        "rated": Count("pk"),
        "satisfied": Count(
            "pk", filter=Q(satisfaction__in=[Satisfaction.SATISFIED, Satisfaction.BASIC])
        ),
    }


COUNT_KEYS = (*_counts(), *_visit_counts())


def _grouped(
    user: Any,
    filters: dict[str, Any],
    keys: Sequence[str],
    annotate: Callable[[str], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Case counts grouped by ``keys``, with the return-visit counts of the same cases
    grouped by the same keys merged in: two ``GROUP BY`` queries."""
    extra = annotate("") if annotate else {}
    cases = cases_for(user, **filters).annotate(**extra)
    rows = list(cases.values(*keys).annotate(**_counts()).order_by())
    visits = visits_for(user, **filters)
    if annotate:
        visits = visits.annotate(**annotate("case__"))
    visit_keys = [k if k in extra else f"case__{k}" for k in keys]
    index = {tuple(row[k] for k in keys): row for row in rows}
    for group in visits.values(*visit_keys).annotate(**_visit_counts()).order_by():
        row = index.get(tuple(group[k] for k in visit_keys))
        if row is not None:
            row.update(rated=group["rated"], satisfied=group["satisfied"])
    return rows


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


@dataclass
class Indicators:
    """The counts of one group of cases and the indicators derived from them.

    ``key`` identifies the group (an area path, a user id, a category code, a month);
    ``label`` is what a person reads."""

    key: Any = None
    label: str = ""
    received: int = 0
    dispatched: int = 0
    dispatched_on_time: int = 0
    answered: int = 0
    answered_on_time: int = 0
    closed: int = 0
    handled: int = 0
    reworked: int = 0
    rated: int = 0
    satisfied: int = 0
    duplicates: int = 0
    first_time: int = 0
    timed: int = 0
    handling_minutes: float = 0.0
    closed_in_grid: int = 0
    closed_in_network: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: dict[str, Any], key: Any = None, label: str = "") -> Indicators:
        made = cls(key=key, label=label)
        for name in COUNT_KEYS:
            setattr(made, name, row.get(name) or 0)
        return made

    def add(self, other: Indicators) -> None:
        for name in COUNT_KEYS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    # -- the indicators ----------------------------------------------------------------------
    @property
    def dispatch_on_time_rate(self) -> float | None:
        return _ratio(self.dispatched_on_time, self.dispatched)

    @property
    def close_on_time_rate(self) -> float | None:
        return _ratio(self.answered_on_time, self.answered)

    @property
    def close_rate(self) -> float | None:
        return _ratio(self.closed, self.received)

    @property
    def rework_rate(self) -> float | None:
        return _ratio(self.reworked, self.handled)

    @property
    def satisfaction_rate(self) -> float | None:
        return _ratio(self.satisfied, self.rated)

    @property
    def visit_rate(self) -> float | None:
        return _ratio(self.closed, self.answered)

    @property
    def duplicate_rate(self) -> float | None:
        return _ratio(self.duplicates, self.received)

    @property
    def first_time_rate(self) -> float | None:
        return _ratio(self.first_time, self.closed)

    @property
    def avg_handling_hours(self) -> float | None:
        return _ratio(self.handling_minutes / 60, self.timed)

    @property
    def in_grid_rate(self) -> float | None:
        return _ratio(self.closed_in_grid, self.closed)

    @property
    def in_network_rate(self) -> float | None:
        return _ratio(self.closed_in_network, self.closed)

    @property
    def score(self) -> float:
        """Composite score 0–100 for rankings (missing rates count as 0)."""
        return 100 * sum(w * (getattr(self, k) or 0.0) for k, w in SCORE_WEIGHTS.items())

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update({k: getattr(self, k) for k in RATES})
        data["score"] = self.score
        return data


# --- which cases -----------------------------------------------------------------------------
def local_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=timezone.get_current_timezone())


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def _conditions(
    prefix: str = "",
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    area: Area | None = None,
    category: Category | None = None,
) -> Q:
    """The period, place and category conditions, on a case reached through ``prefix``."""
    q = Q()
    if start is not None:
        q &= Q(**{f"{prefix}received_at__gte": local_start(start)})
    if end is not None:
        q &= Q(**{f"{prefix}received_at__lt": local_start(end)})
    if area is not None:
        # the grids' ids, not a join on their paths: the planner sees a plain IN list
        grids = Area.objects.filter(kind=AreaKind.GRID, path__startswith=area.path)
        q &= Q(**{f"{prefix}grid_id__in": list(grids.values_list("pk", flat=True))})
    if category is not None:
        q &= (
            Q(**{f"{prefix}category": category})
            | Q(**{f"{prefix}category__parent": category})
            | Q(**{f"{prefix}category__parent__parent": category})
        )
    return q


def cases_for(user: Any, **filters: Any) -> QuerySet[Case]:
    """Cases ``user`` may see, received in [start, end) (local days), located under
    ``area`` and in ``category`` or below it."""
    return Case.objects.visible_to(user).filter(_conditions(**filters))


def visits_for(user: Any, **filters: Any) -> QuerySet[ReturnVisit]:
    """The return visits of exactly the cases of :func:`cases_for` (joined, not a
    sub-query, and scoped by the same rule)."""
    return ReturnVisit.objects.filter(
        scope_q(user, Perm.VIEW, field="case__area_path"), _conditions("case__", **filters)
    )


# --- tables ----------------------------------------------------------------------------------
def summary(user: Any, **filters: Any) -> Indicators:
    """All visible cases of the period as one row."""
    row = cases_for(user, **filters).aggregate(**_counts())
    row.update(visits_for(user, **filters).aggregate(**_visit_counts()))
    return Indicators.from_row(row, key="all", label="合计")


def top_area(user: Any) -> Area | None:
    """The highest area ``user`` sees (the county for county staff, their grid for a grid
    worker); None when they see none or several unrelated ones."""
    roots = Area.objects.visible_to(user).order_by("depth", "path")
    first = roots.first()
    if first is None:
        return None
    if roots.exclude(path__startswith=first.path).exists():
        return None
    return first


def by_area(
    user: Any, parent: Area | None = None, kind: str | None = None, **filters: Any
) -> list[Indicators]:
    """One row per area of ``kind`` under ``parent`` (default: the children of
    ``parent``; ``parent`` defaults to the highest area the user sees), including areas
    without cases. Cases count where they are located (their grid)."""
    top = top_area(user)
    parent = parent or top
    if parent is None:
        return []
    if kind is None and parent.kind == AreaKind.GRID:
        kind = AreaKind.GRID  # a grid's own row, not its buildings
    areas = Area.objects.visible_to(user).filter(path__startswith=parent.path)
    areas = areas.filter(kind=kind) if kind else areas.filter(parent=parent)
    rows = [Indicators(key=a.path, label=a.name) for a in areas.order_by("path")]
    if not rows:
        return []
    grid_paths = dict(
        Area.objects.filter(kind=AreaKind.GRID, path__startswith=parent.path).values_list(
            "pk", "path"
        )
    )
    # under the user's top area every visible case is located: no place filter needed
    scope = {} if top is not None and top.pk == parent.pk else {"area": parent}
    per_grid = _grouped(user, {**filters, **scope}, ["grid_id"])
    index = {row.key: row for row in rows}
    depth = len(rows[0].key)
    uniform = all(len(row.key) == depth for row in rows)
    for group in per_grid:
        path = grid_paths.get(group["grid_id"], "")
        target = index.get(path[:depth]) if uniform else _owner_row(rows, path)
        if target is not None:
            target.add(Indicators.from_row(group))
    return rows


def _owner_row(rows: Sequence[Indicators], path: str) -> Indicators | None:
    return next((row for row in rows if path.startswith(row.key)), None)


def ranking(
    user: Any, kind: str = AreaKind.GRID, metric: str = "score", **filters: Any
) -> list[Indicators]:
    """Grids (or communities, streets …) under the user's scope, best first by
    ``metric`` (the composite :attr:`Indicators.score` or any rate); areas without a
    value come last. ``extra["rank"]`` holds 1, 2, 3 … (ties share a rank)."""
    if metric != "score" and metric not in RATES:
        raise ValidationFailed(f"未知指标 {metric}", f"unknown indicator {metric}", field="metric")
    parent = filters.pop("parent", None)
    rows = by_area(user, parent=parent, kind=kind, **filters)
    reverse_good = metric not in ("rework_rate", "duplicate_rate", "avg_handling_hours")

    def value(row: Indicators) -> float | None:
        if metric == "score":
            return row.score if row.received else None
        return getattr(row, metric)

    def sort_key(row: Indicators) -> tuple[int, float, int, str]:
        v = value(row)
        if v is None:
            return (1, 0.0, -row.received, row.key)
        return (0, -v if reverse_good else v, -row.received, row.key)

    rows.sort(key=sort_key)
    previous: float | None = None
    rank = 0
    for position, row in enumerate(rows, start=1):
        v = value(row)
        if v is None or v != previous:
            rank = position
        previous = v
        row.extra["rank"] = rank if v is not None else None
        row.extra["value"] = v
    return rows


def by_handler(user: Any, **filters: Any) -> list[Indicators]:
    """One row per current handler (the account that holds the case now)."""
    groups = _grouped(user, filters, ["handler_user_id", "handler_user__username"])
    groups.sort(key=lambda g: g["handler_user__username"] or "")
    return [
        Indicators.from_row(
            g, key=g["handler_user_id"], label=g["handler_user__username"] or "（未指定办理人）"
        )
        for g in groups
    ]


def by_category(user: Any, top: bool = True, **filters: Any) -> list[Indicators]:
    """One row per category; with ``top`` the sub-categories add into their top one
    (物业服务 = 物业收费 + 电梯故障 + …)."""
    groups = _grouped(user, filters, ["category_id"])
    categories = {c.pk: c for c in Category.objects.all()}
    rows: dict[int, Indicators] = {}
    for group in groups:
        category = categories[group["category_id"]]
        if top:
            category = _top(category, categories)
        row = rows.setdefault(category.pk, Indicators(key=category.code, label=category.name))
        row.add(Indicators.from_row(group))
    return sorted(rows.values(), key=lambda r: r.key)


def _top(category: Category, categories: dict[int, Category]) -> Category:
    while category.parent_id is not None:
        category = categories[category.parent_id]
    return category


def by_month(user: Any, **filters: Any) -> list[Indicators]:
    """One row per calendar month of receipt (local time)."""
    tz = timezone.get_current_timezone()
    groups = _grouped(
        user,
        filters,
        ["month"],
        lambda prefix: {"month": TruncMonth(f"{prefix}received_at", tzinfo=tz)},
    )
    groups.sort(key=lambda g: g["month"])
    rows = []
    for g in groups:
        month = g["month"]
        day = month.date() if isinstance(month, dt.datetime) else month
        rows.append(Indicators.from_row(g, key=day, label=f"{day:%Y年%m月}"))
    return rows


def _trend(change: float) -> str:
    """ "下降 21%" for -0.21: the direction and size of a relative change, as read aloud."""
    direction = "上升" if change > 0 else "下降" if change < 0 else "持平"
    return f"{direction} {abs(change):.0%}"


@dataclass(frozen=True)
class Change:
    """Requests of one top category in a month beside the month before (环比)."""

    code: str
    name: str
    current: int
    previous: int

    @property
    def change(self) -> float | None:
        """Relative change: -0.21 means down 21 %; None when there was nothing before."""
        return (self.current - self.previous) / self.previous if self.previous else None

    @property
    def sentence(self) -> str:
        if self.change is None:
            return f"{self.name}类诉求本月 {self.current} 件（上月无）"
        return f"{self.name}类诉求 {self.current} 件，环比{_trend(self.change)}"


def month_over_month(user: Any, month: dt.date, **filters: Any) -> list[Change]:
    """Requests per top category received in ``month`` against the month before, in
    one query: ``[Change("01", "物业服务", 90, 100)]`` reads "物业服务 down 10 % on last
    month" (the change since the programme began is :func:`since_baseline`)."""
    this_start = month_start(month)
    prev_start = month_start(this_start - dt.timedelta(days=1))
    following = next_month(this_start)
    in_this = Q(received_at__gte=local_start(this_start))
    groups = (
        cases_for(user, start=prev_start, end=following, **filters)
        .values("category_id")
        .annotate(current=Count("pk", filter=in_this), previous=Count("pk", filter=~in_this))
        .order_by()
    )
    categories = {c.pk: c for c in Category.objects.all()}
    totals: dict[int, list[int]] = {}
    for g in groups:
        top = _top(categories[g["category_id"]], categories)
        pair = totals.setdefault(top.pk, [0, 0])
        pair[0] += g["current"]
        pair[1] += g["previous"]
    return sorted(
        (
            Change(categories[pk].code, categories[pk].name, cur, prev)
            for pk, (cur, prev) in totals.items()
        ),
        key=lambda c: c.code,
    )


# --- 红色代办 per compound party branch --------------------------------------------------------
@dataclass
class BranchProxies:
    """Red-proxy cases (红色代办) of one compound party branch (小区党支部): the cases
    filed on residents' behalf by party members, 三长 and 党员中心户 in its zone."""

    key: str  # the zone's path
    label: str  # the branch's name
    zone: str
    red_proxy: int = 0
    received: int = 0
    closed: int = 0

    @property
    def share(self) -> float | None:
        """Red-proxy cases among all cases received in the zone."""
        return _ratio(self.red_proxy, self.received)


def red_proxy_by_branch(user: Any, **filters: Any) -> list[BranchProxies]:
    """One row per compound party branch the user sees (branches without such cases
    included): red-proxy cases received in the period, located in the branch's zone, and
    how many of them are closed. Two queries: the branches and one ``GROUP BY`` grid."""
    branches = (
        PartyOrganization.objects.visible_to(user)
        .filter(kind=PartyOrgKind.BRANCH)
        .select_related("area")
        .order_by("area_path")
    )
    rows = {b.area.path: BranchProxies(key=b.area.path, label=b.name, zone=b.area.name)
            for b in branches}  # fmt: skip
    if not rows:
        return []
    groups = (
        cases_for(user, **filters)
        .values("grid__path")
        .annotate(
            n_received=Count("pk"),
            n_proxy=Count("pk", filter=Q(red_proxy=True)),
            n_closed=Count("pk", filter=Q(red_proxy=True, status=Status.CLOSED)),
        )
        .order_by()
    )
    for g in groups:
        # a grid is a child of its zone: the zone's path is the grid's without its last step
        zone_path = g["grid__path"].rsplit("/", 2)[0] + "/"
        row = rows.get(zone_path)
        if row is not None:
            row.received += g["n_received"]
            row.red_proxy += g["n_proxy"]
            row.closed += g["n_closed"]
    return list(rows.values())


# --- against the programme's baseline (较基期) ---------------------------------------------------
#: How many full months make the baseline when none is configured.
BASELINE_MONTHS = 3


@dataclass(frozen=True)
class Period:
    """Whole calendar months ``[start, end)``: ``start`` and ``end`` are first days."""

    start: dt.date
    end: dt.date

    @property
    def months(self) -> int:
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month

    @property
    def label(self) -> str:
        last = month_start(self.end - dt.timedelta(days=1))
        if last == self.start:
            return f"{self.start:%Y年%m月}"
        return f"{self.start:%Y年%m月}—{last:%Y年%m月}"


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def parse_period(text: str) -> Period:
    """``"2025-01/2025-03"`` (first and last month, inclusive) or ``"2025-01"``."""
    try:
        first, _sep, last = text.strip().partition("/")
        start = dt.date.fromisoformat(first.strip() + "-01")
        end = dt.date.fromisoformat((last or first).strip() + "-01")
    except ValueError as exc:
        raise ValidationFailed(
            f"基期格式应为 2025-01/2025-03：{text}",
            f"a baseline reads 2025-01/2025-03: {text}",
            field="baseline",
        ) from exc
    if end < start:
        raise ValidationFailed("基期结束月早于开始月", "the baseline ends before it starts")
    return Period(start, add_months(end, 1))


def baseline_period(user: Any, months: int = BASELINE_MONTHS) -> Period | None:
    """The period the programme is measured against: ``settings.CASES_BASELINE``
    (environment ``JIAYUAN_CASES_BASELINE``, e.g. ``2025-01/2025-03``) when set, else the
    first ``months`` full calendar months of the cases ``user`` sees — the programme's
    first months in the data. None when there are no cases."""
    configured = settings.CASES_BASELINE
    if configured:
        return parse_period(configured)
    first = cases_for(user).order_by("received_at").values_list("received_at", flat=True)[:1]
    if not first:
        return None
    day = timezone.localtime(first[0]).date()
    start = day if day.day == 1 else next_month(day)
    return Period(start, add_months(start, months))


@dataclass(frozen=True)
class SinceBaseline:
    """Requests of one top category per month now beside the baseline (较基期): the
    programme's effect, not a month's swing (环比)."""

    code: str
    name: str
    baseline_total: int
    current_total: int
    baseline_months: int
    current_months: int

    @property
    def baseline(self) -> float:
        """Requests per month in the baseline period."""
        return self.baseline_total / self.baseline_months

    @property
    def current(self) -> float:
        """Requests per month in the current period."""
        return self.current_total / self.current_months

    @property
    def change(self) -> float | None:
        """Relative change of the monthly rate: -0.21 means down 21 % since the baseline."""
        return (self.current - self.baseline) / self.baseline if self.baseline_total else None

    @property
    def sentence(self) -> str:
        if self.change is None:
            return f"{self.name}类诉求月均 {self.current:.0f} 件（基期无）"
        return (
            f"{self.name}类诉求月均 {self.current:.0f} 件，较基期（月均 {self.baseline:.0f} 件）"
            f"{_trend(self.change)}"
        )


@dataclass(frozen=True)
class BaselineReport:
    baseline: Period
    current: Period
    rows: list[SinceBaseline]

    def get(self, code: str) -> SinceBaseline | None:
        return next((row for row in self.rows if row.code == code), None)


def since_baseline(
    user: Any,
    *,
    baseline: Period | None = None,
    current: Period | None = None,
    today: dt.date | None = None,
    **filters: Any,
) -> BaselineReport | None:
    """Requests per top category per month in ``current`` against ``baseline``, in one
    query. ``baseline`` defaults to :func:`baseline_period`; ``current`` to as many full
    months as the baseline, ending with the last full month before ``today``. None when
    there is no baseline or the two periods would overlap (too little data yet).

    The seed's "物业类诉求下降21%" is this figure for 物业服务 (``get("01")``): measured
    since the programme began, from the cases themselves."""
    baseline = baseline or baseline_period(user)
    if baseline is None:
        return None
    if current is None:
        end = month_start(today or timezone.localdate())
        current = Period(add_months(end, -baseline.months), end)
    if current.start < baseline.end or current.months < 1 or baseline.months < 1:
        return None

    def within(period: Period) -> Q:
        return Q(
            received_at__gte=local_start(period.start), received_at__lt=local_start(period.end)
        )

    in_baseline, in_current = within(baseline), within(current)
    groups = (
        cases_for(user, **filters)
        .filter(in_baseline | in_current)
        .values("category_id")
        .annotate(now=Count("pk", filter=in_current), before=Count("pk", filter=in_baseline))
        .order_by()
    )
    categories = {c.pk: c for c in Category.objects.all()}
    totals: dict[int, list[int]] = {}
    for g in groups:
        top = _top(categories[g["category_id"]], categories)
        pair = totals.setdefault(top.pk, [0, 0])
        pair[0] += g["before"]
        pair[1] += g["now"]
    rows = [
        SinceBaseline(
            categories[pk].code, categories[pk].name, before, now, baseline.months, current.months
        )
        for pk, (before, now) in totals.items()
    ]
    return BaselineReport(baseline, current, sorted(rows, key=lambda r: r.code))


# --- Excel -----------------------------------------------------------------------------------
COUNT_LABELS: dict[str, str] = {
    "received": "受理数",
    "dispatched": "已派遣",
    "answered": "已答复",
    "closed": "已结案",
}


def _sheet_rows(rows: Iterable[Indicators], first: str) -> list[list[Any]]:
    table: list[list[Any]] = [[first, *COUNT_LABELS.values(), *RATES.values(), "综合得分"]]
    for row in rows:
        values: list[Any] = [row.label, *(getattr(row, k) for k in COUNT_LABELS)]
        for key in RATES:
            value = getattr(row, key)
            values.append(None if value is None else round(value, 4))
        values.append(round(row.score, 2))
        table.append(values)
    return table


def export_xlsx(
    user: Any,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    area: Area | None = None,
) -> bytes:
    """The indicator tables as an Excel workbook: overall, per area, grid and community
    rankings, per handler, per category, per month and month-over-month. Counts only —
    no reporter, phone or address ever appears. The export is written to the audit log."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    if start is not None and end is not None and end <= start:
        raise ValidationFailed("结束日期须晚于开始日期", "end must be after start", field="end")
    filters: dict[str, Any] = {"start": start, "end": end}
    book = Workbook()
    percent_headers = {label for key, label in RATES.items() if key.endswith("_rate")}

    def sheet(title: str, table: list[list[Any]]) -> None:
        ws = book.create_sheet(title)
        for values in table:
            ws.append(values)
        for column, header in enumerate(table[0], start=1):
            ws.cell(row=1, column=column).font = Font(bold=True)
            if header in percent_headers:
                for (cell,) in ws.iter_rows(min_row=2, min_col=column, max_col=column):
                    cell.number_format = "0.0%"
        ws.column_dimensions["A"].width = 24

    book.remove(book.active)  # type: ignore[arg-type]
    scope_area = area or top_area(user)
    sheet("总体", _sheet_rows([summary(user, area=area, **filters)], "范围"))
    sheet("按区域", _sheet_rows(by_area(user, parent=scope_area, **filters), "区域"))
    for kind, title in ((AreaKind.GRID, "网格排名"), (AreaKind.COMMUNITY, "社区排名")):
        ranked = ranking(user, kind=kind, parent=scope_area, **filters)
        table = _sheet_rows(ranked, "区域")
        table[0].insert(0, "名次")
        for values, row in zip(table[1:], ranked, strict=True):
            values.insert(0, row.extra.get("rank"))
        sheet(title, table)
    sheet("按办理人", _sheet_rows(by_handler(user, area=area, **filters), "办理人账号"))
    sheet("按分类", _sheet_rows(by_category(user, area=area, **filters), "分类"))
    sheet("按月", _sheet_rows(by_month(user, area=area, **filters), "月份"))
    month = (end - dt.timedelta(days=1)) if end else timezone.localdate()
    changes = month_over_month(user, month, area=area)
    ws = book.create_sheet("环比")
    ws.append(["分类", f"{month_start(month):%Y年%m月}", "上月", "环比", "说明"])
    for c in changes:
        ws.append([c.name, c.current, c.previous, c.change, c.sentence])
    for (cell,) in ws.iter_rows(min_row=2, min_col=4, max_col=4):
        cell.number_format = "0.0%"
    branches = red_proxy_by_branch(user, area=area, **filters)
    if branches:  # users who see a compound party branch (zone level and above)
        ws = book.create_sheet("红色代办")
        ws.append(["小区党支部", "小区", "受理数", "红色代办", "其中已结案", "红色代办占比"])
        for b in branches:
            ws.append([b.label, b.zone, b.received, b.red_proxy, b.closed, b.share])
        for (cell,) in ws.iter_rows(min_row=2, min_col=6, max_col=6):
            cell.number_format = "0.0%"
    report = since_baseline(user, today=end, area=area)
    if report is not None:
        ws = book.create_sheet("较基期")
        ws.append(["分类", f"基期 {report.baseline.label} 月均", f"{report.current.label} 月均",
                   "较基期", "说明"])  # fmt: skip
        for r in report.rows:
            ws.append([r.name, round(r.baseline, 2), round(r.current, 2), r.change, r.sentence])
        for (cell,) in ws.iter_rows(min_row=2, min_col=4, max_col=4):
            cell.number_format = "0.0%"
    out = io.BytesIO()
    book.save(out)
    _audit_export(user, filters, area)
    return out.getvalue()


def _audit_export(user: Any, filters: dict[str, Any], area: Area | None) -> None:
    ctx = current()
    described = {k: str(v) for k, v in filters.items() if v is not None}
    if area is not None:
        described["area"] = area.path
    AuditEntry.objects.create(
        actor=user if getattr(user, "pk", None) else None,
        actor_name=getattr(user, "username", "") or "system",
        channel=ctx.channel,
        request_id=ctx.request_id,
        client_address=ctx.client_address,
        action=AuditEntry.Action.EXPORT,
        object_type="cases.case",
        object_id="indicators",
        object_repr="诉求考核指标",
        area_path=area.path if area is not None else "",
        changes=described,
        note="indicators.xlsx",
    )
