"""The tag catalogue and tag assignments on persons (``/persons/{id}/tags``)."""

from __future__ import annotations

from typing import Any

from jiayuan.core.models import AuditEntry
from jiayuan.people.models import Person, PersonTag, Tag

from .conftest import World
from .mixins import assert_error


def tagged_person(world_area_path: str) -> PersonTag:
    row = (
        PersonTag.objects.filter(person__area_path__startswith=world_area_path)
        .select_related("tag", "person")
        .order_by("pk")
        .first()
    )
    assert row is not None, "the tiny county tags some persons in every grid"
    return row


def untagged_pair(area_path: str) -> tuple[Person, Tag]:
    """A person of the area and a person tag they do not hold."""
    person = Person.objects.filter(area_path__startswith=area_path).order_by("pk").first()
    assert person is not None
    held = PersonTag.objects.filter(person=person).values_list("tag_id", flat=True)
    tag = Tag.objects.filter(scope="person").exclude(pk__in=held).order_by("code").first()
    assert tag is not None
    return person, tag


# --- assignments ---------------------------------------------------------------------
def test_person_tags_list_matches_the_orm_and_follows_scope(api_as: Any, world: World) -> None:
    own = tagged_person(world.grid.path)
    foreign = tagged_person(world.other_grid.path)
    grid = api_as("grid")

    body = grid.get(f"/persons/{own.person_id}/tags").json()
    expected = set(PersonTag.objects.filter(person=own.person).values_list("tag__code", flat=True))
    assert body["count"] == len(expected)
    assert {item["tag"] for item in body["items"]} == expected
    assert all(item["person"] == own.person_id for item in body["items"])

    assert_error(grid.get(f"/persons/{foreign.person_id}/tags"), 404, "not_found")
    detail = f"/persons/{foreign.person_id}/tags/{foreign.tag.code}"
    assert_error(grid.get(detail), 404, "not_found")
    assert api_as("community").get(detail).json()["tag"] == foreign.tag.code


def test_assigning_a_tag_is_audited_and_a_second_time_conflicts(api_as: Any, world: World) -> None:
    person, tag = untagged_pair(world.grid.path)
    grid = api_as("grid")
    payload = {"tag": tag.code, "valid_from": "2024-01-01", "evidence": {"doc": "证明"}}

    response = grid.post(f"/persons/{person.pk}/tags", payload)
    assert response.status_code == 201, response.content
    assert response.json()["source"] == "manual"
    row = PersonTag.objects.get(person=person, tag=tag)
    assert row.assigned_by is not None and row.assigned_by.username == "grid"
    entry = AuditEntry.objects.for_object(row).get(action="create")
    assert entry.changes["tag_id"] == tag.pk

    assert_error(grid.post(f"/persons/{person.pk}/tags", payload), 409, "conflict")
    assert PersonTag.objects.filter(person=person, tag=tag).count() == 1


def test_assignment_validation(api_as: Any, world: World) -> None:
    person, tag = untagged_pair(world.grid.path)
    grid = api_as("grid")
    body = assert_error(
        grid.post(f"/persons/{person.pk}/tags", {"tag": "no_such_tag"}), 422, "validation_error"
    )
    assert body["detail"] == {"field": "tag"}
    backwards = {"tag": tag.code, "valid_from": "2024-05-01", "valid_until": "2024-04-01"}
    assert_error(grid.post(f"/persons/{person.pk}/tags", backwards), 422, "validation_error")
    household_tag = Tag.objects.filter(scope="household").first()
    if household_tag is not None:
        wrong = {"tag": household_tag.code}
        assert_error(grid.post(f"/persons/{person.pk}/tags", wrong), 422, "validation_error")
    assert not PersonTag.objects.filter(person=person, tag=tag).exists()


def test_assigning_outside_scope_is_404(api_as: Any, world: World) -> None:
    person, tag = untagged_pair(world.other_grid.path)
    response = api_as("grid").post(f"/persons/{person.pk}/tags", {"tag": tag.code})
    assert_error(response, 404, "not_found")
    assert not PersonTag.objects.filter(person=person, tag=tag).exists()


