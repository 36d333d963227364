"""Plans of the demo's year of cases: who reports what, where and when, and every step
of each case's life after intake (:class:`Planner`), and who takes and reviews cases
where (:class:`Staff`), answered from memory."""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from shapely.geometry import Point, shape

from jiayuan.core import bulk
from jiayuan.core.calendar import MINUTES_PER_WORKDAY, WorkClock
from jiayuan.core.geo import distance_m
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area, Membership
from jiayuan.org.paths import ancestor_path
from jiayuan.people.models import Person

from .. import escalation, routing
from ..choices import Channel, Level, Priority, Satisfaction
from ..models import Case, Category, ReturnVisit
from .texts import (
    CHANNELS,
    COMMENTS,
    ESCALATE_REASONS,
    PROPERTY,
    REJECT_REASONS,
    RESIDENT_CHANNELS,
    ROADS,
    SEND_BACK_REASONS,
    SURNAMES,
    SUSPEND_REASONS,
    TEXTS,
)


class Draw:
    """``rng.choices(population, weights)[0]`` with the cumulative weights worked out
    once: the same single ``rng.random()`` call and the same bisection as
    :meth:`random.Random.choices`, so the same pick, without summing the weights again
    for every case."""

    __slots__ = ("cum", "hi", "population", "total")

    def __init__(self, population: Any, weights: Any = None, *, cum: Any = None) -> None:
        self.population = list(population)
        self.cum = list(itertools.accumulate(weights)) if cum is None else list(cum)
        self.total = self.cum[-1] + 0.0
        self.hi = len(self.cum) - 1

    def __call__(self, rng: random.Random) -> Any:
        return self.population[bisect.bisect(self.cum, rng.random() * self.total, 0, self.hi)]


CHANNEL_DRAW = Draw(CHANNELS, CHANNELS.values())
PRIORITY_DRAW = Draw([Priority.NORMAL, Priority.URGENT, Priority.CRITICAL], [90, 8, 2])
FATE_DRAW = Draw(
    ["normal", "rework", "reopen", "escalate", "suspend", "reject"], [74, 8, 4, 6, 3, 2.5]
)
VERDICT_DRAW = Draw([Satisfaction.SATISFIED, Satisfaction.BASIC], [86, 14])

#: Cases per year at each demo scale.
CASES_PER_YEAR = {"tiny": 150, "county": 30_000, "bench": 30_000}
KEEP_CLEAR_M = 120  # no seeded case this close to a grid's centroid


# --- plans -----------------------------------------------------------------------------------
@dataclass
class PlannedStep:
    """One action in a planned life: what, when, by whom (a role relative to the case:
    ``handler``, ``reviewer``, ``county``, ``reporter``) and with which parameters."""

    action: str
    at: dt.datetime
    actor: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class CasePlan:
    """Everything intake needs, and the steps after it."""

    received_at: dt.datetime
    grid: Area
    lat: float
    lng: float
    category: Category
    channel: str
    description: str
    priority: str = Priority.NORMAL
    reporter: Person | None = None
    reporter_name: str = ""
    reporter_phone: str = ""
    anonymous: bool = False
    auto_dispatch: bool = True
    steps: list[PlannedStep] = field(default_factory=list)
    merge_into: CasePlan | None = None


