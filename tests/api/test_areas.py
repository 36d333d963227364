"""The area tree: lists, detail with boundary, point lookup, and creating child areas."""

from __future__ import annotations

from typing import Any

import pytest

from jiayuan.org.models import Area

from .conftest import World
from .mixins import all_ids, assert_error


def test_list_items_carry_the_tree_fields(api_as: Any, world: World) -> None:
    body = api_as("admin").get("/areas", kind="grid", limit=500).json()
    grids = Area.objects.filter(kind="grid")
    assert body["count"] == grids.count()
    by_id = {item["id"]: item for item in body["items"]}
    grid = by_id[world.grid.pk]
    assert grid == {
        "id": world.grid.pk,
        "kind": "grid",
        "code": world.grid.code,
        "name": world.grid.name,
        "parent": world.grid.parent_id,
        "path": world.grid.path,
        "depth": world.grid.depth,
        "centroid": {"lat": world.grid.centroid_lat, "lng": world.grid.centroid_lng},
    }
    assert "boundary" not in grid


def test_parent_filter_gives_the_children(api_as: Any, world: World) -> None:
    count, ids = all_ids(api_as("community"), "/areas", parent=world.community.pk)
    expected = set(Area.objects.filter(parent=world.community).values_list("pk", flat=True))
    assert expected and (count, ids) == (len(expected), expected)
    # Children of a community the user does not serve are not listed.
    assert api_as("community").get("/areas", parent=world.next_community.pk).json()["count"] == 0


def test_detail_has_the_geojson_boundary(api_as: Any, world: World) -> None:
    body = api_as("grid").get(f"/areas/{world.grid.pk}").json()
    assert body["boundary"] == world.grid.boundary
    assert body["boundary"]["type"] in ("Polygon", "MultiPolygon")


def test_locate_finds_every_grid_from_its_centroid(api_as: Any) -> None:
    admin = api_as("admin")
    grids = list(Area.objects.filter(kind="grid"))
    assert len(grids) >= 2
    for grid in grids:
        response = admin.get("/areas/locate", lat=grid.centroid_lat, lng=grid.centroid_lng)
        assert response.status_code == 200, response.content
        assert response.json()["id"] == grid.pk


def test_locate_outside_the_county_or_outside_scope_is_404(api_as: Any, world: World) -> None:
    assert_error(api_as("admin").get("/areas/locate", lat=39.9, lng=116.4), 404, "not_found")
    grid = api_as("grid")
    own = grid.get("/areas/locate", lat=world.grid.centroid_lat, lng=world.grid.centroid_lng)
    assert own.json()["id"] == world.grid.pk
    neighbour = world.other_grid
    response = grid.get("/areas/locate", lat=neighbour.centroid_lat, lng=neighbour.centroid_lng)
    assert_error(response, 404, "not_found")
    assert_error(api_as("admin").get("/areas/locate", lat=91, lng=0), 422, "validation_error")


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"kind": "unit"}, 422, "validation_error"),  # a grid holds buildings, not units
        ({"code": "x1"}, 422, "validation_error"),  # codes are digits
        ({"boundary": {"type": "Point", "coordinates": [116.5, 35.7]}}, 422, "validation_error"),
        ({"parent": 0}, 404, "not_found"),
    ],
)
def test_invalid_child_areas_are_refused(
    api_as: Any, world: World, change: dict[str, Any], status: int, code: str
) -> None:
    before = Area.objects.count()
    payload = {"parent": world.grid.pk, "kind": "building", "code": "98", "name": "新楼"}
    payload.update(change)
    assert_error(api_as("grid").post("/areas", payload), status, code)
    assert Area.objects.count() == before


def test_taken_code_conflicts(api_as: Any, world: World) -> None:
    taken = Area.objects.filter(parent=world.grid).values_list("code", flat=True).first()
    assert taken is not None
    payload = {"parent": world.grid.pk, "kind": "building", "code": taken, "name": "重复"}
    assert_error(api_as("grid").post("/areas", payload), 409, "conflict")


def test_redrawing_a_boundary_moves_the_centroid(api_as: Any, world: World) -> None:
    box = {
        "type": "Polygon",
        "coordinates": [
            [[116.0, 35.0], [116.2, 35.0], [116.2, 35.2], [116.0, 35.2], [116.0, 35.0]]
        ],
    }
    response = api_as("admin").patch(f"/areas/{world.grid.pk}", {"boundary": box})
    assert response.status_code == 200, response.content
    assert response.json()["centroid"] == pytest.approx({"lat": 35.1, "lng": 116.1})
    located = api_as("admin").get("/areas/locate", lat=35.1, lng=116.1).json()
    assert located["id"] == world.grid.pk
