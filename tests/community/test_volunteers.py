"""Volunteers (五色一彩): registration (ages 4–75, a guardian for minors), teams,
activities with capacity, the check-in token, crediting hours once on closing, and the
append-only ledger whose balance is the sum of its lines."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jiayuan.community import volunteering as vol
from jiayuan.community.choices import ActivityStatus
from jiayuan.community.models import Activity, HoursEntry, SignUp, Team, Volunteer
from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area
from jiayuan.people.models import Person

User = get_user_model()


@pytest.fixture(autouse=True)
def _db(db: Any) -> None:
    """Every test reads the seeded tiny county (rolled back afterwards)."""


# --- helpers shared by the volunteers' test modules -----------------------------------------
def user(name: str) -> Any:
    return User.objects.get(username=name)


def area_of(username: str) -> Area:
    return user(username).memberships.get().area  # type: ignore[no-any-return]


def community() -> Area:
    return area_of("community")


def other_community() -> Area:
    return (
        Area.objects.filter(kind=AreaKind.COMMUNITY).exclude(pk=community().pk).order_by("path")[0]
    )


def born(age: int, *, days: int = 0) -> dt.date:
    """A birth date giving ``age`` today (``days`` later: still ``age`` - 1 for a few days)."""
    today = timezone.localdate()
    try:
        day = today.replace(year=today.year - age)
    except ValueError:  # 29 February
        day = today.replace(year=today.year - age, day=28)
    return day + dt.timedelta(days=days)


def person(
    age: int | None, *, area: Area | None = None, days: int = 0, name: str = "测试居民"
) -> Person:
    """A new resident of the ``grid`` user's grid (or ``area``) aged ``age``."""
    where = area or area_of("grid")
    return Person.objects.create(
        name=name, area=where, birth_date=born(age, days=days) if age is not None else None
    )


def team(area: Area | None = None, name: str = "红色先锋队") -> Team:
    return vol.create_team(
        actor=user("community"), area=area or community(), name=name, colour="red"
    )


def activity(
    *,
    actor: Any = None,
    area: Area | None = None,
    capacity: int = 10,
    hours: str = "2.0",
    starts_in: dt.timedelta = dt.timedelta(minutes=-10),
    title: str = "健康义诊进小区",
) -> Activity:
    start = timezone.now() + starts_in
    return vol.create_activity(
        actor=actor or user("community"),
        area=area or community(),
        title=title,
        kind="clinic",
        starts_at=start,
        ends_at=start + dt.timedelta(hours=2),
        capacity=capacity,
        hours=Decimal(hours),
    )


def volunteer(age: int = 30, **kw: Any) -> Volunteer:
    return vol.register_volunteer(actor=user("community"), person=person(age, **kw))


# --- registration --------------------------------------------------------------------------
@pytest.mark.parametrize("age", [4, 18, 45, 75])
def test_volunteers_aged_4_to_75_register(age: int) -> None:
    guardian = person(40) if age < 18 else None
    v = vol.register_volunteer(actor=user("community"), person=person(age), guardian=guardian)
    assert v.pk and v.area_path == v.person.area_path
    assert AuditEntry.objects.for_object(v).filter(action="create").exists()


@pytest.mark.parametrize(("age", "days"), [(3, 0), (4, 1), (76, 0), (90, 0)])
def test_ages_outside_4_to_75_on_the_day_are_refused_naming_the_field(age: int, days: int) -> None:
    # (4, 1): the fourth birthday is tomorrow, so the child is still 3 today
    with pytest.raises(ValidationFailed) as caught:
        vol.register_volunteer(
            actor=user("community"), person=person(age, days=days), guardian=person(40)
        )
    assert caught.value.field == "person"
    assert "4" in caught.value.zh and "75" in caught.value.en
    assert not Volunteer.objects.filter(person__name="测试居民").exists()


def test_a_person_without_a_birth_date_is_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        vol.register_volunteer(actor=user("community"), person=person(None))
    assert caught.value.field == "person"


