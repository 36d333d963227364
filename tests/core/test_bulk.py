"""The bulk path: rows written as tuples land as Django's ``bulk_create`` writes them,
with their ids, and with one audit entry per row equal to the single-row path's."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from jiayuan.core import actions, audit, bulk
from jiayuan.core.errors import NotFound
from jiayuan.core.models import AuditEntry
from jiayuan.demo.progress import Progress
from jiayuan.org.models import Area, Dwelling

pytestmark = pytest.mark.django_db
User = get_user_model()


def grid_of(username: str) -> Area:
    return User.objects.get(username=username).memberships.get().area


def a_unit(under: Area) -> Area:
    return Area.objects.filter(kind="unit", path__startswith=under.path).first()


def stored(model: Any, pks: list[int], *drop: str) -> list[dict[str, Any]]:
    rows = model.objects.filter(pk__in=pks).order_by("pk").values()
    return [{k: v for k, v in row.items() if k not in drop} for row in rows]


def test_insert_writes_what_djangos_bulk_create_writes() -> None:
    # given: the same values, once through Django and once through the tuple writer
    unit = a_unit(grid_of("grid"))
    building = unit.parent

    def rows(prefix: str) -> tuple[list[Dwelling], list[Area]]:
        dwellings = [
            Dwelling(unit=unit, number=f"{prefix}{i}", floor=i, floor_area=Decimal("87.25"),
                     use="rental", area_path=unit.path)
            for i in range(3)
        ]  # fmt: skip
        areas = [
            Area(kind="unit", code=f"{prefix}{i}", name=f"{i}单元", parent=building,
                 path=f"{building.path}{prefix}{i}/", depth=building.depth + 1,
                 boundary={"type": "Polygon", "coordinates": [[[116.5, 35.7], [116.6, 35.7],
                                                               [116.5, 35.7]]]},
                 centroid_lat=35.71, centroid_lng=None, area_path=f"{building.path}{prefix}{i}/")
            for i in range(2)
        ]  # fmt: skip
        return dwellings, areas

    django_dwellings, django_areas = rows("d")
    Dwelling.objects.bulk_create(django_dwellings)
    Area.objects.bulk_create(django_areas)
    # when
    fast_dwellings, fast_areas = rows("f")
    bulk.insert(Dwelling, fast_dwellings)
    bulk.insert(Area, fast_areas)
    # then: every column equal but the ones that must differ
    assert all(d.pk is not None and not d._state.adding for d in fast_dwellings)
    drop = ("id", "number", "created_at", "updated_at")
    assert stored(Dwelling, [d.pk for d in fast_dwellings], *drop) == stored(
        Dwelling, [d.pk for d in django_dwellings], *drop
    )
    drop = ("id", "code", "path", "area_path", "created_at", "updated_at")
    assert stored(Area, [a.pk for a in fast_areas], *drop) == stored(
        Area, [a.pk for a in django_areas], *drop
    )
    fetched = Dwelling.objects.get(pk=fast_dwellings[0].pk)
    assert fetched.floor_area == Decimal("87.25")
    assert fetched.updated_at == fast_dwellings[0].updated_at  # auto_now was applied


def test_ids_are_new_and_never_reuse_a_deleted_one() -> None:
    unit = a_unit(grid_of("grid"))
    gone = Dwelling.objects.create(unit=unit, number="gone")
    gone_pk = gone.pk
    gone.delete()
    rows = [Dwelling(unit=unit, number=f"n{i}", area_path=unit.path) for i in range(4)]
    bulk.insert(Dwelling, rows)
    pks = [d.pk for d in rows]
    assert len(set(pks)) == 4 and min(pks) > gone_pk
    assert sorted(Dwelling.objects.filter(number__startswith="n", unit=unit).values_list(
        "pk", flat=True)) == sorted(pks)  # fmt: skip
    # the database's own sequence continues after the reserved ids
    after = Dwelling.objects.create(unit=unit, number="after")
    assert after.pk > max(pks)


def test_a_related_row_saved_after_assignment_gives_its_id_and_an_unsaved_one_is_refused() -> None:
    unit = a_unit(grid_of("grid"))
    later = Area(kind="unit", code="97", name="97单元", parent=unit.parent)
    dwelling = Dwelling(unit=later, number="101", area_path=unit.path)
    with pytest.raises(ValueError, match="not saved"):
        bulk.insert(Dwelling, [dwelling])
    later.save()
    bulk.insert(Dwelling, [dwelling])
    assert Dwelling.objects.get(pk=dwelling.pk).unit_id == later.pk


def test_a_row_may_point_to_another_row_of_the_same_write() -> None:
    building = a_unit(grid_of("grid")).parent
    parent = Area(
        kind="unit",
        code="95",
        name="95单元",
        parent=building,
        path=f"{building.path}95/",
        area_path=f"{building.path}95/",
    )
    child = Area(kind="unit", code="01", name="子", parent=parent,
                 path=f"{building.path}95/01/", area_path=f"{building.path}95/01/")  # fmt: skip
    bulk.insert(Area, [child, parent])  # the child first: its parent has no id yet
    assert parent.pk is not None
    assert Area.objects.get(pk=child.pk).parent_id == parent.pk


def test_insert_tuples_prepares_values_by_their_fields() -> None:
    at = AuditEntry.objects.order_by("-at").first().at
    row = (at, None, "system", "cli", "", "", "create", "test.thing", "1", "一件事", "370830/",
           {"名称": "一件事", "n": 3}, "tuples")  # fmt: skip
    assert audit.record_rows([row, row]) == 2
    written = AuditEntry.objects.filter(note="tuples")
    assert written.count() == 2
    assert written.first().changes == {"名称": "一件事", "n": 3}
    assert written.first().at == at


def test_bulk_audit_entries_equal_the_single_row_paths() -> None:
    # given
    user = User.objects.get(username="grid")
    unit = a_unit(grid_of("grid"))
    one = actions.create(Dwelling, actor=user, note="same", unit=unit, number="s1", floor=3)
    # when
    many = actions.bulk_create(
        Dwelling, [Dwelling(unit=unit, number="s2", floor=3)], actor=user, note="same"
    )
    # then
    single = AuditEntry.objects.for_object(one).get()
    bulked = AuditEntry.objects.for_object(many[0]).get()
    fields = ("actor_id", "actor_name", "channel", "action", "object_type", "area_path", "note")
    assert [getattr(bulked, f) for f in fields] == [getattr(single, f) for f in fields]
    assert bulked.object_repr == str(many[0])
    different = {"id", "number"}
    assert {k: v for k, v in bulked.changes.items() if k not in different} == {
        k: v for k, v in single.changes.items() if k not in different
    }
    assert bulked.changes["number"] == "s2" and bulked.changes["id"] == many[0].pk


def test_bulk_create_outside_scope_writes_nothing() -> None:
    user = User.objects.get(username="grid")
    own = a_unit(grid_of("grid"))
    foreign = Area.objects.filter(kind="unit").exclude(path__startswith=grid_of("grid").path)
    rows = [Dwelling(unit=own, number="x1"), Dwelling(unit=foreign.first(), number="x2")]
    before = (Dwelling.objects.count(), AuditEntry.objects.count())
    with pytest.raises(NotFound):
        actions.bulk_create(Dwelling, rows, actor=user, note="scope")
    assert (Dwelling.objects.count(), AuditEntry.objects.count()) == before


def test_bulk_update_each_writes_each_rows_value_with_its_own_diff() -> None:
    unit = a_unit(grid_of("grid"))
    rows = actions.bulk_create(
        Dwelling, [Dwelling(unit=unit, number=f"e{i}", floor=1) for i in range(3)],
        actor=None, note="made",
    )  # fmt: skip
    rows[0].floor, rows[1].floor = 5, 6  # the third keeps its floor
    changed = actions.bulk_update_each(rows, ["floor"], actor=None, note="floors")
    assert changed == 2
    assert [d.floor for d in Dwelling.objects.filter(pk__in=[r.pk for r in rows]).order_by(
        "number")] == [5, 6, 1]  # fmt: skip
    diffs = {
        e.object_id: e.changes for e in AuditEntry.objects.filter(note="floors", action="update")
    }
    assert diffs == {str(rows[0].pk): {"floor": [1, 5]}, str(rows[1].pk): {"floor": [1, 6]}}


def test_bulk_update_each_takes_known_previous_values_without_reading() -> None:
    unit = a_unit(grid_of("grid"))
    rows = actions.bulk_create(
        Dwelling, [Dwelling(unit=unit, number="k1", floor=1)], actor=None, note="made"
    )
    rows[0].floor = 2
    actions.bulk_update_each(rows, ["floor"], actor=None, note="known", previous=[{"floor": 9}])
    entry = AuditEntry.objects.get(note="known")
    assert entry.changes == {"floor": [9, 2]}


def test_progress_is_one_bar_that_names_the_stage_and_reaches_its_end(capsys: Any) -> None:
    bar = Progress([("居民", 100), ("房屋", 50)], enabled=True)
    with bar.stage("居民") as advance:
        advance(60)
        assert "居民" in bar.bar.desc
    bar.refine([("房屋", 80)])
    with bar.stage("房屋") as advance:
        advance(200)  # more than announced never runs past the stage's share
        assert "房屋" in bar.bar.desc
    assert bar.bar.n == pytest.approx(bar.bar.total)
    bar.close()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "预计还需" in err
    assert set(bar.cpu_seconds) == {"居民", "房屋"}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner statistics")
def test_analyze_lets_the_planner_count_rows_written_in_the_same_transaction() -> None:
    unit = a_unit(grid_of("grid"))
    bulk.insert(Dwelling, [Dwelling(unit=unit, number=f"a{i}", area_path=unit.path)
                           for i in range(3000)])  # fmt: skip
    bulk.analyze([Dwelling])
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'org_dwelling'")
        assert cursor.fetchone()[0] >= Dwelling.objects.count() * 0.9
