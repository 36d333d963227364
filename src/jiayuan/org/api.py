"""API of the area tree and dwellings: ``/areas``, ``/areas/locate``, ``/dwellings``.

Reads start from ``Model.objects.visible_to(user)``; writes go through
``jiayuan.core.actions`` (audited, scope re-checked in the transaction). Anything outside
the user's scope answers 404.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Status
from shapely.geometry import shape

from jiayuan.core import actions
from jiayuan.core.api import acting_user, get_visible, paginate, require_change, responses
from jiayuan.core.crud import Resource, register
from jiayuan.core.errors import Conflict, NotFound, ValidationFailed
from jiayuan.core.schemas import Page, PageParams

from . import geo, resources, schemas
from .choices import AREA_ORDER, BOUNDED_KINDS, AreaKind
from .models import Area, Dwelling
from .queries import filter_under as filter_under  # re-exported for existing imports
from .schemas import (
    AreaDetail,
    AreaFilters,
    AreaIn,
    AreaOut,
    AreaPatch,
    LocateParams,
)

router = Router()

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


# --- dwellings: a plain resource (jiayuan.core.crud) -------------------------------
register(router, Resource.by_convention(Dwelling, schemas, resources))
