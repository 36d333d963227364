"""The generic action layer: every write is audited with a diff and re-checks scope."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from jiayuan.core import actions
from jiayuan.core.errors import NotFound
from jiayuan.core.models import AuditEntry
from jiayuan.org.models import Area, Dwelling
from jiayuan.people import services
from jiayuan.people.models import Person

pytestmark = pytest.mark.django_db
User = get_user_model()


def own_grid(user) -> Area:
    return user.memberships.get().area


def other_grid(user) -> Area:
    return Area.objects.filter(kind="grid").exclude(path__startswith=own_grid(user).path).first()


def unit_in(grid: Area) -> Area:
    return Area.objects.filter(kind="unit", path__startswith=grid.path).first()


def test_create_update_delete_are_audited_with_diffs() -> None:
    grid_user = User.objects.get(username="grid")
    unit = unit_in(own_grid(grid_user))
    dwelling = actions.create(Dwelling, actor=grid_user, unit=unit, number="9901", floor=9)
    created = AuditEntry.objects.for_object(dwelling).get()
    assert created.action == "create"
    assert created.actor == grid_user
    assert created.changes["number"] == "9901"
    assert created.area_path == unit.path

    actions.update(dwelling, actor=grid_user, floor=10)
    updated = AuditEntry.objects.for_object(dwelling).filter(action="update").get()
    assert updated.changes == {"floor": [9, 10]}

    pk = dwelling.pk
    actions.delete(dwelling, actor=grid_user)
    deleted = AuditEntry.objects.filter(
        object_type="org.dwelling", object_id=str(pk), action="delete"
    )
    assert deleted.get().changes["number"] == "9901"


def test_bulk_paths_write_one_entry_per_row() -> None:
    unit = unit_in(own_grid(User.objects.get(username="grid")))
    rows = [Dwelling(unit=unit, number=f"88{i:02d}", floor=8) for i in range(5)]
    created = actions.bulk_create(Dwelling, rows, actor=None, note="import")
    assert AuditEntry.objects.filter(object_type="org.dwelling", note="import").count() == 5

    changed = actions.bulk_update(created, {"floor": 7}, actor=None, note="fix floors")
    assert changed == 5
    diffs = AuditEntry.objects.filter(note="fix floors").values_list("changes", flat=True)
    assert list(diffs) == [{"floor": [8, 7]}] * 5
    assert set(
        Dwelling.objects.filter(pk__in=[d.pk for d in created]).values_list("floor", flat=True)
    ) == {7}

    actions.bulk_delete(created, actor=None, note="undo")
    assert AuditEntry.objects.filter(note="undo", action="delete").count() == 5


def test_write_outside_scope_is_refused_and_rolled_back() -> None:
    grid_user = User.objects.get(username="grid")
    foreign_unit = unit_in(other_grid(grid_user))
    before = Dwelling.objects.count()
    with pytest.raises(NotFound):
        actions.create(Dwelling, actor=grid_user, unit=foreign_unit, number="7701")
    assert Dwelling.objects.count() == before


def test_moving_a_row_out_of_scope_is_rolled_back() -> None:
    grid_user = User.objects.get(username="grid")
    person = Person.objects.visible_to(grid_user).first()
    foreign_unit = unit_in(other_grid(grid_user))
    with pytest.raises(NotFound):
        actions.update(person, actor=grid_user, area=foreign_unit)
    person.refresh_from_db()
    assert person.area_path.startswith(own_grid(grid_user).path)


def test_audit_log_is_append_only() -> None:
    entry = AuditEntry.objects.first()
    assert entry is not None
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        AuditEntry.objects.all().update(note="x")


def test_person_pii_is_encrypted_and_never_in_the_audit_log() -> None:
    admin = User.objects.get(username="admin")
    unit = unit_in(own_grid(User.objects.get(username="grid")))
    person = services.create_person(
        actor=admin, area=unit, name="测试人", id_number="11010519491231002X", phone="13912345678"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM people_person WHERE id = %s", [person.pk])
        row = " ".join(str(v) for v in cursor.fetchone())
    assert "11010519491231002X" not in row
    assert "13912345678" not in row
    entries = AuditEntry.objects.for_object(person)
    text = " ".join(str(e.changes) for e in entries)
    assert "11010519491231002X" not in text and "13912345678" not in text
    assert "110105********002X" in text

    services.update_person(person, actor=admin, phone="13700001111")
    change = AuditEntry.objects.for_object(person).filter(action="update").get()
    assert change.changes["phone"] == ["139****5678", "137****1111"]
    assert "phone_enc" not in change.changes
