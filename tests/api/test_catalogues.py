"""Rows without an area path (defect 9): the decision per catalogue is in
docs/decisions.md ("Rows without an area path"). In short: a catalogue either is public
(readable by every signed-in user) or belongs to staff; changing one needs the change
permission at the root of the tree (``core.actions.ensure_in_scope``). Staff who read a
catalogue but may not change it get 403; a user who sees no area at all gets 404 (or,
for the staff-only policy catalogue, 403 for the whole resource), and never an answer
that tells which rows exist."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from jiayuan.cases.models import Category, Department
from jiayuan.core import actions
from jiayuan.core.errors import NotFound, PermissionDenied
from jiayuan.iot.models import AlarmRule
from jiayuan.people.models import Tag
from jiayuan.policies.models import Policy

from .mixins import assert_error

STAFF_WITHOUT_ROOT = ("street", "community", "grid", "branch")


def user(name: str) -> Any:
    return get_user_model().objects.get(username=name)


# --- the rule itself, in the action layer ----------------------------------------------
def test_catalogue_rows_are_changed_at_the_root_only() -> None:
    tag = Tag.objects.order_by("code").first()
    policy = Policy.objects.order_by("code").first()
    assert tag is not None and policy is not None
    for row in (tag, policy):
        actions.ensure_in_scope(user("admin"), row)
        assert actions.may_change(user("admin"), row)
        for name in STAFF_WITHOUT_ROOT:
            with pytest.raises(PermissionDenied):
                actions.ensure_in_scope(user(name), row)
            assert not actions.may_change(user(name), row)
        # a resident reads no catalogue: the row is outside their scope, 404 not 403
        with pytest.raises(NotFound):
            actions.ensure_in_scope(user("resident"), row)
        assert not actions.may_change(user("resident"), row)


# --- tags: a staff catalogue -------------------------------------------------------------
def test_adding_a_tag_checks_who_before_telling_whether_the_code_is_taken(api_as: Any) -> None:
    # given a catalogue tag whose code a client could type (the seeded codes are Chinese)
    taken = actions.create(Tag, actor=None, code="api_taken", name="占用", category="测试").code
    before = Tag.objects.count()
    for code in (taken, "brand_new_tag"):
        payload = {"code": code, "name": "x", "category": "x"}
        # a resident sees no catalogue: 404 whether the code exists or not
        assert_error(api_as("resident").post("/tags", payload), 404, "not_found")
        # staff see the catalogue but may not change it: 403, never 409
        assert_error(api_as("community").post("/tags", payload), 403, "permission_denied")
    assert Tag.objects.count() == before


def test_a_resident_cannot_reach_a_catalogue_tag(api_as: Any) -> None:
    code = Tag.objects.order_by("code").values_list("code", flat=True)[0]
    resident = api_as("resident")
    assert_error(resident.get(f"/tags/{code}"), 404, "not_found")
    assert_error(resident.patch(f"/tags/{code}", {"name": "改"}), 404, "not_found")
    assert_error(resident.patch("/tags/no_such_tag", {"name": "改"}), 404, "not_found")


# --- policies: a staff-only catalogue ----------------------------------------------------
def test_a_resident_is_refused_policies_alike_for_known_and_unknown_codes(api_as: Any) -> None:
    resident = api_as("resident")
    known = Policy.objects.order_by("code").values_list("code", flat=True)[0]
    for code in (known, "no-such-policy"):
        assert_error(resident.get(f"/policies/{code}"), 403, "permission_denied")
        assert_error(resident.patch(f"/policies/{code}", {"name": "改"}), 403, "permission_denied")


def test_policy_edit_page_tells_a_resident_nothing_about_which_codes_exist() -> None:
    client = Client()
    client.force_login(user("resident"))
    known = Policy.objects.order_by("code").values_list("code", flat=True)[0]
    assert client.get(reverse("policies:edit", args=[known])).status_code == 403
    assert client.get(reverse("policies:edit", args=["no-such-policy"])).status_code == 403


def test_staff_read_every_policy_and_only_the_root_may_edit(api_as: Any) -> None:
    code = Policy.objects.order_by("code").values_list("code", flat=True)[0]
    count = Policy.objects.count()
    for name in (*STAFF_WITHOUT_ROOT, "admin"):
        client = api_as(name)
        assert len(client.get("/policies").json()) == count
        body = client.get(f"/policies/{code}").json()
        assert body["may_edit"] is (name == "admin")
    assert_error(api_as("grid").patch("/policies/no-such-policy", {"name": "改"}), 404, "not_found")


# --- case categories and departments: a public catalogue ---------------------------------
def test_case_categories_are_public_to_every_signed_in_user(api_as: Any) -> None:
    admin_tree = api_as("admin").get("/categories").json()
    assert admin_tree
    for name in ("resident", "grid", "head"):
        assert api_as(name).get("/categories").json() == admin_tree
        departments = api_as(name).get("/departments").json()
        assert len(departments) == Department.objects.count()
    roots = Category.objects.filter(parent__isnull=True).count()
    assert len(admin_tree) == roots
    assert_error(api_as(None).get("/categories"), 401, "unauthorized")


# --- alarm rules: county-wide rows read by staff, changed by supervisors at the root ------
def test_county_wide_alarm_rules_follow_the_catalogue_rule(api_as: Any) -> None:
    rule = AlarmRule.objects.filter(area_path="").order_by("pk").first()
    assert rule is not None
    assert api_as("grid").get(f"/alarm-rules/{rule.pk}").status_code == 200
    assert_error(
        api_as("community").patch(f"/alarm-rules/{rule.pk}", {"name": "改"}),
        403,
        "permission_denied",
    )
    resident = api_as("resident")
    assert resident.get("/alarm-rules").json() == {"items": [], "count": 0}
    assert_error(resident.get(f"/alarm-rules/{rule.pk}"), 404, "not_found")
    assert_error(resident.patch(f"/alarm-rules/{rule.pk}", {"name": "改"}), 404, "not_found")