class Staff:
    """Who takes and who reviews cases where: ``routing.handler_for`` and the reviewer
    rule of the demo, answered from memory."""

    def __init__(self) -> None:
        self.handlers: dict[tuple[str, str], Any] = {}
        self.supervisors: dict[str, list[Any]] = {}
        self.users: dict[int, Any] = {}
        self.reviewers: dict[tuple[str, Any], Any] = {}
        level_of_role = {str(role): str(level) for level, role in routing.LEVEL_ROLE.items()}
        memberships = (
            Membership.objects.filter(active=True, user__is_active=True)
            .select_related("user")
            .order_by("id")
        )
        for m in memberships:
            self.users.setdefault(m.user_id, m.user)
            level = level_of_role.get(m.role)
            if level is not None:
                self.handlers.setdefault((m.area_path, level), m.user)
            if m.role in escalation.SUPERVISING_ROLES:
                self.supervisors.setdefault(m.area_path, []).append(m.user)

    def handler(self, owner_path: str, level: str) -> Any:
        return self.handlers.get((owner_path, level))

    def reviewer(self, owner_path: str, busy: Any) -> Any:
        """The nearest supervisor at or above ``owner_path`` other than ``busy``
        (worked out once per place and busy handler: the staff does not change)."""
        pk = getattr(busy, "pk", None)
        if busy is not None and pk is None:  # an unsaved user: nothing to key it by
            return self._reviewer(owner_path, busy)
        key = (owner_path, pk)
        found = self.reviewers.get(key)
        if found is None:
            found = self.reviewers[key] = self._reviewer(owner_path, busy)
        return found

    def _reviewer(self, owner_path: str, busy: Any) -> Any:
        parts = owner_path.rstrip("/").split("/")
        for depth in range(len(parts), 0, -1):
            for user in self.supervisors.get("/".join(parts[:depth]) + "/", []):
                if user != busy:
                    return user
        raise LookupError(f"nobody reviews cases at {owner_path}")

    def county(self) -> Any:
        return self.supervisors[next(p for p in self.supervisors if p.count("/") == 1)][0]


def resolve(who: str, case: Case, staff: Staff) -> Any:
    """The user a planned step's ``actor`` names, given the case as it stands."""
    if who == "handler":
        return case.handler_user
    if who == "reviewer":
        return staff.reviewer(case.owner_area.path, case.handler_user)
    if who == "county":
        return staff.county()
    return None  # the reporter (through the link) or the system


def resolve_params(
    step: PlannedStep, case: Case, staff: Staff, numbers: dict[int, str]
) -> dict[str, Any]:
    params = dict(step.params)
    if params.get("handler_id") == "@street":
        street = ancestor_path(case.grid.path, AreaKind.STREET)
        params["handler_id"] = staff.handler(street, Level.STREET).pk
    if "into" in params:
        params["into"] = numbers[params["into"]]
    return params


# --- the planner -----------------------------------------------------------------------------
def season_of(month: dt.date) -> float:
    """How many requests a month brings beside an ordinary one: more in summer, fewer
    around the Spring Festival."""
    return 1.15 if month.month in (6, 7, 8) else 0.85 if month.month == 2 else 1.0


