"""The matching run (政策找人) on the seeded tiny county: idempotent, explained, closing
matches when people stop qualifying, looking ahead to birthdays, scoped to the grid."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from jiayuan.core.errors import Conflict, ValidationFailed
from jiayuan.org.models import Area
from jiayuan.people.models import Person
from jiayuan.policies import services
from jiayuan.policies.choices import CloseReason, MatchKind, MatchStatus
from jiayuan.policies.matching import explain, match_policy, run_matching
from jiayuan.policies.models import Match, Policy, ReceivedBenefit

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 11, 28)
User = get_user_model()


@pytest.fixture
def grid_unit() -> Area:
    grid = User.objects.get(username="grid").memberships.get().area
    unit = Area.objects.filter(path__startswith=grid.path, kind="unit").order_by("path").first()
    assert unit is not None
    return unit


def person(unit: Area, born: dt.date, **kw: Any) -> Person:
    return Person.objects.create(
        name=kw.pop("name", "测试老人"), area=unit, birth_date=born, hukou_code="370830", **kw
    )


def policy(code: str) -> Policy:
    return Policy.objects.get(code=code)


def open_matches(p: Person, code: str) -> list[Match]:
    return list(
        Match.objects.filter(
            person=p, policy__code=code, status__in=["upcoming", "pending", "visited", "accepted"]
        )
    )


def test_a_rerun_creates_no_duplicates_and_matches_the_rule(grid_unit: Area) -> None:
    # the demo seed ran matching already: start from an empty table
    Match.objects.all().delete()
    first = run_matching(DAY)
    total = Match.objects.count()
    assert total > 0
    assert sum(r["new"] + r["upcoming"] for r in first.summary.values()) == total
    # every open 高龄津贴 match is someone aged 80+ with Shandong hukou, on the run's date
    for m in Match.objects.filter(policy__code="gaoling-jintie", status="pending")[:50]:
        assert m.inputs["age"] >= 80 and m.inputs["hukou"].startswith("37")
    second = run_matching(DAY)
    assert all(r["new"] == 0 and r["closed"] == 0 for r in second.summary.values())
    open_now = Match.objects.filter(status__in=["upcoming", "pending", "visited", "accepted"])
    for code, r in second.summary.items():
        assert r["open"] == open_now.filter(policy__code=code).count(), code
    assert Match.objects.count() == total


def test_the_explanation_is_durable_and_shows_the_trace(grid_unit: Area) -> None:
    p = person(grid_unit, dt.date(1946, 11, 28))
    match_policy(policy("gaoling-jintie"), DAY)
    (m,) = open_matches(p, "gaoling-jintie")
    assert m.kind == MatchKind.ELIGIBLE and m.eligible_on == DAY
    text = explain(m).explain()
    assert (
        "age = 80 ≥ 80 ✓" in text and "hukou 370830 以 37 开头 ✓" in text and text.endswith("符合")
    )
    # the record changes afterwards: the explanation does not
    Person.objects.filter(pk=p.pk).update(hukou_code="110105", birth_date=dt.date(1990, 1, 1))
    m.refresh_from_db()
    assert explain(m).explain() == text


def test_candidates_carry_their_check_items(grid_unit: Area) -> None:
    from jiayuan.people.models import Household, HouseholdTag, Tag

    hh = Household.objects.create(number="T-POL-1", area=grid_unit)
    p = person(grid_unit, dt.date(1950, 3, 1), household=hh)
    HouseholdTag.objects.create(household=hh, tag=Tag.objects.get(code="低保"))
    match_policy(policy("kunnan-laoren-butie"), DAY)
    (m,) = open_matches(p, "kunnan-laoren-butie")
    assert m.kind == MatchKind.CANDIDATE
    assert m.check_items == ["经济困难（经核实）"]


def test_recording_the_benefit_closes_the_match_and_stops_rematching(grid_unit: Area) -> None:
    p = person(grid_unit, dt.date(1940, 1, 1))
    match_policy(policy("gaoling-jintie"), DAY)
    (m,) = open_matches(p, "gaoling-jintie")
    grid = User.objects.get(username="grid")
    services.record_visit(m, grid, MatchStatus.VISITED)
    services.record_visit(m, grid, MatchStatus.GRANTED, since=DAY)
    m.refresh_from_db()
    assert m.status == MatchStatus.GRANTED and m.closed_at is not None
    assert ReceivedBenefit.objects.filter(person=p, policy__code="gaoling-jintie", match=m).exists()
    assert [e.status for e in m.events.all()] == ["visited", "granted"]
    result = match_policy(policy("gaoling-jintie"), DAY)
    assert not open_matches(p, "gaoling-jintie")
    assert result.new == 0
    with pytest.raises(Conflict):
        services.record_visit(m, grid, MatchStatus.VISITED)


def test_a_benefit_recorded_by_hand_settles_the_open_match(grid_unit: Area) -> None:
    p = person(grid_unit, dt.date(1940, 1, 1))
    match_policy(policy("laonian-gongjiao"), DAY)
    services.record_benefit(p, policy("laonian-gongjiao"), since=dt.date(2020, 1, 1))
    assert not open_matches(p, "laonian-gongjiao")
    assert Match.objects.get(person=p, policy__code="laonian-gongjiao").status == "granted"


def test_rejected_names_a_check_item_and_is_not_pushed_again(grid_unit: Area) -> None:
    from jiayuan.people.models import Household, HouseholdTag, Tag

    hh = Household.objects.create(number="T-POL-2", area=grid_unit)
    p = person(grid_unit, dt.date(1950, 3, 1), household=hh)
    HouseholdTag.objects.create(household=hh, tag=Tag.objects.get(code="低收入"))
    match_policy(policy("kunnan-laoren-butie"), DAY)
    (m,) = open_matches(p, "kunnan-laoren-butie")
    grid = User.objects.get(username="grid")
    with pytest.raises(ValidationFailed):
        services.record_visit(m, grid, MatchStatus.REJECTED, failed_item="随便写的")
    services.record_visit(m, grid, MatchStatus.REJECTED, failed_item="经济困难（经核实）")
    assert match_policy(policy("kunnan-laoren-butie"), DAY + dt.timedelta(days=30)).new == 0
    assert not open_matches(p, "kunnan-laoren-butie")


def test_a_death_closes_open_matches(
    grid_unit: Area, django_capture_on_commit_callbacks: Any
) -> None:
    p = person(grid_unit, dt.date(1940, 1, 1))
    match_policy(policy("gaoling-jintie"), DAY)
    match_policy(policy("laonian-youdai"), DAY)
    assert len(open_matches(p, "gaoling-jintie")) == len(open_matches(p, "laonian-youdai")) == 1
    with django_capture_on_commit_callbacks(execute=True):
        p.death_date = DAY - dt.timedelta(days=1)
        p.save()
    closed = Match.objects.filter(person=p, status=MatchStatus.CLOSED)
    assert {m.close_reason for m in closed} == {CloseReason.DECEASED}
    assert closed.count() == 2


def test_the_nightly_run_closes_when_someone_moves_away(grid_unit: Area) -> None:
    p = person(grid_unit, dt.date(1950, 1, 1))
    match_policy(policy("laonian-tijian"), DAY)
    assert open_matches(p, "laonian-tijian")
    Person.objects.filter(pk=p.pk).update(residence_status="away")
    result = match_policy(policy("laonian-tijian"), DAY + dt.timedelta(days=1))
    assert result.closed_by_reason == {CloseReason.MOVED: 1}


def test_turning_80_in_five_days_is_upcoming_then_a_match_on_the_day(grid_unit: Area) -> None:
    p = person(grid_unit, DAY.replace(year=1946) + dt.timedelta(days=5))
    gaoling = policy("gaoling-jintie")
    match_policy(gaoling, DAY)
    (m,) = open_matches(p, "gaoling-jintie")
    assert m.status == MatchStatus.UPCOMING and m.eligible_on == DAY + dt.timedelta(days=5)
    match_policy(gaoling, DAY + dt.timedelta(days=4))
    m.refresh_from_db()
    assert m.status == MatchStatus.UPCOMING
    match_policy(gaoling, DAY + dt.timedelta(days=5))
    m.refresh_from_db()
    assert m.status == MatchStatus.PENDING
    assert "age = 80 ≥ 80 ✓" in explain(m).explain()
    assert len(open_matches(p, "gaoling-jintie")) == 1


def test_a_grid_worker_sees_only_their_grids_tasks(grid_unit: Area) -> None:
    run_matching(DAY, codes=["laonian-youdai"])
    grid = User.objects.get(username="grid")
    grid_path = grid.memberships.get().area_path
    mine = Match.objects.visible_to(grid)
    assert mine.exists()
    assert not mine.exclude(area_path__startswith=grid_path).exists()
    assert Match.objects.exclude(area_path__startswith=grid_path).exists()
    other = Match.objects.exclude(area_path__startswith=grid_path).first()
    from jiayuan.core.errors import NotFound

    with pytest.raises(NotFound):
        services.record_visit(other, grid, MatchStatus.VISITED)


def test_a_rule_edit_makes_a_new_version_and_old_matches_keep_theirs(grid_unit: Area) -> None:
    p = person(grid_unit, dt.date(1940, 1, 1))
    gaoling = policy("gaoling-jintie")
    match_policy(gaoling, DAY)
    (m,) = open_matches(p, "gaoling-jintie")
    admin = User.objects.get(username="admin")
    services.update_policy_rule(
        gaoling, 'not deceased and age >= 85 and hukou.startswith("37")', admin
    )
    gaoling.refresh_from_db()
    assert gaoling.version == 2
    assert m.rule_version.version == 1
    assert "age = 86 ≥ 80 ✓" in explain(m).explain()


def test_a_benefit_granted_from_a_later_date_is_not_matched_again(grid_unit: Area) -> None:
    p = person(grid_unit, dt.date(1940, 1, 1))
    gaoling = policy("gaoling-jintie")
    match_policy(gaoling, DAY)
    (m,) = open_matches(p, "gaoling-jintie")
    services.record_visit(m, None, MatchStatus.GRANTED, since=DAY + dt.timedelta(days=31))
    assert match_policy(gaoling, DAY + dt.timedelta(days=1)).new == 0
    assert not open_matches(p, "gaoling-jintie")
