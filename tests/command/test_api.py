"""The mobilisation API: contract, scope, hostile input and query counts."""

from __future__ import annotations

from typing import Any

import pytest

from jiayuan.command import mobilise
from jiayuan.command.models import Member, Mobilisation

from .conftest import COMMUNITY, GRID, OTHER_COMMUNITY, POINT, at, living_forces, on_duty

pytestmark = pytest.mark.django_db


def body(**kw: Any) -> dict[str, Any]:
    return {"point": {"lat": POINT[0], "lng": POINT[1]}, "head_count": 2, "message": "集结", **kw}


@pytest.fixture
def forces(users: dict[str, Any]) -> list[Any]:
    """The grid worker and four more of the community on duty, nearest first."""
    mine = on_duty(living_forces(GRID).get(person__user=users["grid"]), *at(0.0005))
    others = list(living_forces(COMMUNITY).exclude(person__user__isnull=False)[:4])
    for i, f in enumerate(others):
        on_duty(f, *at(0.001 * (i + 1)))
    return [mine, *others]


def test_create_answers_201_with_the_selected_forces_masked(api_as: Any, forces: list[Any]) -> None:
    response = api_as("community").post("/mobilisations", body(roles=[], skills=[]))
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["head_count"] == 2 and data["status"] == "open"
    assert [m["person_name"] for m in data["members"]] == [f.person.name for f in forces[:2]]
    for m in data["members"]:
        assert "*" in m["phone_masked"] or m["phone_masked"] == ""
    assert data["counts"]["delivered"] == 1 and data["counts"]["notified"] == 1
    assert data["timeline"][0]["kind"] == "created"
    assert "phone_enc" not in response.content.decode()


def test_responses_and_detail_counts(api_as: Any, forces: list[Any]) -> None:
    mob_id = api_as("community").post("/mobilisations", body()).json()["id"]
    grid = api_as("grid")
    assert (
        grid.post(f"/mobilisations/{mob_id}/responses", {"step": "acknowledged"}).status_code == 201
    )
    bad = grid.post(f"/mobilisations/{mob_id}/responses", {"step": "acknowledged"})
    assert bad.status_code == 409 and "/" in bad.json()["message"]
    done = grid.post(
        f"/mobilisations/{mob_id}/responses",
        {"step": "checked_in", "lat": POINT[0], "lng": POINT[1]},
    )
    assert done.status_code == 201 and done.json()["step"] == "checked_in"
    # a force may not post another member's step; staff may
    other = Member.objects.filter(mobilisation_id=mob_id).exclude(person__user__isnull=False).get()
    assert (
        grid.post(
            f"/mobilisations/{mob_id}/responses", {"step": "declined", "member_id": other.pk}
        ).status_code
        == 403
    )
    staff = api_as("community")
    assert (
        staff.post(
            f"/mobilisations/{mob_id}/responses", {"step": "declined", "member_id": other.pk}
        ).status_code
        == 201
    )
    detail = staff.get(f"/mobilisations/{mob_id}").json()
    # the decline topped up with the next nearest
    assert detail["counts"]["checked_in"] == 1 and detail["counts"]["declined"] == 1
    assert len(detail["members"]) == 3
    assert [e["kind"] for e in detail["timeline"]].count("topped_up") == 1
    # the called grid worker reads their own mobilisation, but not the others' names
    own = grid.get(f"/mobilisations/{mob_id}").json()
    assert [m["person_name"] for m in own["members"]] == [forces[0].person.name]
    assert {e["person_name"] for e in own["timeline"]} <= {"", forces[0].person.name}
    assert "came" not in own["report"] and own["counts"]["checked_in"] == 1
    assert len(detail["members"]) == 3 and "came" in detail["report"]
    assert api_as("community").get("/mobilisations").json()["count"] == 1
    assert grid.get("/mobilisations").json()["count"] == 0  # the community's row, not the grid's
    closed = staff.post(f"/mobilisations/{mob_id}/close")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"


def test_scope(api_as: Any, forces: list[Any], users: dict[str, Any]) -> None:
    mob_id = api_as("community").post("/mobilisations", body()).json()["id"]
    assert api_as("resident").get(f"/mobilisations/{mob_id}").status_code == 404
    assert (
        api_as("resident")
        .post(f"/mobilisations/{mob_id}/responses", {"step": "acknowledged"})
        .status_code
        == 404
    )
    assert api_as("grid").post("/mobilisations", body()).status_code == 403
    other = living_forces(OTHER_COMMUNITY).first().area_id
    assert (
        api_as("community")
        .post("/mobilisations", {**body(), "point": None, "area_id": other})
        .status_code
        == 404
    )
    # the grid worker sees their grid only, not the compound the call is for
    assert api_as("grid").post(f"/mobilisations/{mob_id}/close").status_code == 404
    assert api_as("branch").post(f"/mobilisations/{mob_id}/close").status_code == 403


