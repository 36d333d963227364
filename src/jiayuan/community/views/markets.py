"""Pages of the public-welfare markets (公益集市): the list, a new market, a market's
report (stalls, items, visitors, photos) with its forms, the service catalogue and the
co-building units.

Views are thin: parse a form, call one action of :mod:`jiayuan.community.markets`,
render. Every list starts from the user's scope; a market outside it is a 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from jiayuan.core.errors import BilingualError, NotFound, ValidationFailed
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import has_perm_anywhere, path_allowed, scope_q
from jiayuan.core.views import page
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area

from .. import markets as svc
from .. import rooms
from ..choices import ActivityStatus, StallHolder
from ..models import Photo
from .markets_forms import MarketForm, StallForm, UnitForm, add_error

PER_PAGE = 30
CHOICE_LIMIT = 500
STATUS_CSS = {
    ActivityStatus.PLANNED: "bg-blue-lt",
    ActivityStatus.DONE: "bg-green-lt",
    ActivityStatus.CANCELLED: "bg-secondary-lt",
}


def _areas(user: Any) -> list[tuple[int, str]]:
    """Communities and compounds where the user serves (markets and units are held there)."""
    rows = (
        Area.objects.filter(
            scope_q(user, Perm.SERVE, field="path"),
            kind__in=[AreaKind.COMMUNITY, AreaKind.ZONE],
        )
        .order_by("path")
        .values_list("pk", "name", "kind")[:CHOICE_LIMIT]
    )
    return [(pk, name if kind == AreaKind.COMMUNITY else f"　{name}") for pk, name, kind in rows]


# --- markets ------------------------------------------------------------------------------
@page
def market_index(request: HttpRequest) -> HttpResponse:
    """公益集市: the markets in the user's scope with their stalls and visitors."""
    user: Any = request.user
    qs = (
        svc.markets_visible_to(user)
        .annotate(stall_count=Count("stalls"))
        .order_by("-starts_at", "-pk")
    )
    status = request.GET.get("status") or ""
    if status in ActivityStatus.values:
        qs = qs.filter(status=status)
    totals = svc.markets_visible_to(user).aggregate(markets=Count("pk"), visitors=Sum("visitors"))
    page_obj = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    for m in page_obj:
        m.status_css = STATUS_CSS.get(ActivityStatus(m.status), "")  # type: ignore[attr-defined]
    context = {
        "markets": page_obj,
        "status": status,
        "statuses": ActivityStatus.choices,
        "totals": totals,
        "may_create": has_perm_anywhere(user, Perm.SERVE),
    }
    return render(request, "community/markets/index.html", context)


def _market_form(user: Any, data: Any = None) -> MarketForm:
    positions = list(
        rooms.positions_visible_to(user)
        .order_by("area_path", "name")
        .values_list("pk", "name")[:CHOICE_LIMIT]
    )
    return MarketForm(data, areas=_areas(user), positions=positions)


