"""``/api/v1/tags``: computed tags with counts, holders, recompute and rule editing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from jiayuan.core.models import AuditEntry
from jiayuan.core.validity import valid_on as current_q
from jiayuan.people.models import Person, PersonTag, Tag
from tests.api.conftest import World
from tests.api.mixins import assert_error

pytestmark = pytest.mark.django_db

OLD = "高龄老人"


def visible_holders(path: str, code: str) -> int:
    return (
        PersonTag.objects.filter(current_q(timezone.localdate()), tag__code=code)
        .filter(area_path__startswith=path)
        .count()
    )


def test_the_list_shows_rules_and_counts_within_scope(api_as: Any, world: World) -> None:
    grid = api_as("grid").get("/tags", limit=500).json()
    community = api_as("community").get("/tags", limit=500).json()
    by_code = {t["code"]: t for t in grid["items"]}
    old = by_code[OLD]
    assert old["computed"] and old["rule"] == "age >= 80 and not deceased"
    assert old["rule_version"] == 1
    assert not by_code["残疾人"]["computed"]
    assert old["holders"] == visible_holders(world.grid.path, OLD)
    wider = {t["code"]: t["holders"] for t in community["items"]}
    assert wider[OLD] == visible_holders(world.community.path, OLD) >= old["holders"]
    low = {t["code"]: t["holders"] for t in api_as("admin").get("/tags", limit=500).json()["items"]}
    assert low["低保"] > 0  # household tags are counted too


def test_the_list_costs_the_same_whatever_the_page(
    api_as: Any, django_assert_max_num_queries: Any
) -> None:
    client = api_as("community")
    with django_assert_max_num_queries(12):
        assert client.get("/tags", limit=500).status_code == 200


def test_one_tag_lists_its_holders_masked_and_scoped(api_as: Any, world: World) -> None:
    body = api_as("community").get(f"/tags/{OLD}", limit=500).json()
    holders = body["holder_list"]["items"]
    assert body["holders"] == body["holder_list"]["count"] == len(holders) > 0
    paths = dict(Person.objects.filter(pk__in=[h["person"] for h in holders]).values_list(
        "pk", "area_path"))  # fmt: skip
    assert all(p.startswith(world.community.path) for p in paths.values())
    first = holders[0]
    assert "********" in first["id_number_masked"]
    person = Person.objects.get(pk=first["person"])
    assert person.reveal_id_number() not in str(body)
    assert first["source"] == "rule" and first["evidence"]["inputs"]["age"] >= 80
    assert first["explanation"].endswith("⇒ 符合")
    grid = api_as("grid").get(f"/tags/{OLD}", limit=500).json()
    assert {h["person"] for h in grid["holder_list"]["items"]} <= {h["person"] for h in holders}
    assert grid["holders"] == visible_holders(world.grid.path, OLD)
    assert_error(api_as("resident").get(f"/tags/{OLD}"), 404, "not_found")


def test_recompute_needs_supervise_and_stays_in_scope(api_as: Any, world: World) -> None:
    # given two residents made 80 without any save (an import): one in the community
    # user's community, one in another community
    today = timezone.localdate()
    born = today.replace(year=today.year - 85)
    young = Person.objects.filter(death_date=None, birth_date__gt=dt.date(1990, 1, 1))
    mine = young.filter(area_path__startswith=world.community.path).first()
    theirs = young.filter(area_path__startswith=world.next_community.path).first()
    assert mine is not None and theirs is not None
    Person.objects.filter(pk__in=[mine.pk, theirs.pk]).update(birth_date=born)

    assert_error(api_as("grid").post("/tags/recompute", {}), 403, "permission_denied")
    response = api_as("community").post("/tags/recompute", {"codes": [OLD]})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["date"] == today.isoformat() and set(body["tags"]) == {OLD}
    assert body["tags"][OLD]["added"] >= 1
    row = PersonTag.objects.get(person=mine, tag__code=OLD, valid_until=None)
    assert row.source == "rule" and row.valid_from == today
    assert AuditEntry.objects.for_object(row).get(action="create").actor_name == "community"
    assert not PersonTag.objects.filter(person=theirs, tag__code=OLD).exists()

    assert api_as("admin").post("/tags/recompute", {}).status_code == 200
    assert PersonTag.objects.filter(person=theirs, tag__code=OLD, valid_until=None).exists()
    body = assert_error(
        api_as("admin").post("/tags/recompute", {"codes": ["残疾人"]}), 422, "validation_error"
    )
    assert body["detail"] == {"field": "codes"}


def test_patching_a_rule_validates_it_and_bumps_the_version(api_as: Any) -> None:
    admin = api_as("admin")
    body = assert_error(
        admin.patch(f"/tags/{OLD}", {"rule": "age >= and not deceased"}), 422, "validation_error"
    )
    assert "第1行" in body["message"] and "line 1" in body["message"]
    assert body["detail"]["column"] == 8 and body["detail"]["expected"]  # at the "and"
    assert_error(admin.patch(f"/tags/{OLD}", {"rule": "agee >= 80"}), 422, "validation_error")
    assert Tag.objects.get(code=OLD).rule_version == 1

    response = admin.patch(f"/tags/{OLD}", {"rule": "age >= 85 and not deceased"})
    assert response.status_code == 200, response.content
    assert (response.json()["rule"], response.json()["rule_version"]) == (
        "age >= 85 and not deceased",
        2,
    )
    tag = Tag.objects.get(code=OLD)
    entry = AuditEntry.objects.for_object(tag).get(action="update")
    assert entry.changes["rule_version"] == [1, 2] and entry.actor_name == "admin"
    # the holders follow at the next recompute; the evidence names version 2
    summary = admin.post("/tags/recompute", {"codes": [OLD]}).json()["tags"][OLD]
    assert summary["ended"] > 0
    assert_error(api_as("community").patch(f"/tags/{OLD}", {"rule": "age >= 90"}), 403,
                 "permission_denied")  # fmt: skip


def test_a_household_tag_cannot_get_a_rule(api_as: Any) -> None:
    admin = api_as("admin")
    assert_error(admin.patch("/tags/低保", {"rule": "age >= 60"}), 422, "validation_error")
    payload = {"code": "x_rule", "name": "x", "category": "x", "scope": "household",
               "rule": "age >= 60"}  # fmt: skip
    assert_error(admin.post("/tags", payload), 422, "validation_error")
    payload.update(scope="person")
    response = admin.post("/tags", payload)
    assert response.status_code == 201, response.content
    assert response.json()["computed"] and response.json()["rule_version"] == 1


def test_computed_tags_are_not_given_changed_or_removed_by_hand(api_as: Any, world: World) -> None:
    staff = api_as("community")
    row = (
        PersonTag.objects.filter(tag__code=OLD, area_path__startswith=world.community.path)
        .select_related("person")
        .first()
    )
    assert row is not None
    young = Person.objects.filter(area_path__startswith=world.community.path,
                                  birth_date__gt=dt.date(1990, 1, 1)).first()  # fmt: skip
    assert young is not None
    assert_error(staff.post(f"/persons/{young.pk}/tags", {"tag": OLD}), 422, "validation_error")
    path = f"/persons/{row.person_id}/tags/{OLD}"
    assert staff.get(path).json()["source"] == "rule"
    assert_error(staff.patch(path, {"valid_until": "2030-01-01"}), 409, "conflict")
    assert_error(staff.delete(path), 409, "conflict")
    assert PersonTag.objects.get(pk=row.pk).valid_until is None


def test_manual_tags_say_who_and_when(api_as: Any, world: World) -> None:
    person = Person.objects.filter(area_path__startswith=world.grid.path).order_by("pk").first()
    assert person is not None
    held = PersonTag.objects.filter(person=person).values_list("tag_id", flat=True)
    tag = Tag.objects.filter(scope="person", rule="").exclude(pk__in=held).first()
    assert tag is not None
    before = timezone.now()
    response = api_as("grid").post(f"/persons/{person.pk}/tags", {"tag": tag.code})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["assigned_by"] == "grid"
    assert dt.datetime.fromisoformat(body["assigned_at"]) >= before
    listed = api_as("grid").get(f"/persons/{person.pk}/tags").json()["items"]
    assert {i["tag"]: i["assigned_by"] for i in listed}[tag.code] == "grid"
