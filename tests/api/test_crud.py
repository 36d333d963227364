"""The route factory (``jiayuan.core.crud``) publishes the plain resources exactly as the
hand-written handlers did: same paths, operation ids, tags and documented statuses."""

from __future__ import annotations

from typing import Any

import pytest

from jiayuan.api import api

from .mixins import assert_error

RESOURCES = {
    # plural: (app, singular, has DELETE)
    "dwellings": ("org", "dwelling", False),
    "households": ("people", "household", False),
    "positions": ("people", "position", True),
    "forces": ("people", "force", True),
}


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return api.get_openapi_schema()


@pytest.mark.parametrize("plural", RESOURCES)
def test_factory_routes_keep_their_published_shape(openapi: dict[str, Any], plural: str) -> None:
    app, name, deletable = RESOURCES[plural]
    collection = openapi["paths"][f"/api/v1/{plural}"]
    item = openapi["paths"][f"/api/v1/{plural}/{{{name}_id}}"]
    expected = [
        (collection["get"], f"list_{plural}", "200"),
        (collection["post"], f"create_{name}", "201"),
        (item["get"], f"get_{name}", "200"),
        (item["patch"], f"update_{name}", "200"),
    ]
    if deletable:
        expected.append((item["delete"], f"delete_{name}", "204"))
    else:
        assert "delete" not in item
    for op, operation, ok in expected:
        assert op["operationId"] == f"jiayuan_{app}_api_{operation}"
        assert op["tags"] == [plural]
        assert op["description"]
        assert {str(code) for code in op["responses"]} == {
            ok,
            "400",
            "401",
            "403",
            "404",
            "409",
            "422",
        }
    params = {p["name"] for p in collection["get"]["parameters"]}
    assert {"limit", "offset", "area"} <= params


def test_a_resource_without_delete_answers_405(api_as: Any) -> None:
    from jiayuan.people.models import Household

    household = Household.objects.order_by("pk").first()
    assert household is not None
    response = api_as("admin").delete(f"/households/{household.pk}")
    assert response.status_code == 405
    assert Household.objects.filter(pk=household.pk).exists()


def test_view_only_user_cannot_delete(api_as: Any) -> None:
    # ``branch`` sees the grid's positions but may not change them: 403, row kept.
    from jiayuan.people.models import Position

    from .conftest import membership_area

    grid = membership_area("grid", "grid_worker")
    position = Position.objects.filter(area_path__startswith=grid.path).order_by("pk").first()
    assert position is not None
    assert_error(api_as("branch").delete(f"/positions/{position.pk}"), 403, "permission_denied")
    assert Position.objects.filter(pk=position.pk).exists()
