"""Generic API tests (NetBox ``utilities/testing/api.py`` style).

A resource's test class declares its model, its path and how to build create/update
data for a place; the mixins then check list, detail, create, update (and delete), the
401 for anonymous callers, and the scope matrix: ``grid`` sees its grid and gets 404 for
the next grid, ``community`` sees its whole community and nothing of the next one,
``admin`` sees everything, ``resident`` nothing. Expected rows are always computed from
the ORM by area path, independently of ``visible_to``, plus what a resource documents a
user sees beyond their areas (``also_seen``: a case's handler, say).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Model, QuerySet

from jiayuan.core import audit
from jiayuan.core.models import AuditEntry
from jiayuan.org.models import Area

from .conftest import Api, World


def all_ids(api: Api, path: str, **params: Any) -> tuple[int, set[int]]:
    """``(count, ids)`` of a list, following the pages."""
    ids: set[int] = set()
    offset = 0
    while True:
        response = api.get(path, limit=500, offset=offset, **params)
        assert response.status_code == 200, response.content
        body = response.json()
        ids |= {item["id"] for item in body["items"]}
        offset += 500
        if offset >= body["count"]:
            return body["count"], ids


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert " / " in body["message"]  # Chinese / English
    return body


class ListScopeTests:
    """The list of one resource with the scope matrix, 401 for anonymous callers.
    :class:`ScopeTests` adds the detail; :class:`ResourceTests` create and update."""

    model: type[Model]
    path: str
    path_field = "area_path"

    @pytest.fixture(autouse=True)
    def _seeded(self, world: World) -> None:
        self.seed(world)

    # --- what a resource declares ------------------------------------------------------
    def rows(self) -> QuerySet[Any]:
        return self.model._default_manager.all()

    def under(self, area: Area) -> QuerySet[Any]:
        return self.rows().filter(**{f"{self.path_field}__startswith": area.path})

    def sample(self, area: Area, exclude: set[int] | None = None) -> Any:
        obj = self.under(area).exclude(pk__in=exclude or ()).order_by("pk").first()
        assert obj is not None, f"the tiny county has no {self.model.__name__} in {area}"
        return obj

    def detail(self, obj: Model) -> str:
        return f"{self.path}/{obj.pk}"

    def seed(self, world: World) -> None:
        """Add rows where the tiny county has none (each of the four places needs one)."""

    def also_seen(self, username: str) -> set[int]:
        """Rows ``username`` sees beyond its areas by a documented rule (a case's current
        handler …); computed from the ORM, not from ``visible_to``."""
        return set()

    def expected(self, username: str, area: Area) -> set[int]:
        return set(self.under(area).values_list("pk", flat=True)) | self.also_seen(username)

    # --- authentication ----------------------------------------------------------------
    def test_anonymous_gets_401(self, api_as: Any, world: World) -> None:
        anonymous = api_as(None)
        assert_error(anonymous.get(self.path), 401, "unauthorized")

    # --- lists ---------------------------------------------------------------------------
    def test_grid_lists_its_grid_only(self, api_as: Any, world: World) -> None:
        count, ids = all_ids(api_as("grid"), self.path)
        expected = self.expected("grid", world.grid)
        assert self.under(world.grid).exists()
        assert count == len(expected)
        assert ids == expected
        beyond = self.also_seen("grid")
        assert not (ids - beyond) & set(self.under(world.other_grid).values_list("pk", flat=True))

    def test_community_lists_its_community_and_nothing_of_the_next(
        self, api_as: Any, world: World
    ) -> None:
        count, ids = all_ids(api_as("community"), self.path)
        expected = self.expected("community", world.community)
        assert count == len(expected)
        assert ids == expected
        assert ids & set(self.under(world.other_grid).values_list("pk", flat=True))
        beyond = self.also_seen("community")
        assert not (ids - beyond) & set(
            self.under(world.next_community).values_list("pk", flat=True)
        )

    def test_admin_lists_everything(self, api_as: Any) -> None:
        count, ids = all_ids(api_as("admin"), self.path)
        assert count == self.rows().count()
        assert ids == set(self.rows().values_list("pk", flat=True))

    def test_resident_sees_nothing(self, api_as: Any, world: World) -> None:
        resident = api_as("resident")
        body = resident.get(self.path).json()
        assert body == {"items": [], "count": 0}

    def test_pages_are_windows_of_one_ordering(self, api_as: Any) -> None:
        admin = api_as("admin")
        first = admin.get(self.path, limit=3, offset=0).json()
        second = admin.get(self.path, limit=3, offset=3).json()
        assert len(first["items"]) == 3
        assert first["count"] == second["count"] == self.rows().count()
        assert not {i["id"] for i in first["items"]} & {i["id"] for i in second["items"]}
        assert_error(admin.get(self.path, limit=501), 422, "validation_error")


class ScopeTests(ListScopeTests):
    """The read side of one resource: list and detail with the scope matrix. Read-only
    resources (cases, devices, alarms, matches …) inherit only these."""

    def test_anonymous_gets_401_on_the_detail(self, api_as: Any, world: World) -> None:
        obj = self.sample(world.grid)
        assert_error(api_as(None).get(self.detail(obj)), 401, "unauthorized")

    def test_resident_gets_404_on_the_detail(self, api_as: Any, world: World) -> None:
        resident = api_as("resident")
        assert_error(resident.get(self.detail(self.sample(world.grid))), 404, "not_found")

    # --- detail --------------------------------------------------------------------------
    def test_detail_follows_the_scope_matrix(self, api_as: Any, world: World) -> None:
        own = self.sample(world.grid)
        neighbour = self.sample(world.other_grid, exclude=self.also_seen("grid"))
        far = self.sample(world.next_community, exclude=self.also_seen("community"))
        grid, community, admin = api_as("grid"), api_as("community"), api_as("admin")

        response = grid.get(self.detail(own))
        assert response.status_code == 200, response.content
        assert response.json()["id"] == own.pk
        assert_error(grid.get(self.detail(neighbour)), 404, "not_found")
        assert_error(grid.get(self.detail(far)), 404, "not_found")

        assert community.get(self.detail(neighbour)).status_code == 200
        assert_error(community.get(self.detail(far)), 404, "not_found")
        assert admin.get(self.detail(far)).status_code == 200


class ResourceTests(ScopeTests):
    """List, detail, create and update with the scope matrix, for one resource."""

    def create_payload(self, area: Area) -> dict[str, Any]:
        raise NotImplementedError

    def update_payload(self, obj: Any) -> dict[str, Any]:
        raise NotImplementedError

    def assert_updated(self, obj: Any, payload: dict[str, Any]) -> None:
        for key, value in payload.items():
            assert str(getattr(obj, key)) == str(value), key

    def test_anonymous_cannot_write(self, api_as: Any, world: World) -> None:
        anonymous = api_as(None)
        obj = self.sample(world.grid)
        before = self.rows().count()
        assert_error(
            anonymous.post(self.path, self.create_payload(world.grid)), 401, "unauthorized"
        )
        assert_error(
            anonymous.patch(self.detail(obj), self.update_payload(obj)), 401, "unauthorized"
        )
        assert self.rows().count() == before

    # --- create --------------------------------------------------------------------------
    def test_create_in_scope_is_audited(self, api_as: Any, world: World) -> None:
        response = api_as("grid").post(self.path, self.create_payload(world.grid))
        assert response.status_code == 201, response.content
        row = self.model._default_manager.get(pk=response.json()["id"])
        assert getattr(row, self.path_field).startswith(world.grid.path)
        entry = AuditEntry.objects.for_object(row).get(action="create")
        assert entry.actor is not None and entry.actor.username == "grid"
        assert entry.channel == "api"
        assert entry.changes  # the created values

    def test_create_outside_scope_is_404_and_stores_nothing(
        self, api_as: Any, world: World
    ) -> None:
        before = self.rows().count()
        entries = AuditEntry.objects.count()
        response = api_as("grid").post(self.path, self.create_payload(world.other_grid))
        assert_error(response, 404, "not_found")
        assert self.rows().count() == before
        assert AuditEntry.objects.count() == entries

    # --- update --------------------------------------------------------------------------
    def test_update_in_scope_is_audited_with_a_diff(self, api_as: Any, world: World) -> None:
        obj = self.sample(world.grid)
        payload = self.update_payload(obj)
        response = api_as("grid").patch(self.detail(obj), payload)
        assert response.status_code == 200, response.content
        obj.refresh_from_db()
        self.assert_updated(obj, payload)
        entry = AuditEntry.objects.for_object(obj).get(action="update", actor_name="grid")
        assert entry.actor is not None and entry.channel == "api"
        assert set(payload) <= set(entry.changes)
        for before_after in entry.changes.values():
            assert before_after[0] != before_after[1]

    def test_update_outside_scope_is_404_and_changes_nothing(
        self, api_as: Any, world: World
    ) -> None:
        obj = self.sample(world.other_grid)
        before = audit.snapshot(obj)
        response = api_as("grid").patch(self.detail(obj), self.update_payload(obj))
        assert_error(response, 404, "not_found")
        obj.refresh_from_db()
        assert audit.snapshot(obj) == before

    def test_view_only_role_gets_403_and_changes_nothing(self, api_as: Any, world: World) -> None:
        # ``branch`` (the grid's zone branch secretary) may view the grid, not change it.
        obj = self.sample(world.grid)
        before = audit.snapshot(obj)
        response = api_as("branch").patch(self.detail(obj), self.update_payload(obj))
        assert_error(response, 403, "permission_denied")
        obj.refresh_from_db()
        assert audit.snapshot(obj) == before


class DeleteTests:
    """Delete, audited with the removed values; outside scope 404."""

    def test_delete_in_scope_is_audited(self, api_as: Any, world: World) -> None:
        obj = self.sample(world.grid)  # type: ignore[attr-defined]
        pk, label = obj.pk, obj._meta.label_lower
        response = api_as("grid").delete(self.detail(obj))  # type: ignore[attr-defined]
        assert response.status_code == 204, response.content
        assert not type(obj)._default_manager.filter(pk=pk).exists()
        entry = AuditEntry.objects.get(object_type=label, object_id=str(pk), action="delete")
        assert entry.changes["id"] == pk

    def test_delete_outside_scope_is_404(self, api_as: Any, world: World) -> None:
        obj = self.sample(world.other_grid)  # type: ignore[attr-defined]
        response = api_as("grid").delete(self.detail(obj))  # type: ignore[attr-defined]
        assert_error(response, 404, "not_found")
        assert type(obj)._default_manager.filter(pk=obj.pk).exists()