@page
def market_new(request: HttpRequest) -> HttpResponse:
    """Plan a new market."""
    user: Any = request.user
    form = _market_form(user, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            market = svc.create_market(
                user,
                area_id=data["area"],
                title=data["title"],
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                position_id=data["position"],
                place=data["place"],
            )
        except BilingualError as exc:
            add_error(form, exc, {"starts_at": "day", "ends_at": "end", "position_id": "position"})
        else:
            messages.success(request, f"已创建集市“{market.title}”。")
            return redirect("community:market", pk=market.pk)
    status = 422 if request.method == "POST" else 200
    return render(request, "community/markets/new.html", {"form": form}, status=status)


def _stall_form(user: Any, data: Any = None, modules: list[Any] | None = None) -> StallForm:
    units = list(svc.units_visible_to(user).values_list("pk", "name")[:CHOICE_LIMIT])
    items = [
        (module.name, [(item.code, item.name) for item in module.items.all()])
        for module in (modules if modules is not None else svc.catalogue())
    ]
    return StallForm(data, units=units, items=items)


def _market_page(
    request: HttpRequest,
    pk: int,
    *,
    stall_form: StallForm | None = None,
    visitors_error: str = "",
    status: int = 200,
) -> HttpResponse:
    user: Any = request.user
    market = svc.get_market(user, pk, detail=True)
    report = svc.market_report(market)
    may_serve = path_allowed(user, market.area_path, Perm.SERVE)
    modules = svc.catalogue() if may_serve else []
    if stall_form is None and may_serve:
        stall_form = _stall_form(user, modules=modules)
    chosen = request.POST.getlist("items") if request.method == "POST" else []
    context = {
        "market": market,
        "report": report,
        "status_css": STATUS_CSS.get(ActivityStatus(market.status), ""),
        "may_serve": may_serve,
        "stall_form": stall_form,
        "catalogue": modules,
        "chosen": chosen,
        "visitors_error": visitors_error,
        "photos_enabled": svc.photos_enabled(),
    }
    return render(request, "community/markets/detail.html", context, status=status)


@page
def market_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A market's report (集市小结): stalls, items by module, visitors, photos."""
    return _market_page(request, pk)


@require_POST
@page
def market_stall(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a stall to the market."""
    user: Any = request.user
    svc.get_market(user, pk)  # 404 first
    form = _stall_form(user, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            svc.add_stall(
                user,
                pk,
                holder_kind=data["holder_kind"],
                unit_id=data["unit"] if data["holder_kind"] == StallHolder.UNIT else None,
                holder_name=data["holder_name"],
                item_codes=data["items"],
            )
        except BilingualError as exc:
            add_error(form, exc, {"unit_id": "unit", "item_codes": "items"})
        else:
            messages.success(request, "已添加摊位。")
            return redirect("community:market", pk=pk)
    return _market_page(request, pk, stall_form=form, status=422)


def _int(value: Any, field: str) -> int | None:
    text = str(value or "").strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 7:
        raise ValidationFailed("人次须为非负整数", "counts are whole numbers", field=field)
    return int(text)


@require_POST
@page
def market_visitors(request: HttpRequest, pk: int) -> HttpResponse:
    """Record the visitors in all and per stall, the short report, and that it was held."""
    user: Any = request.user
    svc.get_market(user, pk)
    try:
        stalls = {}
        for key, value in request.POST.items():
            if key.startswith("stall-") and key[6:].isdigit() and len(key) < 20:
                served = _int(value, "stalls")
                if served is not None:
                    stalls[int(key[6:])] = served
        svc.record_visitors(
            user,
            pk,
            visitors=_int(request.POST.get("visitors"), "visitors"),
            stalls=stalls,
            report=request.POST.get("report"),
            done=request.POST.get("done") == "1",
        )
    except NotFound:
        raise
    except BilingualError as exc:
        return _market_page(request, pk, visitors_error=exc.zh, status=exc.status)
    messages.success(request, "已记录服务人次。")
    return redirect("community:market", pk=pk)


@require_POST
@page
def market_photo_upload(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a photo of the market day."""
    upload = request.FILES.get("photo")
    if upload is None:
        return _market_page(request, pk, visitors_error="请选择照片", status=422)
    try:
        svc.save_market_photo(request.user, pk, upload)
    except NotFound:
        raise
    except BilingualError as exc:
        return _market_page(request, pk, visitors_error=exc.zh, status=exc.status)
    messages.success(request, "已上传照片。")
    return redirect("community:market", pk=pk)


@page
def market_photo(request: HttpRequest, pk: int, photo_pk: int) -> HttpResponse:
    """A photo of the market, to whoever may see the market."""
    market = svc.get_market(request.user, pk)
    photo = Photo.objects.filter(pk=photo_pk, market=market).first()
    if photo is None or not svc.photos_enabled():
        raise NotFound()
    from jiayuan.community import photos

    return photos.response(request, photo)  # type: ignore[return-value]


# --- catalogue and units ------------------------------------------------------------------
@page
def market_catalogue(request: HttpRequest) -> HttpResponse:
    """服务目录: the 8 modules and 24 items stalls offer."""
    return render(request, "community/markets/catalogue.html", {"modules": svc.catalogue()})


def _unit_page(
    request: HttpRequest, form: UnitForm | None = None, status: int = 200
) -> HttpResponse:
    user: Any = request.user
    qs = (
        svc.units_visible_to(user)
        .annotate(stall_count=Count("stalls"))
        .order_by("area_path", "name", "pk")
    )
    page_obj = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    may_create = has_perm_anywhere(user, Perm.SERVE)
    if form is None and may_create:
        form = UnitForm(areas=_areas(user))
    context = {"units": page_obj, "form": form, "may_create": may_create}
    return render(request, "community/markets/units.html", context, status=status)


@page
def unit_index(request: HttpRequest) -> HttpResponse:
    """共建单位: the co-building units in the scope, phones masked."""
    return _unit_page(request)


@require_POST
@page
def unit_new(request: HttpRequest) -> HttpResponse:
    """Register a co-building unit."""
    user: Any = request.user
    form = UnitForm(request.POST, areas=_areas(user))
    if form.is_valid():
        data = form.cleaned_data
        try:
            unit = svc.create_unit(
                user,
                area_id=data["area"],
                name=data["name"],
                kind=data["kind"],
                contact_name=data["contact_name"],
                contact_phone=data["contact_phone"],
            )
        except BilingualError as exc:
            add_error(form, exc, {"area_id": "area"})
        else:
            messages.success(request, f"已登记共建单位“{unit.name}”。")
            return redirect(reverse("community:units"))
    return _unit_page(request, form, status=422)
