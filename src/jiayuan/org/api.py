"""API of the area tree and dwellings: ``/areas``, ``/areas/locate``, ``/dwellings``.

Reads start from ``Model.objects.visible_to(user)``; writes go through
``jiayuan.core.actions`` (audited, scope re-checked in the transaction). Anything outside
the user's scope answers 404.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models
from django.http import HttpRequest
from ninja import Query, Router, Status
from shapely.geometry import shape

from jiayuan.core import actions
from jiayuan.core.api import acting_user, get_visible, paginate, require_change, responses
from jiayuan.core.errors import Conflict, NotFound, ValidationFailed
from jiayuan.core.schemas import Page, PageParams

from . import geo
from .choices import AREA_ORDER, BOUNDED_KINDS, AreaKind
from .models import Area, Dwelling
from .schemas import (
    AreaDetail,
    AreaFilters,
    AreaIn,
    AreaOut,
    AreaPatch,
    DwellingFilters,
    DwellingIn,
    DwellingOut,
    DwellingPatch,
    LocateParams,
)

router = Router()
M = TypeVar("M", bound=models.Model)

# Fields an area list needs; the boundary (the bulk of a row) is left for the detail.
AREA_LIST_FIELDS = (
    "id",
    "kind",
    "code",
    "name",
    "parent_id",
    "path",
    "depth",
    "area_path",
    "centroid_lat",
    "centroid_lng",
)


def filter_under(queryset: models.QuerySet[M], area_id: int, field: str = "area_path") -> Any:
    """Rows of ``queryset`` that lie in the area ``area_id`` or below it.

    The area itself need not be visible: the result is still cut to the user's scope by
    the queryset, so a grid worker may ask for "my community" and get their grid's rows.
    """
    path = Area.objects.filter(pk=area_id).values_list("path", flat=True).first()
    if path is None:
        return queryset.none()
    return queryset.filter(**{f"{field}__startswith": path})


def check_boundary(kind: str, boundary: dict[str, Any] | None) -> dict[str, Any]:
    """Validate a GeoJSON polygon and return the fields it sets (boundary, centroid)."""
    if boundary is None:
        return {"boundary": None, "centroid_lat": None, "centroid_lng": None}
    if kind not in BOUNDED_KINDS:
        raise ValidationFailed(
            "楼栋和单元不绘制边界", "buildings and units carry no boundary", field="boundary"
        )
    try:
        geom = shape(boundary)
    except Exception:  # shapely raises several types for malformed GeoJSON
        geom = None
    if geom is None or geom.geom_type not in ("Polygon", "MultiPolygon") or not geom.is_valid:
        raise ValidationFailed(
            "边界必须是有效的 GeoJSON 多边形",
            "the boundary must be a valid GeoJSON polygon",
            field="boundary",
        )
    lat, lng = geo.centroid(boundary)
    return {"boundary": boundary, "centroid_lat": lat, "centroid_lng": lng}


# --- areas -------------------------------------------------------------------------
@router.get("/areas", response=responses(Page[AreaOut]), tags=["areas"])
def list_areas(
    request: HttpRequest, filters: Query[AreaFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """Areas in the user's scope, in tree order (by path); filter by ``kind``/``parent``."""
    qs = Area.objects.visible_to(acting_user(request)).only(*AREA_LIST_FIELDS)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.parent is not None:
        qs = qs.filter(parent_id=filters.parent)
    if filters.search:
        qs = qs.filter(name__contains=filters.search)
    return paginate(qs.order_by("path"), page)


# Registered before /areas/{area_id} so that "locate" is never taken for an id.
@router.get("/areas/locate", response=responses(AreaDetail), tags=["areas"])
def locate_area(request: HttpRequest, point: Query[LocateParams]) -> Area:
    """The grid (网格) containing a point; 404 if none does, or if it is out of scope."""
    found = geo.locate(point.lat, point.lng, kind=AreaKind.GRID)
    if found is None:
        raise NotFound("该位置不在任何网格内", "no grid contains this point")
    return get_visible(Area.objects.all(), acting_user(request), pk=found.pk)


@router.get("/areas/{area_id}", response=responses(AreaDetail), tags=["areas"])
def get_area(request: HttpRequest, area_id: int) -> Area:
    """One area with its GeoJSON boundary."""
    return get_visible(Area.objects.all(), acting_user(request), pk=area_id)


