"""Public-welfare markets (公益集市): co-building units, the service catalogue (8 modules,
24 items, shipped as data in ``data/market_catalogue.yaml``), markets with their stalls,
visitor counts (服务人次) and a market's report.

A market is held in an area; acting on it (creating it, adding stalls, recording its
visitors) needs ``Perm.SERVE`` there, and every write is audited. The catalogue is
county-wide reference data installed by the migration (and again by
:func:`install_catalogue`, which is idempotent: codes stay, names follow the file).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from django.db import models, transaction
from django.db.models import Prefetch

from jiayuan.core import audit
from jiayuan.core.actions import ensure_in_scope
from jiayuan.core.errors import NotFound, ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Perm
from jiayuan.org.models import Area

from .choices import ActivityStatus, StallHolder, UnitKind
from .models import CoBuildingUnit, Market, ServiceItem, ServiceModule, ServicePosition, Stall
from .rooms import check_span, clean_text

CATALOGUE = Path(__file__).parent / "data" / "market_catalogue.yaml"
MAX_COUNT = 1_000_000  # 人次 of one market or stall; more is a typing error


# --- the catalogue ------------------------------------------------------------------------
def load_catalogue() -> list[dict[str, Any]]:
    """The modules and items of the shipped catalogue file."""
    data = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))
    return list(data["modules"])


def install_catalogue(
    module_model: type[models.Model] = ServiceModule,
    item_model: type[models.Model] = ServiceItem,
) -> tuple[int, int]:
    """Write the catalogue (also with a migration's historical models); returns the
    number of modules and items it holds."""
    modules = items = 0
    for entry in load_catalogue():
        module, _ = module_model._default_manager.update_or_create(
            code=entry["code"], defaults={"name": entry["name"]}
        )
        modules += 1
        for item in entry["items"]:
            item_model._default_manager.update_or_create(
                code=item["code"], defaults={"name": item["name"], "module": module}
            )
            items += 1
    return modules, items


def catalogue() -> list[ServiceModule]:
    """The modules with their items (two queries)."""
    return list(ServiceModule.objects.prefetch_related("items"))


# --- reading ------------------------------------------------------------------------------
def markets_visible_to(user: Any) -> Any:
    """Markets the user may see, newest first, with their area and position."""
    return Market.objects.visible_to(user).select_related("area", "position")


def get_market(user: Any, market_id: int, *, detail: bool = False) -> Market:
    """One market the user may see (404 otherwise); ``detail`` prefetches its stalls with
    their items and units, and its photos."""
    qs = markets_visible_to(user)
    if detail:
        qs = qs.prefetch_related(
            Prefetch(
                "stalls",
                queryset=Stall.objects.select_related("unit").prefetch_related(
                    Prefetch("items", queryset=ServiceItem.objects.select_related("module"))
                ),
            ),
            "photos",
        )
    market = qs.filter(pk=market_id).first()
    if market is None:
        raise NotFound("集市不存在", "market not found")
    return market  # type: ignore[no-any-return]


def units_visible_to(user: Any) -> Any:
    return CoBuildingUnit.objects.visible_to(user).select_related("area")


# --- writing ------------------------------------------------------------------------------
def _save_new(obj: models.Model, actor: Any) -> None:
    derive = getattr(obj, "derive_area_path", None)
    if derive is not None:
        obj.area_path = derive()  # type: ignore[attr-defined]
    ensure_in_scope(actor, obj, Perm.SERVE)
    obj.save()
    audit.record(AuditEntry.Action.CREATE, obj, actor, audit.snapshot(obj))


def _area(actor: Any, area_id: int) -> Area:
    area = Area.objects.visible_to(actor).filter(pk=area_id).first() if actor else None
    if actor is None:
        area = Area.objects.filter(pk=area_id).first()
    if area is None:
        raise NotFound("区域不存在", "area not found")
    return area  # type: ignore[no-any-return]


def create_unit(
    actor: Any,
    *,
    area_id: int,
    name: str,
    kind: str,
    contact_name: str = "",
    contact_phone: str = "",
) -> CoBuildingUnit:
    """Register a co-building unit (共建单位); its contact's phone is stored encrypted and
    shown masked."""
    if kind not in UnitKind.values:
        raise ValidationFailed("单位类型无效", "unknown unit kind", field="kind")
    phone = clean_text(
        contact_phone, field="contact_phone", label="联系电话", max_length=20, required=False
    )
    if phone and not phone.replace("-", "").isdigit():
        raise ValidationFailed(
            "联系电话只能包含数字", "the phone holds digits only", field="contact_phone"
        )
    unit = CoBuildingUnit(
        area=_area(actor, area_id),
        name=clean_text(name, field="name", label="单位名称", max_length=100),
        kind=kind,
        contact_name=clean_text(
            contact_name, field="contact_name", label="联系人", max_length=50, required=False
        ),
    )
    if phone:
        unit.set_contact_phone(phone)
    with transaction.atomic():
        _save_new(unit, actor)
    return unit


def create_market(
    actor: Any,
    *,
    area_id: int,
    title: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    position_id: int | None = None,
    place: str = "",
) -> Market:
    """Plan a market (公益集市) in an area, optionally at a service position."""
    starts_at, ends_at = check_span(starts_at, ends_at)
    area = _area(actor, area_id)
    position = None
    if position_id is not None:
        positions = ServicePosition.objects.visible_to(actor) if actor else ServicePosition.objects
        position = positions.filter(pk=position_id).first()
        if position is None:
            raise NotFound("服务阵地不存在", "position not found", field="position_id")
    market = Market(
        area=area,
        position=position,
        title=clean_text(title, field="title", label="集市名称", max_length=120),
        place=clean_text(place, field="place", label="地点", max_length=200, required=False)
        or (position.name if position else ""),
        starts_at=starts_at,
        ends_at=ends_at,
    )
    with transaction.atomic():
        _save_new(market, actor)
    return market


def add_stall(
    actor: Any,
    market_id: int,
    *,
    holder_kind: str,
    unit_id: int | None = None,
    holder_name: str = "",
    item_codes: list[str] | tuple[str, ...] = (),
) -> Stall:
    """Add a stall (摊位) to a market: a co-building unit's (named by the unit), a
    partner's, a merchant's or a volunteer team's, offering catalogue items by code."""
    market = get_market(actor, market_id) if actor else Market.objects.get(pk=market_id)
    if holder_kind not in StallHolder.values:
        raise ValidationFailed("摊主类型无效", "unknown holder kind", field="holder_kind")
    unit = None
    if holder_kind == StallHolder.UNIT:
        if unit_id is None:
            raise ValidationFailed("请选择共建单位", "unit_id is required", field="unit_id")
        units: Any = units_visible_to(actor) if actor else CoBuildingUnit.objects
        unit = units.filter(pk=unit_id).first()
        if unit is None:
            raise NotFound("共建单位不存在", "unit not found", field="unit_id")
    name = clean_text(
        holder_name, field="holder_name", label="摊主", max_length=100, required=unit is None
    ) or (unit.name if unit else "")
    codes = list(dict.fromkeys(str(c) for c in item_codes))
    if len(codes) > 24:
        raise ValidationFailed("服务项目过多", "too many items", field="item_codes")
    items = list(ServiceItem.objects.filter(code__in=codes))
    unknown = set(codes) - {i.code for i in items}
    if unknown:
        raise ValidationFailed(
            f"未知的服务项目：{', '.join(sorted(unknown))[:80]}",
            "unknown catalogue item codes",
            field="item_codes",
        )
    with transaction.atomic():
        ensure_in_scope(actor, market, Perm.SERVE)
        stall = Stall.objects.create(
            market=market, holder_kind=holder_kind, unit=unit, holder_name=name
        )
        stall.items.set(items)
        changes = audit.snapshot(stall) | {"items": sorted(codes)}
        entry = audit.entry(AuditEntry.Action.CREATE, stall, actor, changes)
        entry.area_path = market.area_path  # a stall is where its market is
        entry.save()
    return stall


def _count(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise ValidationFailed(
            f"人次须为 0 到 {MAX_COUNT} 之间的整数",
            f"counts lie between 0 and {MAX_COUNT}",
            field=field,
        )
    return value


def record_visitors(
    actor: Any,
    market_id: int,
    *,
    visitors: int | None = None,
    stalls: dict[int, int] | None = None,
    report: str | None = None,
    done: bool = False,
) -> Market:
    """Record a market's visitors (服务人次) in all and per stall, its short report, and
    mark it held. The total is what was counted at the gate; when it is not given it is
    at least the stalls' sum."""
    market = get_market(actor, market_id) if actor else Market.objects.get(pk=market_id)
    stalls = stalls or {}
    counts = {int(k): _count(v, "stalls") for k, v in stalls.items()}
    own = {s.pk: s for s in Stall.objects.filter(market=market)}
    if set(counts) - set(own):
        raise NotFound("摊位不存在", "stall not found", field="stalls")
    with transaction.atomic():
        ensure_in_scope(actor, market, Perm.SERVE)
        before = audit.snapshot(market)
        for pk, served in counts.items():
            Stall.objects.filter(pk=pk).update(served=served)
            own[pk].served = served
        if visitors is not None:
            market.visitors = _count(visitors, "visitors")
        else:
            market.visitors = max(market.visitors, sum(s.served for s in own.values()))
        if report is not None:
            market.report = clean_text(
                report, field="report", label="集市小结", max_length=5000, required=False
            ).replace("\r", "")
        if done:
            market.status = ActivityStatus.DONE
        market.save()
        delta = audit.diff(before, audit.snapshot(market))
        if counts:
            delta["stalls"] = [None, {str(k): v for k, v in counts.items()}]
        if delta:
            audit.record(AuditEntry.Action.UPDATE, market, actor, delta)
    return market


# --- the report ---------------------------------------------------------------------------
@dataclass
class ModuleLine:
    module: str
    items: list[str]
    stalls: int


@dataclass
class Report:
    """A market's report (集市小结): what was offered, by whom, to how many."""

    market: Market
    stalls: int
    by_holder: list[tuple[str, int]]
    items: int
    modules: list[ModuleLine]
    visitors: int
    served_at_stalls: int
    photos: list[Any]


def market_report(market: Market) -> Report:
    """The report of a market read with ``get_market(..., detail=True)`` (no queries)."""
    stalls = list(market.stalls.all())
    holders = Counter(s.holder_kind for s in stalls)
    per_module: dict[str, tuple[set[str], int]] = {}
    offered: set[str] = set()
    for stall in stalls:
        seen_modules = set()
        for item in stall.items.all():
            offered.add(item.code)
            names, n = per_module.get(item.module.name, (set(), 0))
            names.add(item.name)
            if item.module.name not in seen_modules:
                n += 1
                seen_modules.add(item.module.name)
            per_module[item.module.name] = (names, n)
    labels = dict(StallHolder.choices)
    return Report(
        market=market,
        stalls=len(stalls),
        by_holder=[(str(labels[k]), holders[k]) for k in StallHolder.values if holders[k]],
        items=len(offered),
        modules=[ModuleLine(m, sorted(names), n) for m, (names, n) in sorted(per_module.items())],
        visitors=market.visitors,
        served_at_stalls=sum(s.served for s in stalls),
        photos=list(market.photos.all()),
    )


def photos_enabled() -> bool:
    """Whether the community's photo store (``community.photos``) is installed."""
    return importlib.util.find_spec("jiayuan.community.photos") is not None


def save_market_photo(actor: Any, market_id: int, upload: Any) -> Any:
    """Keep a photo of a market through the community's photo store."""
    market = get_market(actor, market_id)
    ensure_in_scope(actor, market, Perm.SERVE)
    if not photos_enabled():
        raise ValidationFailed("暂不支持上传照片", "photos are not available")
    from jiayuan.community import photos  # type: ignore[attr-defined]

    return photos.save_photo(upload, actor=actor, market=market)
