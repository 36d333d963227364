"""What the request-loop pages share: presentation tables (step names, badge colours,
timeline labels), the light decoration of lists, grid boundaries for the maps, the
six-step stepper, and what follows an action (photos, the redirect)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from jiayuan.core import geo
from jiayuan.core.calendar import WorkClock
from jiayuan.core.views import is_htmx
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area

from .. import photos as case_photos
from .. import queries, services, sla
from ..choices import Light, Status, Step
from ..machine import OTHER_EVENTS, TRANSITIONS, FollowUp, Transition
from ..models import Case, CaseEvent

# --- presentation tables -----------------------------------------------------------------
STEP_NAMES = {
    Step.ASK: "受理",
    Step.DISPATCH: "派遣",
    Step.TRANSFER: "转办",
    Step.HANDLE: "办理",
    Step.REVIEW: "审核",
    Step.REPLY: "回访",
}
# The step a case in a status is waiting in.
STEP_OF_STATUS = {
    Status.RECEIVED: Step.DISPATCH,
    Status.DISPATCHED: Step.DISPATCH,
    Status.ACCEPTED: Step.HANDLE,
    Status.IN_PROGRESS: Step.HANDLE,
    Status.SUSPENDED: Step.HANDLE,
    Status.HANDLED: Step.REVIEW,
    Status.REPLIED: Step.REPLY,
}
STATUS_CSS = {
    Status.RECEIVED: "bg-azure-lt",
    Status.DISPATCHED: "bg-orange-lt",
    Status.ACCEPTED: "bg-blue-lt",
    Status.IN_PROGRESS: "bg-blue-lt",
    Status.SUSPENDED: "bg-secondary-lt",
    Status.HANDLED: "bg-purple-lt",
    Status.REPLIED: "bg-teal-lt",
    Status.CLOSED: "bg-green-lt",
    Status.REJECTED: "bg-secondary-lt",
    Status.MERGED: "bg-secondary-lt",
}
LIGHT_CSS = {Light.GREEN: "green", Light.YELLOW: "yellow", Light.RED: "red"}
LIGHT_COLORS = {Light.GREEN: "#2fb344", Light.YELLOW: "#f59f00", Light.RED: "#d63939"}
# The staff and public names of events come from the rows of the transition table (and
# of the events that are no action of their own); the escalation job's notices are
# timeline entries only.
_ROWS: dict[str, Transition | FollowUp] = {**TRANSITIONS, **OTHER_EVENTS}
EVENT_LABELS = {
    **{action: row.label for action, row in _ROWS.items()},
    "overdue_notice": "超时提醒",
    "overdue_upper": "超时报上级督办",
}
# What the resident reads for each public event; notes are shown only where they are
# written for the resident (results, refusals), never staff names or internal reasons.
PUBLIC_LABELS = {action: row.public_label for action, row in _ROWS.items() if row.public_label}
PUBLIC_NOTES = {"reply", "reject", "visit", "suspend"}
# The forward move of each status comes first and is the primary button; the ones that
# send a case back are drawn in red.
FORWARD = ["accept", "start", "handle", "approve", "visit", "dispatch", "resume", "approve_delay"]
BACKWARD = {"return", "send_back", "reject"}
TRIVIAL_NOTES = {"已接单", "开始办理", "恢复办理", "审核通过"}


def status_css(status: str) -> str:
    return STATUS_CSS.get(Status(status), "bg-secondary-lt")


def decorate(cases: list[Case], clock: WorkClock | None = None) -> list[Case]:
    """Attach the light and badge classes the list templates show."""
    clock = clock or WorkClock()
    now = timezone.now()
    for case in cases:
        light = sla.light_for(case, now, clock)
        case.light_value = light  # type: ignore[attr-defined]
        case.light_label = Light(light).label  # type: ignore[attr-defined]
        case.light_css = LIGHT_CSS[Light(light)]  # type: ignore[attr-defined]
        case.status_css = status_css(case.status)  # type: ignore[attr-defined]
    return cases


def geometry(area: Area | None) -> dict[str, Any] | None:
    """The GeoJSON geometry of an area's boundary (None without one)."""
    return geo.geometry(area.boundary) if area is not None else None


def grid_features(grids: QuerySet[Area] | list[Area]) -> list[dict[str, Any]]:
    """Grid boundaries for Leaflet; ``full`` names the community too (两个社区都有第1网格)."""
    grids = list(grids)
    community_paths = {a.path.rsplit("/", 3)[0] + "/" for a in grids}
    communities = dict(Area.objects.filter(path__in=community_paths).values_list("path", "name"))
    return geo.boundary_features(
        grids,
        lambda a: {
            "name": a.name,
            "full": communities.get(a.path.rsplit("/", 3)[0] + "/", "") + a.name,
            "id": a.pk,
        },
    )


def scope_grids(user: Any) -> QuerySet[Area]:
    """The grids in the user's scope (intake and the map draw them)."""
    return Area.objects.visible_to(user).filter(kind=AreaKind.GRID).order_by("path")


# --- the case page ---------------------------------------------------------------------------
def stepper(case: Case, events: list[CaseEvent]) -> list[dict[str, Any]]:
    """The six steps with their state: done, current, skipped (never needed, e.g. no
    transfer) or todo."""
    reached = {e.step for e in events}
    current = STEP_OF_STATUS.get(Status(case.status))
    if case.status == Status.DISPATCHED and events:
        last = next((e for e in reversed(events) if e.to_status == Status.DISPATCHED), None)
        if last is not None and last.step == Step.TRANSFER:
            current = Step.TRANSFER
    order = list(Step)
    last_reached = max((order.index(Step(s)) for s in reached if s in Step.values), default=-1)
    steps = []
    for index, step in enumerate(order):
        if step == current and case.is_open:
            state = "current"
        elif step in reached:
            state = "done"
        elif index < last_reached or not case.is_open:
            state = "skipped"
        else:
            state = "todo"
        steps.append({"key": step.value, "label": step.label, "name": STEP_NAMES[step],
                      "state": state})  # fmt: skip
    return steps


def done(request: HttpRequest, case: Case, message: str) -> HttpResponse:
    """After an action: back to the case (read-only once raised above the user), or to
    the inbox once it left the user's sight (transferred away)."""
    messages.success(request, f"{message}：{case.number}")
    if queries.visible_cases(request.user).filter(pk=case.pk).exists():
        target = reverse("cases:detail", args=[case.pk])
    else:
        target = reverse("cases:index")
    if is_htmx(request):
        return HttpResponse(status=200, headers={"HX-Redirect": target})
    return redirect(target)


def attach_photos(case: Case, uploads: list[Any] | None, kind: str, actor: Any) -> None:
    """Store uploaded photos through the photo module (type check, EXIF removed)."""
    rel = services.relations(actor, case) if actor is not None else set()
    for upload in uploads or []:
        case_photos.check_may_add(case, kind, rel)
        case_photos.attach(case, case_photos.read_upload(upload), kind=kind, actor=actor)
