"""Residents through the API: protected ID and phone numbers, search, reveal, filters."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from jiayuan.core import idnumber
from jiayuan.core.models import AuditEntry
from jiayuan.people.models import Person, PersonTag

from .conftest import World
from .mixins import all_ids, assert_error
from .test_resources import fresh_id_number


def person_with_pii(area_path: str) -> Person:
    person = (
        Person.objects.filter(area_path__startswith=area_path)
        .exclude(id_number_enc="")
        .exclude(phone_enc="")
        .order_by("pk")
        .first()
    )
    assert person is not None, "seeded persons have ID and phone numbers"
    return person


def raw_row(person_id: int) -> dict[str, Any]:
    """The person's row as the database holds it, read with plain SQL."""
    table = connection.ops.quote_name(Person._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [person_id])  # noqa: S608
        names = [column[0] for column in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


# --- protected personal data -----------------------------------------------------------
def test_created_id_and_phone_are_not_stored_in_clear(api_as: Any, world: World) -> None:
    id_number, phone = fresh_id_number(dt.date(1979, 11, 3), "male"), "13988887766"
    response = api_as("grid").post(
        "/persons",
        {"name": "密文测试", "id_number": id_number, "phone": phone, "area": world.grid.pk},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id_number_masked"] == id_number[:6] + "*" * 8 + id_number[-4:]
    assert body["phone_masked"] == "139****7766"
    assert (body["birth_date"], body["gender"]) == ("1979-11-03", "male")
    assert id_number not in response.content.decode()

    row = raw_row(body["id"])
    for column, value in row.items():
        text = str(value)
        assert id_number not in text, column
        assert id_number[6:14] + id_number[14:] not in text, column
        assert phone not in text, column

    person = Person.objects.get(pk=body["id"])
    assert person.reveal_id_number() == id_number  # it is there, encrypted
    entry = AuditEntry.objects.for_object(person).get(action="create")
    logged = json.dumps(entry.changes, ensure_ascii=False)
    assert id_number not in logged and phone not in logged
    assert entry.changes["id_number"] == body["id_number_masked"]


def test_list_and_detail_are_masked_for_every_role(api_as: Any, world: World) -> None:
    person = person_with_pii(world.grid.path)
    clear_id, clear_phone = person.reveal_id_number(), person.reveal_phone()
    for username in ("grid", "community", "admin"):
        api = api_as(username)
        for response in (
            api.get(f"/persons/{person.pk}"),
            api.get("/persons", search=clear_id),
            api.get("/persons", area=world.grid.pk, limit=500),
        ):
            text = response.content.decode()
            assert response.status_code == 200
            assert person.id_number_masked in text
            assert clear_id not in text and clear_phone not in text


def test_exact_id_search_respects_scope(api_as: Any, world: World) -> None:
    own = person_with_pii(world.grid.path)
    neighbour = person_with_pii(world.other_grid.path)
    grid, community, admin = api_as("grid"), api_as("community"), api_as("admin")

    found = grid.get("/persons", search=own.reveal_id_number()).json()
    assert [item["id"] for item in found["items"]] == [own.pk]
    lower = grid.get("/persons", search=own.reveal_id_number().lower()).json()
    assert lower["count"] == 1

    hidden = grid.get("/persons", search=neighbour.reveal_id_number()).json()
    assert hidden == {"items": [], "count": 0}
    assert community.get("/persons", search=neighbour.reveal_id_number()).json()["count"] == 1
    assert admin.get("/persons", search=neighbour.reveal_id_number()).json()["count"] == 1

    by_phone = grid.get("/persons", search=own.reveal_phone()).json()
    assert own.pk in {item["id"] for item in by_phone["items"]}
    by_phone = grid.get("/persons", search=neighbour.reveal_phone()).json()
    assert neighbour.pk not in {item["id"] for item in by_phone["items"]}


def test_search_in_a_body_keeps_the_id_number_out_of_the_url(api_as: Any, world: World) -> None:
    own = person_with_pii(world.grid.path)
    neighbour = person_with_pii(world.other_grid.path)
    grid = api_as("grid")
    found = grid.post("/persons/search", {"search": own.reveal_id_number()}).json()
    assert [item["id"] for item in found["items"]] == [own.pk]
    assert own.reveal_id_number() not in json.dumps(found)
    hidden = grid.post("/persons/search", {"search": neighbour.reveal_id_number()}).json()
    assert hidden == {"items": [], "count": 0}
    count, ids = all_ids(grid, "/persons", political_status="masses")
    paged = grid.post("/persons/search", {"political_status": "masses", "limit": 500}).json()
    assert paged["count"] == count and {item["id"] for item in paged["items"]} == ids
    assert_error(grid.post("/persons/search", {"limit": 0}), 422, "validation_error")


def test_name_search_matches_the_orm_within_scope(api_as: Any, world: World) -> None:
    surname = person_with_pii(world.grid.path).name[0]
    count, ids = all_ids(api_as("community"), "/persons", search=surname)
    expected = set(
        Person.objects.filter(
            area_path__startswith=world.community.path, name__contains=surname
        ).values_list("pk", flat=True)
    )
    assert (count, ids) == (len(expected), expected)


# --- reveal ------------------------------------------------------------------------------
def test_reveal_returns_clear_values_and_is_audited(api_as: Any, world: World) -> None:
    person = person_with_pii(world.grid.path)
    response = api_as("community").post(f"/persons/{person.pk}/reveal")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "id_number": person.reveal_id_number(),
        "phone": person.reveal_phone(),
    }
    assert response["Cache-Control"] == "no-store"
    entry = AuditEntry.objects.for_object(person).get(action="reveal")
    assert entry.actor is not None and entry.actor.username == "community"
    assert entry.channel == "api"
    assert person.reveal_id_number() not in json.dumps(entry.changes)


def test_reveal_needs_the_permission_and_scope(api_as: Any, world: World) -> None:
    own = person_with_pii(world.grid.path)
    neighbour = person_with_pii(world.other_grid.path)
    grid = api_as("grid")  # sees its grid, may not reveal
    body = assert_error(grid.post(f"/persons/{own.pk}/reveal"), 403, "permission_denied")
    assert own.reveal_id_number() not in json.dumps(body)
    assert_error(grid.post(f"/persons/{neighbour.pk}/reveal"), 404, "not_found")
    assert_error(api_as("resident").post(f"/persons/{own.pk}/reveal"), 404, "not_found")
    assert_error(api_as("community").post("/persons/0/reveal"), 404, "not_found")
    assert not AuditEntry.objects.filter(action="reveal").exists()


# --- invalid ID numbers -------------------------------------------------------------------
def _with_check(body17: str) -> str:
    return body17 + idnumber.check_char(body17)


def _wrong_check(body17: str) -> str:
    return body17 + ("1" if idnumber.check_char(body17) != "1" else "2")


@pytest.mark.parametrize(
    ("id_number", "fragment"),
    [
        (_wrong_check("37083019860517002"), "校验位"),  # wrong check character
        (_with_check("37083019990230002"), "出生日期"),  # 30 February 1999
        (_with_check("37083020991231002"), "不可能"),  # born in the future
        ("37083019860517002", "18位"),  # too short
    ],
)
def test_invalid_id_numbers_are_rejected_and_nothing_is_stored(
    api_as: Any, world: World, id_number: str, fragment: str
) -> None:
    before, entries = Person.objects.count(), AuditEntry.objects.count()
    response = api_as("grid").post(
        "/persons", {"name": "无效号码", "id_number": id_number, "area": world.grid.pk}
    )
    body = assert_error(response, 422, "invalid_id_number")
    zh, en = body["message"].split(" / ", 1)
    assert fragment in zh and en.isascii() and en
    assert body["detail"] == {"field": "id_number"}
    assert Person.objects.count() == before
    assert AuditEntry.objects.count() == entries


def test_invalid_id_number_on_update_changes_nothing(api_as: Any, world: World) -> None:
    person = person_with_pii(world.grid.path)
    before = raw_row(person.pk)
    response = api_as("grid").patch(
        f"/persons/{person.pk}", {"name": "不应保存", "id_number": _with_check("37083019990230002")}
    )
    assert_error(response, 422, "invalid_id_number")
    assert raw_row(person.pk) == before


def test_duplicate_id_number_conflicts(api_as: Any, world: World) -> None:
    taken = person_with_pii(world.next_community.path).reveal_id_number()
    before = Person.objects.count()
    response = api_as("grid").post(
        "/persons", {"name": "重复", "id_number": taken, "area": world.grid.pk}
    )
    body = assert_error(response, 409, "conflict")
    assert taken not in json.dumps(body)
    assert Person.objects.count() == before


def test_changing_the_id_number_is_audited_masked(api_as: Any, world: World) -> None:
    person = person_with_pii(world.grid.path)
    old = person.reveal_id_number()
    new = fresh_id_number(dt.date(1990, 1, 2), "male")
    response = api_as("grid").patch(f"/persons/{person.pk}", {"id_number": new})
    assert response.status_code == 200, response.content
    person.refresh_from_db()
    assert person.reveal_id_number() == new
    assert person.birth_date == dt.date(1990, 1, 2)
    entry = AuditEntry.objects.for_object(person).get(action="update", actor_name="grid")
    logged = json.dumps(entry.changes)
    assert old not in logged and new not in logged
    assert entry.changes["id_number"] == [person_masked(old), person_masked(new)]


def person_masked(value: str) -> str:
    return value[:6] + "*" * 8 + value[-4:]


def test_creating_in_an_area_outside_scope_or_not_a_grid(api_as: Any, world: World) -> None:
    grid = api_as("grid")
    payload = {"name": "越界", "id_number": fresh_id_number(), "area": world.other_grid.pk}
    assert_error(grid.post("/persons", payload), 404, "not_found")
    payload["area"] = world.community.pk
    assert_error(api_as("community").post("/persons", payload), 422, "validation_error")


# --- filters -----------------------------------------------------------------------------
def _expected_ages(area_path: str, low: int | None, high: int | None) -> set[int]:
    today = timezone.localdate()
    result = set()
    for person in Person.objects.filter(area_path__startswith=area_path, birth_date__isnull=False):
        b = person.birth_date
        age = today.year - b.year - ((today.month, today.day) < (b.month, b.day))
        if (low is None or age >= low) and (high is None or age <= high):
            result.add(person.pk)
    return result


@pytest.mark.parametrize(("low", "high"), [(60, None), (None, 17), (18, 35), (80, 80)])
def test_age_filter_matches_ages_computed_in_python(
    api_as: Any, world: World, low: int | None, high: int | None
) -> None:
    params = {k: v for k, v in (("age_min", low), ("age_max", high)) if v is not None}
    count, ids = all_ids(api_as("community"), "/persons", **params)
    expected = _expected_ages(world.community.path, low, high)
    assert (count, ids) == (len(expected), expected)


def test_tag_filter_counts_currently_valid_tags(api_as: Any, world: World) -> None:
    today = timezone.localdate()
    code = (
        PersonTag.objects.filter(person__area_path__startswith=world.community.path)
        .values_list("tag__code", flat=True)
        .order_by("tag__code")
        .first()
    )
    assert code is not None
    expected = {
        row.person_id
        for row in PersonTag.objects.filter(
            tag__code=code, person__area_path__startswith=world.community.path
        )
        if (row.valid_from is None or row.valid_from <= today)
        and (row.valid_until is None or row.valid_until >= today)
    }
    count, ids = all_ids(api_as("community"), "/persons", tag=code)
    assert (count, ids) == (len(expected), expected)
    item = api_as("community").get("/persons", tag=code, limit=1).json()["items"][0]
    assert code in item["tags"]


def test_political_status_and_area_filters(api_as: Any, world: World) -> None:
    count, ids = all_ids(api_as("admin"), "/persons", political_status="party_member")
    expected = set(
        Person.objects.filter(political_status="party_member").values_list("pk", flat=True)
    )
    assert expected and (count, ids) == (len(expected), expected)

    count, ids = all_ids(api_as("community"), "/persons", area=world.other_grid.pk)
    expected = set(
        Person.objects.filter(area_path__startswith=world.other_grid.path).values_list(
            "pk", flat=True
        )
    )
    assert (count, ids) == (len(expected), expected)

    # The grid worker asking for the whole community still gets only its own grid.
    count, ids = all_ids(api_as("grid"), "/persons", area=world.community.pk)
    own = set(
        Person.objects.filter(area_path__startswith=world.grid.path).values_list("pk", flat=True)
    )
    assert (count, ids) == (len(own), own)
    assert_error(
        api_as("admin").get("/persons", political_status="nobody"), 422, "validation_error"
    )


def test_moving_a_person_out_of_scope_is_404_and_changes_nothing(api_as: Any, world: World) -> None:
    person = person_with_pii(world.grid.path)
    before = raw_row(person.pk)
    response = api_as("grid").patch(f"/persons/{person.pk}", {"area": world.other_grid.pk})
    assert_error(response, 404, "not_found")
    assert raw_row(person.pk) == before
    # The community worker may move them within the community.
    response = api_as("community").patch(f"/persons/{person.pk}", {"area": world.other_grid.pk})
    assert response.status_code == 200, response.content
    person.refresh_from_db()
    assert person.area_path == world.other_grid.path