def test_updating_and_removing_a_tag_are_audited(api_as: Any, world: World) -> None:
    row = tagged_person(world.grid.path)
    grid = api_as("grid")
    path = f"/persons/{row.person_id}/tags/{row.tag.code}"

    response = grid.patch(path, {"attributes": {"grade": "2"}, "valid_until": "2030-12-31"})
    assert response.status_code == 200, response.content
    row.refresh_from_db()
    assert row.attributes == {"grade": "2"}
    update = AuditEntry.objects.for_object(row).get(action="update", actor_name="grid")
    assert update.changes["valid_until"][1] == "2030-12-31"

    pk = row.pk
    assert grid.delete(path).status_code == 204
    assert not PersonTag.objects.filter(pk=pk).exists()
    removed = AuditEntry.objects.get(
        object_type="people.persontag", object_id=str(pk), action="delete"
    )
    assert removed.actor_name == "grid" and removed.changes["tag_id"] == row.tag_id
    assert_error(grid.get(path), 404, "not_found")


def test_removing_a_tag_outside_scope_is_404(api_as: Any, world: World) -> None:
    row = tagged_person(world.other_grid.path)
    response = api_as("grid").delete(f"/persons/{row.person_id}/tags/{row.tag.code}")
    assert_error(response, 404, "not_found")
    assert PersonTag.objects.filter(pk=row.pk).exists()


def test_view_only_role_cannot_assign(api_as: Any, world: World) -> None:
    person, tag = untagged_pair(world.grid.path)
    response = api_as("branch").post(f"/persons/{person.pk}/tags", {"tag": tag.code})
    assert_error(response, 403, "permission_denied")
    assert not PersonTag.objects.filter(person=person, tag=tag).exists()


# --- the catalogue -------------------------------------------------------------------
def test_catalogue_is_listed_to_staff_and_hidden_from_residents(api_as: Any) -> None:
    body = api_as("grid").get("/tags", limit=500).json()
    assert body["count"] == Tag.objects.count() > 0
    assert {t["code"] for t in body["items"]} == set(Tag.objects.values_list("code", flat=True))
    code = body["items"][0]["code"]
    assert api_as("grid").get(f"/tags/{code}").json()["code"] == code
    assert api_as("resident").get("/tags").json() == {"items": [], "count": 0}
    assert_error(api_as("resident").get(f"/tags/{code}"), 404, "not_found")


def test_county_admin_creates_and_changes_catalogue_tags(api_as: Any) -> None:
    admin = api_as("admin")
    payload = {"code": "api_test_tag", "name": "接口测试", "category": "测试"}
    response = admin.post("/tags", payload)
    assert response.status_code == 201, response.content
    tag = Tag.objects.get(code="api_test_tag")
    assert AuditEntry.objects.for_object(tag).get(action="create").actor_name == "admin"
    assert_error(admin.post("/tags", payload), 409, "conflict")

    response = admin.patch("/tags/api_test_tag", {"name": "接口测试二", "attributes": ["grade"]})
    assert response.status_code == 200, response.content
    tag.refresh_from_db()
    assert (tag.name, tag.attributes) == ("接口测试二", ["grade"])
    entry = AuditEntry.objects.for_object(tag).get(action="update")
    assert entry.changes["name"] == ["接口测试", "接口测试二"]


def test_only_county_level_may_change_the_catalogue(api_as: Any) -> None:
    before = Tag.objects.count()
    for username in ("grid", "community", "street"):
        response = api_as(username).post("/tags", {"code": "x_tag", "name": "x", "category": "x"})
        assert_error(response, 403, "permission_denied")
    assert Tag.objects.count() == before
    code = Tag.objects.order_by("code").values_list("code", flat=True).first()
    assert_error(
        api_as("community").patch(f"/tags/{code}", {"name": "改"}), 403, "permission_denied"
    )
