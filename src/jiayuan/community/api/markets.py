"""JSON API of the community services: public-welfare markets (公益集市), their stalls and
visitor counts, co-building units and the service catalogue."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from jiayuan.core.api import acting_user, paginate, responses
from jiayuan.core.errors import NotFound
from jiayuan.core.schemas import Page, PageParams

from .. import markets as svc
from ..choices import ActivityStatus, StallHolder, UnitKind
from ..models import CoBuildingUnit, Market, ServiceModule, Stall

router = Router(tags=["社区服务"])
TAGS = ["markets"]


# --- schemas ------------------------------------------------------------------------------
class ItemOut(Schema):
    code: str
    name: str


class ModuleOut(Schema):
    """A module of the markets' catalogue (服务模块) with its items."""

    code: str
    name: str
    items: list[ItemOut]

    @staticmethod
    def resolve_items(obj: ServiceModule) -> list[Any]:
        return list(obj.items.all())


class UnitOut(Schema):
    """A co-building unit (共建单位); the contact's phone only masked."""

    id: int
    name: str
    kind: UnitKind
    area: int = Field(alias="area_id")
    area_name: str
    contact_name: str
    contact_phone_masked: str

    @staticmethod
    def resolve_area_name(obj: CoBuildingUnit) -> str:
        return obj.area.name


class UnitIn(Schema):
    area_id: int
    name: str = Field(..., max_length=100)
    kind: UnitKind
    contact_name: str = Field("", max_length=50)
    contact_phone: str = Field("", max_length=20)


class StallOut(Schema):
    """A stall (摊位) and the catalogue items it offers."""

    id: int
    holder_kind: StallHolder
    holder_name: str
    unit: int | None = Field(alias="unit_id")
    items: list[ItemOut]
    served: int

    @staticmethod
    def resolve_items(obj: Stall) -> list[Any]:
        return list(obj.items.all())


class StallIn(Schema):
    holder_kind: StallHolder
    unit_id: int | None = None
    holder_name: str = Field("", max_length=100)
    item_codes: list[str] = Field(default_factory=list, max_length=24)


class MarketOut(Schema):
    """A public-welfare market (公益集市)."""

    id: int
    title: str
    area: int = Field(alias="area_id")
    area_name: str
    position: int | None = Field(alias="position_id")
    place: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: ActivityStatus
    visitors: int

    @staticmethod
    def resolve_area_name(obj: Market) -> str:
        return obj.area.name

    @staticmethod
    def resolve_starts_at(obj: Market) -> dt.datetime:
        return timezone.localtime(obj.starts_at)

    @staticmethod
    def resolve_ends_at(obj: Market) -> dt.datetime:
        return timezone.localtime(obj.ends_at)


class MarketDetail(MarketOut):
    """A market with its stalls and its report's figures."""

    report: str
    stalls: list[StallOut]
    stall_count: int
    items_offered: int
    served_at_stalls: int

    @staticmethod
    def resolve_stalls(obj: Market) -> list[Stall]:
        return list(obj.stalls.all())

    @staticmethod
    def resolve_stall_count(obj: Any) -> int:
        return int(obj.summary.stalls)

    @staticmethod
    def resolve_items_offered(obj: Any) -> int:
        return int(obj.summary.items)

    @staticmethod
    def resolve_served_at_stalls(obj: Any) -> int:
        return int(obj.summary.served_at_stalls)


class MarketIn(Schema):
    area_id: int
    title: str = Field(..., max_length=120)
    starts_at: dt.datetime
    ends_at: dt.datetime
    position_id: int | None = None
    place: str = Field("", max_length=200)


class VisitorsIn(Schema):
    visitors: int | None = Field(None, ge=0, le=svc.MAX_COUNT, description="总服务人次")
    stalls: dict[int, int] = Field(default_factory=dict, description="摊位编号 → 服务人次")
    report: str | None = Field(None, max_length=5000)
    done: bool = False


class MarketFilters(Schema):
    status: ActivityStatus | None = None
    area: int | None = None


# --- catalogue and units ------------------------------------------------------------------
@router.get("/market-catalogue", response=responses(list[ModuleOut]), tags=TAGS)
def market_catalogue(request: HttpRequest) -> list[ServiceModule]:
    """The markets' service catalogue: 8 modules of 3 items each."""
    return svc.catalogue()


@router.get("/cobuilding-units", response=responses(Page[UnitOut]), tags=TAGS)
def list_cobuilding_units(request: HttpRequest, page: Query[PageParams]) -> dict[str, Any]:
    """Co-building units in the user's scope (phones masked)."""
    return paginate(svc.units_visible_to(acting_user(request)), page)


@router.post("/cobuilding-units", response=responses(UnitOut, 201), tags=TAGS)
def create_cobuilding_unit(request: HttpRequest, body: UnitIn) -> Status[Any]:
    """Register a co-building unit; the contact's phone is stored encrypted."""
    unit = svc.create_unit(acting_user(request), **body.dict())
    return Status(201, unit)


# --- markets ------------------------------------------------------------------------------
def _detail(user: Any, market_id: int) -> Market:
    market = svc.get_market(user, market_id, detail=True)
    market.summary = svc.market_report(market)  # type: ignore[attr-defined]
    return market


@router.get("/markets", response=responses(Page[MarketOut]), tags=TAGS)
def list_markets(
    request: HttpRequest, filters: Query[MarketFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """Markets in the user's scope, newest first."""
    user = acting_user(request)
    qs = svc.markets_visible_to(user)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.area is not None:
        from jiayuan.org.models import Area

        path = Area.objects.visible_to(user).filter(pk=filters.area).values_list("path", flat=True)
        found = path.first()
        if found is None:
            raise NotFound("区域不存在", "area not found")
        qs = qs.filter(area_path__startswith=found)
    return paginate(qs, page)


@router.post("/markets", response=responses(MarketOut, 201), tags=TAGS)
def create_market(request: HttpRequest, body: MarketIn) -> Status[Any]:
    """Plan a market in an area of the user's scope."""
    market = svc.create_market(acting_user(request), **body.dict())
    return Status(201, svc.get_market(acting_user(request), market.pk))


@router.get("/markets/{market_id}", response=responses(MarketDetail), tags=TAGS)
def get_market(request: HttpRequest, market_id: int) -> Market:
    """One market with its stalls, items and visitor counts (404 outside the scope)."""
    return _detail(acting_user(request), market_id)


@router.get("/markets/{market_id}/stalls", response=responses(list[StallOut]), tags=TAGS)
def list_market_stalls(request: HttpRequest, market_id: int) -> list[Stall]:
    """A market's stalls with their items."""
    return list(svc.get_market(acting_user(request), market_id, detail=True).stalls.all())


@router.post("/markets/{market_id}/stalls", response=responses(StallOut, 201), tags=TAGS)
def add_market_stall(request: HttpRequest, market_id: int, body: StallIn) -> Status[Any]:
    """Add a stall: a co-building unit's, a partner's, a merchant's or a team's."""
    stall = svc.add_stall(acting_user(request), market_id, **body.dict())
    return Status(201, stall)


@router.patch("/markets/{market_id}/visitors", response=responses(MarketDetail), tags=TAGS)
def update_market_visitors(request: HttpRequest, market_id: int, body: VisitorsIn) -> Market:
    """Record the visitors (服务人次) in all and per stall, the report, and whether the
    market was held."""
    user = acting_user(request)
    svc.record_visitors(user, market_id, **body.dict())
    return _detail(user, market_id)
