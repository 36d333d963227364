"""The plain resources of ``people``: households, positions and forces.

For each: the queryset a user sees (with what its schema reads), its list filters, and
its domain actions (create, update) with their checks: an area the user may change,
dates in order, a household number used once, a dwelling inside the chosen area. The API
routes are made by :mod:`jiayuan.core.crud`; pages and imports call the same actions.
Every write goes through :mod:`jiayuan.core.actions` (audited, scope re-checked inside
the transaction).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from jiayuan.core import actions
from jiayuan.core.api import get_visible, require_change
from jiayuan.core.crud import drop_nulls, filter_fields
from jiayuan.core.errors import Conflict, ValidationFailed
from jiayuan.core.validity import valid_on
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area, Dwelling
from jiayuan.org.queries import filter_under

from .models import Force, Household, Person, Position

# Where a person or household may be registered: a grid, or a building or unit in it.
RESIDENT_AREA_KINDS = (AreaKind.GRID, AreaKind.BUILDING, AreaKind.UNIT)


# --- shared checks -----------------------------------------------------------------
def check_dates(start: dt.date | None, end: dt.date | None, field: str) -> None:
    """An end date may not come before its start."""
    if start is not None and end is not None and end < start:
        raise ValidationFailed(
            "结束日期早于开始日期", "the end date is before the start", field=field
        )


def resident_area(user: Any, area_id: int, field: str = "area") -> Area:
    """A visible grid, building or unit where people and households are registered."""
    area = get_visible(Area.objects.all(), user, pk=area_id)
    if area.kind not in RESIDENT_AREA_KINDS:
        raise ValidationFailed(
            "只能登记到网格、楼栋或单元", "register at a grid, building or unit", field=field
        )
    return area


def dwelling_in(user: Any, dwelling_id: int, area: Area) -> Dwelling:
    """A visible dwelling that lies inside ``area``."""
    dwelling = get_visible(Dwelling.objects.all(), user, pk=dwelling_id)
    if not dwelling.area_path.startswith(area.path):
        raise ValidationFailed(
            "房屋不在所选区域内", "the dwelling is not inside the chosen area", field="dwelling"
        )
    return dwelling


def changeable_area(user: Any, area_id: int) -> Area:
    """A visible area where ``user`` may change things (else 404, or 403 if only seen)."""
    area = get_visible(Area.objects.all(), user, pk=area_id)
    require_change(user, area)
    return area


# --- households --------------------------------------------------------------------
def household_queryset(user: Any) -> QuerySet[Household]:
    """Households (户) in the user's scope, with their member counts.

    The count is a correlated subquery, evaluated for the page's rows only: a join with
    ``GROUP BY`` counted the members of every household in scope before the page was cut
    (1.2 s for the county's 53,577 households, 70 ms this way)."""
    members = (
        Person.objects.filter(household=OuterRef("pk"))
        .order_by()
        .values("household")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        Household.objects.visible_to(user)
        .select_related("head", "area")
        .annotate(member_count=Coalesce(Subquery(members, output_field=IntegerField()), 0))
    )


def filter_households(qs: QuerySet[Household], filters: Any) -> QuerySet[Household]:
    if filters.area is not None:
        qs = filter_under(qs, filters.area)
    return filter_fields(qs, filters, dwelling="dwelling_id", search="number__contains")


def place_refs(
    user: Any, data: dict[str, Any], area: Area | None = None, *, change_area: bool = False
) -> None:
    """Replace the ``area``/``dwelling`` ids in ``data`` by rows the user sees (the area a
    place of registration, one the user may change with ``change_area``); the dwelling
    must lie in the (new or current) area."""
    if data.get("area") is not None:
        area = resident_area(user, data["area"])
        if change_area:
            require_change(user, area)
        data["area"] = area
    if data.get("dwelling") is not None:
        if area is None:
            raise ValidationFailed("请先选择区域", "choose the area first", field="area")
        data["dwelling"] = dwelling_in(user, data["dwelling"], area)


def household_refs(user: Any, data: dict[str, Any], area: Area | None = None) -> dict[str, Any]:
    """Replace ``area``/``dwelling``/``head`` ids in ``data`` by rows the user sees; the
    dwelling must lie in the (new or current) area."""
    place_refs(user, data, area, change_area=True)
    if data.get("head") is not None:
        data["head"] = get_visible(Person.objects.all(), user, pk=data["head"])
    return data


def check_household_number(number: str, exclude_pk: int | None = None) -> None:
    """A household number (户号) is used once in the county."""
    clash = Household.objects.filter(number=number)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise Conflict(
            f"户号 {number} 已存在", f"household {number} already exists", field="number"
        )


def create_household(user: Any, body: Any) -> Household:
    """Register a household (户) in a grid, building or unit."""
    data = household_refs(user, body.dict(exclude_none=True))
    check_household_number(data["number"])
    return actions.create(Household, actor=user, **data)


def update_household(user: Any, household: Household, changes: dict[str, Any]) -> Household:
    """Change a household's number, place or head."""
    data = drop_nulls(changes, nullable=("dwelling", "head"))
    data = household_refs(user, data, area=household.area)
    if "number" in data and data["number"] != household.number:
        check_household_number(data["number"], exclude_pk=household.pk)
    return actions.update(household, actor=user, **data)


# --- positions ---------------------------------------------------------------------
def held_on(day: dt.date) -> Any:
    """Positions held on ``day``: a position's ``end`` is its last day served."""
    return valid_on(day, start="start", end="end", until_inclusive=True)


def position_queryset(user: Any) -> QuerySet[Position]:
    """Positions (职务) at areas in the user's scope: 书记, 网格员, 三长, 党员中心户 …"""
    return Position.objects.visible_to(user).select_related("person", "area")


def filter_positions(qs: QuerySet[Position], filters: Any) -> QuerySet[Position]:
    if filters.area is not None:
        qs = filter_under(qs, filters.area)
    qs = filter_fields(qs, filters, role="role", person="person_id")
    if filters.active is not None:
        held = held_on(timezone.localdate())
        qs = qs.filter(held if filters.active else ~held)
    return qs


def create_position(user: Any, body: Any) -> Position:
    """Appoint a person to a role (职务) at an area node."""
    person = get_visible(Person.objects.all(), user, pk=body.person)
    area = changeable_area(user, body.area)
    check_dates(body.start, body.end, "end")
    data = body.dict(exclude_none=True)
    data.update(person=person, area=area)
    return actions.create(Position, actor=user, **data)


def update_position(user: Any, position: Position, changes: dict[str, Any]) -> Position:
    """Change a position's role, appointment or dates (an end date closes it)."""
    data = drop_nulls(changes, nullable=("start", "end", "appointed"))
    if "appointed" in data and data["appointed"] is None:
        data["appointed"] = ""
    check_dates(data.get("start", position.start), data.get("end", position.end), "end")
    return actions.update(position, actor=user, **data)


def delete_position(position: Position, *, actor: Any) -> None:
    """Remove a position recorded by mistake (to end one, set its end date)."""
    actions.delete(position, actor=actor)


# --- forces ------------------------------------------------------------------------
def force_queryset(user: Any) -> QuerySet[Force]:
    """Co-governance forces (共治力量) on duty in areas of the user's scope."""
    return Force.objects.visible_to(user).select_related("person", "area")


def filter_forces(qs: QuerySet[Force], filters: Any) -> QuerySet[Force]:
    if filters.area is not None:
        qs = filter_under(qs, filters.area)
    return filter_fields(qs, filters, kind="kind", person="person_id", on_duty="on_duty")


def create_force(user: Any, body: Any) -> Force:
    """Put a person on the platform as a co-governance force (共治力量) of an area."""
    person = get_visible(Person.objects.all(), user, pk=body.person)
    area = changeable_area(user, body.area)
    data = body.dict()
    data.update(person=person, area=area)
    return actions.create(Force, actor=user, **data)


def update_force(user: Any, force: Force, changes: dict[str, Any]) -> Force:
    """Change a force's kind, area of duty, skills or duty status."""
    data = drop_nulls(changes)
    if "area" in data:
        data["area"] = changeable_area(user, data["area"])
    return actions.update(force, actor=user, **data)


def delete_force(force: Force, *, actor: Any) -> None:
    """Take a force off the platform (audited, with the removed values)."""
    actions.delete(force, actor=actor)
