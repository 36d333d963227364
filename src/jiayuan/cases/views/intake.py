"""Staff intake (新建诉求): a hotline order, a patrol finding, a door visit."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from jiayuan.core import geo
from jiayuan.core.errors import BilingualError, PermissionDenied
from jiayuan.core.views import page
from jiayuan.people.models import Person

from .. import proxies, services
from ..choices import Channel
from ..forms import (
    IntakeForm,
    add_domain_error,
    dwellings_of,
)
from ..models import CasePhoto
from .common import attach_photos, done, grid_features, scope_grids


@page
def case_new(request: HttpRequest) -> HttpResponse:
    """新建诉求: a hotline order typed in by staff, a grid worker's patrol finding — or a
    case a party member, one of the 三长 or a 党员中心户 files for a resident (红色代办).
    The 三长 and 党员中心户 hold no grid: they file only for the residents they look
    after, located at the resident's home."""
    user: Any = request.user
    grids = scope_grids(user)
    served = proxies.served_residents(user).select_related("dwelling")
    proxy_only = not grids.exists()
    if proxy_only and not served.exists():
        raise PermissionDenied("您的账号没有可登记诉求的网格", "no grid in your scope")
    residents = served if proxy_only else (Person.objects.visible_to(user) | served)
    # the filer's default channel, decided where intake decides it; a 三长 or 党员中心户
    # typically brings a neighbour's problem from a door-to-door visit (敲门行动)
    channel = Channel.DOOR if proxy_only else services.default_channel(user)
    initial: dict[str, Any] = {"channel": channel}
    if grids.count() == 1:
        initial["grid"] = grids.first()
    form = IntakeForm(
        request.POST or None,
        request.FILES or None,
        user=user,
        grids=grids,
        residents=residents,
        proxy_only=proxy_only,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        resident = data["resident"]
        dwelling = data["dwelling"]
        lat, lng = data["lat"], data["lng"]
        has_point = lat is not None and lng is not None
        grid = None
        if dwelling is None and not has_point:
            if data["grid"] is None and resident is not None:
                dwelling = resident.dwelling  # filed for a resident: at their home
            else:
                grid = data["grid"]
                lat, lng = grid.centroid_lat, grid.centroid_lng
        try:
            with transaction.atomic():
                case = services.intake(
                    actor=user,
                    channel=data["channel"],
                    category=data["category"],
                    description=data["description"],
                    priority=data["priority"],
                    lat=lat,
                    lng=lng,
                    dwelling=dwelling,
                    grid=grid,
                    address=data["address"] or (str(dwelling) if dwelling else ""),
                    reporter=resident,
                    reporter_name="" if resident is not None else data["reporter_name"],
                    reporter_phone=data["reporter_phone"],
                    anonymous=data["anonymous"],
                    source_ref=data["source_ref"],
                    red_proxy=data["red_proxy"],
                    proxy_name=data["proxy_name"],
                )
                attach_photos(case, data["photos"], CasePhoto.Kind.REPORT, user)
        except BilingualError as exc:
            add_domain_error(form, exc)
        else:
            return done(request, case, "诉求已受理")
    context = {
        "form": form,
        "proxy_only": proxy_only,
        "features": geo.feature_collection(grid_features(grids)),
    }
    return render(request, "cases/new.html", context, status=422 if form.errors else 200)


@page
def dwelling_options(request: HttpRequest) -> HttpResponse:
    """The ``<option>``s of the dwellings of one grid (htmx, on choosing the grid)."""
    grid_id = request.GET.get("grid", "")
    grid = scope_grids(request.user).filter(pk=int(grid_id)).first() if grid_id.isdigit() else None
    dwellings = list(dwellings_of(request.user, grid)) if grid is not None else []
    return render(request, "cases/partials/dwelling_options.html", {"dwellings": dwellings})