def test_a_minor_needs_an_adult_guardian() -> None:
    child = person(12)
    with pytest.raises(ValidationFailed) as caught:
        vol.register_volunteer(actor=user("community"), person=child)
    assert caught.value.field == "guardian"
    for bad in (person(16), child):  # a minor guardian, the child themselves
        with pytest.raises(ValidationFailed) as caught:
            vol.register_volunteer(actor=user("community"), person=child, guardian=bad)
        assert caught.value.field == "guardian"
    mother = person(38)
    v = vol.register_volunteer(actor=user("community"), person=child, guardian=mother)
    assert v.guardian == mother


def test_registering_twice_is_a_conflict() -> None:
    p = person(30)
    vol.register_volunteer(actor=user("community"), person=p)
    with pytest.raises(Conflict):
        vol.register_volunteer(actor=user("community"), person=p)


def test_staff_register_only_inside_their_scope() -> None:
    far = person(30, area=other_community())
    with pytest.raises(NotFound):
        vol.register_volunteer(actor=user("grid"), person=far)
    # the branch secretary serves (Perm.SERVE) without the right to change records
    v = vol.register_volunteer(actor=user("branch"), person=person(30))
    assert v.pk


def test_a_grid_worker_registers_into_the_teams_of_their_community() -> None:
    red = team()
    v = vol.register_volunteer(actor=user("grid"), person=person(30), teams=[red])
    assert list(v.teams.all()) == [red]
    far = vol.create_team(actor=user("admin"), area=other_community(), name="远方队", colour="blue")
    with pytest.raises(NotFound):
        vol.register_volunteer(actor=user("grid"), person=person(31), teams=[far])


def test_a_resident_registers_themselves() -> None:
    me = user("resident")
    v = vol.register_volunteer(actor=me, person=me.person)
    assert v.person.user_id == me.pk
    with pytest.raises(NotFound):  # not someone else
        vol.register_volunteer(actor=me, person=person(30))


def test_teams_live_in_a_community_and_have_one_of_the_six_colours() -> None:
    with pytest.raises(ValidationFailed):
        vol.create_team(actor=user("community"), area=area_of("grid"), name="x", colour="red")
    with pytest.raises(ValidationFailed):
        vol.create_team(actor=user("community"), area=community(), name="x", colour="pink")
    with pytest.raises(NotFound):
        vol.create_team(actor=user("community"), area=other_community(), name="x", colour="red")
    team()
    with pytest.raises(Conflict):
        team()


# --- activities, capacity, sign-up ---------------------------------------------------------
def test_an_activity_gets_a_secret_token_and_checks_its_input() -> None:
    a = activity()
    b = activity()
    assert len(a.checkin_token) == 32 and a.checkin_token != b.checkin_token
    start = timezone.now()
    bad: list[dict[str, Any]] = [
        {"ends_at": start - dt.timedelta(hours=1)},
        {"starts_at": start + dt.timedelta(days=800), "ends_at": start + dt.timedelta(days=801)},
        {"ends_at": start + dt.timedelta(days=30)},
        {"capacity": 0},
        {"capacity": 10**9},
        {"hours": "0"},
        {"hours": "25"},
        {"hours": "NaN"},
        {"title": "  "},
        {"title": "x" * 500},
        {"title": "a\x00b"},
        {"kind": "party"},
    ]
    for change in bad:
        fields: dict[str, Any] = {
            "actor": user("community"),
            "area": community(),
            "title": "活动",
            "kind": "class",
            "starts_at": start,
            "ends_at": start + dt.timedelta(hours=1),
            "capacity": 5,
            "hours": "2",
        } | change
        with pytest.raises(ValidationFailed):
            vol.create_activity(**fields)


def test_a_residents_signs_up_once_and_capacity_holds() -> None:
    a = activity(capacity=2)
    me = user("resident")
    vol.sign_up(a, actor=me, person=me.person)
    with pytest.raises(Conflict):
        vol.sign_up(a, actor=me, person=me.person)
    vol.sign_up(a, actor=user("community"), person=person(30))
    with pytest.raises(Conflict) as caught:
        vol.sign_up(a, actor=user("community"), person=person(31))
    assert "名额已满" in caught.value.zh
    # a cancelled sign-up frees its place
    vol.cancel_sign_up(a, actor=me, person=me.person)
    vol.sign_up(a, actor=user("community"), person=person(32))
    assert SignUp.objects.filter(activity=a, cancelled_at__isnull=True).count() == 2


