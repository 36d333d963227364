"""``jiayuan simulate-mobilisation``: a mobilisation on the current database, driven by a
simulated clock, that prints its timeline summary and after-action report.

Forces are put on duty near their areas, a mobilisation is started at their middle, and
each called person behaves by a seeded draw: most acknowledge, go and check in; some
decline; some ignore the call, so escalation (grid leader, then community secretary)
and, after the time-out, top-up with the next nearest fire on their own. Every step goes
through :mod:`jiayuan.command.mobilise`, as it would on the site.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count
from django.utils import timezone

from jiayuan.command import duty, mobilise
from jiayuan.command.models import DutyShift, Member, MobilisationEvent, Step
from jiayuan.core.errors import BilingualError
from jiayuan.core.roles import Role
from jiayuan.people.models import Force


@dataclass
class Plan:
    """What one called person will do, in minutes after being notified."""

    kind: str  # "come", "decline" or "ignore"
    ack: float = 0.0
    go: float = 0.0
    arrive: float = 0.0


def draw(rng: random.Random) -> Plan:
    roll = rng.random()
    if roll < 0.7:
        ack = rng.uniform(0.5, 8)
        go = ack + rng.uniform(0.5, 3)
        return Plan("come", ack, go, go + rng.uniform(3, 20))
    if roll < 0.85:
        return Plan("decline", rng.uniform(0.5, 5))
    return Plan("ignore")


class Command(BaseCommand):
    help = "模拟一次一键调度（模拟时钟），打印时间线摘要与复盘 / simulate a mobilisation"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--forces", type=int, default=200, help="put this many on duty")
        parser.add_argument("--head-count", type=int, default=20)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--as", dest="as_user", default="", help="act as this account")
        parser.add_argument("--minutes", type=int, default=180, help="simulated minutes at most")

    def handle(self, *args: Any, **opts: Any) -> None:
        rng = random.Random(opts["seed"])  # noqa: S311 - a reproducible simulation
        actor = self._actor(opts["as_user"])
        if opts["head_count"] < 1 or opts["forces"] < 1:
            raise CommandError("人数须为正数 / counts must be positive")
        chosen = self._on_duty(rng, opts["forces"], actor)
        try:
            self._simulate(chosen, rng, opts, actor)
        finally:
            for shift in chosen:  # put back whoever the simulation put on duty
                duty.go_off_duty(shift.force, actor=actor)

    def _simulate(self, chosen: list[Any], rng: random.Random, opts: Any, actor: Any) -> None:
        if len(chosen) < opts["head_count"]:
            raise CommandError(
                f"只有 {len(chosen)} 名力量可上岗 / only {len(chosen)} forces available"
            )
        lat = sum(s.lat or 0 for s in chosen) / len(chosen)
        lng = sum(s.lng or 0 for s in chosen) / len(chosen)
        start = timezone.now()
        try:
            mob = mobilise.start(
                actor,
                point={"lat": lat, "lng": lng},
                head_count=opts["head_count"],
                message="模拟调度：请到集结点集合 / simulated mobilisation",
                source="simulation",
                now=start,
            )
        except BilingualError as exc:
            raise CommandError(exc.message) from exc
        self._run(mob.pk, rng, start, opts["minutes"], actor)
        mob.refresh_from_db()
        self._print(mob)

    def _actor(self, username: str) -> Any:
        """The account starting the mobilisation: the one named, else a county
        administrator (or a superuser)."""
        users = get_user_model().objects.filter(is_active=True)
        if username:
            actor = users.filter(username=username).first()
        else:
            actor = (
                users.filter(memberships__role=Role.COUNTY_ADMIN, memberships__active=True).first()
                or users.filter(is_superuser=True).first()
            )
        if actor is None:
            raise CommandError("没有可发起调度的账号 / no account to act as (seed the demo first)")
        return actor

    def _on_duty(self, rng: random.Random, n: int, actor: Any) -> list[Any]:
        idle = list(
            Force.objects.filter(person__death_date__isnull=True)
            .exclude(pk__in=DutyShift.objects.filter(ended_at__isnull=True).values("force_id"))
            .select_related("area")
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        picked = sorted(rng.sample(idle, min(n, len(idle))))
        points = mobilise._force_points(list(Force.objects.filter(pk__in=picked)))
        shifts = []
        for force in Force.objects.filter(pk__in=picked).order_by("pk"):
            base = points.get(force.pk)
            if base is None:
                continue
            jitter = (rng.uniform(-0.004, 0.004), rng.uniform(-0.004, 0.004))
            shifts.append(
                duty.go_on_duty(
                    force, actor=actor, lat=base[0] + jitter[0], lng=base[1] + jitter[1]
                )
            )
        return shifts

    def _run(
        self, mob_id: int, rng: random.Random, start: dt.datetime, minutes: int, actor: Any
    ) -> None:
        plans: dict[int, Plan] = {}
        tick = dt.timedelta(seconds=30)
        now = start
        while now <= start + dt.timedelta(minutes=minutes):
            members = list(Member.objects.select_related("person").filter(mobilisation_id=mob_id))
            for m in members:
                plans.setdefault(m.pk, draw(rng))
            for m in members:
                self._act(mob_id, m, plans[m.pk], now, actor)
            mobilise.sweep_one(mob_id, now)
            mob = mobilise.Mobilisation.objects.get(pk=mob_id)
            waiting = Member.objects.filter(
                mobilisation_id=mob_id,
                step__in=[*mobilise.WAITING, Step.ACKNOWLEDGED, Step.EN_ROUTE],
            ).exists()
            if mob.assembled_at is not None and not waiting:
                break
            now += tick
        mobilise.close(mob_id, actor, now=now)

    def _act(self, mob_id: int, m: Member, plan: Plan, now: dt.datetime, actor: Any) -> None:
        waited = (now - m.notified_at).total_seconds() / 60
        step: str | None = None
        if plan.kind == "decline" and m.step in mobilise.WAITING and waited >= plan.ack:
            step = Step.DECLINED
        elif plan.kind == "come":
            if m.step in mobilise.WAITING and waited >= plan.ack:
                step = Step.ACKNOWLEDGED
            elif m.step == Step.ACKNOWLEDGED and waited >= plan.go:
                step = Step.EN_ROUTE
            elif m.step == Step.EN_ROUTE and waited >= plan.arrive:
                step = Step.CHECKED_IN
        if step is None:
            return
        mob = mobilise.Mobilisation.objects.get(pk=mob_id)
        mobilise.respond(
            mob_id, actor, step=step, member_id=m.pk, now=now,
            lat=mob.lat if step == Step.CHECKED_IN else None,
            lng=mob.lng if step == Step.CHECKED_IN else None,
        )  # fmt: skip

    def _print(self, mob: Any) -> None:
        out = self.stdout.write
        report = mobilise.report(mob)
        kinds = dict(
            MobilisationEvent.objects.filter(mobilisation=mob)
            .values_list("kind")
            .annotate(n=Count("pk"))
            .values_list("kind", "n")
        )
        steps = dict(
            MobilisationEvent.objects.filter(mobilisation=mob, kind="step")
            .values_list("step")
            .annotate(n=Count("pk"))
            .values_list("step", "n")
        )
        out(f"调度 {mob.number}  所需 {mob.head_count} 人  状态 {mob.get_status_display()}")
        out("时间线 / timeline:")
        for e in mobilise.timeline(mob):
            if e.kind in ("step", "escalated"):
                continue
            offset = (e.at - mob.created_at).total_seconds() / 60
            out(f"  +{offset:6.1f} 分  {e.get_kind_display()}  {e.note}")
        out("  环节事件 / step events: " + ", ".join(f"{k}={v}" for k, v in sorted(steps.items())))
        escalated, topped = kinds.get("escalated", 0), kinds.get("topped_up", 0)
        out(f"  提级 / escalations: {escalated}  补充调度 / top-ups: {topped}")
        out("复盘 / report:")
        out(f"  通知人数 / called: {report['called']}")
        out(f"  确认 / acknowledged: {report['acknowledged']}")
        out(f"  首次确认 / first acknowledgement: {report['minutes_to_first_ack']} 分钟")
        out(f"  确认满员 / head count acknowledged: {report['minutes_to_head_count']} 分钟")
        out(f"  到场满员 / head count on site: {report['minutes_to_assembled']} 分钟")
        out(f"  到场 / came: {len(report['came'])}")
        out(f"  未到 / did not come: {len(report['did_not_come'])}")
        reached = mob.assembled_at is not None
        verdict = "达到所需人数 (reached)" if reached else "未达到所需人数 (short)"
        out(f"结果 / result: {verdict}")