@pytest.mark.parametrize(
    "payload",
    [
        {"head_count": 10**30},
        {"head_count": 0},
        {"head_count": "many"},
        {"message": ""},
        {"message": "x" * 501},
        {"point": {"lat": 999, "lng": 0}},
        {"point": None, "polygon": {"type": "Polygon", "coordinates": "x"}},
        {"point": None, "polygon": {"type": "Point", "coordinates": [1, 2]}},
        {"point": None, "polygon": {"type": "Polygon", "coordinates": [[[0, 0], [0, 0], [0, 0]]]}},
        {"point": None, "polygon": {"a": {"a": {"a": {"a": {"a": {"a": {}}}}}}}},
        {"point": None},
        {"roles": ["🙂"]},
        {"skills": [None]},
        {"skills": ["x"] * 50},
        {"area_id": 2**70, "point": None},
    ],
)
def test_hostile_input_is_refused_bilingually(api_as: Any, forces: list[Any], payload: Any) -> None:
    response = api_as("community").post("/mobilisations", body(**payload))
    assert 400 <= response.status_code < 500, response.content
    assert "/" in response.json()["message"]
    assert not Mobilisation.objects.exists()


def test_hostile_responses_and_ids(api_as: Any, forces: list[Any]) -> None:
    mob_id = api_as("community").post("/mobilisations", body()).json()["id"]
    grid = api_as("grid")
    for payload in (
        {"step": "flying"},
        {"step": "timed_out"},
        {"step": "checked_in", "lat": 1e999},
        {"step": "acknowledged", "member_id": 2**70},
        {"step": "x" * 10_000},
    ):
        response = grid.post(f"/mobilisations/{mob_id}/responses", payload)
        assert 400 <= response.status_code < 500, (payload, response.content)
    for path in ("/mobilisations/99999999999999999999", f"/mobilisations/{2**63}"):
        assert grid.get(path).status_code in (404, 422)
    assert grid.post("/mobilisations", "[" * 5000 + "]" * 5000).status_code < 500


def test_duty_api(api_as: Any, users: dict[str, Any]) -> None:
    grid = api_as("grid")
    on = grid.post("/duty", {"on_duty": True, "lat": POINT[0], "lng": POINT[1]})
    assert on.status_code == 200 and on.json()["on_duty"] is True
    assert grid.post("/duty", {"on_duty": False, "lat": 1, "lng": 1}).status_code == 422
    assert grid.post("/duty", {"on_duty": False}).json()["on_duty"] is False
    assert grid.post("/duty", {"on_duty": False}).status_code == 409
    assert api_as("admin").post("/duty", {"on_duty": True}).status_code == 404


def _grow(users: dict[str, Any], n: int) -> int:
    """``n`` more forces on duty and a mobilisation calling them all; returns its id."""
    extra = list(living_forces(COMMUNITY).exclude(person__user__isnull=False)[4 : 4 + n])
    for i, f in enumerate(extra):
        on_duty(f, *at(0.01 + 0.001 * i))
    mob = mobilise.start(
        users["community"], point={"lat": POINT[0], "lng": POINT[1]}, head_count=n, message="增援"
    )
    return mob.pk


def test_queries_do_not_grow_with_rows(
    api_as: Any, forces: list[Any], users: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    client = api_as("community")
    small = client.post("/mobilisations", body(head_count=1)).json()["id"]
    with django_assert_max_num_queries(12) as few:
        assert client.get(f"/mobilisations/{small}").status_code == 200
    with django_assert_max_num_queries(12):
        assert client.get("/mobilisations").status_code == 200
    big = _grow(users, 20)
    spare = list(living_forces(COMMUNITY).exclude(person__user__isnull=False)[24:29])
    for f in spare:
        on_duty(f, *at(0.05))
        mobilise.start(
            users["community"],
            point={"lat": POINT[0], "lng": POINT[1]},
            head_count=1,
            message="再调",
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(f"/mobilisations/{big}").status_code == 200
    with django_assert_max_num_queries(12):
        response = client.get("/mobilisations")
    assert response.status_code == 200 and response.json()["count"] >= 3
