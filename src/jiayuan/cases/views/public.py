"""The resident's pages without login: 随手拍 and the tracking page behind the case's
secret link."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from jiayuan.core import geo
from jiayuan.core.errors import BilingualError
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area

from .. import photos as case_photos
from .. import services
from ..choices import Status, Step
from ..forms import (
    PublicVisitForm,
    ReportForm,
    add_domain_error,
)
from ..models import Case, CasePhoto
from .common import (
    EVENT_LABELS,
    PUBLIC_LABELS,
    PUBLIC_NOTES,
    attach_photos,
    grid_features,
    status_css,
    stepper,
)


# --- the resident's pages (no login) ------------------------------------------------------
def public_not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "cases/public/not_found.html", status=404)


def all_grid_features() -> dict[str, Any]:
    grids = (
        Area.objects.filter(kind=AreaKind.GRID).only("name", "path", "boundary").order_by("path")
    )
    return geo.feature_collection(grid_features(grids))


def report(request: HttpRequest) -> HttpResponse:
    """随手拍: a resident reports a problem with photos and a point on the map, and gets
    the tracking link."""
    form = ReportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                case = services.intake(
                    actor=None,
                    channel="snapshot",
                    category=data["category"],
                    description=data["description"],
                    lat=data["lat"],
                    lng=data["lng"],
                    address=data["address"],
                    reporter_name=data["reporter_name"],
                    reporter_phone=data["reporter_phone"],
                    anonymous=data["anonymous"],
                )
                attach_photos(case, data["photos"], CasePhoto.Kind.REPORT, None)
        except BilingualError as exc:
            add_domain_error(form, exc)
        else:
            return redirect("cases:track", case.tracking_token)
    context = {"form": form, "features": all_grid_features(), "leaflet": True}
    return render(request, "cases/public/report.html", context, status=422 if form.errors else 200)


def tracked_case(token: str) -> Case | None:
    if not token or len(token) > 40:
        return None
    return Case.objects.select_related("category").filter(tracking_token=token).first()


def track_context(case: Case, visit_form: PublicVisitForm | None = None) -> dict[str, Any]:
    events = list(case.events.filter(public=True).order_by("at", "pk"))
    rows = [
        {
            "at": e.at,
            "step": Step(e.step).label if e.step in Step.values else "",
            "label": PUBLIC_LABELS.get(e.action, EVENT_LABELS.get(e.action, "办理进展")),
            "note": e.note if e.action in PUBLIC_NOTES else "",
        }
        for e in events
    ]
    can_visit = case.status == Status.REPLIED
    return {
        "case": case,
        "events": rows,
        # Which steps were reached is no secret, though most of their events are.
        "steps": stepper(case, list(case.events.only("step", "to_status").order_by("at", "pk"))),
        "result_photos": list(case.photos.filter(kind=CasePhoto.Kind.RESULT)),
        "can_visit": can_visit,
        "visit_form": visit_form or (PublicVisitForm() if can_visit else None),
        "status_css": status_css(case.status),
        "show_result": case.status in (Status.REPLIED, Status.CLOSED),
    }


@never_cache
def track(request: HttpRequest, token: str) -> HttpResponse:
    """The resident's tracking page: status, the public timeline, the result and, once
    answered, the satisfaction form. The secret token is the only key."""
    case = tracked_case(token)
    if case is None:
        return public_not_found(request)
    return render(request, "cases/public/track.html", track_context(case))


@require_POST
def track_visit(request: HttpRequest, token: str) -> HttpResponse:
    """The resident's verdict (回访) through the tracking link."""
    case = tracked_case(token)
    if case is None:
        return public_not_found(request)
    form = PublicVisitForm(request.POST)
    if form.is_valid():
        try:
            services.visit_by_token(
                token, form.cleaned_data["satisfaction"], form.cleaned_data["comment"]
            )
        except BilingualError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "感谢您的评价！")
            return redirect("cases:track", token)
    case.refresh_from_db()
    return render(request, "cases/public/track.html", track_context(case, form), status=422)


def track_photo(request: HttpRequest, token: str, photo_pk: int) -> HttpResponse:
    """A result photo of the tracked case (the resident sees results, nothing else)."""
    case = tracked_case(token)
    photo = (
        CasePhoto.objects.filter(case=case, pk=photo_pk, kind=CasePhoto.Kind.RESULT).first()
        if case is not None
        else None
    )
    if photo is None:
        return public_not_found(request)
    return case_photos.response(photo)  # type: ignore[return-value]  # a streaming response
