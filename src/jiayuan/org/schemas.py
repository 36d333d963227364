"""API schemas of the area tree and dwellings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ninja import Field, Schema

from jiayuan.core.schemas import LatLng

from .choices import AreaKind, DwellingUse
from .models import Area, Dwelling

CODE_PATTERN = r"^\d{1,12}$"


# --- areas -------------------------------------------------------------------------
class AreaOut(Schema):
    """An area node (区域) as listed: no boundary, the parent as an id."""

    id: int
    kind: AreaKind
    code: str
    name: str
    parent: int | None
    path: str
    depth: int
    centroid: LatLng | None

    @staticmethod
    def resolve_parent(obj: Area) -> int | None:
        return obj.parent_id

    @staticmethod
    def resolve_centroid(obj: Area) -> dict[str, float] | None:
        return obj.centroid


class AreaDetail(AreaOut):
    """One area with its GeoJSON boundary."""

    boundary: dict[str, Any] | None


class AreaFilters(Schema):
    kind: AreaKind | None = Field(None, description="类型 / area kind")
    parent: int | None = Field(None, description="上级区域 / id of the parent area")
    search: str | None = Field(None, max_length=50, description="名称包含 / name contains")


class AreaIn(Schema):
    """A new child area: its kind must be the level right below the parent's."""

    parent: int
    kind: AreaKind
    code: str = Field(..., pattern=CODE_PATTERN)
    name: str = Field(..., min_length=1, max_length=100)
    boundary: dict[str, Any] | None = None


class AreaPatch(Schema):
    """Changeable fields of an area; moving a node (parent, code) is not offered."""

    name: str | None = Field(None, min_length=1, max_length=100)
    boundary: dict[str, Any] | None = None


class LocateParams(Schema):
    lat: float = Field(..., ge=-90, le=90, description="纬度 / latitude (WGS 84)")
    lng: float = Field(..., ge=-180, le=180, description="经度 / longitude (WGS 84)")


# --- dwellings ---------------------------------------------------------------------
class DwellingOut(Schema):
    """A dwelling (房屋) in a building unit."""

    id: int
    unit: int
    number: str
    floor: int
    floor_area: float | None
    use: DwellingUse
    area_path: str

    @staticmethod
    def resolve_unit(obj: Dwelling) -> int:
        return obj.unit_id

    @staticmethod
    def resolve_floor_area(obj: Dwelling) -> float | None:
        return float(obj.floor_area) if obj.floor_area is not None else None


class DwellingFilters(Schema):
    area: int | None = Field(None, description="所在区域(含下级) / area id, descendants included")
    unit: int | None = Field(None, description="单元 / unit id")
    use: DwellingUse | None = None
    search: str | None = Field(None, max_length=20, description="门牌号包含 / number contains")


class DwellingIn(Schema):
    unit: int
    number: str = Field(..., min_length=1, max_length=20)
    floor: int = Field(1, ge=-5, le=200)
    floor_area: Decimal | None = Field(None, ge=0, max_digits=7, decimal_places=2)
    use: DwellingUse = DwellingUse.RESIDENTIAL


class DwellingPatch(Schema):
    number: str | None = Field(None, min_length=1, max_length=20)
    floor: int | None = Field(None, ge=-5, le=200)
    floor_area: Decimal | None = Field(None, ge=0, max_digits=7, decimal_places=2)
    use: DwellingUse | None = None
