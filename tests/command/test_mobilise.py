"""Selection, steps, escalation and top-up of a mobilisation (一键调度) on the tiny county."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from jiayuan.command import duty, mobilise
from jiayuan.command.models import Member, MobilisationEvent, Step
from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.models import Notification
from jiayuan.people.models import Force

from .conftest import COMMUNITY, GRID, NOW, OTHER_COMMUNITY, POINT, at, living_forces, on_duty

pytestmark = pytest.mark.django_db

MIN = dt.timedelta(minutes=1)


def start(users: dict[str, Any], head_count: int, who: str = "community", **kw: Any) -> Any:
    return mobilise.start(
        users[who],
        point={"lat": POINT[0], "lng": POINT[1]},
        head_count=head_count,
        message="防汛集结",
        now=kw.pop("now", NOW),
        **kw,
    )


def test_selection_takes_the_nearest_available_in_scope_only(users: dict[str, Any]) -> None:
    # given: forces of the community at growing distances, and nearer ones that must not
    # be chosen: one outside the scope, one outside its availability, one off duty
    mine = list(living_forces(COMMUNITY).exclude(person__user__isnull=False)[:6])
    near, mid, far, unavailable, off_duty, later = mine
    on_duty(near, *at(0.001))
    on_duty(mid, *at(0.003))
    on_duty(far, *at(0.02))
    on_duty(unavailable, *at(0.0001))
    duty.set_availability(
        unavailable, [{"weekday": 2, "start": "08:00", "end": "09:00"}], actor=None
    )  # Wednesday morning only: NOW is Wednesday 18:00 Beijing time
    duty.set_availability(later, [{"weekday": 2, "start": "17:00", "end": "19:00"}], actor=None)
    on_duty(later, *at(0.01))
    stranger = living_forces(OTHER_COMMUNITY).first()
    on_duty(stranger, *POINT)  # exactly at the point, but in another community
    assert off_duty.pk not in {near.pk, mid.pk}

    # when
    mob = start(users, 2)

    # then: the two nearest available in scope, nearest first
    members = list(Member.objects.filter(mobilisation=mob).order_by("rank"))
    assert [m.force_id for m in members] == [near.pk, mid.pk]
    assert members[0].distance_m == pytest.approx(111, abs=2)
    assert members[1].distance_m > members[0].distance_m

    # a second mobilisation does not call people already in play; the stranger still
    # never, the unavailable never, the one inside its window yes
    second = start(users, 10)
    called = set(Member.objects.filter(mobilisation=second).values_list("force_id", flat=True))
    assert called == {far.pk, later.pk}
    assert stranger.pk not in called and unavailable.pk not in called
    assert off_duty.pk not in called

    # the street leader's scope covers both communities: the stranger is now nearest
    third = start(users, 1, who="street")
    assert Member.objects.get(mobilisation=third).force_id == stranger.pk


def test_roles_and_skills_narrow_the_selection(users: dict[str, Any]) -> None:
    forces = list(living_forces(COMMUNITY)[:3])
    for i, f in enumerate(forces):
        on_duty(f, *at(0.001 * (i + 1)))
    Force.objects.filter(pk=forces[0].pk).update(skills=["急救"])
    Force.objects.filter(pk=forces[2].pk).update(skills=["急救", "驾驶"])
    mob = start(users, 5, skills=["急救"])
    assert {m.force_id for m in mob.members.all()} == {forces[0].pk, forces[2].pk}
    kind = forces[1].kind
    mob2 = start(users, 5, roles=[kind])
    assert forces[1].pk in {m.force_id for m in mob2.members.all()}
    assert all(m.force.kind == kind for m in mob2.members.select_related("force"))
    with pytest.raises(ValidationFailed):
        start(users, 1, roles=["not_a_kind"])


def test_nobody_available_is_a_conflict_and_a_grid_worker_may_not_start(
    users: dict[str, Any],
) -> None:
    with pytest.raises(Conflict):
        start(users, 1)
    with pytest.raises(PermissionDenied):
        start(users, 1, who="grid")
    # a point outside the scope is refused
    with pytest.raises(ValidationFailed):
        mobilise.start(
            users["community"],
            point={"lat": 35.7125, "lng": 116.47425},
            head_count=1,
            message="x",
            now=NOW,
        )


def grid_force(users: dict[str, Any]) -> Force:
    return Force.objects.select_related("person").get(person__user=users["grid"])


def test_steps_follow_the_table_and_only_their_owner_posts_them(users: dict[str, Any]) -> None:
    mine = on_duty(grid_force(users), *at(0.001))
    other = on_duty(living_forces(GRID).exclude(person__user__isnull=False).first(), *at(0.002))
    mob = start(users, 2)
    me = Member.objects.get(mobilisation=mob, force=mine)
    them = Member.objects.get(mobilisation=mob, force=other)
    # the grid worker has an account: the in-app notice delivered the call
    assert me.step == Step.DELIVERED and them.step == Step.NOTIFIED
    assert Notification.objects.filter(user=users["grid"], kind="mobilisation").exists()

    # an illegal step is a conflict, named in both languages
    with pytest.raises(Conflict) as illegal:
        mobilise.respond(mob.pk, users["grid"], step=Step.CHECKED_IN, lat=1, lng=1, now=NOW)
    assert "不能变为" in illegal.value.zh and "cannot go" in illegal.value.en
    # a force posts its own steps only, and cannot release itself
    with pytest.raises(PermissionDenied):
        mobilise.respond(mob.pk, users["grid"], step=Step.ACKNOWLEDGED, member_id=them.pk)
    with pytest.raises(PermissionDenied):
        mobilise.respond(mob.pk, users["grid"], step=Step.RELEASED)
    # someone neither called nor in scope does not see it at all
    with pytest.raises(NotFound):
        mobilise.respond(mob.pk, users["resident"], step=Step.ACKNOWLEDGED)

    mobilise.respond(mob.pk, users["grid"], step=Step.ACKNOWLEDGED, now=NOW + MIN)
    mobilise.respond(mob.pk, users["grid"], step=Step.EN_ROUTE, now=NOW + 2 * MIN)
    with pytest.raises(ValidationFailed):  # checking in needs the position
        mobilise.respond(mob.pk, users["grid"], step=Step.CHECKED_IN, now=NOW + 3 * MIN)
    mobilise.respond(
        mob.pk, users["grid"], step=Step.CHECKED_IN, lat=POINT[0], lng=POINT[1], now=NOW + 3 * MIN
    )
    me.refresh_from_db()
    assert me.step == Step.CHECKED_IN and me.checkin_lat == POINT[0]
    # staff in scope record anyone's step, including the release
    mobilise.respond(
        mob.pk, users["community"], step=Step.RELEASED, member_id=me.pk, now=NOW + 4 * MIN
    )
    steps = list(
        MobilisationEvent.objects.filter(member=me, kind="step").values_list("step", flat=True)
    )
    assert steps == ["notified", "delivered", "acknowledged", "en_route", "checked_in", "released"]
    mob.refresh_from_db()
    assert mob.first_ack_at == NOW + MIN
    with pytest.raises(TypeError):  # the timeline is append-only
        MobilisationEvent.objects.filter(member=me).first().save()  # type: ignore[union-attr]


def test_escalation_fires_once_per_level(users: dict[str, Any]) -> None:
    # given: a force of the grid without an account, who ignores the call
    silent = on_duty(living_forces(GRID).exclude(person__user__isnull=False).first(), *at(0.001))
    mob = start(users, 1)
    member = Member.objects.get(mobilisation=mob)
    assert member.force_id == silent.pk

    def notices(who: str) -> int:
        return Notification.objects.filter(
            user=users[who], kind="mobilisation_escalated", ref=mob.number
        ).count()

    # before N minutes nothing; at N the grid leader, once, however often the job runs
    mobilise.sweep(NOW + 4 * MIN)
    assert notices("grid") == 0
    for minute in (5, 6, 7, 9):
        mobilise.sweep(NOW + minute * MIN)
    assert notices("grid") == 1 and notices("community") == 0
    # at 2N the community (its secretary has no account: its staff), once
    for minute in (10, 11, 14):
        mobilise.sweep(NOW + minute * MIN)
    assert notices("grid") == 1 and notices("community") == 1
    levels = list(
        MobilisationEvent.objects.filter(member=member, kind="escalated").values_list(
            "level", flat=True
        )
    )
    assert levels == [1, 2]
    # at 3N the call times out (and no further escalation)
    mobilise.sweep(NOW + 15 * MIN)
    mobilise.sweep(NOW + 30 * MIN)
    member.refresh_from_db()
    assert member.step == Step.TIMED_OUT
    assert MobilisationEvent.objects.filter(member=member, kind="escalated").count() == 2


def test_an_acknowledgement_stops_escalation(users: dict[str, Any]) -> None:
    on_duty(grid_force(users), *at(0.001))
    mob = start(users, 1)
    mobilise.sweep(NOW + 5 * MIN)
    mobilise.respond(mob.pk, users["grid"], step=Step.ACKNOWLEDGED, now=NOW + 6 * MIN)
    mobilise.sweep(NOW + 20 * MIN)
    member = Member.objects.get(mobilisation=mob)
    assert member.step == Step.ACKNOWLEDGED and member.escalation_level == 1


def test_top_up_calls_the_next_nearest_and_stops_at_the_head_count(
    users: dict[str, Any],
) -> None:
    forces = list(living_forces(COMMUNITY).exclude(person__user__isnull=False)[:5])
    for i, f in enumerate(forces):
        on_duty(f, *at(0.001 * (i + 1)))
    mob = start(users, 2)
    first, second = Member.objects.filter(mobilisation=mob).order_by("rank")
    staff = users["community"]

    def in_play() -> list[int]:
        return list(
            Member.objects.filter(mobilisation=mob)
            .exclude(step__in=mobilise.OUT)
            .order_by("rank")
            .values_list("force_id", flat=True)
        )

    # a decline calls the next nearest at once
    mobilise.respond(mob.pk, staff, step=Step.DECLINED, member_id=first.pk, now=NOW + MIN)
    assert in_play() == [forces[1].pk, forces[2].pk]
    # acknowledgements up to the head count: the job calls nobody more
    mobilise.respond(mob.pk, staff, step=Step.ACKNOWLEDGED, member_id=second.pk, now=NOW + MIN)
    third = Member.objects.get(mobilisation=mob, force=forces[2])
    mobilise.respond(mob.pk, staff, step=Step.ACKNOWLEDGED, member_id=third.pk, now=NOW + MIN)
    for minute in (5, 10, 15, 30):
        mobilise.sweep(NOW + minute * MIN)
    assert Member.objects.filter(mobilisation=mob).count() == 3
    mob.refresh_from_db()
    assert mob.head_count_at == NOW + MIN
    # one more drops out: exactly one more is called, the nearest left
    mobilise.respond(mob.pk, staff, step=Step.DECLINED, member_id=third.pk, now=NOW + 31 * MIN)
    assert in_play() == [forces[1].pk, forces[3].pk]
    assert MobilisationEvent.objects.filter(mobilisation=mob, kind="topped_up").count() == 2
    # a time-out tops up too, and with nobody left, nobody is called
    for minute in (47, 52, 60):
        mobilise.sweep(NOW + minute * MIN)
    assert in_play() == [forces[1].pk, forces[4].pk]
    for minute in (80, 100):
        mobilise.sweep(NOW + minute * MIN)
    assert in_play() == [forces[1].pk]
    assert Member.objects.filter(mobilisation=mob).count() == 5


def test_close_releases_everyone_and_the_report_counts(users: dict[str, Any]) -> None:
    on_duty(grid_force(users), *at(0.001))
    for i, f in enumerate(living_forces(COMMUNITY).exclude(person__user__isnull=False)[:2]):
        on_duty(f, *at(0.002 * (i + 1)))
    mob = start(users, 3)
    grid_member = mobilise.member_of(mob, users["grid"])
    assert grid_member is not None
    mobilise.respond(mob.pk, users["grid"], step=Step.ACKNOWLEDGED, now=NOW + MIN)
    mobilise.respond(
        mob.pk, users["grid"], step=Step.CHECKED_IN, lat=POINT[0], lng=POINT[1], now=NOW + 7 * MIN
    )
    mobilise.close(mob.pk, users["community"], now=NOW + 20 * MIN)
    mob.refresh_from_db()
    report = mobilise.report(mob)
    assert report["minutes_to_first_ack"] == 1.0
    assert report["minutes_to_head_count"] is None
    assert [p["name"] for p in report["came"]] == [grid_member.person.name]
    assert len(report["did_not_come"]) == 2
    assert set(Member.objects.filter(mobilisation=mob).values_list("step", flat=True)) == {
        Step.RELEASED
    }
    with pytest.raises(Conflict):
        mobilise.close(mob.pk, users["community"])
    with pytest.raises(Conflict):
        mobilise.respond(mob.pk, users["community"], step=Step.RELEASED, member_id=grid_member.pk)
