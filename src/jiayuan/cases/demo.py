"""A year of cases for the demo county (演示诉求), so the inboxes, maps and indicator
pages are full on first start.

``seed_cases(rng, scale)`` plans each case's whole life — who reported what, where
and when, and every step after (accept, handle, review, return visit, rework,
reopening, escalation, suspension, rejection, merging), at plausible working-hour
times — and keeps the steps that had happened by now: recent cases are still open, a
few are overdue today. The overdue-escalation job then runs once, as it would have.

Plans are applied by a replay of :mod:`jiayuan.cases.services` in memory and written
with bulk inserts, one audit entry per case (30,000 cases and their quarter of a million
timeline events in about a minute of CPU, where ~70 queries per case through the
actions would take hours; see docs/benchmarks.md). :func:`apply_with_services`
applies the same plans through the real actions; a test drives both on the same plans
and requires identical cases, timelines and return visits, so the replay cannot drift
from the state machine unnoticed. Timeline events carry the time of their step (the
live actions stamp the time they run).

At the county scale every grid, zone, community and street gets a handler account
(网格员, 小区党支部书记, 社区工作者, 街道领导) where the demo accounts leave none, so
that cases can be dispatched anywhere. The tiny world (every test session seeds it)
gets no extra account: its cases all happen in the ``grid`` account's grid, keep clear
of its centroid (tests report there), and stop at yesterday.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import math
import random
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.utils import timezone
from shapely.geometry import Point, shape

from jiayuan.core import actions, audit
from jiayuan.core.calendar import MINUTES_PER_WORKDAY, WorkClock
from jiayuan.core.models import AuditEntry, Notification
from jiayuan.core.roles import Role
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area, Membership
from jiayuan.people.models import Person

from . import escalation, routing, sla
from .choices import (
    LEVEL_ORDER,
    Channel,
    Level,
    Priority,
    Satisfaction,
    Status,
    Step,
)
from .machine import TRANSITIONS
from .models import (
    Case,
    CaseEvent,
    CaseSequence,
    Category,
    ReturnVisit,
)
from .notify import case_link

NOTE = "seed-demo"
#: Cases per year at each demo scale.
CASES_PER_YEAR = {"tiny": 150, "county": 30_000, "bench": 30_000}
KEEP_CLEAR_M = 120  # no seeded case this close to a grid's centroid

# --- what people report ----------------------------------------------------------------------
# code: (relative weight, descriptions, results). Slots: {b} building, {u} unit, {f} floor,
# {n} a small number, {road} a road, {zone} the compound, {time} a time of day.
TEXTS: dict[str, tuple[int, tuple[str, ...], tuple[str, ...]]] = {
    "0101": (
        3,
        (
            "{zone}物业费今年上涨没有公示，业主有意见，请社区协调",
            "物业收取的停车费标准不清楚，要求公开收费依据",
            "{b}号楼业主反映物业公共收益去向不明，请求公示",
        ),
        ("已协调物业公示收费标准及依据，业主表示理解", "物业已在公告栏公示公共收益明细"),
    ),
    "0102": (
        4,
        (
            "{b}号楼{u}单元电梯停在{f}楼不动，老人上下楼困难",
            "{b}号楼电梯运行时有异响，门关不严，担心安全",
            "{b}号楼{u}单元电梯困人，约{n}分钟后才有人来",
            "{b}号楼电梯年检标志过期，请物业尽快检修",
        ),
        ("已督促物业联系维保单位维修，电梯恢复运行", "维保单位已更换门机部件，经试运行正常"),
    ),
    "0103": (
        6,
        (
            "{b}号楼楼道堆满杂物和小广告，好久没人打扫",
            "{zone}地下车库地面油污积水，气味大",
            "{b}号楼{u}单元楼道有宠物粪便，保洁不及时",
            "小区门口垃圾满地，保洁员{n}天没来了",
        ),
        ("物业已安排保洁人员清扫，并增加保洁频次", "已清理楼道杂物，张贴文明提示"),
    ),
    "0104": (
        5,
        (
            "{zone}门禁坏了{n}天，外来人员随意进出",
            "小区内乱停车，消防车道被占，物业不管",
            "外来车辆占用{b}号楼前车位，业主无处停车",
            "{zone}车辆道闸故障，早高峰排长队",
        ),
        ("物业已维修门禁系统，恢复刷卡通行", "已规范停车秩序，张贴停车须知并加强巡查"),
    ),
    "0105": (
        3,
        (
            "{b}号楼前绿化带树枝遮挡窗户，影响采光",
            "{zone}草坪枯死一大片，没人养护",
            "小区树木长虫，树叶上很多虫子掉到行人身上",
        ),
        ("物业已修剪树枝", "已安排园林人员打药除虫并补种草皮"),
    ),
    "0201": (
        10,
        (
            "{road}路边垃圾桶满溢，{n}天没人清运",
            "{zone}门口垃圾堆积，天热有异味",
            "{b}号楼下垃圾投放点无人清理，招老鼠",
            "菜市场旁生活垃圾乱倒，请尽快清运",
        ),
        ("已联系环卫清运完毕", "环卫已清运垃圾并对投放点消杀"),
    ),
    "0202": (
        7,
        (
            "{b}号楼楼道有人堆放纸箱和旧家具",
            "{road}人行道上有人长期堆放建筑垃圾",
            "{zone}绿化带里堆满废品，影响环境",
        ),
        ("已督促当事人清理", "网格员会同物业清理完毕，并进行劝导"),
    ),
    "0301": (
        4,
        (
            "{road}有{n}盏路灯不亮，晚上出行不安全",
            "{zone}门口路灯白天一直亮着，浪费电",
            "{b}号楼旁路灯杆倾斜，担心倒下",
        ),
        ("已报供电公司更换灯具，路灯恢复照明", "供电公司已检修线路"),
    ),
    "0302": (
        2,
        (
            "{road}地下水管漏水，路面一直冒水",
            "{zone}自来水管破裂，整栋楼停水",
        ),
        ("水务部门已抢修完毕，恢复供水",),
    ),
    "0303": (
        5,
        (
            "{zone}健身器材损坏，螺丝松动有安全隐患",
            "{b}号楼单元门坏了关不上",
            "小区座椅断裂，老人无处休息",
            "{b}号楼楼道灯不亮，晚上上下楼摸黑",
        ),
        ("已维修更换", "已联系维修人员修复，并检查同类设施"),
    ),
    "04": (2, ("邻居长期占用公共楼道，协商无果请求调解",), ("已组织双方调解，达成一致",)),
    "0401": (
        6,
        (
            "楼上邻居夜里{time}还在装修，噪音很大",
            "{zone}广场舞音响声音太大，影响休息",
            "楼下商铺空调外机噪音扰民",
        ),
        ("已上门劝导，对方表示会注意", "已协调调低音量并约定活动时间"),
    ),
    "0402": (
        4,
        (
            "楼上卫生间漏水渗到我家天花板，协商无果",
            "{b}号楼{f}楼住户阳台渗水，影响楼下",
        ),
        ("网格员组织双方协商，楼上已维修防水层", "已调解，约定由楼上负责维修"),
    ),
    "05": (
        2,
        (
            "{road}路口常有人聚集喝酒，夜里吵闹",
            "{zone}监控坏了很久，担心被盗",
            "小区内有陌生人挨家推销，存在安全隐患",
        ),
        ("已报派出所加强巡逻", "监控已修复并加强夜间巡查"),
    ),
    "0601": (
        3,
        (
            "{zone}消防通道被车辆长期占用",
            "{b}号楼楼道堆放杂物堵塞安全出口",
        ),
        ("已清理消防通道并设置禁停标识", "已督促住户清理杂物"),
    ),
    "0602": (
        3,
        (
            "{b}号楼有人把电动车推进楼道充电，很危险",
            "{b}号楼{u}单元有人从楼上拉电线给电动车充电",
        ),
        ("已劝导住户到集中充电点充电", "已拆除私拉电线，宣传消防安全知识"),
    ),
    "0701": (
        2,
        (
            "{road}路面塌陷出现大坑，车辆经过危险",
            "{road}人行道地砖破损严重",
        ),
        ("住建部门已修补路面", "已铺设新地砖"),
    ),
    "0702": (1, ("{road}有一处井盖缺失，夜里容易掉下去",), ("城管部门已补装井盖",)),
    "0801": (
        2,
        (
            "{zone}老人希望开通助餐服务",
            "行动不便老人需要上门助浴服务",
        ),
        ("已对接养老服务中心提供助餐", "已安排上门助浴服务"),
    ),
    "0802": (
        2,
        (
            "{b}号楼独居老人几天没出门，邻居担心",
            "独居老人家中燃气灶打不着火，无人帮忙",
        ),
        ("网格员已上门探望，老人身体无恙", "已协助维修并登记为重点关爱对象"),
    ),
    "09": (
        5,
        (
            "咨询居民医保缴费时间和标准",
            "咨询高龄补贴申请条件",
            "咨询孩子入学需要准备哪些材料",
            "咨询灵活就业人员养老保险怎么交",
        ),
        ("已电话解答相关政策", "已告知办理流程和所需材料"),
    ),
    "10": (2, ("建议在{road}增设公交站点", "希望社区多组织文体活动"), ("已转相关部门研究",)),
}
PROPERTY = "01"
ROADS = ("中都大街", "宁民路", "尚书路", "圣泽大街", "泉河路", "汶上路", "政和路", "明星路",
         "佛都路", "兴业路", "东门街", "西关街")  # fmt: skip
CHANNELS: dict[str, int] = {
    Channel.HOTLINE: 30,
    Channel.PATROL: 22,
    Channel.SNAPSHOT: 20,
    Channel.WECHAT: 12,
    Channel.DOOR: 8,
    Channel.CONSULTATION: 4,
}
RESIDENT_CHANNELS = (Channel.SNAPSHOT, Channel.WECHAT, Channel.DOOR)
REJECT_REASONS = ("不属于受理范围，已告知反映人向法院起诉", "诉求内容不明确，多次联系不上反映人",
                  "属于私人合同纠纷，不予受理")  # fmt: skip
ESCALATE_REASONS = ("涉及多个部门，需上级协调", "网格力量无法解决，申请提级帮办",
                    "涉及物业企业，需社区出面协调")  # fmt: skip
SEND_BACK_REASONS = ("办理结果照片不清楚，请补充", "未与反映人沟通确认，请重新办理",
                     "问题未彻底解决，请继续跟进")  # fmt: skip
SUSPEND_REASONS = ("需等待业主回家开门入户", "等待维修配件到货", "需等待天气好转后施工")
COMMENTS = {
    Satisfaction.SATISFIED: ("处理很及时", "网格员态度很好", "", "", "谢谢"),
    Satisfaction.BASIC: ("问题解决了，就是有点慢", "", "希望以后能更快"),
    Satisfaction.UNSATISFIED: ("问题没有彻底解决", "还是老样子"),
}
SURNAMES = "王李张刘陈杨赵孙马徐高郭吕韩朱宋田曹孔颜孟"


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
        """The nearest supervisor at or above ``owner_path`` other than ``busy``."""
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
        street = routing.ancestor_path(case.grid.path, AreaKind.STREET)
        params["handler_id"] = staff.handler(street, Level.STREET).pk
    if "into" in params:
        params["into"] = numbers[params["into"]]
    return params


# --- the planner -----------------------------------------------------------------------------
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
            season = 1.15 if month.month in (6, 7, 8) else 0.85 if month.month == 2 else 1.0
            out.append((month, days / 365 * season))
            month = nxt
        return out

    def property_factor(self, month_index: int, months: int) -> float:
        """物业服务 requests ease through the year, then fall faster in the last three
        months as a property campaign (物业服务专项整治) bites: about −21 % from the month
        before last to last month."""
        if months <= 4:
            return 1.0
        tail = months - month_index
        if tail <= 3:
            return (0.55, 0.67, 0.85)[tail - 1]
        return 1.25 - 0.25 * month_index / (months - 4)

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
                _metres(lat, lng, grid.centroid_lat, grid.centroid_lng) > KEEP_CLEAR_M
            ):
                return round(lat, 6), round(lng, 6)
        return grid.centroid_lat, grid.centroid_lng

    # -- what and who ----------------------------------------------------------------------
    def text(self, code: str, grid: Area) -> tuple[str, str]:
        rng = self.rng
        _w, descriptions, results = TEXTS[code]
        zone = self.zone_names.get(routing.ancestor_path(grid.path, AreaKind.ZONE), "小区")
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
            plan.reporter = Person(pk=rng.choice(pool))
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
        grid_weights = list(
            itertools.accumulate(max(len(self.residents.get(g.path, [])), 1) for g in self.grids)
        )
        plans: list[CasePlan] = []
        for index, (month, weight) in enumerate(months):
            count = round(total * weight / weights_total)
            factor = self.property_factor(index, len(months))
            codes = list(base)
            code_weights = [base[c] * (factor if c.startswith(PROPERTY) else 1.0) for c in codes]
            for _ in range(count):
                code = rng.choices(codes, code_weights)[0]
                grid = rng.choices(self.grids, cum_weights=grid_weights)[0]
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
            channel=rng.choices(list(CHANNELS), list(CHANNELS.values()))[0],
            description=description,
            priority=rng.choices([Priority.NORMAL, Priority.URGENT, Priority.CRITICAL], [90, 8, 2])[
                0
            ],
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
        fate = rng.choices(
            ["normal", "rework", "reopen", "escalate", "suspend", "reject"],
            [74, 8, 4, 6, 3, 2.5],
        )[0]
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
        verdict = rng.choices([Satisfaction.SATISFIED, Satisfaction.BASIC], [86, 14])[0]
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


def _metres(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    dy = (lat2 - lat1) * 111_000
    dx = (lng2 - lng1) * 111_000 * math.cos(math.radians(lat1))
    return math.hypot(dx, dy)


# --- the replay ------------------------------------------------------------------------------
class Replay:
    """Applies plans as :mod:`services` would, in memory; see the module docstring.

    Each method mirrors the action of the same name in ``services``; the equivalence
    test (tests/cases/test_indicators_seed.py) holds them to it."""

    def __init__(self, staff: Staff, clock: WorkClock) -> None:
        self.staff = staff
        self.clock = clock
        self.areas = {
            a.path: a
            for a in Area.objects.filter(
                kind__in=[AreaKind.STREET, AreaKind.COMMUNITY, AreaKind.ZONE, AreaKind.GRID]
            )
        }
        self.sequences = dict(CaseSequence.objects.values_list("day", "last"))
        # get_channel_display() re-translates every choice on each call
        self.channel_labels = {c.value: str(c.label) for c in Channel}
        self.cases: list[Case] = []
        self.events: list[list[EventRow]] = []
        self.visits: list[ReturnVisit] = []
        self.by_category: dict[int, list[int]] = {}  # category → indexes, by receipt
        self.times: dict[int, list[dt.datetime]] = {}  # category → their receipt times
        self.numbers: dict[int, str] = {}  # id(plan) → case number
        self.index_of: dict[str, int] = {}

    # -- helpers mirroring services -----------------------------------------------------------
    def owner_for(self, grid: Area, level: str) -> Area:
        kind = routing.LEVEL_KIND[Level(level)]
        return grid if kind == AreaKind.GRID else self.areas[routing.ancestor_path(grid.path, kind)]

    def event(
        self, i: int, at: dt.datetime, actor: Any, action: str, step: str, from_status: str,
        note: str = "", public: bool = False, **data: Any,
    ) -> None:  # fmt: skip
        case = self.cases[i]
        self.events[i].append(
            _row(at, actor, action, step, from_status, case.status, note, public, data)
        )

    def start_stage(self, case: Case, now: dt.datetime) -> None:
        sla.start_stage(case, now, self.clock)

    def number(self, day: dt.date) -> str:
        last = self.sequences.get(day, 0) + 1
        self.sequences[day] = last
        return f"WS{day:%Y%m%d}-{last:04d}"

    def duplicates(self, i: int) -> list[str]:
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
            if _haversine(case.lat, case.lng, other.lat, other.lng) <= (
                category.duplicate_radius_m
            ):
                hits.append(other.number)
                if len(hits) == 5:
                    break
        return hits

    # -- intake -----------------------------------------------------------------------------
    def intake(self, plan: CasePlan) -> int:
        now = plan.received_at
        category = plan.category
        level = category.default_level
        owner = self.owner_for(plan.grid, level)
        description = plan.description.strip()
        case = Case(
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
        self.start_stage(case, now)
        i = len(self.cases)
        self.cases.append(case)
        self.events.append([])
        hints = self.duplicates(i)
        case.duplicate_of_hint = hints
        self.by_category.setdefault(category.pk, []).append(i)
        self.times.setdefault(category.pk, []).append(case.received_at)
        self.numbers[id(plan)] = case.number
        self.index_of[case.number] = i
        self.event(
            i,
            now,
            None,
            "receive",
            Step.ASK,
            "",
            f"渠道：{self.channel_labels[case.channel]}",
            public=True,
            duplicates=hints,
        )
        if plan.auto_dispatch:
            handler = self.staff.handler(owner.path, level)
            if handler is not None or level == Level.DEPARTMENT:
                self._dispatch(i, None, handler, now, note="自动派单")
        return i

    def _assign(self, case: Case, handler: Any, level: str | None = None) -> None:
        if level is not None and level != case.level:
            case.level = level
            case.owner_area = self.owner_for(case.grid, level)
        case.handler_user = handler
        case.handler_department = (
            case.category.department if case.level == Level.DEPARTMENT else case.handler_department
        )

    def _dispatch(self, i: int, actor: Any, handler: Any, now: dt.datetime, note: str = "") -> None:
        case = self.cases[i]
        from_status = case.status
        first = case.dispatched_at is None
        self._assign(case, handler)
        case.status = Status.DISPATCHED
        if first:
            case.dispatched_at = now
            case.dispatched_on_time = case.stage_due_at is None or now <= case.stage_due_at
        self.start_stage(case, now)
        who = handler.username if handler else (case.handler_department or "")
        self.event(
            i,
            now,
            actor,
            "dispatch",
            Step.DISPATCH,
            from_status,
            note or f"派单给 {who}",
            public=True,
            handler=getattr(handler, "pk", None),
        )

    # -- perform ----------------------------------------------------------------------------
    def perform(self, i: int, step: PlannedStep) -> None:
        case = self.cases[i]
        transition = TRANSITIONS[step.action]
        if case.status not in transition.sources:
            raise ValueError(f"{case.number}: cannot {step.action} while {case.status}")
        actor = resolve(step.actor, case, self.staff)
        params = resolve_params(step, case, self.staff, self.numbers)
        getattr(self, f"do_{step.action}")(i, actor, step.at, **params)
        case.version += 1

    def do_dispatch(self, i: int, actor: Any, now: dt.datetime, reason: str = "") -> None:
        case = self.cases[i]
        handler = self.staff.handler(case.owner_area.path, case.level)
        if handler is None and case.level != Level.DEPARTMENT:
            raise ValueError(f"{case.number}: nobody to dispatch to")
        self._dispatch(i, actor, handler, now, note=reason)

    def do_accept(self, i: int, actor: Any, now: dt.datetime) -> None:
        case = self.cases[i]
        case.status = Status.ACCEPTED
        case.accepted_at = case.accepted_at or now
        self.start_stage(case, now)
        self.event(i, now, actor, "accept", Step.DISPATCH, Status.DISPATCHED, "已接单", public=True)

    def do_start(self, i: int, actor: Any, now: dt.datetime) -> None:
        self.cases[i].status = Status.IN_PROGRESS
        self.event(i, now, actor, "start", Step.HANDLE, Status.ACCEPTED, "开始办理", public=True)

    def do_transfer(
        self, i: int, actor: Any, now: dt.datetime, *, reason: str, handler_id: int
    ) -> None:
        case = self.cases[i]
        from_status = case.status
        old_level = case.level
        self._assign(case, None, case.level)
        handler = self.staff.users[handler_id]
        case.handler_user = handler
        case.status = Status.DISPATCHED
        case.transfer_count += 1
        self.start_stage(case, now)
        self.event(
            i,
            now,
            actor,
            "transfer",
            Step.TRANSFER,
            from_status,
            reason,
            public=True,
            from_level=old_level,
            to_level=case.level,
            handler=handler.pk,
        )

    def do_escalate(
        self, i: int, actor: Any, now: dt.datetime, *, reason: str, level: str | None = None
    ) -> None:
        case = self.cases[i]
        from_status = case.status
        target = level or routing.level_above(case.level)
        assert target is not None  # noqa: S101 - the planner escalates grid and zone cases
        if LEVEL_ORDER.index(target) <= LEVEL_ORDER.index(case.level):
            raise ValueError(f"{case.number}: cannot escalate to {target}")
        if case.status == Status.SUSPENDED:
            self._unsuspend(case, now)
        old_level = case.level
        self._assign(case, None, target)
        handler = self.staff.handler(case.owner_area.path, case.level)
        case.handler_user = handler
        case.escalated_help = True
        case.status = Status.DISPATCHED
        self.start_stage(case, now)
        self.event(
            i,
            now,
            actor,
            "escalate",
            Step.TRANSFER,
            from_status,
            reason,
            public=True,
            from_level=old_level,
            to_level=target,
            handler=getattr(handler, "pk", None),
        )

    def do_suspend(self, i: int, actor: Any, now: dt.datetime, *, reason: str) -> None:
        case = self.cases[i]
        case.status = Status.SUSPENDED
        case.suspended_at = now
        self.event(i, now, actor, "suspend", Step.HANDLE, Status.IN_PROGRESS, reason, public=True)

    def _unsuspend(self, case: Case, now: dt.datetime) -> float:
        paused = self.clock.minutes_between(case.suspended_at, now) if case.suspended_at else 0.0
        sla.shift(case, paused, self.clock)
        case.suspended_at = None
        return paused

    def do_resume(self, i: int, actor: Any, now: dt.datetime) -> None:
        case = self.cases[i]
        paused = self._unsuspend(case, now)
        case.status = Status.IN_PROGRESS
        self.event(
            i,
            now,
            actor,
            "resume",
            Step.HANDLE,
            Status.SUSPENDED,
            "恢复办理",
            public=True,
            paused_minutes=round(paused, 1),
        )

    def do_handle(self, i: int, actor: Any, now: dt.datetime, *, result: str) -> None:
        case = self.cases[i]
        from_status = case.status
        case.status = Status.HANDLED
        case.result = result.strip()
        case.handled_at = now
        self.start_stage(case, now)
        self.event(i, now, actor, "handle", Step.HANDLE, from_status, case.result, public=True)

    def do_approve(self, i: int, actor: Any, now: dt.datetime) -> None:
        case = self.cases[i]
        if case.handler_user is not None and case.handler_user == actor:
            raise ValueError(f"{case.number}: a handler may not review their own handling")
        case.status = Status.REPLIED
        case.replied_at = now
        case.public_note = case.result[:300]
        case.closed_on_time = case.due_at is None or now <= case.due_at
        case.handling_minutes = round(self.clock.minutes_between(case.received_at, now), 2)
        self.start_stage(case, now)
        self.event(i, now, actor, "approve", Step.REVIEW, Status.HANDLED, "审核通过")
        self.event(
            i, now, actor, "reply", Step.REPLY, Status.HANDLED, case.public_note, public=True
        )

    def do_send_back(self, i: int, actor: Any, now: dt.datetime, *, reason: str) -> None:
        case = self.cases[i]
        case.status = Status.IN_PROGRESS
        case.rework_count += 1
        self.start_stage(case, now)
        self.event(i, now, actor, "send_back", Step.REVIEW, Status.HANDLED, reason)

    def do_visit(
        self, i: int, actor: Any, now: dt.datetime, *, satisfaction: str, comment: str, by: str
    ) -> None:
        case = self.cases[i]
        visit = ReturnVisit(
            by=by,
            satisfaction=satisfaction,
            comment=comment,
            visitor=actor if getattr(actor, "pk", None) else None,
            at=now,
        )
        visit.case = case
        self.visits.append(visit)
        case.satisfaction = satisfaction
        note = f"回访：{Satisfaction(satisfaction).label}。{comment}"
        if satisfaction != Satisfaction.UNSATISFIED:
            case.status = Status.CLOSED
            case.closed_at = now
            case.closed_level = case.level
            self.start_stage(case, now)
            self.event(
                i,
                now,
                actor,
                "visit",
                Step.REPLY,
                Status.REPLIED,
                note,
                public=True,
                satisfaction=satisfaction,
            )
            return
        case.reopen_count += 1
        self.event(
            i,
            now,
            actor,
            "visit",
            Step.REPLY,
            Status.REPLIED,
            note,
            public=True,
            satisfaction=satisfaction,
        )
        if case.reopen_count != 1:
            raise ValueError(f"{case.number}: the demo reopens a case once at most")
        case.status = Status.IN_PROGRESS
        self.start_stage(case, now)
        self.event(i, now, None, "reopen", Step.HANDLE, Status.REPLIED, "居民不满意，重新办理")

    def do_reject(self, i: int, actor: Any, now: dt.datetime, *, reason: str) -> None:
        case = self.cases[i]
        from_status = case.status
        case.status = Status.REJECTED
        case.closed_at = now
        case.public_note = reason[:300]
        self.start_stage(case, now)
        self.event(i, now, actor, "reject", Step.ASK, from_status, reason, public=True)

    def do_merge(self, i: int, actor: Any, now: dt.datetime, *, into: str, reason: str) -> None:
        case = self.cases[i]
        j = self.index_of[into]
        target = self.cases[j]
        from_status = case.status
        case.status = Status.MERGED
        case.merged_into = target
        case.closed_at = now
        self.start_stage(case, now)
        self.event(
            i,
            now,
            actor,
            "merge",
            Step.ASK,
            from_status,
            f"与 {target.number} 重复，已合并",
            public=True,
            into=target.number,
        )
        self.events[j].append(
            _row(
                now,
                actor,
                "merged_in",
                Step.ASK,
                target.status,
                target.status,
                f"合并了重复诉求 {case.number}",
                False,
                {},
            )
        )

    # -- plans ------------------------------------------------------------------------------
    def run(self, plans: Iterable[CasePlan]) -> None:
        for plan in plans:
            if plan.merge_into is not None:
                for step in plan.steps:
                    step.params["into"] = id(plan.merge_into)
            i = self.intake(plan)
            for step in plan.steps:
                self.perform(i, step)


#: A timeline event as the replay keeps it: the columns of ``CaseEvent`` but the case.
EventRow = tuple[dt.datetime, Any, str, str, str, str, str, str, bool, dict[str, Any]]
EVENT_FIELDS = ("at", "actor", "actor_name", "action", "step", "from_status", "to_status",
                "note", "public", "data")  # fmt: skip


def _row(
    at: dt.datetime, actor: Any, action: str, step: str, from_status: str, to_status: str,
    note: str, public: bool, data: dict[str, Any],
) -> EventRow:  # fmt: skip
    """What ``services._event`` would store (the actor's id and name, or the system)."""
    actor_id = actor.pk if getattr(actor, "pk", None) else None
    name = getattr(actor, "username", "") or "系统"
    return (at, actor_id, name, action, step, from_status, to_status, note, public, data)


def _haversine(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    r = 6371000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


# --- the same plans through the real actions --------------------------------------------------
def apply_with_services(plans: Iterable[CasePlan], staff: Staff) -> list[Case]:
    """Apply plans through ``services.intake`` and ``services.perform`` (slow, exact)."""
    from . import services

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


# --- accounts --------------------------------------------------------------------------------
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


# --- writing ---------------------------------------------------------------------------------
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


# --- entry point -----------------------------------------------------------------------------
def seed_cases(
    rng: random.Random | int = 7,
    scale: str = "tiny",
    *,
    now: dt.datetime | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Add a year of cases to the seeded demo county; returns counts and seconds.

    ``rng`` is a ``random.Random`` or a seed for one; with the same seed, scale and day
    the same cases come out."""
    started = time.perf_counter()
    if not isinstance(rng, random.Random):
        rng = random.Random(f"jiayuan-demo:{rng}:cases")  # noqa: S311 - demo data
    if scale not in CASES_PER_YEAR:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(CASES_PER_YEAR)}")
    now = now or timezone.now()
    clock = WorkClock()
    with transaction.atomic():
        if scale == "tiny":
            accounts = 0
            end = _midnight(timezone.localtime(now).date()) - dt.timedelta(seconds=1)
            home = Membership.objects.filter(user__username="grid", role=Role.GRID_WORKER)
            grids = [m.area for m in home.select_related("area")]
        else:
            accounts = ensure_staff()
            end = now
            grids = list(Area.objects.filter(kind=AreaKind.GRID).order_by("path"))
        if not grids:
            return {"cases": 0}
        staff = Staff()
        planner = Planner(rng, grids, staff, end - dt.timedelta(days=365), end, clock)
        plans = planner.plan(CASES_PER_YEAR[scale])
        planned = time.perf_counter()
        replay = Replay(staff, clock)
        replay.run(plans)
        replayed = time.perf_counter()
        counts: dict[str, Any] = write(replay, staff)
        written = time.perf_counter()
        counts["handler_accounts"] = accounts
        counts["escalation"] = escalation.run(now)
    counts["case_seconds"] = {
        "plan": round(planned - started, 2),
        "replay": round(replayed - planned, 2),
        "write": round(written - replayed, 2),
        "total": round(time.perf_counter() - started, 2),
    }
    if progress:
        print(f"诉求 cases: {counts}")  # noqa: T201
    return counts