class Planner:
    """Draws a year of plausible cases for the given grids."""

    def __init__(
        self,
        rng: random.Random,
        grids: list[Area],
        staff: Staff,
        start: dt.datetime,
        end: dt.datetime,
        clock: WorkClock,
    ) -> None:
        self.rng = rng
        self.grids = grids
        self.staff = staff
        self.start = start
        self.end = end
        self.clock = clock
        self.categories = {c.code: c for c in Category.objects.select_related("department")}
        self.codes = [code for code in TEXTS if code in self.categories]
        self.shapes = {g.pk: shape(g.boundary) for g in grids if g.boundary}
        self.zone_names = dict(Area.objects.filter(kind=AreaKind.ZONE).values_list("path", "name"))
        self.residents = self._residents(grids)

    @staticmethod
    def _residents(grids: list[Area]) -> dict[str, list[int]]:
        by_grid: dict[str, list[int]] = {g.path: [] for g in grids}
        depth = len(grids[0].path) if grids else 0
        rows = Person.objects.filter(death_date__isnull=True).exclude(phone_enc="")
        for pk, path in rows.values_list("pk", "area_path").order_by("pk").iterator(5000):
            found = by_grid.get(path[:depth])
            if found is not None:
                found.append(pk)
        return by_grid

    # -- when and where --------------------------------------------------------------------
    def months(self) -> list[tuple[dt.date, float]]:
        """(first day, share of the year's cases) for the months in [start, end)."""
        first = self.start.date().replace(day=1)
        out = []
        month = first
        while month <= self.end.date():
            nxt = (month + dt.timedelta(days=32)).replace(day=1)
            lo = max(self.start.date(), month)
            hi = min(self.end.date() + dt.timedelta(days=1), nxt)
            days = max((hi - lo).days, 0)
            out.append((month, days / 365 * season_of(month)))
            month = nxt
        return out

    def property_factor(self, month_index: int, months: int, month: dt.date | None = None) -> float:
        """The weight of 物业服务 among the categories in a month. A property campaign
        (物业服务专项整治) starts with the programme and lowers property requests steadily,
        by 2.5 % of the first month's number each month, whatever the season (the other
        categories follow it, so the weight undoes the season). Nothing here states the
        seed's "物业类诉求下降21%": the indicators measure it on the cases against the
        programme's first full months (``indicators.since_baseline``)."""
        base = {code: TEXTS[code][0] for code in self.codes}
        own = sum(w for code, w in base.items() if code.startswith(PROPERTY))
        rest = sum(base.values()) - own
        if not own or not rest:
            return 1.0
        trend = max(0.2, 1.0 - 0.025 * month_index)
        share = own / (own + rest) * trend / (season_of(month) if month else 1.0)
        return share * rest / (own * (1.0 - share))

    def received(self, month: dt.date) -> dt.datetime:
        rng = self.rng
        nxt = (month + dt.timedelta(days=32)).replace(day=1)
        lo = max(self.start, _midnight(month))
        hi = min(self.end, _midnight(nxt))
        for _attempt in range(20):
            moment = lo + (hi - lo) * rng.random()
            day = timezone.localtime(moment).date()
            if self.clock.calendar.is_workday(day):
                if rng.random() < 0.8:  # mostly in office hours
                    moment = self.clock.add(_midnight(day), rng.uniform(0, 449))
                else:
                    moment = _midnight(day) + dt.timedelta(minutes=rng.uniform(7 * 60, 21 * 60))
            elif rng.random() < 0.65:
                continue  # fewer reports on days off
            else:
                moment = _midnight(day) + dt.timedelta(minutes=rng.uniform(8 * 60, 20 * 60))
            if lo <= moment < hi:
                return moment.replace(microsecond=0)
        return lo.replace(microsecond=0)

    def point(self, grid: Area) -> tuple[float, float]:
        geom = self.shapes.get(grid.pk)
        assert grid.centroid_lat is not None and grid.centroid_lng is not None  # noqa: S101
        if geom is None:
            return grid.centroid_lat, grid.centroid_lng
        west, south, east, north = geom.bounds
        for _attempt in range(50):
            lat = self.rng.uniform(south, north)
            lng = self.rng.uniform(west, east)
            if geom.contains(Point(lng, lat)) and (
                distance_m(lat, lng, grid.centroid_lat, grid.centroid_lng) > KEEP_CLEAR_M
            ):
                return round(lat, 6), round(lng, 6)
        return grid.centroid_lat, grid.centroid_lng

    # -- what and who ----------------------------------------------------------------------
    def text(self, code: str, grid: Area) -> tuple[str, str]:
        rng = self.rng
        _w, descriptions, results = TEXTS[code]
        zone = self.zone_names.get(ancestor_path(grid.path, AreaKind.ZONE), "小区")
        slots = {
            "b": rng.randint(1, 24),
            "u": rng.randint(1, 4),
            "f": rng.randint(2, 11),
            "n": rng.choice((2, 3, 3, 4, 5, 7, 10)),
            "road": rng.choice(ROADS),
            "zone": zone,
            "time": rng.choice(("十点", "十一点", "十二点")),
        }
        return rng.choice(descriptions).format(**slots), rng.choice(results)

    def reporter(self, plan: CasePlan) -> None:
        rng = self.rng
        if plan.channel == Channel.PATROL:
            plan.reporter_name = "网格员巡查发现"
            return
        if rng.random() < 0.06:
            plan.anonymous = True
            return
        pool = self.residents.get(plan.grid.path) or []
        if plan.channel in RESIDENT_CHANNELS and pool and rng.random() < 0.7:
            plan.reporter = bulk.build(Person, id=rng.choice(pool))
            return
        plan.reporter_name = rng.choice(SURNAMES) + rng.choice(("先生", "女士", "大爷", "阿姨"))
        plan.reporter_phone = (
            "1" + rng.choice("3578") + "".join(rng.choice("0123456789") for _ in range(9))
        )

    # -- the year --------------------------------------------------------------------------
    def plan(self, total: int) -> list[CasePlan]:
        rng = self.rng
        months = self.months()
        weights_total = sum(w for _m, w in months) or 1.0
        base = {code: TEXTS[code][0] for code in self.codes}
        grid_draw = Draw(
            self.grids,
            cum=itertools.accumulate(
                max(len(self.residents.get(g.path, [])), 1) for g in self.grids
            ),
        )
        plans: list[CasePlan] = []
        for index, (month, weight) in enumerate(months):
            count = round(total * weight / weights_total)
            factor = self.property_factor(index, len(months), month)
            codes = list(base)
            code_draw = Draw(
                codes, [base[c] * (factor if c.startswith(PROPERTY) else 1.0) for c in codes]
            )
            for _ in range(count):
                code = code_draw(rng)
                grid = grid_draw(rng)
                plans.append(self.one(code, grid, self.received(month)))
        plans.extend(self.duplicates(plans))
        plans.sort(key=lambda p: p.received_at)
        for earlier, later in itertools.pairwise(plans):
            if later.received_at <= earlier.received_at:  # distinct times, stable order
                later.received_at = earlier.received_at + dt.timedelta(seconds=1)
        for plan in plans:
            plan.steps = [s for s in plan.steps if s.at <= self.end]
        return [p for p in plans if p.received_at <= self.end]

    def one(self, code: str, grid: Area, received: dt.datetime) -> CasePlan:
        rng = self.rng
        lat, lng = self.point(grid)
        description, result = self.text(code, grid)
        plan = CasePlan(
            received_at=received,
            grid=grid,
            lat=lat,
            lng=lng,
            category=self.categories[code],
            channel=CHANNEL_DRAW(rng),
            description=description,
            priority=PRIORITY_DRAW(rng),
            auto_dispatch=rng.random() > 0.04,
        )
        self.reporter(plan)
        plan.steps = self.life(plan, result)
        return plan

    def duplicates(self, plans: list[CasePlan]) -> list[CasePlan]:
        """About 2.5 % of reports repeat an open one nearby; a supervisor merges them."""
        rng = self.rng
        out = []
        for target in rng.sample(plans, k=len(plans) // 40):
            if target.steps and target.steps[0].action in ("reject", "merge"):
                continue
            received = target.received_at + dt.timedelta(minutes=rng.uniform(60, 40 * 60))
            offset = rng.uniform(-0.00012, 0.00012)  # within about 15 m
            copy = CasePlan(
                received_at=received.replace(microsecond=0),
                grid=target.grid,
                lat=round(target.lat + offset, 6),
                lng=round(target.lng - offset, 6),
                category=target.category,
                channel=rng.choice((Channel.HOTLINE, Channel.SNAPSHOT, Channel.WECHAT)),
                description="又有人反映：" + target.description,
                merge_into=target,
            )
            self.reporter(copy)
            when = self.clock.add(copy.received_at, rng.uniform(10, 240)).replace(microsecond=0)
            copy.steps = [PlannedStep("merge", when, "reviewer", {"reason": "重复反映"})]
            out.append(copy)
        return out

    def life(self, plan: CasePlan, result: str) -> list[PlannedStep]:
        """The whole planned life of a case after intake, step by step."""
        rng = self.rng
        category, priority = plan.category, plan.priority
        steps: list[PlannedStep] = []
        t = plan.received_at

        def limit(stage: str) -> float:
            return category.limit_minutes(stage, priority)

        def step(action: str, minutes: float, actor: str, **params: Any) -> None:
            nonlocal t
            if t > self.end:
                return
            # Near the end, a step that has not happened yet is dropped before its time is
            # worked out (it might lie in a year the calendar does not know). Far from
            # it (three calendar days per working day and two weeks of holidays to
            # spare) the step has surely happened, and counting is not needed.
            near = self.end - t < dt.timedelta(days=3 * minutes / MINUTES_PER_WORKDAY + 14)
            if near and minutes > self.clock.minutes_between(t, self.end):
                t = self.end + dt.timedelta(seconds=1)
                return
            t = self.clock.add(t, max(minutes, 1.0)).replace(microsecond=0)
            steps.append(PlannedStep(action, t, actor, params))

        recent = (self.end - plan.received_at).days < 30
        slow = 3.0 if recent and rng.random() < 0.06 else 1.0  # a few stall: overdue today
        fate = FATE_DRAW(rng)
        if fate == "reject":
            step("reject", rng.uniform(10, 120), "reviewer", reason=rng.choice(REJECT_REASONS))
            return steps
        if not plan.auto_dispatch:
            step("dispatch", rng.uniform(15, 1.5 * limit("dispatch")), "reviewer")
        level = category.default_level
        if level == Level.DEPARTMENT:
            dept = category.department.name if category.department else "职能部门"
            step(
                "transfer",
                rng.uniform(20, 200),
                "county",
                reason=f"由街道协调{dept}办理",
                handler_id="@street",
            )
        step(
            "accept", slow * _late(rng, 0.06) * rng.uniform(0.05, 0.9) * limit("accept"), "handler"
        )
        if fate == "escalate" and level in (Level.GRID, Level.ZONE):
            target = {}
            if level == Level.GRID and rng.random() < 0.5:
                target = {"level": Level.COMMUNITY}
            step("escalate", rng.uniform(10, 150), "handler",
                 reason=rng.choice(ESCALATE_REASONS), **target)  # fmt: skip
            step("accept", rng.uniform(5, 100), "handler")
        step("start", rng.uniform(1, 20), "handler")
        handle = limit("handle")
        if fate == "suspend":
            step("suspend", rng.uniform(30, 0.4 * handle), "handler",
                 reason=rng.choice(SUSPEND_REASONS))  # fmt: skip
            step("resume", rng.uniform(200, 1500), "handler")
            handle *= 0.5
        step("handle", slow * _late(rng, 0.08) * rng.uniform(0.08, 0.9) * handle, "handler",
             result=result)  # fmt: skip
        if fate == "rework":
            step("send_back", rng.uniform(10, 300), "reviewer",
                 reason=rng.choice(SEND_BACK_REASONS))  # fmt: skip
            step("handle", rng.uniform(60, MINUTES_PER_WORKDAY), "handler",
                 result=result + "，已按要求整改")  # fmt: skip
        step("approve", _late(rng, 0.05) * rng.uniform(10, 400), "reviewer")
        if fate == "reopen":
            self.visit(plan, step, Satisfaction.UNSATISFIED)
            step("handle", rng.uniform(120, 900), "handler", result="再次上门处理：" + result)
            step("approve", rng.uniform(10, 300), "reviewer")
        verdict = VERDICT_DRAW(rng)
        self.visit(plan, step, verdict)
        return steps

    def visit(self, plan: CasePlan, step: Callable[..., None], verdict: str) -> None:
        rng = self.rng
        comment = rng.choice(COMMENTS[Satisfaction(verdict)])
        minutes = rng.uniform(30, 800)
        by_link = plan.reporter is not None and rng.random() < 0.4
        if by_link:
            step("visit", minutes, "reporter", satisfaction=verdict, comment=comment,
                 by=ReturnVisit.By.RESIDENT)  # fmt: skip
        else:
            step("visit", minutes, "reviewer", satisfaction=verdict, comment=comment,
                 by=ReturnVisit.By.PHONE)  # fmt: skip


def _late(rng: random.Random, share: float) -> float:
    """Usually 1; with probability ``share``, enough to overrun the limit."""
    return rng.uniform(1.2, 2.0) / 0.9 if rng.random() < share else 1.0


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=timezone.get_default_timezone())