def test_a_resident_joins_activities_of_their_community_only() -> None:
    far = activity(area=other_community(), actor=user("admin"))
    me = user("resident")
    with pytest.raises(NotFound):
        vol.sign_up(far, actor=me, person=me.person)
    with pytest.raises(NotFound):  # nor signs someone else up
        vol.sign_up(activity(), actor=me, person=person(30))


def test_sign_up_closes_when_the_activity_ends_or_is_cancelled() -> None:
    a = activity()
    Activity.objects.filter(pk=a.pk).update(
        starts_at=timezone.now() - dt.timedelta(hours=3),
        ends_at=timezone.now() - dt.timedelta(hours=1),
    )
    a.refresh_from_db()
    me = user("resident")
    with pytest.raises(Conflict):
        vol.sign_up(a, actor=me, person=me.person)
    b = vol.cancel_activity(activity(), actor=user("community"))
    assert b.status == ActivityStatus.CANCELLED
    with pytest.raises(Conflict):
        vol.sign_up(b, actor=me, person=me.person)


# --- check-in ------------------------------------------------------------------------------
def test_check_in_by_token_once_and_a_wrong_token_is_not_found() -> None:
    a = activity()
    me = user("resident")
    vol.sign_up(a, actor=me, person=me.person)
    with pytest.raises(NotFound):
        vol.check_in(a, actor=me, token="0" * 32)
    with pytest.raises(NotFound):
        vol.check_in(a, actor=me, token="")
    row, new = vol.check_in(a, actor=me, token=a.checkin_token)
    assert new and row.checked_in_at is not None
    first = row.checked_in_at
    row, new = vol.check_in(a, actor=me, token=a.checkin_token)
    assert not new and row.checked_in_at == first


def test_check_in_needs_a_sign_up_and_the_time_window() -> None:
    me = user("resident")
    a = activity()
    with pytest.raises(Conflict) as caught:
        vol.check_in(a, actor=me, token=a.checkin_token)
    assert "报名" in caught.value.zh
    later = activity(starts_in=dt.timedelta(days=2))
    vol.sign_up(later, actor=me, person=me.person)
    with pytest.raises(Conflict):
        vol.check_in(later, actor=me, token=later.checkin_token)


def test_staff_check_in_by_hand_inside_their_scope() -> None:
    a = activity()
    p = person(30)
    vol.sign_up(a, actor=user("community"), person=p)
    with pytest.raises(NotFound):
        vol.check_in(a, actor=user("resident"), person=p)  # a resident is no staff
    with pytest.raises(NotFound):  # the 楼栋长 serves their building, not the community
        vol.check_in(a, actor=user("head"), person=p)
    row, new = vol.check_in(a, actor=user("community"), person=p)
    assert new and row.checked_in_at


# --- closing and the ledger ----------------------------------------------------------------
def checked_in(a: Activity, *people: Person) -> None:
    for p in people:
        vol.sign_up(a, actor=user("community"), person=p)
        vol.check_in(a, actor=user("community"), person=p)


def test_closing_credits_each_checked_in_volunteer_once() -> None:
    # given two checked-in volunteers, one checked-in non-volunteer, one who only signed up
    a = activity(hours="2.5")
    v1, v2 = volunteer(30), volunteer(50)
    walk_in = person(40)
    absent = volunteer(60)
    checked_in(a, v1.person, v2.person, walk_in)
    vol.sign_up(a, actor=user("community"), person=absent.person)

    # when the activity is closed
    vol.close_activity(a, actor=user("community"), report="为 40 位老人量血压")

    # then each checked-in volunteer has the hours once, participations count check-ins
    a.refresh_from_db()
    assert (a.status, a.participations, a.report) == ("done", 3, "为 40 位老人量血压")
    assert {e.volunteer_id: e.hours for e in HoursEntry.objects.filter(activity=a)} == {
        v1.pk: Decimal("2.5"),
        v2.pk: Decimal("2.5"),
    }
    assert vol.balance(absent) == 0
    with pytest.raises(Conflict):
        vol.close_activity(a, actor=user("community"))
    assert HoursEntry.objects.filter(activity=a).count() == 2


