"""Every API resource runs the generic list/detail/create/update and scope-matrix tests."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from django.utils import timezone

from jiayuan.core import idnumber, pii
from jiayuan.org.models import Area, Dwelling
from jiayuan.people.models import Force, Household, Person, Position

from .conftest import World
from .mixins import DeleteTests, ResourceTests

_serial = itertools.count(1)


def fresh_id_number(birth: dt.date = dt.date(1986, 5, 17), gender: str = "female") -> str:
    """A valid ID number no seeded person holds."""
    for sequence in range(100):
        value = idnumber.build("370830", birth, sequence, gender)
        if not Person.objects.filter(id_number_index=pii.blind_index(value, purpose="id")).exists():
            return value
    raise AssertionError("no free ID number")


def first(area: Area, kind: str) -> Area:
    found = Area.objects.filter(kind=kind, path__startswith=area.path).order_by("path").first()
    assert found is not None, f"no {kind} in {area}"
    return found


def person_in(area: Area) -> Person:
    found = Person.objects.filter(area_path__startswith=area.path).order_by("pk").first()
    assert found is not None
    return found


def free_code(parent: Area) -> str:
    taken = set(Area.objects.filter(parent=parent).values_list("code", flat=True))
    return next(f"{n:02d}" for n in range(99, 0, -1) if f"{n:02d}" not in taken)


class TestAreas(ResourceTests):
    model = Area
    path = "/areas"
    path_field = "path"

    def create_payload(self, area: Area) -> dict[str, Any]:
        return {"parent": area.pk, "kind": "building", "code": free_code(area), "name": "测试楼"}

    def update_payload(self, obj: Area) -> dict[str, Any]:
        return {"name": f"{obj.name}（改）"}


class TestPersons(ResourceTests):
    model = Person
    path = "/persons"

    def create_payload(self, area: Area) -> dict[str, Any]:
        return {
            "name": "接口测试",
            "id_number": fresh_id_number(),
            "phone": f"1391234{next(_serial):04d}",
            "area": area.pk,
            "political_status": "league_member",
        }

    def update_payload(self, obj: Person) -> dict[str, Any]:
        status = "masses" if obj.political_status != "masses" else "league_member"
        return {"name": f"{obj.name}改", "political_status": status}


class TestDwellings(ResourceTests):
    model = Dwelling
    path = "/dwellings"

    def create_payload(self, area: Area) -> dict[str, Any]:
        unit = first(area, "unit")
        return {"unit": unit.pk, "number": "9901", "floor": 9, "floor_area": "88.50"}

    def update_payload(self, obj: Dwelling) -> dict[str, Any]:
        return {"floor": obj.floor + 1, "use": "rental" if obj.use != "rental" else "office"}


class TestHouseholds(ResourceTests):
    model = Household
    path = "/households"

    def create_payload(self, area: Area) -> dict[str, Any]:
        return {"number": f"API{area.pk}-{next(_serial)}", "area": area.pk}

    def update_payload(self, obj: Household) -> dict[str, Any]:
        return {"number": f"API-{obj.pk}"}


class TestPositions(ResourceTests, DeleteTests):
    model = Position
    path = "/positions"

    def create_payload(self, area: Area) -> dict[str, Any]:
        return {
            "person": person_in(area).pk,
            "area": first(area, "building").pk,
            "role": "building_head",
            "appointed": "elected",
            "start": "2024-03-01",
        }

    def update_payload(self, obj: Position) -> dict[str, Any]:
        end = max(obj.start or timezone.localdate(), timezone.localdate()) + dt.timedelta(days=30)
        return {"end": end.isoformat()}


class TestForces(ResourceTests, DeleteTests):
    model = Force
    path = "/forces"

    def create_payload(self, area: Area) -> dict[str, Any]:
        return {
            "person": person_in(area).pk,
            "area": area.pk,
            "kind": "volunteer",
            "skills": ["家电维修"],
            "organisation": "接口测试志愿队",
        }

    def update_payload(self, obj: Force) -> dict[str, Any]:
        return {"on_duty": not obj.on_duty, "organisation": f"{obj.organisation}改"}


def test_household_lists_carry_member_counts_and_heads(api_as: Any, world: World) -> None:
    body = api_as("grid").get("/households", limit=500).json()
    for item in body["items"]:
        household = Household.objects.get(pk=item["id"])
        assert item["member_count"] == household.members.count()
        assert item["head"] == household.head_id
        assert item["head_name"] == (household.head.name if household.head else None)
