"""The case page: header, photos, map, the six-step timeline, the buttons of the
actions the user may take now, and the small form behind each button."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from jiayuan.core.errors import BilingualError, PermissionDenied
from jiayuan.core.views import is_htmx, page
from jiayuan.org.models import Membership

from .. import photos as case_photos
from .. import queries, services, sla
from ..choices import Light
from ..forms import (
    ACTION_FORMS,
    DispatchForm,
    add_domain_error,
)
from ..machine import TRANSITIONS
from ..models import Case, CasePhoto
from .common import (
    BACKWARD,
    EVENT_LABELS,
    FORWARD,
    LIGHT_COLORS,
    TRIVIAL_NOTES,
    attach_photos,
    decorate,
    done,
    geometry,
    stepper,
)


def case_map_data(case: Case) -> dict[str, Any]:
    return {
        "grid": {"name": case.grid.name, "geometry": geometry(case.grid)},
        "point": [case.lat, case.lng] if case.lat is not None and case.lng is not None else None,
        "color": LIGHT_COLORS[Light(sla.light_for(case))],
        "label": case.number,
    }


def reporter_contact(case: Case) -> str:
    """The reporter's phone, masked: the case's own, or the registered person's."""
    if case.anonymous:
        return ""
    if case.reporter_phone_masked:
        return case.reporter_phone_masked
    if case.reporter is not None:
        return case.reporter.phone_masked
    return ""


@page
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """诉求详情: header, description, photos, map, reporter (masked), the six-step
    timeline and the buttons of the actions the user may take now."""
    related = queries.visible_cases(request.user).select_related(
        "category__parent", "grid", "owner_area", "handler_user", "handler_department",
        "reporter", "dwelling__unit__parent", "merged_into",
    )  # fmt: skip
    case = queries.get_case(request.user, pk, related)
    events = list(case.events.select_related("actor").order_by("at", "pk"))
    for event in events:
        event.label = EVENT_LABELS.get(event.action, event.action)  # type: ignore[attr-defined]
        if event.note in TRIVIAL_NOTES:  # "已接单" under 接单 says nothing new
            event.note = ""
        actor = event.actor
        if actor is not None:
            who = actor.get_full_name() or actor.username
        elif event.action == "visit":
            who = "反映人"  # through the tracking link
        else:
            who = event.actor_name or "系统"
        event.who = who  # type: ignore[attr-defined]
    decorate([case])
    photo_rows = list(case.photos.all())
    actions = sorted(
        services.available_actions(request.user, case),
        key=lambda t: FORWARD.index(t.action) if t.action in FORWARD else len(FORWARD),
    )
    buttons = [
        {
            "action": t.action,
            "label": t.label,
            "css": "btn-primary"
            if i == 0 and t.action in FORWARD
            else ("btn-outline-danger" if t.action in BACKWARD else "btn-outline-primary"),
        }
        for i, t in enumerate(actions)
    ]
    context = {
        "case": case,
        "events": events,
        "steps": stepper(case, events),
        "report_photos": [p for p in photo_rows if p.kind == CasePhoto.Kind.REPORT],
        "result_photos": [p for p in photo_rows if p.kind == CasePhoto.Kind.RESULT],
        "actions": buttons,
        "map_data": case_map_data(case),
        "reporter_contact": reporter_contact(case),
        "duplicates": case.duplicate_of_hint or [],
        "visits": list(case.visits.all()),
    }
    return render(request, "cases/detail.html", context)


def handler_choices(case: Case) -> list[tuple[int, str]]:
    rows = (
        Membership.objects.filter(area=case.owner_area, active=True, user__is_active=True)
        .select_related("user")
        .order_by("role", "user__username")
    )
    seen: dict[int, str] = {}
    for m in rows:
        name = m.user.get_full_name() or m.user.username
        seen.setdefault(m.user_id, f"{name}（{m.get_role_display()}）")
    return list(seen.items())


def action_form(action: str, case: Case, data: Any = None, files: Any = None) -> Any:
    form_class = ACTION_FORMS[action]
    kwargs: dict[str, Any] = {"case": case, "initial": {"version": case.version}}
    if form_class is DispatchForm:
        kwargs["handlers"] = handler_choices(case)
    return form_class(data, files, **kwargs)


@page
def case_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """One action on a case: GET the small form, POST it to ``services.perform``.

    Through htmx the form opens in a dialog and a success reloads the case page; without
    JavaScript it is a page of its own.
    """
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise Http404("no such action")
    user = request.user
    case = queries.get_case(user, pk)
    if request.method == "POST":
        form = action_form(action, case, request.POST, request.FILES)
        if form.is_valid():
            try:
                with transaction.atomic():
                    version = form.cleaned_data.get("version")
                    case = services.perform(
                        case.pk, action, actor=user, expected_version=version, **form.params()
                    )
                    attach_photos(case, form.cleaned_data.get("photos"), "result", user)
            except BilingualError as exc:
                add_domain_error(form, exc)
            else:
                return done(request, case, f"已{transition.label}")
        status = 422
    else:
        allowed = {t.action for t in services.available_actions(user, case)}
        if action not in allowed:
            raise PermissionDenied(
                f"当前不能对该诉求执行「{transition.label}」", f"you may not {action} now"
            )
        form = action_form(action, case)
        status = 200
    context = {"case": case, "form": form, "transition": transition, "action": action}
    template = "cases/partials/action_form.html" if is_htmx(request) else "cases/action.html"
    return render(request, template, context, status=status)


@page
def case_photo(request: HttpRequest, pk: int, photo_pk: int) -> HttpResponse:
    """A photo of a case, for staff who may see the case (media is not public)."""
    case = queries.get_case(request.user, pk)
    photo = CasePhoto.objects.filter(case=case, pk=photo_pk).first()
    if photo is None:
        raise Http404("no such photo")
    return case_photos.response(photo)  # type: ignore[return-value]  # a streaming response
