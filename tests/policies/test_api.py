"""The policies API: the catalogue, editing a policy's rule, the rule check an editor
calls as the user types, and matching runs on demand.

Expected numbers are always computed from the ORM by area path, independently of
``visible_to``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from jiayuan.core.models import AuditEntry
from jiayuan.people.models import Person
from jiayuan.policies.choices import OPEN_STATUSES, RunStatus
from jiayuan.policies.matching import run_matching
from jiayuan.policies.models import Match, MatchRun, Parameter, Policy, RuleVersion
from jiayuan.policies.registry import compile_policy_rule
from tests.api.conftest import World
from tests.api.mixins import assert_error
from tests.policies.test_api_matches import api_as_fixture, plant_elders, world_fixture

__all__ = ["api_as_fixture", "world_fixture"]  # the fixtures ``api_as`` and ``world``

GAOLING = "gaoling-jintie"
OLD_AGE_RULE = "not deceased and age >= 70"


@pytest.fixture
def matched(db: Any, world: World) -> MatchRun:
    """The tiny county, with elders planted in the grid user's grid and another grid,
    after a matching run of every policy."""
    plant_elders([world.grid, world.other_grid])
    return run_matching()


def open_under(path: str, code: str | None = None) -> int:
    qs = Match.objects.filter(area_path__startswith=path, status__in=OPEN_STATUSES)
    if code is not None:
        qs = qs.filter(policy__code=code)
    return qs.count()


def persons_matching(rule: str, path: str) -> int:
    day = timezone.localdate()
    people = Person.objects.filter(area_path__startswith=path)
    return compile_policy_rule(rule).filter(people, day).count()


# --- who may read ----------------------------------------------------------------------
def test_anonymous_gets_401(api_as: Any, db: Any) -> None:
    anonymous = api_as(None)
    assert_error(anonymous.get("/policies"), 401, "unauthorized")
    assert_error(anonymous.get(f"/policies/{GAOLING}"), 401, "unauthorized")
    assert_error(
        anonymous.post("/policies/validate-rule", {"rule": "age > 1"}), 401, "unauthorized"
    )
    assert_error(anonymous.get("/policies/match-runs"), 401, "unauthorized")


def test_a_resident_may_not_read_the_catalogue(api_as: Any, db: Any) -> None:
    resident = api_as("resident")
    assert_error(resident.get("/policies"), 403, "permission_denied")
    assert_error(resident.get(f"/policies/{GAOLING}"), 403, "permission_denied")
    assert_error(
        resident.post("/policies/validate-rule", {"rule": "age > 1"}), 403, "permission_denied"
    )


# --- the catalogue ---------------------------------------------------------------------
def test_every_staff_user_lists_the_twenty_policies_with_open_matches_in_scope(
    api_as: Any, world: World, matched: MatchRun
) -> None:
    # given a run that found 高龄津贴 matches in the grid user's grid
    assert open_under(world.grid.path, GAOLING) > 0
    for username, area in (("grid", world.grid), ("community", world.community)):
        # when
        response = api_as(username).get("/policies")
        # then
        assert response.status_code == 200, response.content
        rows = {row["code"]: row for row in response.json()}
        assert len(rows) == Policy.objects.count() == 20
        for code, row in rows.items():
            assert row["open_matches"] == open_under(area.path, code), (username, code)
        assert rows[GAOLING]["name"] == "高龄津贴"
        assert rows[GAOLING]["level_label"] == "省级"
    admin_rows = {r["code"]: r for r in api_as("admin").get("/policies").json()}
    assert admin_rows[GAOLING]["open_matches"] == open_under("", GAOLING)
    assert admin_rows[GAOLING]["open_matches"] > open_under(world.community.path, GAOLING)


def test_policy_detail_shows_parameters_by_period_rule_and_scoped_counts(
    api_as: Any, world: World, matched: MatchRun
) -> None:
    # given a second period of an unknown parameter, known from now on
    first = Parameter.objects.filter(policy__code=GAOLING, name="amount_80").get()
    Parameter.objects.create(
        policy=first.policy, name="amount_80", label=first.label, unit=first.unit,
        start=dt.date(2020, 1, 1), value=Decimal("100.00"), note="",
    )  # fmt: skip
    # when
    body = api_as("grid").get(f"/policies/{GAOLING}").json()
    # then
    assert body["legal_basis"] == "山东省老年人权益保障条例"
    assert body["rule"] == Policy.objects.get(code=GAOLING).rule
    assert body["check_items"] == []
    assert body["may_edit"] is False
    params = {p["name"]: p for p in body["parameters"]}
    amount = params["amount_80"]
    assert [p["start"] for p in amount["periods"]] == ["2014-01-01", "2020-01-01"]
    assert amount["periods"][0]["value"] is None
    assert amount["periods"][0]["until"] == "2020-01-01"
    assert "系统不预设金额" in amount["periods"][0]["note"]
    assert Decimal(amount["current"]) == Decimal(100)
    assert amount["known"] is True
    assert params["amount_90"]["current"] is None
    assert params["amount_90"]["known"] is False
    assert [v["version"] for v in body["rule_versions"]] == [1]
    grid_matches = Match.objects.filter(policy__code=GAOLING, area_path__startswith=world.grid.path)
    assert sum(body["match_counts"].values()) == grid_matches.count()
    assert body["open_matches"] == open_under(world.grid.path, GAOLING)


def test_policy_detail_lists_the_check_items_of_verify(api_as: Any, db: Any) -> None:
    policy = next(p for p in Policy.objects.all() if "verify(" in p.rule)
    body = api_as("community").get(f"/policies/{policy.code}").json()
    assert body["check_items"] == compile_policy_rule(policy.rule).check_items
    assert body["check_items"]


def test_an_unknown_policy_answers_404(api_as: Any, db: Any) -> None:
    assert_error(api_as("admin").get("/policies/no-such-policy"), 404, "not_found")


# --- editing ---------------------------------------------------------------------------
def test_only_the_county_administrator_edits_a_policy(api_as: Any, db: Any) -> None:
    for username in ("grid", "community", "street", "resident"):
        response = api_as(username).patch(f"/policies/{GAOLING}", {"name": "改名"})
        assert_error(response, 403, "permission_denied")
    assert Policy.objects.get(code=GAOLING).name == "高龄津贴"


def test_the_administrator_changes_the_rule_as_a_new_version(api_as: Any, db: Any) -> None:
    admin = api_as("admin")
    # when
    response = admin.patch(f"/policies/{GAOLING}", {"rule": OLD_AGE_RULE, "visit_days": 7})
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["rule"] == OLD_AGE_RULE
    assert body["version"] == 2
    assert body["visit_days"] == 7
    assert [v["version"] for v in body["rule_versions"]][:1] == [2]
    assert body["rule_versions"][0]["rule"] == OLD_AGE_RULE
    assert body["rule_versions"][0]["created_by"] == "admin"
    policy = Policy.objects.get(code=GAOLING)
    assert (policy.rule, policy.version, policy.visit_days) == (OLD_AGE_RULE, 2, 7)
    assert RuleVersion.objects.get(policy=policy, version=2).rule == OLD_AGE_RULE
    assert AuditEntry.objects.for_object(policy).filter(action=AuditEntry.Action.UPDATE).exists()


def test_an_invalid_rule_answers_422_with_its_position_in_both_languages(
    api_as: Any, db: Any
) -> None:
    admin = api_as("admin")
    # when: a syntax error at column 10 and a field change in the same request
    response = admin.patch(f"/policies/{GAOLING}", {"rule": "age >= 80 and", "visit_days": 3})
    # then
    body = assert_error(response, 422, "invalid_rule")
    zh, en = body["message"].split(" / ", 1)
    assert "第1行" in zh and "列" in zh
    assert "line 1, column" in en
    detail = body["detail"]
    assert detail["line"] == 1
    assert detail["start"] == len("age >= 80 and")
    assert detail["expected"]
    policy = Policy.objects.get(code=GAOLING)
    assert policy.version == 1  # nothing changed: neither the rule nor the other field
    assert policy.visit_days != 3

    # an unknown field is refused at save time too, pointing at the name
    body = assert_error(
        admin.patch(f"/policies/{GAOLING}", {"rule": "age >= 80 and salary > 3"}),
        422,
        "invalid_rule",
    )
    assert body["detail"]["start"] == len("age >= 80 and ")
    assert "salary" in body["message"]


def test_editing_checks_dates_and_nulls(api_as: Any, db: Any) -> None:
    admin = api_as("admin")
    response = admin.patch(
        f"/policies/{GAOLING}", {"active_from": "2026-01-01", "active_until": "2025-01-01"}
    )
    assert_error(response, 422, "validation_error")
    assert_error(admin.patch(f"/policies/{GAOLING}", {"name": None}), 422, "validation_error")
    assert_error(admin.patch("/policies/no-such-policy", {"name": "x"}), 404, "not_found")


# --- the rule check --------------------------------------------------------------------
def test_validate_rule_reports_the_error_position_and_expected_tokens(api_as: Any, db: Any) -> None:
    response = api_as("community").post("/policies/validate-rule", {"rule": "age >= "})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["valid"] is False
    assert body["count"] is None
    error = body["error"]
    assert error["code"] == "invalid_rule"
    assert error["position"]["line"] == 1
    assert error["position"]["start"] >= len("age >=")
    assert error["expected"]
    assert error["message"] == f"{error['message_zh']} / {error['message_en']}"
    assert "第1行" in error["message_zh"]


def test_validate_rule_counts_persons_in_the_users_scope(api_as: Any, world: World) -> None:
    rule = 'not deceased and age >= 60 and hukou.startswith("37")'
    counts = {}
    for username, area in (("grid", world.grid), ("community", world.community), ("admin", None)):
        body = api_as(username).post("/policies/validate-rule", {"rule": rule}).json()
        assert body["valid"] is True, body
        assert body["error"] is None
        expected = persons_matching(rule, area.path if area else "")
        assert body["count"] == expected, username
        counts[username] = body["count"]
    assert 0 < counts["grid"] < counts["community"] < counts["admin"]


def test_validate_rule_lists_check_items_and_names(api_as: Any, db: Any) -> None:
    rule = 'age >= 60 and household.has_tag("低保") and verify("无劳动能力")'
    body = api_as("grid").post("/policies/validate-rule", {"rule": rule}).json()
    assert body["valid"] is True
    assert body["check_items"] == ["无劳动能力"]
    assert "age" in body["names"]
    assert "household.has_tag" in body["names"]


# --- matching runs ---------------------------------------------------------------------
def test_a_grid_worker_may_not_start_a_run(api_as: Any, db: Any) -> None:
    before = MatchRun.objects.count()
    assert_error(api_as("grid").post("/policies/match-runs", {}), 403, "permission_denied")
    assert MatchRun.objects.count() == before


def test_community_staff_run_one_policy_now_and_a_rerun_adds_nothing(
    api_as: Any, world: World, db: Any
) -> None:
    community = api_as("community")
    # when
    response = community.post("/policies/match-runs", {"codes": [GAOLING]})
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["queued"] is False
    run = body["run"]
    assert run["status"] == RunStatus.DONE
    assert run["triggered_by"] == "community"
    assert list(run["summary"]) == [GAOLING]
    found = Match.objects.filter(policy__code=GAOLING, status__in=OPEN_STATUSES).count()
    assert run["summary"][GAOLING]["open"] == found > 0
    # a second run creates no duplicates
    again = community.post("/policies/match-runs", {"codes": [GAOLING]}).json()["run"]
    assert again["summary"][GAOLING]["new"] == 0
    assert Match.objects.filter(policy__code=GAOLING, status__in=OPEN_STATUSES).count() == found
    # the list shows the latest run first
    runs = api_as("grid").get("/policies/match-runs").json()
    assert [r["id"] for r in runs[:2]] == [again["id"], run["id"]]


def test_a_run_names_only_known_policies(api_as: Any, db: Any) -> None:
    before = MatchRun.objects.count()
    response = api_as("admin").post("/policies/match-runs", {"codes": [GAOLING, "nope"]})
    body = assert_error(response, 422, "validation_error")
    assert "nope" in body["message"]
    assert MatchRun.objects.count() == before


def test_a_run_of_every_policy_goes_to_the_worker(api_as: Any, db: Any) -> None:
    # Huey runs tasks in-process in immediate mode: what the worker would do, done now.
    seeded = set(MatchRun.objects.values_list("pk", flat=True))
    HUEY.immediate = True
    try:
        response = api_as("admin").post("/policies/match-runs", {"ref_date": "2026-03-01"})
    finally:
        HUEY.immediate = False
    assert response.status_code == 201, response.content
    assert response.json() == {"queued": True, "run": None}
    run = MatchRun.objects.exclude(pk__in=seeded).get()
    assert run.ref_date == dt.date(2026, 3, 1)
    assert run.triggered_by is not None and run.triggered_by.username == "admin"
    assert len(run.summary) == Policy.objects.filter(enabled=True).count()