@router.post("/areas", response=responses(AreaDetail, 201), tags=["areas"])
def create_area(request: HttpRequest, body: AreaIn) -> Status[Area]:
    """Add a child area (a grid under a zone, a building under a grid …)."""
    user = acting_user(request)
    parent = get_visible(Area.objects.all(), user, pk=body.parent)
    require_change(user, parent)
    level = AREA_ORDER.index(parent.kind) + 1
    if level >= len(AREA_ORDER) or body.kind != AREA_ORDER[level]:
        expected = AreaKind(AREA_ORDER[level]).label if level < len(AREA_ORDER) else "—"
        raise ValidationFailed(
            f"{parent.get_kind_display()}下只能新增{expected}",
            f"a {parent.kind} can only hold areas of the next level",
            field="kind",
        )
    if Area.objects.filter(parent=parent, code=body.code).exists():
        raise Conflict(
            f"编码 {body.code} 在{parent.name}下已被使用",
            f"code {body.code} is already used under this parent",
            field="code",
        )
    area = actions.create(
        Area,
        actor=user,
        parent=parent,
        kind=body.kind,
        code=body.code,
        name=body.name,
        **check_boundary(body.kind, body.boundary),
    )
    return Status(201, area)


@router.patch("/areas/{area_id}", response=responses(AreaDetail), tags=["areas"])
def update_area(request: HttpRequest, area_id: int, body: AreaPatch) -> Area:
    """Rename an area or redraw its boundary (the centroid follows)."""
    user = acting_user(request)
    area = get_visible(Area.objects.all(), user, pk=area_id)
    require_change(user, area)
    data = body.dict(exclude_unset=True)
    changes: dict[str, Any] = {}
    if data.get("name"):
        changes["name"] = data["name"]
    if "boundary" in data:
        changes.update(check_boundary(area.kind, data["boundary"]))
    return actions.update(area, actor=user, **changes)


# --- dwellings ---------------------------------------------------------------------
def _unit(user: Any, unit_id: int) -> Area:
    unit = get_visible(Area.objects.all(), user, pk=unit_id)
    if unit.kind != AreaKind.UNIT:
        raise ValidationFailed(
            "房屋必须登记在单元下", "a dwelling belongs to a building unit", field="unit"
        )
    return unit


def _check_number_free(unit: Area, number: str, exclude_pk: int | None = None) -> None:
    clash = Dwelling.objects.filter(unit=unit, number=number)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise Conflict(
            f"{unit.name}已有门牌号 {number}",
            f"dwelling number {number} already exists in this unit",
            field="number",
        )


@router.get("/dwellings", response=responses(Page[DwellingOut]), tags=["dwellings"])
def list_dwellings(
    request: HttpRequest, filters: Query[DwellingFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """Dwellings (房屋) in the user's scope."""
    qs = Dwelling.objects.visible_to(acting_user(request))
    if filters.area is not None:
        qs = filter_under(qs, filters.area)
    if filters.unit is not None:
        qs = qs.filter(unit_id=filters.unit)
    if filters.use:
        qs = qs.filter(use=filters.use)
    if filters.search:
        qs = qs.filter(number__contains=filters.search)
    return paginate(qs, page)


@router.get("/dwellings/{dwelling_id}", response=responses(DwellingOut), tags=["dwellings"])
def get_dwelling(request: HttpRequest, dwelling_id: int) -> Dwelling:
    """One dwelling."""
    return get_visible(Dwelling.objects.all(), acting_user(request), pk=dwelling_id)


@router.post("/dwellings", response=responses(DwellingOut, 201), tags=["dwellings"])
def create_dwelling(request: HttpRequest, body: DwellingIn) -> Status[Dwelling]:
    """Register a dwelling in a unit."""
    user = acting_user(request)
    unit = _unit(user, body.unit)
    require_change(user, unit)
    _check_number_free(unit, body.number)
    data = body.dict()
    data["unit"] = unit
    return Status(201, actions.create(Dwelling, actor=user, **data))


@router.patch("/dwellings/{dwelling_id}", response=responses(DwellingOut), tags=["dwellings"])
def update_dwelling(request: HttpRequest, dwelling_id: int, body: DwellingPatch) -> Dwelling:
    """Change a dwelling's number, floor, floor area or use."""
    user = acting_user(request)
    dwelling = get_visible(Dwelling.objects.select_related("unit"), user, pk=dwelling_id)
    require_change(user, dwelling)
    data = {
        k: v
        for k, v in body.dict(exclude_unset=True).items()
        if v is not None or k == "floor_area"  # only the floor area may be cleared
    }
    if "number" in data and data["number"] != dwelling.number:
        _check_number_free(dwelling.unit, data["number"], exclude_pk=dwelling.pk)
    return actions.update(dwelling, actor=user, **data)
