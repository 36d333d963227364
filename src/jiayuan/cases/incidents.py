"""Cases' side of the incident bridge (:mod:`jiayuan.core.incidents`).

A matter that must be handled by people — a device alarm, an escalated wish — arrives as
``incident_raised`` and becomes a case on the channel the sender names (``device`` when
it names none), routed to the grid the source sits in, with the incident's key as
``source_ref``. When the action that finishes a case of an incident key (:func:`is_incident`:
approval's visit, rejection, merging …) is performed, ``incident_closed`` tells the
sender, whatever the channel: that is an effect of the action (see
:func:`jiayuan.cases.actions.apply`), not of saving the row, so a later save of the
finished case sends nothing. ``incident_status_requested`` is answered with the case's
number, status and due time (:func:`status_of_incidents`). Connected in
:meth:`CasesConfig.ready`.
"""

from __future__ import annotations

from typing import Any

from jiayuan.core.errors import ValidationFailed
from jiayuan.core.incidents import incident_raised, incident_status_requested, is_incident_key
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area, Dwelling
from jiayuan.org.paths import KIND_DEPTH, ancestor_path
from jiayuan.people.models import Person

from . import routing, services
from .choices import FINAL_STATUSES, Channel, Level, Priority
from .models import Case, Category


def is_incident(case: Case) -> bool:
    """Whether ``case`` was opened for an incident, so that finishing it closes the
    incident: its source reference is an incident key (``"alarm:…"``, ``"wish:…"``)."""
    return is_incident_key(case.source_ref)


def _grid_of(area: Area | None, dwelling: Dwelling | None, lat: Any, lng: Any) -> Area:
    """The grid containing the incident: the area's own grid when it sits at or below a
    grid, else the dwelling's or the point's."""
    if area is not None:
        if area.kind == AreaKind.GRID:
            return area
        depth = KIND_DEPTH[AreaKind.GRID]
        if len(area.path.rstrip("/").split("/")) > depth:
            return Area.objects.get(path=ancestor_path(area.path, AreaKind.GRID))
    return routing.locate_grid(lat=lat, lng=lng, dwelling=dwelling)


def open_case_for_incident(
    sender: Any,
    *,
    key: str,
    category_code: str,
    title: str,
    description: str,
    area: Area | None = None,
    dwelling: Dwelling | None = None,
    lat: float | None = None,
    lng: float | None = None,
    priority: str = Priority.URGENT,
    channel: str = Channel.DEVICE,
    level: str | None = None,
    reporter: Person | None = None,
    **_: Any,
) -> str:
    """Open (or find, for a re-sent key) the case of an incident on ``channel``; returns
    its number. ``level`` (``grid`` …) overrides the category's default level and
    ``reporter`` names the resident who asked: the assistant's hand-off goes to the
    asker's grid worker, who calls the asker back."""
    if level is not None and level not in Level.values:
        raise ValidationFailed(f"未知层级 {level}", f"unknown level {level}", field="level")
    if channel not in Channel.values:
        raise ValidationFailed(f"未知渠道 {channel}", f"unknown channel {channel}", field="channel")
    if not is_incident_key(key):
        raise ValidationFailed(
            f"事件编号 {key} 无效", f"{key!r} is not an incident key", field="key"
        )  # fmt: skip
    existing = Case.objects.filter(source_ref=key, channel=channel).first()
    if existing is not None:
        return existing.number
    category = Category.objects.filter(code=category_code).first()
    if category is None:
        raise ValidationFailed(
            f"工单类别 {category_code} 不存在", f"no case category {category_code}",
            field="case_category_code",
        )  # fmt: skip
    case = services.intake(
        actor=None,
        channel=channel,
        category=category,
        title=title,
        description=description,
        lat=lat,
        lng=lng,
        dwelling=dwelling,
        grid=_grid_of(area, dwelling, lat, lng),
        priority=priority if priority in Priority.values else Priority.URGENT,
        source_ref=key,
        level=level,
        reporter=reporter,
    )
    return case.number


def status_of_incidents(sender: Any, *, keys: list[str], **_: Any) -> dict[str, dict[str, Any]]:
    """The cases opened for the incident ``keys``: number, status and due time (one
    query; the earliest case of a key when a channel opened it twice)."""
    wanted = [k for k in keys if is_incident_key(k)]
    out: dict[str, dict[str, Any]] = {}
    if not wanted:
        return out
    rows = (
        Case.objects.filter(source_ref__in=wanted)
        .only("number", "status", "due_at", "source_ref")
        .order_by("-received_at", "-pk")
    )
    for case in rows:
        out[case.source_ref] = {
            "number": case.number,
            "status": case.status,
            "status_label": str(case.get_status_display()),
            "due_at": case.due_at,
            "open": case.status not in FINAL_STATUSES,
        }
    return out


def connect() -> None:
    incident_raised.connect(open_case_for_incident, dispatch_uid="cases-open-incident")
    incident_status_requested.connect(status_of_incidents, dispatch_uid="cases-incident-status")
