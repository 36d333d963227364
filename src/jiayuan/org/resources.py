"""Dwellings (房屋) as a plain resource: the queryset a user sees, its list filters, and
its domain actions with their checks (a dwelling lies in a building unit, and its number
is used once in that unit). The API routes are made by :mod:`jiayuan.core.crud`; every
write goes through :mod:`jiayuan.core.actions` (audited, scope re-checked)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from jiayuan.core import actions
from jiayuan.core.api import get_visible, require_change
from jiayuan.core.crud import drop_nulls, filter_fields
from jiayuan.core.errors import Conflict, ValidationFailed

from .choices import AreaKind
from .models import Area, Dwelling
from .queries import filter_under


def dwelling_queryset(user: Any) -> QuerySet[Dwelling]:
    """Dwellings (房屋) in the user's scope."""
    return Dwelling.objects.visible_to(user)


def filter_dwellings(qs: QuerySet[Dwelling], filters: Any) -> QuerySet[Dwelling]:
    if filters.area is not None:
        qs = filter_under(qs, filters.area)
    return filter_fields(qs, filters, unit="unit_id", use="use", search="number__contains")


def unit_for(user: Any, unit_id: int) -> Area:
    """A visible building unit (单元) the dwelling belongs to."""
    unit = get_visible(Area.objects.all(), user, pk=unit_id)
    if unit.kind != AreaKind.UNIT:
        raise ValidationFailed(
            "房屋必须登记在单元下", "a dwelling belongs to a building unit", field="unit"
        )
    return unit


def check_number_free(unit: Area, number: str, exclude_pk: int | None = None) -> None:
    """A door number (门牌号) is used once in its unit."""
    clash = Dwelling.objects.filter(unit=unit, number=number)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise Conflict(
            f"{unit.name}已有门牌号 {number}",
            f"dwelling number {number} already exists in this unit",
            field="number",
        )


def create_dwelling(user: Any, body: Any) -> Dwelling:
    """Register a dwelling in a building unit."""
    unit = unit_for(user, body.unit)
    require_change(user, unit)
    check_number_free(unit, body.number)
    data = body.dict()
    data["unit"] = unit
    return actions.create(Dwelling, actor=user, **data)


def update_dwelling(user: Any, dwelling: Dwelling, changes: dict[str, Any]) -> Dwelling:
    """Change a dwelling's number, floor, floor area or use (only the floor area may be
    cleared)."""
    data = drop_nulls(changes, nullable=("floor_area",))
    if "number" in data and data["number"] != dwelling.number:
        check_number_free(dwelling.unit, data["number"], exclude_pk=dwelling.pk)
    return actions.update(dwelling, actor=user, **data)
