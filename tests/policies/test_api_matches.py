"""The matches API (the door-to-door tasks) and benefits received: the scope matrix, the
recorded explanation, the visit flow through the API and recording a benefit by hand.

Matches come from a real matching run over the tiny demo county; expected rows are
computed from the ORM by area path, independently of ``visible_to``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from jiayuan.core import idnumber
from jiayuan.core.roles import Role
from jiayuan.org.models import Area
from jiayuan.people.models import Person
from jiayuan.policies.choices import OPEN_STATUSES, BenefitSource, MatchStatus
from jiayuan.policies.matching import run_matching
from jiayuan.policies.models import Match, MatchRun, Policy, ReceivedBenefit
from tests.api.conftest import Api, World, membership_area
from tests.api.mixins import all_ids, assert_error

GAOLING = "gaoling-jintie"


# --- fixtures (shared with test_api.py; the API tests' own live in tests/api/conftest.py) ---
@pytest.fixture(name="api_as")
def api_as_fixture() -> Callable[[str | None], Api]:
    """``api_as("grid")``: a client logged in as a demo account; ``None`` is anonymous."""

    def make(username: str | None) -> Api:
        client = Client()
        if username is not None:
            client.force_login(get_user_model().objects.get(username=username))
        return Api(client)

    return make


@pytest.fixture(name="world")
def world_fixture(db: Any) -> World:
    """The places of the scope matrix (as ``tests/api/conftest.py`` names them)."""
    grid = membership_area("grid", Role.GRID_WORKER)
    community = membership_area("community", Role.COMMUNITY_STAFF)
    grids = Area.objects.filter(kind="grid", path__startswith=community.path).order_by("path")
    other_grid = grids.exclude(pk=grid.pk).first()
    communities = Area.objects.filter(kind="community").order_by("path")
    next_community = communities.exclude(pk=community.pk).first()
    assert other_grid is not None and next_community is not None
    return World(grid, other_grid, community, next_community, Area.objects.get(kind="county"))


def plant_elders(places: list[Area], first: int = 0) -> list[Person]:
    """Two residents aged 85 or 86 with a Shandong hukou in each place: 高龄津贴 will find them
    whatever the seed drew."""
    born = dt.date(timezone.localdate().year - 86, 6, 1)
    made = []
    for n, area in enumerate(places):
        for k in range(2):
            person = Person(
                name=f"测试老人{n}{k}", birth_date=born, gender="female", hukou_code="370830",
                area=area,
            )  # fmt: skip
            person.set_id_number(idnumber.build("370830", born, first + 2 * n + k, "female"))
            person.save()
            made.append(person)
    return made


@pytest.fixture
def matched(db: Any, world: World) -> MatchRun:
    """The tiny county, with elders planted in the places the scope matrix is about,
    after a matching run of every policy."""
    next_grid = Area.objects.filter(kind="grid", path__startswith=world.next_community.path)
    plant_elders([world.grid, world.other_grid, next_grid.order_by("path").first()])
    return run_matching()


def under(path: str) -> Any:
    return Match.objects.filter(area_path__startswith=path)


def pending_in(path: str, code: str = GAOLING) -> Match:
    match = under(path).filter(policy__code=code, status=MatchStatus.PENDING).order_by("pk").first()
    assert match is not None, f"the tiny county has no pending {code} match under {path}"
    return match


# --- the scope matrix ------------------------------------------------------------------
def test_grid_lists_its_grids_matches_only(api_as: Any, world: World, matched: MatchRun) -> None:
    count, ids = all_ids(api_as("grid"), "/matches")
    expected = set(under(world.grid.path).values_list("pk", flat=True))
    assert expected
    assert (count, ids) == (len(expected), expected)
    assert not ids & set(under(world.other_grid.path).values_list("pk", flat=True))


def test_community_lists_its_community_and_nothing_of_the_next(
    api_as: Any, world: World, matched: MatchRun
) -> None:
    count, ids = all_ids(api_as("community"), "/matches")
    expected = set(under(world.community.path).values_list("pk", flat=True))
    assert (count, ids) == (len(expected), expected)
    assert ids & set(under(world.other_grid.path).values_list("pk", flat=True))
    assert not ids & set(under(world.next_community.path).values_list("pk", flat=True))
    admin_count, _ = all_ids(api_as("admin"), "/matches")
    assert admin_count == Match.objects.count() > count


def test_a_resident_sees_no_match(api_as: Any, world: World, matched: MatchRun) -> None:
    resident = api_as("resident")
    assert resident.get("/matches").json() == {"items": [], "count": 0}
    assert_error(resident.get(f"/matches/{pending_in(world.grid.path).pk}"), 404, "not_found")


def test_match_detail_follows_the_scope_matrix(
    api_as: Any, world: World, matched: MatchRun
) -> None:
    own, neighbour = pending_in(world.grid.path), pending_in(world.other_grid.path)
    far = under(world.next_community.path).order_by("pk").first()
    assert far is not None
    grid, community, admin = api_as("grid"), api_as("community"), api_as("admin")

    assert grid.get(f"/matches/{own.pk}").json()["id"] == own.pk
    assert_error(grid.get(f"/matches/{neighbour.pk}"), 404, "not_found")
    assert_error(grid.get(f"/matches/{far.pk}"), 404, "not_found")
    assert community.get(f"/matches/{neighbour.pk}").status_code == 200
    assert_error(community.get(f"/matches/{far.pk}"), 404, "not_found")
    assert admin.get(f"/matches/{far.pk}").status_code == 200
    assert_error(admin.get("/matches/999999999"), 404, "not_found")


def test_the_list_is_ordered_by_due_date_and_filters(
    api_as: Any, world: World, matched: MatchRun
) -> None:
    community = api_as("community")
    items = community.get("/matches", limit=500).json()["items"]
    dues = [(item["due_on"] or "9999", item["id"]) for item in items]
    assert dues == sorted(dues)

    body = community.get("/matches", policy=GAOLING, status="pending", limit=500).json()
    expected = under(world.community.path).filter(policy__code=GAOLING, status="pending")
    assert body["count"] == expected.count() > 0
    assert {i["policy"] for i in body["items"]} == {GAOLING}
    assert body["items"][0]["policy_name"] == "高龄津贴"
    assert body["items"][0]["status_label"] == "待上门"

    in_grid = community.get("/matches", area=world.grid.pk, limit=500).json()
    assert in_grid["count"] == under(world.grid.path).count()

    person = pending_in(world.grid.path).person
    mine = community.get("/matches", person=person.pk).json()
    assert mine["count"] == Match.objects.filter(person=person).count()
    assert {i["person"] for i in mine["items"]} == {person.pk}
    assert "*" in mine["items"][0]["person_id_number"]  # masked

    soon = min(m.due_on for m in under(world.community.path) if m.due_on) + dt.timedelta(days=1)
    due = community.get("/matches", due_before=soon.isoformat(), limit=500).json()
    assert due["count"] == under(world.community.path).filter(due_on__lt=soon).count() > 0

    closed = community.get("/matches", open="false").json()
    assert closed["count"] == under(world.community.path).exclude(status__in=OPEN_STATUSES).count()


def test_another_grids_person_yields_no_matches_for_the_grid_worker(
    api_as: Any, world: World, matched: MatchRun
) -> None:
    person = pending_in(world.other_grid.path).person
    assert api_as("grid").get("/matches", person=person.pk).json() == {"items": [], "count": 0}


# --- the explanation -------------------------------------------------------------------
def test_match_detail_carries_the_recorded_explanation(
    api_as: Any, world: World, matched: MatchRun
) -> None:
    match = pending_in(world.grid.path)
    body = api_as("grid").get(f"/matches/{match.pk}").json()
    explanation = body["explanation"]
    assert explanation["rule"] == match.rule_version.rule
    assert explanation["version"] == match.rule_version.version
    assert explanation["inputs"] == match.inputs
    assert explanation["inputs"]["age"] >= 80
    assert explanation["matched"] is True
    assert explanation["trace"]["kind"] == "and"
    assert len(explanation["lines"]) == len(explanation["trace"]["children"])
    assert all(line.endswith("✓") for line in explanation["lines"])
    assert any(line.startswith("age = ") for line in explanation["lines"])
    assert explanation["text"].endswith("⇒ 符合")
    assert set(explanation["parameters"]) == {"amount_80", "amount_90", "amount_100"}
    assert body["events"] == [] or body["events"][0]["status"]
    assert body["may_visit"] is True
    assert body["outcomes"] == ["visited", "accepted", "granted", "rejected", "declined"]


def test_the_explanation_does_not_change_with_the_persons_record(
    api_as: Any, world: World, matched: MatchRun
) -> None:
    # given a match, then the person's record changes afterwards
    match = pending_in(world.grid.path)
    before = api_as("grid").get(f"/matches/{match.pk}").json()["explanation"]
    Person.objects.filter(pk=match.person_id).update(
        birth_date=dt.date(2000, 1, 1), hukou_code="110101"
    )
    # then the stored explanation still says why she was found
    after = api_as("grid").get(f"/matches/{match.pk}").json()["explanation"]
    assert after == before


# --- the door visit --------------------------------------------------------------------
def test_grid_records_the_visit_then_grants_and_the_benefit_is_recorded(
    api_as: Any, world: World, matched: MatchRun
) -> None:
    grid = api_as("grid")
    match = pending_in(world.grid.path)
    # when: the worker visits
    response = grid.post(f"/matches/{match.pk}/visit", {"outcome": "visited", "note": "已见本人"})
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "visited"
    assert body["status_label"] == "已上门"
    assert body["visited_by"] == "grid"
    assert body["outcomes"] == ["accepted", "granted", "rejected", "declined"]
    # when: the benefit is granted
    body = grid.post(
        f"/matches/{match.pk}/visit", {"outcome": "granted", "since": "2026-01-01"}
    ).json()
    # then the match is closed and the benefit recorded
    assert body["status"] == "granted"
    assert body["is_open"] is False
    assert body["closed_at"] is not None
    assert body["may_visit"] is False and body["outcomes"] == []
    assert [e["status"] for e in body["events"]][-2:] == ["visited", "granted"]
    benefit = ReceivedBenefit.objects.get(person=match.person, policy=match.policy)
    assert (benefit.since, benefit.source, benefit.match_id) == (
        dt.date(2026, 1, 1), BenefitSource.VISIT, match.pk
    )  # fmt: skip
    listed = grid.get("/benefits", person=match.person_id).json()
    assert [b["id"] for b in listed["items"]] == [benefit.pk]
    assert listed["items"][0]["source_label"] == "上门办结"
    assert listed["items"][0]["match"] == match.pk
    # a closed task takes no further visit
    response = grid.post(f"/matches/{match.pk}/visit", {"outcome": "visited"})
    assert_error(response, 409, "conflict")
    # and the next run does not find her again
    run_matching(codes=[GAOLING])
    assert not Match.objects.filter(
        person=match.person, policy=match.policy, status__in=OPEN_STATUSES
    ).exists()


def test_a_rejection_names_the_failed_check_item(
    api_as: Any, world: World, matched: MatchRun
) -> None:
    grid = api_as("grid")
    match = pending_in(world.grid.path)
    response = grid.post(f"/matches/{match.pk}/visit", {"outcome": "rejected"})
    assert_error(response, 422, "validation_error")
    body = grid.post(
        f"/matches/{match.pk}/visit", {"outcome": "rejected", "failed_item": "户籍不在本省"}
    ).json()
    assert (body["status"], body["failed_item"], body["status_label"]) == (
        "rejected", "户籍不在本省", "不符合"
    )  # fmt: skip


def test_visits_follow_scope_and_permissions(api_as: Any, world: World, matched: MatchRun) -> None:
    neighbour = pending_in(world.other_grid.path)
    response = api_as("grid").post(f"/matches/{neighbour.pk}/visit", {"outcome": "visited"})
    assert_error(response, 404, "not_found")
    # the branch secretary sees the zone's matches but holds no change permission
    zone = membership_area("branch", Role.BRANCH_SECRETARY)
    plant_elders([zone], first=50)
    run_matching(codes=[GAOLING])
    seen = pending_in(zone.path)
    branch = api_as("branch")
    assert branch.get(f"/matches/{seen.pk}").status_code == 200
    response = branch.post(f"/matches/{seen.pk}/visit", {"outcome": "visited"})
    assert_error(response, 403, "permission_denied")
    payload = {"person": seen.person_id, "policy": GAOLING, "since": "2025-06-01"}
    assert_error(branch.post("/benefits", payload), 403, "permission_denied")
    assert Match.objects.get(pk=seen.pk).status == MatchStatus.PENDING
    assert_error(
        api_as("grid").post(f"/matches/{neighbour.pk}/visit", {"outcome": "flown"}),
        422,
        "validation_error",
    )
    assert Match.objects.get(pk=neighbour.pk).status == MatchStatus.PENDING


# --- benefits --------------------------------------------------------------------------
def test_recording_a_benefit_by_hand_settles_the_open_match(
    api_as: Any, world: World, matched: MatchRun
) -> None:
    match = pending_in(world.grid.path)
    community = api_as("community")
    payload = {"person": match.person_id, "policy": GAOLING, "since": "2025-06-01"}
    # when
    response = community.post("/benefits", payload)
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["person"], body["policy"], body["source"]) == (match.person_id, GAOLING, "manual")
    assert body["recorded_by"] == "community"
    assert Match.objects.get(pk=match.pk).status == MatchStatus.GRANTED
    current = community.get("/benefits", person=match.person_id, current="true").json()
    assert [b["id"] for b in current["items"]] == [body["id"]]


def test_benefits_follow_the_scope(api_as: Any, world: World, matched: MatchRun) -> None:
    neighbour = pending_in(world.other_grid.path)
    payload = {"person": neighbour.person_id, "policy": GAOLING, "since": "2025-06-01"}
    assert_error(api_as("grid").post("/benefits", payload), 404, "not_found")
    created = api_as("community").post("/benefits", payload).json()
    assert api_as("grid").get("/benefits", person=neighbour.person_id).json()["count"] == 0
    assert api_as("community").get("/benefits").json()["count"] == (
        ReceivedBenefit.objects.filter(area_path__startswith=world.community.path).count()
    )
    assert_error(api_as("resident").post("/benefits", payload), 404, "not_found")
    assert created["id"]


def test_a_benefit_needs_a_known_policy_and_sane_dates(
    api_as: Any, world: World, matched: MatchRun
) -> None:
    person_id = pending_in(world.grid.path).person_id
    grid = api_as("grid")
    body = assert_error(
        grid.post("/benefits", {"person": person_id, "policy": "nope", "since": "2025-01-01"}),
        422,
        "validation_error",
    )
    assert body["detail"] == {"field": "policy"}
    response = grid.post(
        "/benefits",
        {"person": person_id, "policy": GAOLING, "since": "2025-01-01", "until": "2024-01-01"},
    )
    assert_error(response, 422, "validation_error")
    assert not ReceivedBenefit.objects.filter(person_id=person_id).exists()
    assert Policy.objects.filter(code=GAOLING).exists()


# --- query counts ----------------------------------------------------------------------
@pytest.mark.parametrize(("path", "budget"), [("/matches", 6), ("/benefits", 6)])
def test_lists_do_not_grow_with_the_page(
    api_as: Any,
    world: World,
    matched: MatchRun,
    django_assert_max_num_queries: Any,
    path: str,
    budget: int,
) -> None:
    community = api_as("community")
    for match in under(world.community.path).filter(status=MatchStatus.PENDING)[:5]:
        community.post(f"/matches/{match.pk}/visit", {"outcome": "granted"})
    admin = api_as("admin")
    for limit in (2, 500):
        with django_assert_max_num_queries(budget):
            response = admin.get(path, limit=limit)
        assert response.status_code == 200
        assert len(response.json()["items"]) == min(limit, response.json()["count"])