def test_the_ledger_refuses_a_second_line_for_one_activity_and_any_edit() -> None:
    a = activity()
    v = volunteer()
    checked_in(a, v.person)
    vol.close_activity(a, actor=user("community"))
    entry = HoursEntry.objects.get(activity=a)
    with pytest.raises(IntegrityError), transaction.atomic():
        HoursEntry.objects.create(volunteer=v, activity=a, hours=1, reason="again")
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        HoursEntry.objects.filter(pk=entry.pk).update(hours=10)
    with pytest.raises(TypeError):
        HoursEntry.objects.filter(pk=entry.pk).delete()


def test_an_activity_not_started_cannot_be_closed() -> None:
    a = activity(starts_in=dt.timedelta(hours=3))
    with pytest.raises(Conflict):
        vol.close_activity(a, actor=user("community"))


def test_corrections_are_new_lines_with_a_reason_and_never_go_below_zero() -> None:
    a = activity(hours="3")
    v = volunteer()
    checked_in(a, v.person)
    vol.close_activity(a, actor=user("community"))
    vol.correct_hours(v, actor=user("community"), hours=Decimal("-1"), reason="签到有误")
    assert vol.balance(v) == Decimal("2.0")
    with pytest.raises(ValidationFailed):
        vol.correct_hours(v, actor=user("community"), hours=Decimal("-5"), reason="多扣")
    with pytest.raises(ValidationFailed):
        vol.correct_hours(v, actor=user("community"), hours=Decimal("1"), reason="")
    with pytest.raises(ValidationFailed):
        vol.correct_hours(v, actor=user("community"), hours=Decimal("0"), reason="零")
    with pytest.raises(PermissionDenied):  # the branch secretary serves but edits no records
        vol.correct_hours(v, actor=user("branch"), hours=Decimal("1"), reason="补记")
    assert [str(e.hours) for e in HoursEntry.objects.filter(volunteer=v)] == ["3.0", "-1.0"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.decimals(min_value=-50, max_value=50, places=1), min_size=1, max_size=12))
def test_a_balance_is_the_sum_of_its_lines(amounts: list[Decimal]) -> None:
    # property: whatever corrections are accepted, balance == the sum of the lines, and
    # the refused ones (zero, or below zero) leave no line behind
    with transaction.atomic():
        v = volunteer()
        expected = Decimal("0")
        for amount in amounts:
            try:
                vol.correct_hours(v, actor=user("community"), hours=amount, reason="更正")
            except ValidationFailed:
                assert amount == 0 or expected + amount < 0
            else:
                expected += amount
        lines = list(HoursEntry.objects.filter(volunteer=v).values_list("hours", flat=True))
        assert vol.balance(v) == sum(lines, Decimal("0")) == expected >= 0
        annotated = vol.with_balance(Volunteer.objects.filter(pk=v.pk)).get()
        assert annotated.balance == expected and str(annotated.balance) == str(
            expected.quantize(Decimal("0.1"))
        )
        transaction.set_rollback(True)


def test_a_volunteer_who_moves_goes_along_and_the_ledger_stays() -> None:
    from jiayuan.people import services as people_services

    v = volunteer()
    vol.correct_hours(v, actor=user("community"), hours=Decimal("2"), reason="补记")
    far = Area.objects.filter(kind=AreaKind.GRID, path__startswith=other_community().path)[0]
    people_services.update_person(v.person, actor=user("admin"), area=far)
    v.refresh_from_db()
    assert v.area_path == far.path
    assert not vol.volunteers_for(user("grid")).filter(pk=v.pk).exists()
    assert vol.balance(v) == Decimal("2")


def test_a_resident_registering_themselves_joins_teams_of_their_community_only() -> None:
    me = user("resident")
    far = vol.create_team(actor=user("admin"), area=other_community(), name="远方队", colour="blue")
    with pytest.raises(NotFound):
        vol.register_volunteer(actor=me, person=me.person, teams=[far])
    near = team()
    v = vol.register_volunteer(actor=me, person=me.person, teams=[near])
    assert list(v.teams.all()) == [near]
